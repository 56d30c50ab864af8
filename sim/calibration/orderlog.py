"""Reading a client's exports: the order log and the marketing spend log.

A shop's back office exports orders as a spreadsheet: one row per order (or per order line), with a
customer number, a date and an amount, under headers that differ from shop to shop and from language to
language (``주문일자``, ``고객번호``, ``결제금액``). Korean Excel saves CSV as UTF-8 with a byte-order mark or
as CP949/EUC-KR. This module finds the three columns, reads the dates and amounts, and collapses several
orders of one customer on one day into one transaction (Fader, Hardie & Lee 2005 count transactions per
day, not order lines). Every problem is a `DataError` that names the file, the row and the column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import DataError, plain_number

# Header names seen in shop exports, normalized (lower case, no spaces, '_', '-', '.', '/').
CUSTOMER_NAMES = (
    "customerid",
    "customer",
    "customerno",
    "customernumber",
    "custid",
    "clientid",
    "userid",
    "memberid",
    "buyerid",
    "고객번호",
    "고객id",
    "고객아이디",
    "고객코드",
    "회원번호",
    "회원id",
    "회원아이디",
    "주문자id",
    "주문자아이디",
    "구매자id",
    "구매자아이디",
)
# A customer's email identifies them where no header names a customer id (Shopify's order export has none).
CUSTOMER_EMAIL_NAMES = ("email", "customeremail", "emailaddress", "이메일", "주문자이메일", "구매자이메일")
DATE_NAMES = (
    "orderdate",
    "date",
    "invoicedate",
    "purchasedate",
    "transactiondate",
    "orderedat",
    "createdat",
    "orderdatetime",
    "주문일자",
    "주문일",
    "주문일시",
    "주문날짜",
    "결제일",
    "결제일자",
    "결제일시",
    "구매일",
    "구매일자",
    "구매일시",
    "날짜",
    "일자",
)
AMOUNT_NAMES = (
    "amount",
    "orderamount",
    "ordertotal",
    "total",
    "totalamount",
    "revenue",
    "sales",
    "value",
    "ordervalue",
    "paymentamount",
    "paidamount",
    "dollarvalue",
    "결제금액",
    "주문금액",
    "구매금액",
    "총결제금액",
    "실결제금액",
    "금액",
    "매출",
    "매출액",
)
CURRENCY_NAMES = ("currency", "currencycode", "curr", "통화", "통화코드", "결제통화")
# the names a missing-column message gives as examples, as a person would write them ("order_amount", not the
# normalized "orderamount" the matching uses)
READABLE = {
    "customerid": "customer_id",
    "customerno": "customer_no",
    "orderdate": "order_date",
    "invoicedate": "invoice_date",
    "orderamount": "order_amount",
    "ordertotal": "order_total",
    "currencycode": "currency_code",
}
SPEND_DATE_NAMES = ("month", "date", "period", "월", "년월", "날짜", "일자", "기간")
SPEND_CHANNEL_NAMES = ("channel", "media", "source", "채널", "매체", "광고매체")
SPEND_AMOUNT_NAMES = ("amount", "spend", "cost", "budget", "광고비", "비용", "금액", "지출", "집행금액")

# Date formats by the order of their fields. Within one order a column may mix formats (with and without a
# time); across orders it may not: a column of 03/04/2024 dates is read month-first or day-first as a whole,
# and refused when both readings fit and differ (no day above 12 tells which).
YMD_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y.%m.%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y%m%d",
    # a month's name leaves no doubt about the order: 05-Mar-2024, 5 March 2024, Mar 5, 2024
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y %H:%M:%S",
    "%d-%b-%Y %H:%M",
)
MDY_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m-%d-%Y")  # dd.mm.yyyy is only day first
DMY_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d-%m-%Y", "%d.%m.%Y", "%d.%m.%Y %H:%M")
YM_FORMATS = ("%Y-%m", "%Y/%m", "%Y.%m", "%Y%m")
DATE_FAMILIES = {"year-month-day": YMD_FORMATS, "month/day/year": MDY_FORMATS, "day/month/year": DMY_FORMATS}
DATE_FORMATS = YMD_FORMATS + MDY_FORMATS + DMY_FORMATS + YM_FORMATS  # every format read without a flag
EXCEL_FORMAT = "excel"  # --date-format excel: Excel's day numbers (1900 date system)
FIRST_PLAUSIBLE_DATE = pd.Timestamp("1980-01-01")  # before online shops and their exports
LAST_PLAUSIBLE_DATE = pd.Timestamp("2199-12-31")  # (a date after today is refused later, naming today)

# The whole value must be a date: year, month, day (the day only optional for month-only spend rows), then at
# most a weekday, a time and a UTC offset (the local date is kept: 2024-01-05T23:30:00-05:00 is 5 January).
# A prefix match would read '2024-03-011' as 1 March, or '2024년 3월' in an order log as the 1st.
_KOREAN_DATE = re.compile(
    r"^\s*(\d{4})\s*(?:년|[.\-/])\s*(\d{1,2})\s*(?:월|[.\-/])\s*(?:(\d{1,2})\s*(?:일|\.)?)?"
    r"\s*(?:\(\s*[월화수목금토일]\s*\)|[월화수목금토일]요일)?"
    r"(?:\s*[T\s]?\s*(?:(?:오전|오후|AM|PM)\s*)?(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?"
    r"(?:\s*(?:AM|PM|오전|오후))?(?:\s*(?:Z|UTC|GMT|[+-](?:[01]\d|2[0-3]):?[0-5]\d))?)?\s*$",
    re.IGNORECASE,
)
_ZONED_TIME = re.compile(
    r"\d:[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-](?:[01]\d|2[0-3]):?[0-5]\d)\s*$", re.IGNORECASE
)  # a time of day ending in a UTC offset, as in 2024-05-01 09:58:12 +0900
_EXCEL_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")  # 45717 = 2025-03-01 in Excel's 1900 date system
EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # day 0 of Excel's 1900 date system (its 1900-02-29 bug included)
EXCEL_1904_OFFSET = 1462  # days between the 1900 and 1904 (old Mac workbooks) date systems
# Marks in amounts that name one currency. A bare "$" or "¥" is left out on purpose: several currencies use
# them (USD, CAD, AUD, ...; JPY, CNY), so they are never read as a currency.
CURRENCY_MARKS = {
    "₩": "KRW",
    "￦": "KRW",  # the full-width won sign of Korean input methods
    "원": "KRW",
    "KRW": "KRW",
    "US$": "USD",
    "USD": "USD",
    "€": "EUR",
    "EUR": "EUR",
    "£": "GBP",
    "GBP": "GBP",
    "円": "JPY",
    "JPY": "JPY",
    "CNY": "CNY",
    "RMB": "CNY",
}
# currency signs and spaces (not the separators: which of , and . marks decimals is decided per column)
# ('\\' is the won sign of Korean fonts and the yen sign of Japanese ones: Korean Excel writes \38,000 in CP949)
_MONEY_JUNK = re.compile(r"US\$|[\s\u00a0₩￦$＄€£¥￥원円\\]|KRW|USD|EUR|GBP|JPY|CNY|RMB")
# signs that several currencies use: stripped from amounts, never read as a currency
_SHARED_SIGNS = {
    "$": "'$'",
    "＄": "'＄'",
    "¥": "'¥'",
    "￥": "'￥'",
    "\\": "'\\' (the won sign in Korean fonts, the yen sign in Japanese)",
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", str(name).strip().lstrip("\ufeff").lower())


@dataclass
class OrderLog:
    """Transactions of a client: one row per customer per day (orders on one day summed).

    `transactions` has columns customer_id (str), date (datetime64, day), amount (float).
    """

    transactions: pd.DataFrame
    source: str
    columns: dict[str, str]  # role -> header in the file
    encoding: str
    raw_orders: int
    warnings: list[str] = field(default_factory=list)
    currency: str | None = None  # the currency the file itself states (a currency column or marks), if one
    currency_evidence: str | None = None  # where it says so, or why it cannot tell

    @property
    def first_date(self) -> pd.Timestamp:
        return self.transactions["date"].min()

    @property
    def last_date(self) -> pd.Timestamp:
        return self.transactions["date"].max()


# -- reading text -----------------------------------------------------------------------------------


def check_export(path: str | Path, what: str = "order log") -> None:
    """Refuse up front, before any fitting, an export that cannot be read (missing, not a regular file, too
    large): the same one line `read_text` would give later."""
    from sim.limits import check_input_file, limit

    check_input_file(
        path, f"a CSV {what}", max_bytes=limit("SIM_MAX_INPUT_BYTES"), raise_with="SIM_MAX_INPUT_BYTES", error=DataError
    )


def read_text(path: str | Path, what: str = "order log") -> tuple[str, str]:
    """The file's text and encoding (UTF-8, UTF-8 with BOM, CP949/EUC-KR), or a `DataError`."""
    from sim.limits import limit, read_input_bytes

    source = str(path)
    raw = read_input_bytes(
        path, f"a CSV {what}", max_bytes=limit("SIM_MAX_INPUT_BYTES"), raise_with="SIM_MAX_INPUT_BYTES", error=DataError
    )
    if not raw.strip():
        raise DataError("is empty", file=source, allowed=f"a CSV {what} with a header row")
    head = raw[:8192]
    if head.startswith(b"PK\x03\x04"):
        raise DataError(
            "is an Excel workbook or a zip archive, not CSV", file=source, allowed="save it as CSV (UTF-8) first"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError("is an old Excel (.xls) file, not CSV", file=source, allowed="save it as CSV (UTF-8) first")
    text, encoding = None, None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, encoding = raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    if text is None:
        if head.count(b"\x00") > len(head) // 8:
            raise DataError("is a binary file, not CSV text", file=source, allowed=f"a CSV {what}")
        for candidate in ("utf-8-sig", "cp949"):
            try:
                text, encoding = raw.decode(candidate), candidate
                break
            except UnicodeDecodeError:
                continue
    if text is None or encoding is None:
        raise DataError("is not text in UTF-8 or CP949/EUC-KR", file=source, allowed="save it as CSV (UTF-8)")
    nul = text.find("\x00")
    if nul >= 0:  # a NUL inside text: a damaged export (pandas would cut the value there without a word)
        line = text.count("\n", 0, nul) + 1
        raise DataError(
            "holds a NUL byte (a damaged or binary export)",
            file=source,
            location=f"row {line}",
            allowed="text only; export the file again or remove the damaged row",
        )
    return text, encoding


def read_table(path: str | Path, what: str = "order log") -> tuple[pd.DataFrame, str]:
    """The CSV as a frame of strings (header kept as in the file) and its encoding."""
    text, encoding = read_text(path, what)
    source = str(path)
    lines = [ln for ln in text[:65536].splitlines()[:200] if ln.strip()]  # speed: the head is enough to sniff
    if not lines:
        raise DataError("is empty", file=source, allowed=f"a CSV {what} with a header row")
    text, lines, delimiter, offset = _excel_sep_line(text, lines)
    sample = "\n".join(lines[:50])
    try:
        if delimiter is None:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            raise DataError(
                "is not a CSV file: the first line has no comma, semicolon, tab or '|' between columns",
                file=source,
                location="row 1",
                found=_short(lines[0]),
                allowed="a header row such as customer_id,order_date,amount",
            ) from None
        delimiter = best
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"is not a readable CSV file: {str(exc).strip()}", file=source) from None
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    frame.index = frame.index + offset  # index + 2 is the row of the file (header = row 1)
    frame = _drop_empty_rows(frame)
    raw_header = next(csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True), [])
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(raw_header, start=1):
        positions.setdefault(_norm(name), []).append(i)
    frame.attrs["duplicate_headers"] = {k: v for k, v in positions.items() if len(v) > 1 and k}
    frame.attrs["header_names"] = [str(h).strip().lstrip("\ufeff") for h in raw_header]
    if len(frame.columns) < 2:
        raise DataError(
            "is not a CSV file with several columns",
            file=source,
            location="row 1",
            found=_short(lines[0]),
            allowed="a header row such as customer_id,order_date,amount",
        )
    return frame, encoding


def _excel_sep_line(text: str, lines: list[str]) -> tuple[str, list[str], str | None, int]:
    """Excel's 'sep=;' first line (it names the delimiter and precedes the header): (the text after it, the
    sniffed lines after it, the delimiter or None, rows it shifts the file by)."""
    m = re.fullmatch(r'\s*"?sep=(.)"?\s*', lines[0], flags=re.IGNORECASE) if lines else None
    if m is None:
        return text, lines, None, 0
    rest = text.split("\n", 1)[1] if "\n" in text else ""
    return rest, lines[1:] or [""], m.group(1), 1


def _drop_empty_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with every cell empty (Excel saves ';;;;' lines below a table) are no rows; their index is kept so
    that errors still name the file's rows."""
    blank = np.ones(len(frame), dtype=bool)
    for col in frame.columns:
        # speed: each column is looked at only in the rows still blank (after the first column, almost none):
        # a Shopify export has 79 columns, and stripping all of them took 10 s for 200,000 lines
        at = np.flatnonzero(blank)
        if len(at) == 0:
            break
        blank[at] = (frame[col].iloc[at].str.strip() == "").to_numpy(dtype=bool)
    return frame[~blank] if blank.any() else frame


def _short(text: str) -> str:
    text = str(text)
    return repr(text if len(text) <= 60 else text[:57] + "...")


# -- finding columns --------------------------------------------------------------------------------


def find_column(
    frame: pd.DataFrame,
    names: tuple[str, ...],
    given: str | None,
    role: str,
    flag: str,
    source: str,
    fallback: tuple[str, ...] = (),
) -> str:
    """The header of the column playing `role`: the one named by a flag, or the one recognized (by `names`,
    else by `fallback`, such as an email for a customer id).

    Two columns under one name (pandas would quietly rename the second `amount.1`) are an error when that
    name is the one for the role, or one that looks like it."""
    headers = list(frame.columns)
    normalized = {_norm(h) for h in headers}
    if given is None and not normalized & set(names) and normalized & set(fallback):
        names = fallback
    duplicates = frame.attrs.get("duplicate_headers", {})
    for norm_name, cols in duplicates.items():
        if (given is None and norm_name in names) or (given is not None and norm_name == _norm(given)):
            shown = frame.attrs.get("header_names", [])[cols[0] - 1] if frame.attrs.get("header_names") else norm_name
            raise DataError(
                f"{len(cols)} columns are named {shown!r} (columns {', '.join(map(str, cols))}); which one is the"
                f" {role} cannot be told",
                file=source,
                location="row 1",
                allowed=f"one column per name: rename or remove the others, or choose one by another name with {flag}",
            )
    if given is not None:
        if given in headers:
            return given
        matches = [h for h in headers if _norm(h) == _norm(given)]
        if len(matches) == 1:
            return matches[0]
        raise DataError(
            f"has no column {given!r} (given by {flag})", file=source, location="row 1", allowed=", ".join(headers)
        )
    matches = [h for h in headers if _norm(h) in names]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DataError(
            f"ambiguous {role} column: {', '.join(repr(m) for m in matches)} all look like one",
            file=source,
            location="row 1",
            allowed=f"choose one with {flag}",
        )
    if _looks_like_data(headers):
        raise DataError(
            "has no header row: the first row looks like data",
            file=source,
            location="row 1",
            found=_short(",".join(headers)),
            allowed="a first row naming the columns, e.g. customer_id,order_date,amount",
        )
    korean = next((n for n in names[3:] if not n.isascii()), None)  # a Korean export's header, when there is one
    examples = ", ".join(READABLE.get(n, n) for n in names[:3]) + (f" or {korean}" if korean else "")
    raise DataError(
        f"has no {role} column",
        file=source,
        location="row 1",
        found=", ".join(headers),
        allowed=f"a header such as {examples} (letter case, spaces and _-./ do not matter), or name it with {flag}",
    )


def _looks_like_data(headers: list[str]) -> bool:
    """A header row made of numbers and dates is data, not a header."""
    hits = 0
    for h in headers:
        t = h.strip()
        if re.fullmatch(r"[-+]?[\d,.]+", t) or re.fullmatch(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}.*", t):
            hits += 1
    return hits >= max(1, len(headers) // 2)


# -- parsing values ----------------------------------------------------------------------------------


def parse_dates(
    values: pd.Series,
    source: str,
    column: str,
    formats: tuple[str, ...] | None = None,
    *,
    date_format: str | None = None,
    months: bool = False,
) -> pd.Series:
    """Dates (day precision) from text, read one way for the whole column; the first unreadable value, an
    ambiguous column (03/04/2024: March or April?) and dates before 1980 are errors naming the row.

    `date_format` (a strftime format such as %d/%m/%Y, from --date-format) reads every value with it;
    `months` also allows month-only values (2024-03, as spend logs write them).
    """
    text, codes = _unique_view(values)  # speed: a log of a million orders has a few hundred distinct dates
    parsed = _parse_unique_dates(text, source, column, formats, date_format, months)
    return pd.Series(parsed.to_numpy()[codes], index=values.index)


def _unique_view(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(the distinct values, stripped, indexed by the row where each first appears; codes back to the rows).

    speed: exports repeat values (dates, ids) many times; checking each distinct value once is what makes
    a million-row file take a second instead of ten. Errors still name the first row with the value.
    """
    codes, uniques = pd.factorize(values.astype(str).to_numpy(dtype=object), sort=False)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    index = values.index.to_numpy()[first]  # the frame's labels: rows of the file even after empty rows are dropped
    return pd.Series(np.asarray(uniques, dtype=object), index=index, dtype=object).str.strip(), codes


def _row(text: pd.DataFrame | pd.Series, i: int) -> int:
    """The file row (header = 1) of position `i` of a frame from `read_table` or a column view of it (its index
    keeps the file's rows when empty rows are dropped)."""
    return int(text.index[i]) + 2


DATE_EXAMPLES = "dates such as 2024-03-15, 2024/03/15, 20240315, 2024. 3. 15., 03/15/2024, 15.03.2024 or 15 Mar 2024"
FAMILY_SHOWN = {"year-month-day": "year first", "month/day/year": "month first", "day/month/year": "day first"}


def _parse_unique_dates(
    text: pd.Series, source: str, column: str, formats, date_format: str | None, months: bool
) -> pd.Series:
    empty = (text == "").to_numpy()
    if empty.any():
        row = _row(text, int(np.flatnonzero(empty)[0]))
        raise DataError("empty date", file=source, location=f"row {row}, column {column!r}")
    if date_format == EXCEL_FORMAT:
        return _plausible(_excel_dates(text, source, column), text, source, column)
    if date_format is not None:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        _first_bad(parsed, text, source, column, f"dates in the format {date_format} (given by --date-format)")
        return _plausible(parsed.dt.normalize(), text, source, column)
    _refuse_excel_serials(text, source, column)
    families = dict(DATE_FAMILIES)
    if formats is not None:  # an explicit list: one family of its own
        families = {"given formats": formats}
    readings: dict[str, pd.Series] = {}
    tried: dict[str, pd.Series] = {}
    for family, fmts in families.items():
        extra = YM_FORMATS if months and family == "year-month-day" else ()
        parsed = _read_with(text, (*fmts, *extra), korean=family == "year-month-day", months=months)
        tried[family] = parsed
        if not parsed.isna().any():
            readings[family] = parsed
            if family == "year-month-day":
                break  # the year first is unambiguous: no need to try the other orders
    if not readings:
        _refuse_mixed_orders(tried, text, source, column)
        best = min(tried, key=lambda k: int(tried[k].isna().sum()))
        parsed = _read_with(text, (*families[best], *(YM_FORMATS if months else ())), korean=True, months=months)
        _first_bad(parsed, text, source, column, DATE_EXAMPLES)
    if len(readings) > 1:
        first, second = (readings[k] for k in ("month/day/year", "day/month/year"))
        differ = (first != second).to_numpy()
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            sep = next((ch for ch in text.iloc[i] if not ch.isdigit()), "/")
            raise DataError(
                f"dates are ambiguous: {text.iloc[i]!r} can be {first.iloc[i]:%d %B %Y} (month first) or"
                f" {second.iloc[i]:%d %B %Y} (day first), and no day above 12 tells which",
                file=source,
                location=f"row {_row(text, i)}, column {column!r}",
                allowed=f"say which with --date-format %m{sep}%d{sep}%Y or --date-format %d{sep}%m{sep}%Y",
            )
    parsed = next(iter(readings.values()))
    return _plausible(parsed.dt.normalize(), text, source, column)


def _refuse_mixed_orders(tried: dict[str, pd.Series], text: pd.Series, source: str, column: str) -> None:
    """Every value is a date of some order but no one order reads them all: say which rows disagree.

    The column is read one way (a column mixing 2024-03-05 and 05.03.2024 is two exports pasted together, and
    a 03/04/2024 among them could not be told); 'unreadable date' would be wrong for a value that is a date."""
    if len(tried) < 2:
        return
    read = np.stack([~p.isna().to_numpy() for p in tried.values()])
    if not read.any(axis=0).all():
        return  # some value no order reads: that one is the unreadable date
    names = list(tried)
    best = int(np.argmax(read.sum(axis=1)))
    j = int(np.flatnonzero(read[best])[0])
    i = int(np.flatnonzero(~read[best])[0])
    other = " or ".join(FAMILY_SHOWN.get(names[k], names[k]) for k in np.flatnonzero(read[:, i]))
    raise DataError(
        f"dates are written in more than one order: {text.iloc[j]!r} (row {_row(text, j)}) is"
        f" {FAMILY_SHOWN.get(names[best], names[best])}, {text.iloc[i]!r} (row {_row(text, i)}) {other}",
        file=source,
        location=f"column {column!r}",
        allowed="one date order for the whole column: export the dates again in one format (e.g. 2024-03-15)",
    )


def _refuse_excel_serials(text: pd.Series, source: str, column: str) -> None:
    """A column of numbers such as 45717 holds Excel's day numbers, not dates: which date system made them
    (1900, or 1904 in old Mac workbooks, 4 years apart) the file cannot say, so ask."""
    serial = text.str.fullmatch(_EXCEL_SERIAL).to_numpy(dtype=bool)
    if not serial.all():
        return
    v = text.iloc[0]
    day = EXCEL_EPOCH + pd.Timedelta(days=int(float(v)))
    raise DataError(
        f"dates are numbers such as {v!r}: Excel's day numbers, not dates ({v} is {day.date()} in Excel's usual"
        f" 1900 date system, {(day + pd.Timedelta(days=EXCEL_1904_OFFSET)).date()} in the 1904 system of old Mac"
        " workbooks)",
        file=source,
        location=f"row {_row(text, 0)}, column {column!r}",
        allowed="format the column as dates (yyyy-mm-dd) in Excel before saving the CSV, or read them in the"
        " 1900 system with --date-format excel",
    )


def _excel_dates(text: pd.Series, source: str, column: str) -> pd.Series:
    """Excel 1900-system day numbers (45717, or 45717.54 with a time of day) as dates (--date-format excel)."""
    serial = text.str.fullmatch(_EXCEL_SERIAL) | text.str.fullmatch(r"\d{1,5}(?:\.\d+)?")
    days = pd.to_numeric(text.where(serial.to_numpy(dtype=bool)), errors="coerce")
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    ok = days.notna().to_numpy()
    parsed.iloc[np.flatnonzero(ok)] = (
        EXCEL_EPOCH + pd.to_timedelta(np.floor(days[ok].to_numpy()), unit="D")
    ).to_numpy()
    _first_bad(parsed, text, source, column, "Excel day numbers such as 45717 (given by --date-format excel)")
    return parsed


def _read_with(text: pd.Series, formats: tuple[str, ...], korean: bool, months: bool = False) -> pd.Series:
    """Each value read with the first of `formats` that reads it (NaT where none does)."""
    # seconds, not nanoseconds: a year such as 9999 must reach the range check, not overflow here
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    todo = np.ones(len(text), dtype=bool)
    if korean:
        # speed: a time with a UTC offset (Shopify's '2024-05-01 09:58:12 +0900') fits none of the formats (none
        # has %z); such values go straight to the regex below instead of failing every format first (2.6 s for
        # 100,000 distinct times)
        todo = ~text.str.contains(_ZONED_TIME).to_numpy(dtype=bool)
    # speed: by position (a boolean mask as a Series key goes through a failed label lookup that prints the mask)
    for fmt in formats:
        if not todo.any():
            break
        at = np.flatnonzero(todo)
        parsed.iloc[at] = pd.to_datetime(text.iloc[at], format=fmt, errors="coerce").to_numpy()
        todo = todo & parsed.isna().to_numpy()
    bad = parsed.isna().to_numpy()
    if korean and bad.any():  # Korean Excel writes '2024. 1. 5.', '2024년 1월 5일' or '2024-01-05 오후 1:45:00'
        at = np.flatnonzero(bad)
        fixed = text.iloc[at].map(lambda v: _korean_date(v, months))
        parsed.iloc[at] = pd.to_datetime(fixed, format="%Y-%m-%d", errors="coerce").to_numpy()
    return parsed


def _first_bad(parsed: pd.Series, text: pd.Series, source: str, column: str, allowed: str) -> None:
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            "unreadable date",
            file=source,
            location=f"row {_row(text, i)}, column {column!r}",
            found=_short(text.iloc[i]),
            allowed=allowed,
        )


def _plausible(parsed: pd.Series, text: pd.Series, source: str, column: str) -> pd.Series:
    late = (parsed > LAST_PLAUSIBLE_DATE).to_numpy()
    if late.any():
        i = int(np.flatnonzero(late)[0])
        raise DataError(
            f"date {parsed.iloc[i].date()} is in the future, after any export could have been made",
            file=source,
            location=f"row {_row(text, i)}, column {column!r}",
            found=_short(text.iloc[i]),
            allowed=f"dates from {FIRST_PLAUSIBLE_DATE.date()} to today; fix or remove the row",
        )
    early = (parsed < FIRST_PLAUSIBLE_DATE).to_numpy()
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise DataError(
            f"date {parsed.iloc[i].date()} is before {FIRST_PLAUSIBLE_DATE.year}, earlier than any online shop's export",
            file=source,
            location=f"row {_row(text, i)}, column {column!r}",
            found=_short(text.iloc[i]),
            allowed=f"dates from {FIRST_PLAUSIBLE_DATE.date()} to today; fix or remove the row",
        )
    return parsed.astype("datetime64[ns]")


def _korean_date(text: str, months: bool = False) -> str | None:
    """'2024. 1. 5.', '2024년 1월 5일 (금) 오후 1:45' or '2024-01-05T13:45:00+09:00' as 2024-01-05; a value
    without a day ('2024년 1월') only where month-only values are allowed (spend logs)."""
    m = _KOREAN_DATE.match(text)
    if not m or (m.group(3) is None and not months):
        return None
    y, mo, d = m.group(1), m.group(2), m.group(3) or "1"
    return f"{y}-{int(mo):02d}-{int(d):02d}"


# Amounts, by the separators they use: "dot" = 1,234.56 (Korea, the US, the UK), "comma" = 1.234,56 (most of
# Europe). A value such as 1,234 or 1.234 fits both; a column is read one way as a whole.
_PLAIN_OR_DOT = re.compile(r"^[-+]?\d+(?:\.\d{1,2}|\.\d{4,})?$")  # 38000, 38000.5, 0.25: no separator question
_DOT_ONLY = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+\.\d+|\d{1,3}(?:,\d{3}){2,}|\d+\.\d{1,2}|\d+\.\d{4,}|\d{4,}\.\d+)$")
_COMMA_ONLY = re.compile(r"^[-+]?(?:\d{1,3}(?:\.\d{3})+,\d+|\d{1,3}(?:\.\d{3}){2,}|\d+,\d{1,2}|\d+,\d{4,}|\d{4,},\d+)$")
_COMMA_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+$")  # 38,000: a thousands group (or 3 decimals)
_DOT_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:\.\d{3})+$")  # 1.234: 1.234 or 1234?


def parse_amounts(values: pd.Series, source: str, column: str, *, decimal: str | None = None) -> np.ndarray:
    """Non-negative amounts from text with currency signs and thousands separators, read one way per column.

    `decimal` ("." or ",", from --decimal) says which mark separates the decimals; without it the column
    decides: 1.234,56 or 42,50 anywhere means decimal commas, 1,234.56 or 42.50 decimal points; a column
    mixing both is an error, and so is one whose only dotted values are like 1.234 (1.234 or 1234?). A comma
    before exactly three digits with nothing else to go by (38,000) is a thousands separator. An empty cell,
    text that is no number and a negative amount are errors naming the row.
    """
    arr = amount_numbers(values, source, column, decimal=decimal)
    refuse_unreadable_amounts(values, arr, source, column)
    neg = arr < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise DataError(
            "negative amount (a refund or cancellation?)",
            file=source,
            location=f"row {_row(values, i)}, column {column!r}",
            found=_short(str(values.iloc[i]).strip()),
            allowed="amounts >= 0; remove refunds and cancellations from the export",
        )
    return arr


def amount_numbers(values: pd.Series, source: str, column: str, *, decimal: str | None = None) -> np.ndarray:
    """The amounts of a column as numbers, read one way (see `parse_amounts`), negative ones kept and NaN where
    a cell is empty or no number: the order log decides what those rows are before it refuses them
    (`refuse_unreadable_amounts`). A column whose decimal mark cannot be told is refused here."""
    numbers = pd.to_numeric(values, errors="coerce")
    arr = numbers.to_numpy(dtype=float, na_value=np.nan)
    if decimal in (None, ".") and np.isfinite(arr).all():
        # speed: plain numbers (38000, 38000.5) read in C; only 1.234-style values can still be ambiguous
        if decimal is None:
            _no_dot_thousands_doubt(values, source, column)
        return arr
    text, codes = _unique_view(values)
    cleaned = text.str.replace(_MONEY_JUNK, "", regex=True)
    if decimal is None:
        decimal = _decimal_mark(cleaned, source, column)
    if decimal == ",":
        number_text = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        number_text = cleaned.str.replace(",", "", regex=False)
    unique_numbers = pd.to_numeric(number_text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(unique_numbers), unique_numbers, np.nan)[codes]


def refuse_unreadable_amounts(values: pd.Series, numbers: np.ndarray, source: str, column: str, hint: str = "") -> None:
    """The first row whose amount is empty or no number, as an error naming it (`hint` adds to what is allowed)."""
    bad = np.isnan(numbers)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    text = str(values.iloc[i]).strip()
    if text == "":  # an empty cell: 0, or a value missing from the export? say so, not 'not a number'
        raise DataError(
            "empty amount",
            file=source,
            location=f"row {_row(values, i)}, column {column!r}",
            allowed="a number in every row (0 where it was free); fill in or remove the rows without one" + hint,
        )
    raise DataError(
        "amount is not a number",
        file=source,
        location=f"row {_row(values, i)}, column {column!r}",
        found=_short(text),
        allowed="numbers such as 38000, 38,000 or 38000.50 (decimal commas: 38.000,50 or --decimal ,)",
    )


def _no_dot_thousands_doubt(values: pd.Series, source: str, column: str) -> None:
    """Plain numbers with a dot: if every dotted value looks like 1.234 (one to three digits, a dot, three
    digits), the dot may separate thousands (1234) as well as decimals (1.234): refuse, say how to tell."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), sort=False)
    arr = np.char.strip(np.asarray(uniques, dtype=str))  # speed: numpy's string loops, not Python's
    dot = np.char.rfind(arr, ".")
    dotted = dot >= 0
    if not dotted.any():
        return
    signed = np.char.startswith(arr, "-") | np.char.startswith(arr, "+")
    decimals = np.char.str_len(arr) - dot - 1
    lead = dot - signed
    decisive = dotted & ((decimals != 3) | (lead > 3) | (np.char.count(arr, ".") > 1))
    if decisive.any():
        return
    i = int(np.flatnonzero(dotted)[0])
    value = str(arr[i])
    row = _row(values, int(np.flatnonzero(codes == i)[0]))
    raise DataError(
        f"amounts such as {value!r} are ambiguous: {value} with a decimal point, or"
        f" {value.replace('.', '')} with a dot between thousands (no other row tells which)",
        file=source,
        location=f"row {row}, column {column!r}",
        allowed="say which with --decimal . (1.5 means one and a half) or --decimal , (1.234,5)",
    )


def _decimal_mark(cleaned: pd.Series, source: str, column: str) -> str:
    """ "." or "," for a column of amounts (see `parse_amounts`), or a `DataError` when it cannot tell."""
    simple = cleaned.str.fullmatch(_PLAIN_OR_DOT).to_numpy(dtype=bool)
    if simple.all():  # speed: the usual export (plain numbers, cents after a dot) needs no more regexes
        return "."
    rest = cleaned[~simple]
    dot = rest.str.fullmatch(_DOT_ONLY).to_numpy(dtype=bool)
    comma = rest.str.fullmatch(_COMMA_ONLY).to_numpy(dtype=bool)
    dot_rows = np.flatnonzero(~simple)[dot]
    comma_rows = np.flatnonzero(~simple)[comma]
    rows = cleaned.index.to_numpy()
    has_dot = simple.any() and cleaned[simple].str.contains(".", regex=False).any() or dot.any()
    if comma.any() and has_dot:
        first_dot = int(dot_rows[0]) if dot.any() else int(np.flatnonzero(cleaned.str.contains(".", regex=False))[0])
        first_comma = int(comma_rows[0])
        raise DataError(
            "amounts mix decimal points and decimal commas:"
            f" {cleaned.iloc[first_dot]!r} (row {rows[first_dot] + 2}) and {cleaned.iloc[first_comma]!r}"
            f" (row {rows[first_comma] + 2})",
            file=source,
            location=f"column {column!r}",
            allowed="one convention for the whole column; say which with --decimal . or --decimal ,",
        )
    if comma.any():
        return ","
    if dot.any():
        return "."
    dotted = rest.str.fullmatch(_DOT_THOUSANDS).to_numpy(dtype=bool)
    if dotted.any():
        i = int(np.flatnonzero(~simple)[dotted][0])
        value = cleaned.iloc[i]
        raise DataError(
            f"amounts such as {value!r} are ambiguous: {value} with a decimal point, or"
            f" {value.replace('.', '')} with a dot between thousands (no other row tells which)",
            file=source,
            location=f"row {_row(cleaned, i)}, column {column!r}",
            allowed="say which with --decimal . (1.5 means one and a half) or --decimal , (1.234,5)",
        )
    return "."  # plain numbers and 38,000-style thousands


# -- the order log -----------------------------------------------------------------------------------


def read_orders(
    path: str | Path,
    *,
    customer_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    order_col: str | None = None,
    until: date | pd.Timestamp | None = None,
    today: date | None = None,
    date_format: str | None = None,
    decimal: str | None = None,
    duplicate_orders: str = "error",
    refunds: str = "error",
    order_amount: str = "error",
) -> OrderLog:
    """Read an order export and return one transaction per customer per day.

    Orders after `until` are dropped (for holdout checks); an order dated after `today` (default: the
    machine's date) is an error, as is an `until` after today. `date_format` (--date-format) and `decimal`
    (--decimal) say how to read dates and amounts where the file alone cannot tell. Rows a status column marks
    cancelled or refunded are left out; repeated rows of one order id are refused unless `duplicate_orders`
    (--duplicate-orders) says to read them once ("drop") or add them up as order lines ("keep"). A line-item
    export that writes an order's total on its first line only (Shopify) is read one order at a time, and a
    totals row at the foot of the file is left out. Rows with a negative amount (refunds) are refused unless
    `refunds` (--refunds) says to subtract each from its order ("net") or to leave them out ("drop"). An export
    whose every multi-line order carries one amount on all its lines (the order's total repeated on each line?)
    is refused unless `order_amount` (--order-amount) says it is each order's total ("total": read once) or the
    lines' own amounts ("lines": added up). A refunded amount column (Shopify's 'Refunded Amount') lowers its
    order, and a cancellation date (Shopify's 'Cancelled at') leaves the order out whatever its status says.
    """
    source = str(path)
    today_ts = pd.Timestamp(today or date.today())
    if until is not None and pd.Timestamp(until) > today_ts:
        raise DataError(
            "--until is in the future",
            location="--until",
            found=str(pd.Timestamp(until).date()),
            allowed=f"<= {today_ts.date()}",
        )
    frame, encoding = read_table(path, "order log")
    roles = _role_columns(frame, customer_col, date_col, amount_col, source)
    cust, dcol, acol = roles
    ocol = _order_id_column(frame, roles, order_col, source)
    if frame.empty:
        raise DataError("has a header but no orders", file=source, location="row 2")
    warnings: list[str] = []
    amounts = amount_numbers(frame[acol], source, acol, decimal=decimal)
    known = _bought_order_ids(frame, amounts, ocol) if refunds == "net" else frozenset()
    frame, amounts = _without_totals_row(frame, amounts, roles, ocol, source, warnings)
    choices = _Choices(duplicate_orders, refunds, order_amount, date_format)
    frame, amounts, refund = _order_rows(frame, amounts, roles, ocol, choices, source, warnings)
    ids = _customer_ids(frame[cust], source, cust, warnings)
    missing = (ids == "").to_numpy()
    if missing.all():
        raise DataError("customer id column is empty", file=source, location=f"column {cust!r}")
    guests = missing & ~refund
    if guests.any():
        warnings.append(
            f"{int(guests.sum())} orders without a customer id (first at row {_row(frame, int(np.flatnonzero(guests)[0]))})"
            " were left out (guest orders?)"
        )
    _warn_case_only_ids(ids[~missing], warnings)
    dates = parse_dates(frame[dcol], source, dcol, date_format=date_format)
    refuse_unreadable_amounts(frame[acol], amounts, source, acol, hint=_order_col_hint(ocol))
    _refuse_worthless_or_future(frame, dates, amounts[~missing & ~refund], roles, today_ts, source)
    keep = ~missing & ~refund
    if duplicate_orders != "keep":
        _refuse_split_orders(frame, ocol, ids, dates, keep, source)
    keep = _cut_at(until, dates, keep, source, warnings)
    read = _Rows(frame, ocol, ids, dates, amounts, source)
    if refund.any():
        keep, amounts = _settle_refunds(read, keep, refund, refunds, until, known, warnings)
    keep, amounts = _refunded_amounts(replace(read, amounts=amounts), keep, refund, refunds, decimal, warnings)
    tx = pd.DataFrame({"customer_id": ids.to_numpy()[keep], "date": dates.to_numpy()[keep], "amount": amounts[keep]})
    currency, evidence = detect_currency(frame, acol, source, encoding)
    orders = _count_orders(read, keep)
    return _order_log(tx, orders, source, roles, encoding, warnings, (currency, evidence))


def _role_columns(
    frame: pd.DataFrame, customer_col: str | None, date_col: str | None, amount_col: str | None, source: str
) -> tuple[str, str, str]:
    """The customer id, order date and amount columns (flags, else recognized headers), three different ones."""
    cust = find_column(
        frame, CUSTOMER_NAMES, customer_col, "customer id", "--customer-col", source, fallback=CUSTOMER_EMAIL_NAMES
    )
    dcol = find_column(frame, DATE_NAMES, date_col, "order date", "--date-col", source)
    acol = find_column(frame, AMOUNT_NAMES, amount_col, "amount", "--amount-col", source)
    if len({cust, dcol, acol}) < 3:
        raise DataError(
            "one column is used for two roles",
            file=source,
            found=f"customer={cust!r}, date={dcol!r}, amount={acol!r}",
            allowed="three different columns",
        )
    return cust, dcol, acol


def _order_col_hint(order_col: str | None) -> str:
    """What an empty amount may be when no column is read as the order id: a later line of an order."""
    if order_col is not None:
        return ""
    return (
        "; if they are later lines of an order whose total is on its first line, name the order id column with"
        " --order-col"
    )


def _refuse_worthless_or_future(
    frame: pd.DataFrame,
    dates: pd.Series,
    bought: np.ndarray,
    roles: tuple[str, str, str],
    today: pd.Timestamp,
    source: str,
) -> None:
    """An export whose orders are all worth 0 (the amount is in another column), or an order dated after today."""
    _, dcol, acol = roles
    if not (bought > 0).any():
        raise DataError(
            "every amount is 0: an order log needs what the orders were worth",
            file=source,
            location=f"column {acol!r}",
            allowed="the paid amount of each order; if it is in another column, name it with --amount-col",
        )
    future = (dates > today).to_numpy()
    if future.any():
        i = int(np.flatnonzero(future)[0])
        raise DataError(
            "order date is in the future",
            file=source,
            location=f"row {_row(frame, i)}, column {dcol!r}",
            found=str(dates.iloc[i].date()),
            allowed=f"dates up to today ({today.date()})",
        )


def _stripped(frame: pd.DataFrame, column: str, at: np.ndarray | None = None) -> np.ndarray:
    """A column's cells as stripped text (an object array), at the positions `at` or all of them.

    speed: each distinct value is stripped once (exports repeat ids, dates and empty cells many times)."""
    values = frame[column].to_numpy(dtype=object)
    codes, uniques = pd.factorize(values if at is None else values[at], use_na_sentinel=False)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype(str).str.strip()
    return text.to_numpy(dtype=object)[codes]


# -- the shapes of real exports: a totals row, line items, refunds ------------------------------------


def _without_totals_row(
    frame: pd.DataFrame,
    amounts: np.ndarray,
    roles: tuple[str, str, str],
    order_col: str | None,
    source: str,
    warnings: list[str],
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows without the totals row a spreadsheet adds at the foot of an export (said in a warning).

    Only a last row with no date, no customer and no order id whose amount is the sum of every amount above it
    (to the cent) is one; such a last row with another amount is refused as a summary row to remove, and any
    other row without a date stays an error ('empty date')."""
    cust, dcol, acol = roles
    last = len(frame) - 1
    named = (cust, dcol) if order_col is None else (cust, dcol, order_col)
    if last < 1 or any(str(frame[c].iloc[last]).strip() for c in named):
        return frame, amounts
    above = amounts[:last]
    total = math.fsum(above[np.isfinite(above)])  # an exact sum: 200,000 amounts in cents stay exact
    value, row = amounts[last], _row(frame, last)
    if np.isfinite(value) and abs(value - total) < 0.005:
        warnings.append(
            f"row {row}, the last, has no date and no customer and its amount ({plain_number(value)}) is the sum of"
            " the rows above: it was left out as a totals row"
        )
        return frame.iloc[:last], amounts[:last]
    text = str(frame[acol].iloc[last]).strip()
    raise DataError(
        "the last row has no date and no customer: it looks like a totals or summary row, but its amount"
        f" ({_short(text) if text else 'empty'}) is not the sum of the rows above ({plain_number(total)})",
        file=source,
        location=f"row {row}, column {dcol!r}",
        allowed="remove the row from the export (a last row without a date and a customer is left out by itself"
        " only when its amount is the sum of every amount above it, to the cent)",
    )


@dataclass(frozen=True)
class _Choices:
    """What the flags say the export's unclear rows are (--duplicate-orders, --refunds, --order-amount) and how
    its dates are written (--date-format)."""

    duplicate_orders: str = "error"
    refunds: str = "error"
    order_amount: str = "error"
    date_format: str | None = None


def _take(rows: np.ndarray, frame: pd.DataFrame, *arrays: np.ndarray) -> tuple:
    """`frame` and `arrays` at the rows kept. speed: a frame of 79 columns is copied only when a row goes."""
    if rows.all():
        return (frame, *arrays)
    return (frame[rows], *(a[rows] for a in arrays))


def _order_rows(
    frame: pd.DataFrame,
    amounts: np.ndarray,
    roles: tuple[str, str, str],
    order_col: str | None,
    choices: _Choices,
    source: str,
    warnings: list[str],
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(the rows of bought orders, their amounts, which of them are refunds), read one order at a time.

    In this order: orders cancelled by their status or a cancellation date leave; rows repeating an earlier row
    in every cell (an export saved twice) are settled before the order lines are looked at, so that a doubled
    Shopify export gets the duplicate message, not the mixed-shape one; then the later lines of orders whose
    total is on their first line only; then the orders whose every line repeats the order's amount."""
    rows = _bought_rows(frame, roles, order_col, source, warnings)
    frame, amounts = _take(rows, frame, amounts)
    refund = _refund_rows(frame, amounts, roles[2], choices.refunds, source)
    rows, repeat = _without_repeated_rows(frame, amounts, roles, order_col, choices.duplicate_orders, source, warnings)
    frame, amounts, refund, repeat = _take(rows, frame, amounts, refund, repeat)
    rows = _without_later_lines(frame, amounts, roles, order_col, source, choices.date_format, warnings)
    frame, amounts, refund, repeat = _take(rows, frame, amounts, refund, repeat)
    rows = _read_order_amounts(frame, amounts, (roles[2], order_col), choices.order_amount, repeat, source, warnings)
    return _take(rows, frame, amounts, refund)


def _without_repeated_rows(
    frame: pd.DataFrame,
    amounts: np.ndarray,
    roles: tuple[str, str, str],
    order_col: str | None,
    mode: str,
    source: str,
    warnings: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """(the rows to read, the rows that repeat an earlier row in every cell), where an order id column shows them.

    Rows equal in every cell, order id included, are a duplicated export or identical order lines, which the
    file cannot tell apart: refused unless `mode` (--duplicate-orders) says "drop" (read once) or "keep" (order
    lines, added up). Only priced purchase rows of a customer count (a later line without an amount is read with
    its order's first line, a refund is no purchase, a guest's order is left out anyway)."""
    keep = np.ones(len(frame), dtype=bool)
    repeat = np.zeros(len(frame), dtype=bool)
    if order_col is None:
        return keep, repeat
    at = np.flatnonzero(amounts >= 0)  # NaN is not >= 0
    oid = _stripped(frame, order_col, at)
    named = (oid != "") & (_stripped(frame, roles[0], at) != "")
    at, oid = at[named], oid[named]
    shared = pd.Series(oid).duplicated(keep=False).to_numpy()
    if not shared.any():
        return keep, repeat
    repeat[at[shared][_repeats_earlier_row(frame, at[shared])]] = True
    if not repeat.any() or mode == "keep":
        return keep, repeat
    if mode == "drop":
        warnings.append(
            f"{int(repeat.sum())} rows repeating an earlier row exactly (order id included) were read once"
            " (--duplicate-orders drop)"
        )
        return ~repeat, repeat
    j = int(np.flatnonzero(repeat)[0])
    oid = _stripped(frame, order_col)
    same = np.flatnonzero(oid == oid[j])
    cells = frame.iloc[same].apply(lambda c: c.astype(str).str.strip())
    first = same[(cells == cells.loc[frame.index[j]]).all(axis=1).to_numpy()][0]
    raise DataError(
        f"{int(repeat.sum())} rows repeat an earlier row in every cell (order {oid[j]!r} on rows"
        f" {_row(frame, int(first))} and {_row(frame, j)}): a duplicated export would count those orders twice",
        file=source,
        location=f"column {order_col!r}",
        allowed="remove the repeated rows, or say what they are: --duplicate-orders drop (read each once) or"
        " --duplicate-orders keep (separate order lines, added up)",
    )


def _repeats_earlier_row(frame: pd.DataFrame, at: np.ndarray) -> np.ndarray:
    """For the rows at positions `at`, whether each repeats an earlier one of them in every cell (cells compared
    stripped).

    speed: the rows are told apart one column at a time, and a row that no other row matches so far is dropped
    from the next columns: a line-item export's lines differ in the item's columns, so after those few columns
    almost no row is left (200,000 lines of 79 columns in about 0.3 s, where stripping every cell took 4 s)."""
    key = np.zeros(len(at), dtype=np.int64)
    live = np.arange(len(at))
    for col in frame.columns:
        if len(live) == 0:
            break
        codes, uniques = pd.factorize(frame[col].to_numpy(dtype=object)[at[live]])
        text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype(str).str.strip()
        codes = pd.factorize(text.to_numpy(dtype=object))[0][codes]  # cells equal once stripped share a code
        key[live] = pd.factorize(key[live] * (int(codes.max()) + 1) + codes)[0]
        live = live[np.bincount(key[live])[key[live]] > 1]
    out = np.zeros(len(at), dtype=bool)
    out[live] = pd.Series(key[live]).duplicated().to_numpy()
    return out


MIN_REPEATED_TOTAL_ORDERS = 5  # multi-line orders that all repeat one amount before an export is refused


def _read_order_amounts(
    frame: pd.DataFrame,
    amounts: np.ndarray,
    columns: tuple[str, str | None],
    mode: str,
    repeat: np.ndarray,
    source: str,
    warnings: list[str],
) -> np.ndarray:
    """The rows to read once the amount of each order's lines is known to be the order's total or the line's own.

    Many exports (Cafe24- or Smartstore-style, a Shopify export with its total filled down) repeat the order's
    total on every line of the order; added up as order lines, an order of three lines would count three times.
    Where `mode` (--order-amount) does not say, an export with at least `MIN_REPEATED_TOTAL_ORDERS` orders of
    several lines, every one of them with one amount on all its lines, is refused. In a genuine line-priced
    export a few orders hold two equal lines (two of one item) but the others' lines differ; that it holds for
    every one of five or more orders is what only a repeated total makes likely. "total" reads each order's
    first line (an order whose lines differ is then refused: no total repeats there), "lines" adds them up."""
    amount_col, order_col = columns
    keep = np.ones(len(frame), dtype=bool)
    if order_col is None or mode == "lines":
        return keep
    oid = _stripped(frame, order_col)
    at = np.flatnonzero((oid != "") & (amounts >= 0) & ~repeat)  # identical rows (--duplicate-orders keep) aside
    lines = pd.DataFrame({"order": oid[at], "cents": np.round(amounts[at] * 100)})
    multi = lines["order"].duplicated(keep=False).to_numpy()
    if not multi.any():
        return keep
    amounts_of = lines[multi].groupby("order", sort=False)["cents"].nunique()
    rows = frame.index.to_numpy() + 2
    if mode == "total":
        if (amounts_of > 1).any():
            order = amounts_of.index[(amounts_of > 1).to_numpy()][0]
            shown = rows[at[(lines["order"] == order).to_numpy()]][:2]
            raise DataError(
                f"the lines of order {order!r} carry different amounts (rows {shown[0]} and {shown[1]}): with"
                " --order-amount total every line of an order carries the order's total",
                file=source,
                location=f"column {amount_col!r}",
                allowed="--order-amount lines if each line carries its own amount (added up)",
            )
        later = lines["order"].duplicated().to_numpy()
        keep[at[later]] = False
        warnings.append(
            f"{int(later.sum())} later lines of {len(amounts_of)} orders repeat their order's amount: each order was"
            " read once, with that amount (--order-amount total)"
        )
        return keep
    if len(amounts_of) < MIN_REPEATED_TOTAL_ORDERS or (amounts_of > 1).any():
        return keep
    order = amounts_of.index[0]
    shown = rows[at[(lines["order"] == order).to_numpy()]]
    raise DataError(
        f"every one of the {len(amounts_of)} orders with more than one line carries one amount on all its lines"
        f" (order {order!r}: {plain_number(amounts[at[(lines['order'] == order).to_numpy()][0]])} on rows"
        f" {', '.join(map(str, shown[:4]))}): the order's total repeated on each line, or lines of equal price?",
        file=source,
        location=f"column {amount_col!r}",
        allowed="say what the amount is: --order-amount total (each order's total, read once) or --order-amount"
        " lines (each line's own amount, added up)",
    )


def _refund_rows(frame: pd.DataFrame, amounts: np.ndarray, column: str, mode: str, source: str) -> np.ndarray:
    """The rows with a negative amount (refunds): refused unless --refunds says what to do with them."""
    negative = amounts < 0  # NaN (an empty cell) is not negative
    if negative.any() and mode not in ("net", "drop"):
        i = int(np.flatnonzero(negative)[0])
        raise DataError(
            "negative amount (a refund or cancellation?)",
            file=source,
            location=f"row {_row(frame, i)}, column {column!r}",
            found=_short(str(frame[column].iloc[i]).strip()),
            allowed="amounts >= 0, or say what the negative rows are: --refunds net (each subtracted from the order"
            " with its order id) or --refunds drop (left out)",
        )
    return negative


def _order_heads(order_ids: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row with the same order id (its own position on a first row)."""
    codes, uniques = pd.factorize(order_ids)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return first[codes]


def _without_later_lines(
    frame: pd.DataFrame,
    amounts: np.ndarray,
    roles: tuple[str, str, str],
    order_col: str | None,
    source: str,
    date_format: str | None,
    warnings: list[str],
) -> np.ndarray:
    """The rows to read, without the later lines of orders whose total is on their first line only.

    Line-item exports (Shopify's) write one row per item and the order's own fields (its total, often its
    customer and date) on the first line of each order id only. Where every later line of an order leaves the
    amount empty, each order is read once, with its first line's total, and its later lines must name the same
    customer and day or none. An order whose first line has no amount, and an export where some later lines
    have their own amount (order lines, added up) while others have none, are refused: which it is cannot be
    told."""
    keep = np.ones(len(frame), dtype=bool)
    if order_col is None:
        return keep
    acol = roles[2]
    oid = _stripped(frame, order_col)
    later = (oid != "") & pd.Series(oid).duplicated().to_numpy()
    if not (later & np.isnan(amounts)).any():  # speed: no later line without an amount, no text to look at
        return keep
    head = _order_heads(oid)
    empty = _stripped(frame, acol) == ""
    lines = later & empty
    if not lines.any():
        return keep
    rows = frame.index.to_numpy() + 2
    i = int(np.flatnonzero(lines)[0])
    headless = lines & empty[head]
    if headless.any():
        j = int(np.flatnonzero(headless)[0])
        raise DataError(
            f"order {oid[j]!r} has no amount on its first line (row {rows[head[j]]}): an export that leaves the"
            f" amount of an order's later lines empty (row {rows[j]}) gives the order's total on its first line",
            file=source,
            location=f"row {rows[head[j]]}, column {acol!r}",
            allowed="the order's total on the first line of each order id, or an amount on every line",
        )
    priced = later & ~empty & ~(amounts < 0)  # a refund (negative) is no order line
    if priced.any():
        j = int(np.flatnonzero(priced)[0])
        raise DataError(
            f"later lines of order {oid[i]!r} leave the amount empty (row {rows[i]}), but a later line of order"
            f" {oid[j]!r} has its own amount (row {rows[j]}): an order's total written once on its first line, or"
            " order lines with missing amounts?",
            file=source,
            location=f"column {acol!r}",
            allowed="one way for the whole export: the order's total on its first line and the later lines' amounts"
            " empty (as Shopify writes them), or an amount on every line (order lines, added up)",
        )
    _refuse_lines_of_other_orders(frame, oid, head, lines, roles, order_col, source, date_format)
    warnings.append(
        f"{int(lines.sum())} later lines of {len(np.unique(head[lines]))} orders had no amount of their own (such as"
        f" order {oid[i]!r}, rows {rows[head[i]]} and {rows[i]}): each order was read once, with the total on its"
        " first line"
    )
    return ~lines


def _refuse_lines_of_other_orders(
    frame: pd.DataFrame,
    oid: np.ndarray,
    head: np.ndarray,
    lines: np.ndarray,
    roles: tuple[str, str, str],
    order_col: str,
    source: str,
    date_format: str | None,
) -> None:
    """A later line naming another customer or day than its order's first line: one order id, two orders."""
    cust, dcol, _ = roles
    rows = frame.index.to_numpy() + 2
    for col in (cust, dcol):
        text = _stripped(frame, col)
        other = lines & (text != "") & (text != text[head])
        if col == dcol and other.any():  # the same day may be written with another time: compare the days
            filled = pd.Series(np.where(lines & (text == ""), text[head], text), index=frame.index)
            days = parse_dates(filled, source, dcol, date_format=date_format).to_numpy()
            other &= days != days[head]
        if other.any():
            j = int(np.flatnonzero(other)[0])
            raise DataError(
                f"order id {oid[j]!r} is on rows {rows[head[j]]} and {rows[j]} with different customers or days: one"
                " order id cannot be two orders",
                file=source,
                location=f"column {order_col!r}",
                allowed="one customer and day per order id (its later lines repeat them or leave them empty), or"
                " --order-col naming the column that holds the order id",
            )


def _bought_order_ids(frame: pd.DataFrame, amounts: np.ndarray, order_col: str | None) -> frozenset[str]:
    """Every order id the export holds a purchase row for (cancelled ones included): a refund naming none of
    them refunds an order the export does not hold."""
    if order_col is None:
        return frozenset()
    oid = _stripped(frame, order_col)
    return frozenset(pd.unique(oid[~(amounts < 0)])) - {""}


@dataclass(frozen=True)
class _Rows:
    """The order log's rows as read so far, aligned: the text of the file and what was read from it."""

    frame: pd.DataFrame
    order_col: str | None
    ids: pd.Series
    dates: pd.Series
    amounts: np.ndarray
    source: str


def _settle_refunds(
    read: _Rows,
    keep: np.ndarray,
    refund: np.ndarray,
    mode: str,
    until: date | pd.Timestamp | None,
    known: frozenset[str],
    warnings: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """`keep` and `amounts` once the refund rows are settled as --refunds says: "drop" leaves them out, "net"
    subtracts each from its order. A refund is no purchase: its date makes no transaction (no purchase day, no
    repeat purchase); only a refund after --until is ignored, as it was not known at the cut-off."""
    amounts = read.amounts
    if until is not None:
        late = refund & (read.dates > pd.Timestamp(until)).to_numpy()
        if late.any():
            refund = refund & ~late
            warnings.append(f"{int(late.sum())} refunds after --until {pd.Timestamp(until).date()} were ignored")
    if not refund.any():
        return keep, amounts
    if mode == "drop":
        warnings.append(
            f"{int(refund.sum())} rows with a negative amount (refunds of {plain_number(-amounts[refund].sum())} in"
            " all) were left out (--refunds drop): the orders they refund count in full"
        )
        return keep, amounts
    return _net_refunds(read, keep, refund, known, warnings)


def _net_refunds(
    read: _Rows, keep: np.ndarray, refund: np.ndarray, known: frozenset[str], warnings: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each refund subtracted from the order with its order id (--refunds net): an order refunded in part keeps
    the rest, its lines lowered in proportion; one netted to zero or below is left out, as never bought. A
    refund that names no order, or one the export does not hold, cannot be placed: an error naming its row."""
    frame, order_col, source, amounts = read.frame, read.order_col, read.source, read.amounts
    rows = frame.index.to_numpy() + 2
    r = np.flatnonzero(refund)
    if order_col is None:
        raise DataError(
            "a negative amount (a refund) cannot be subtracted from its order: the export has no order id column",
            file=source,
            location=f"row {rows[r[0]]}",
            allowed="an order id column (name it with --order-col), or --refunds drop to leave refunds out",
        )
    oid = _stripped(frame, order_col)
    if (oid[r] == "").any():
        i = int(r[oid[r] == ""][0])
        raise DataError(
            "a refund (negative amount) without an order id: the order it refunds cannot be told",
            file=source,
            location=f"row {rows[i]}, column {order_col!r}",
            allowed="the refunded order's id on every refund row, or --refunds drop to leave refunds out",
        )
    kept = np.flatnonzero(keep & (oid != ""))
    orders = pd.Index(oid[kept])
    heads = pd.Series(kept[~orders.duplicated()], index=orders[~orders.duplicated()])  # each order's first row
    at = heads.index.get_indexer(oid[r])
    placed = at >= 0
    unknown = ~placed & ~pd.Series(oid[r]).isin(known).to_numpy()
    if unknown.any():
        i = int(r[unknown][0])
        raise DataError(
            f"the refund on row {rows[i]} names order {oid[i]!r}, which the export does not hold: what it refunds"
            " cannot be told",
            file=source,
            location=f"row {rows[i]}, column {order_col!r}",
            allowed="the refunded order in the export (or the refund removed, if its order is older than the"
            " export), or --refunds drop to leave refunds out",
        )
    r, h = r[placed], heads.to_numpy()[at[placed]]
    who = read.ids.to_numpy(dtype=object)
    clash = (who[r] != "") & (who[r] != who[h])
    if clash.any():
        i, j = int(r[clash][0]), int(h[clash][0])
        raise DataError(
            f"the refund on row {rows[i]} is under customer {who[i]!r}, but its order {oid[i]!r} (row {rows[j]}) is"
            f" under {who[j]!r}",
            file=source,
            location=f"column {order_col!r}",
            allowed="a refund under its order's customer (or with the customer left empty)",
        )
    refunded = pd.Series(amounts[r]).groupby(oid[r]).sum()
    net = pd.Series(amounts[kept]).groupby(oid[kept]).sum().reindex(refunded.index) + refunded
    gone = net.index[(net < 0.005).to_numpy()]  # netted to zero or below, to the cent
    share = (net / (net - refunded))[net >= 0.005]
    scale = pd.Series(oid).map(share).to_numpy(dtype=float)
    lowered = keep & np.isfinite(scale)
    amounts = amounts.copy()
    amounts[lowered] *= scale[lowered]
    keep = keep & ~pd.Series(oid).isin(gone).to_numpy()
    warnings.append(
        f"{len(r)} refunds (rows with a negative amount) were subtracted from their orders (--refunds net)"
        + (f"; {len(gone)} orders refunded in full (netted to zero or below) were left out" if len(gone) else "")
        + (
            f"; {int((~placed).sum())} refunds of orders not counted (cancelled, without a customer id or after"
            " --until) were left out"
            if (~placed).any()
            else ""
        )
    )
    return keep, amounts


def _refunded_amounts(
    read: _Rows, keep: np.ndarray, refund: np.ndarray, mode: str, decimal: str | None, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """`keep` and `amounts` with each order lowered by its refunded amount (Shopify's 'Refunded Amount', written
    on the order's first line; a `partially_refunded` order keeps the rest of its total). An order refunded in
    full is left out, as with --refunds net; its lines are lowered in proportion otherwise. The export gives no
    date for the refund, so it counts whatever --until says. A refunded amount that is no number, negative, more
    than its order's total, given on two lines of one order, or beside a refund row of the same order read by
    --refunds net (it would be subtracted twice) is an error naming the row."""
    frame, source = read.frame, read.source
    col = next((c for c in frame.columns if _norm(c) in REFUNDED_AMOUNT_NAMES), None)
    if col is None:
        return keep, read.amounts
    values = amount_numbers(frame[col], source, col, decimal=decimal)
    text = _stripped(frame, col)
    values = np.where(text == "", 0.0, values)
    refuse_unreadable_amounts(frame[col], values, source, col)
    at = np.flatnonzero(keep & (values != 0))
    if len(at) == 0:
        return keep, read.amounts
    if (values[at] < 0).any():
        i = int(at[values[at] < 0][0])
        raise DataError(
            "negative refunded amount",
            file=source,
            location=f"row {_row(frame, i)}, column {col!r}",
            found=_short(text[i]),
            allowed="what was refunded of the order, >= 0",
        )
    order = _order_keys(read)
    twice = pd.Series(order[at]).duplicated().to_numpy()
    if twice.any():
        j = int(at[twice][0])
        first = int(at[order[at] == order[j]][0])
        raise DataError(
            f"order {order[j]!r} gives a refunded amount on two of its lines (rows {_row(frame, first)} and"
            f" {_row(frame, j)}): the order's refund repeated on its lines, or each line's own?",
            file=source,
            location=f"column {col!r}",
            allowed="the order's refunded amount on its first line only (its other lines empty or 0)",
        )
    if mode == "net" and refund.any() and read.order_col is not None:
        both = np.flatnonzero(refund & pd.Series(order).isin(order[at]).to_numpy())
        if len(both):
            i = int(both[0])
            raise DataError(
                f"order {order[i]!r} has a refund row (row {_row(frame, i)}) and a refunded amount in column {col!r}:"
                " with --refunds net its refund would be subtracted twice",
                file=source,
                location=f"row {_row(frame, i)}",
                allowed="--refunds drop (the refund rows left out, the refunded amounts subtracted), or one of the"
                " two removed from the export",
            )
    return _lower_by_refunds(read, keep, order, at, values, col, warnings)


def _order_keys(read: _Rows) -> np.ndarray:
    """Each row's order: its order id, or the row itself where the export has none (each row an order)."""
    rows = np.asarray([f"row {r}" for r in read.frame.index.to_numpy() + 2], dtype=object)
    if read.order_col is None:
        return rows
    oid = _stripped(read.frame, read.order_col)
    return np.where(oid != "", oid, rows)


def _lower_by_refunds(
    read: _Rows, keep: np.ndarray, order: np.ndarray, at: np.ndarray, values: np.ndarray, col: str, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each order with a refunded amount (on row `at`) lowered by it: in full left out, in part its lines scaled."""
    amounts = read.amounts.copy()
    kept = np.flatnonzero(keep)
    total = pd.Series(amounts[kept]).groupby(order[kept]).sum()
    refunded = pd.Series(values[at], index=order[at])
    net = total.reindex(refunded.index).to_numpy() - refunded.to_numpy()
    over = net < -0.005
    if over.any():
        i = int(at[over][0])
        raise DataError(
            f"the refunded amount of order {order[i]!r} ({plain_number(values[i])}) is more than its total"
            f" ({plain_number(float(total[order[i]]))})",
            file=read.source,
            location=f"row {_row(read.frame, i)}, column {col!r}",
            allowed="a refunded amount up to the order's total",
        )
    full = refunded.index[net < 0.005]
    share = pd.Series(net / (net + refunded.to_numpy()), index=refunded.index)[net >= 0.005]
    scale = pd.Series(order).map(share).to_numpy(dtype=float)
    lowered = keep & np.isfinite(scale)
    amounts[lowered] *= scale[lowered]
    keep = keep & ~pd.Series(order).isin(full).to_numpy()
    warnings.append(
        f"{len(refunded)} orders were lowered by their refunded amount in column {col!r}"
        f" ({plain_number(float(refunded.sum()))} in all)"
        + (f"; {len(full)} orders refunded in full were left out" if len(full) else "")
    )
    return keep, amounts


def _cut_at(
    until: date | pd.Timestamp | None, dates: pd.Series, keep: np.ndarray, source: str, warnings: list[str]
) -> np.ndarray:
    """`keep` without the orders after --until (said in a warning); none left is an error."""
    if until is None:
        return keep
    cut = pd.Timestamp(until)
    after = (dates > cut).to_numpy() & keep
    keep = keep & ~after
    if after.any():
        warnings.append(f"{int(after.sum())} orders after --until {cut.date()} were ignored")
    if not keep.any():
        raise DataError(
            "no orders on or before --until",
            file=source,
            found=f"first order {dates.min().date()}",
            allowed=f"--until after {dates.min().date()}",
        )
    return keep


def _count_orders(read: _Rows, keep: np.ndarray) -> int:
    """The orders among the kept rows: the lines of one order (one order id, customer and day) are one order, a
    row without an order id is an order of its own. The customer and day are in the key so that the count
    agrees with the transactions (one per customer and day) even where --duplicate-orders keep let one order id
    stand for several."""
    if read.order_col is None:
        return int(keep.sum())
    oid = _stripped(read.frame, read.order_col, np.flatnonzero(keep))
    named = oid != ""
    if not pd.Series(oid[named]).duplicated().any():  # speed: each order on one row (lines read once)
        return len(oid)
    key = pd.DataFrame(
        {"order": oid[named], "customer": read.ids.to_numpy()[keep][named], "day": read.dates.to_numpy()[keep][named]}
    )
    return int((~named).sum()) + int((~key.duplicated()).sum())


def _order_log(
    tx: pd.DataFrame,
    orders: int,
    source: str,
    roles: tuple[str, str, str],
    encoding: str,
    warnings: list[str],
    currency: tuple[str | None, str | None],
) -> OrderLog:
    """The kept orders (`orders` of them, in the rows of `tx`) as transactions: one per customer per day, the
    orders of one day summed (and said so)."""
    tx = tx.groupby(["customer_id", "date"], sort=True, as_index=False)["amount"].sum()
    if len(tx) < orders:
        warnings.append(f"{orders - len(tx)} same-day orders were merged into transactions of the same customer")
    return OrderLog(
        transactions=tx,
        source=source,
        columns=dict(zip(("customer_id", "order_date", "amount"), roles, strict=True)),
        encoding=encoding,
        raw_orders=orders,
        warnings=warnings,
        currency=currency[0],
        currency_evidence=currency[1],
    )


# Columns that hold an order's own id (one per order, repeated only by its order lines). Not "order_number" or
# "order_no": some exports (and `sim run`'s orders.csv) write there the customer's 1st, 2nd, ... order.
ORDER_ID_NAMES = (
    "orderid",
    "ordercode",
    "invoiceid",
    "invoiceno",
    "invoicenumber",
    "invoice",
    "transactionid",
    "receiptid",
    "receiptno",
    "주문번호",
    "주문id",
    "주문아이디",
    "주문코드",
    "거래번호",
    "영수증번호",
)
SHOPIFY_ORDER_NAME = "name"  # Shopify's order name (#1001): its order id, on every line of the order
SHOPIFY_LINE_PREFIX = "lineitem"  # ... in an export with its line-item columns (Lineitem name, Lineitem price)
STATUS_NAMES = (
    "status",
    "orderstatus",
    "state",
    "orderstate",
    "paymentstatus",
    "financialstatus",
    "주문상태",
    "상태",
    "처리상태",
    "결제상태",
    "주문처리상태",
)
# Columns giving the day an order was cancelled (Shopify's 'Cancelled at'): an order with one was not bought.
CANCELLED_AT_NAMES = (
    "cancelledat",
    "canceledat",
    "cancelleddate",
    "canceleddate",
    "cancellationdate",
    "취소일시",
    "취소일자",
)
# Columns giving what was refunded of an order (Shopify's 'Refunded Amount', on its first line): the order lowered.
REFUNDED_AMOUNT_NAMES = ("refundedamount", "amountrefunded", "totalrefunded", "refundedtotal")
# statuses of an order that was not bought in the end, normalized like headers (lower case, no spaces, _-./)
CANCELLED_STATUSES = frozenset(
    (
        "cancelled",
        "canceled",
        "cancel",
        "refunded",
        "refund",
        "returned",
        "voided",
        "void",
        "failed",
        "declined",
        "rejected",
        "deleted",
        "취소",
        "주문취소",
        "결제취소",
        "취소완료",
        "환불",
        "환불완료",
        "반품",
        "반품완료",
        "결제실패",
        "거절",
    )
)


def _bought_rows(
    frame: pd.DataFrame, roles: tuple[str, ...], order_col: str | None, source: str, warnings: list[str]
) -> np.ndarray:
    """The rows a status column does not mark cancelled, refunded or failed: those were no purchases, and
    counting them would raise the purchase rate and order value. A status written once per order (Shopify: on
    its first line) holds for the order's later lines. What was left out is said in a warning."""
    keep = np.ones(len(frame), dtype=bool)
    for col in (c for c in frame.columns if _norm(c) in STATUS_NAMES and c not in roles and c != order_col):
        own = frame[col].astype(str).str.strip()
        uniq = pd.Series(own[keep].unique())
        gone = set(uniq[uniq.map(lambda v: _norm(v) in CANCELLED_STATUSES)])
        if not gone:
            continue
        marked = own.isin(gone).to_numpy() & keep
        status = own if order_col is None else _order_status(own, frame[order_col])
        lines = status.isin(gone).to_numpy() & keep & ~marked
        kept = sorted(set(uniq) - gone - {""})
        warnings.append(
            f"{int(marked.sum())} orders with status {', '.join(repr(v) for v in sorted(gone))} in column {col!r}"
            f" (first at row {_row(frame, int(np.flatnonzero(marked)[0]))}) were left out as not bought"
            + (f", with {int(lines.sum())} later lines of theirs" if lines.any() else "")
            + f"; statuses kept: {', '.join(repr(v) for v in kept[:6]) or 'none'}"
        )
        keep &= ~(marked | lines)
    keep &= ~_cancelled_by_date(frame, keep, roles, order_col, warnings)
    if not keep.any():
        raise DataError(
            "every order is cancelled or refunded (by its status or cancellation date column)",
            file=source,
            allowed="an export with the orders that were bought",
        )
    return keep


def _cancelled_by_date(
    frame: pd.DataFrame, keep: np.ndarray, roles: tuple[str, ...], order_col: str | None, warnings: list[str]
) -> np.ndarray:
    """The kept rows of orders with a cancellation date (Shopify's 'Cancelled at', on the order's first line; its
    later lines go with it): a cancelled order was not bought, whatever its status column says (Shopify keeps
    'paid' on an order cancelled without a refund yet). Said in a warning like the statuses'."""
    gone = np.zeros(len(frame), dtype=bool)
    for col in (c for c in frame.columns if _norm(c) in CANCELLED_AT_NAMES and c not in roles and c != order_col):
        own = _stripped(frame, col)
        marked = (own != "") & keep & ~gone
        if not marked.any():
            continue
        lines = np.zeros(len(frame), dtype=bool)
        if order_col is not None:
            oid = _stripped(frame, order_col)
            cancelled = pd.unique(oid[marked & (oid != "")])
            lines = pd.Series(oid).isin(cancelled).to_numpy() & keep & ~marked & ~gone
        i = int(np.flatnonzero(marked)[0])
        warnings.append(
            f"{int(marked.sum())} orders with a cancellation date in column {col!r} (such as {own[i]!r}, first at row"
            f" {_row(frame, i)}) were left out as not bought, whatever their status"
            + (f", with {int(lines.sum())} later lines of theirs" if lines.any() else "")
        )
        gone |= marked | lines
    return gone


def _order_status(status: pd.Series, order_ids: pd.Series) -> pd.Series:
    """Statuses with each empty cell read as the first status of its order id (none without an order id)."""
    blank = (status == "").to_numpy()
    if not blank.any():
        return status
    oid = order_ids.astype(str).str.strip().to_numpy(dtype=object)
    blank = blank & (oid != "")
    first = status.where(status != "").groupby(oid).transform("first").fillna("")
    return status.where(~blank, first)


def _warn_case_only_ids(ids: pd.Series, warnings: list[str]) -> None:
    """Ids that differ only in letter case (Kim@shop.kr and kim@shop.kr) are read as two customers: say so."""
    uniq = pd.Series(pd.unique(ids.to_numpy(dtype=object)), dtype=object)
    folded = uniq.str.casefold()
    twins = folded.duplicated(keep=False).to_numpy()
    if not twins.any():
        return
    first = folded[twins].iloc[0]
    pair = uniq[twins & (folded == first).to_numpy()].tolist()[:2]
    warnings.append(
        f"{int(folded[twins].nunique())} customer ids are written in two letter cases (such as {pair[0]!r} and"
        f" {pair[1]!r}): they are read as different customers; if they are one, write each id one way"
    )


def _refuse_split_orders(
    frame: pd.DataFrame, col: str | None, ids: pd.Series, dates: pd.Series, keep: np.ndarray, source: str
) -> None:
    """One order id under two customers or two days is an error: it is not one order (its lines repeat the
    order's customer and day). Rows repeating an earlier row in every cell were settled before
    (`_without_repeated_rows`)."""
    if col is None:
        return
    oid = frame[col].astype(str).str.strip().to_numpy(dtype=object)
    sel = keep & (oid != "")
    key = pd.DataFrame({"order": oid[sel], "customer": ids.to_numpy()[sel], "day": dates.to_numpy()[sel]})
    repeated = key["order"].duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    rows = frame.index.to_numpy()[sel]
    sub = key[repeated]
    spread = sub.groupby("order")[["customer", "day"]].transform("nunique").max(axis=1).to_numpy()
    if (spread > 1).any():
        order = sub["order"].iloc[int(np.flatnonzero(spread > 1)[0])]
        at = rows[(key["order"] == order).to_numpy()][:2] + 2
        raise DataError(
            f"order id {order!r} is on rows {at[0]} and {at[1]} with different customers or days: one order id"
            " cannot be two orders",
            file=source,
            location=f"column {col!r}",
            allowed="one customer and day per order id (order lines repeat them), or --duplicate-orders keep if"
            " this column is not an order id",
        )


def _order_id_column(
    frame: pd.DataFrame, roles: tuple[str, ...], given: str | None = None, source: str = ""
) -> str | None:
    """The order id column: the one --order-col names, else the one header that names an order id, else
    Shopify's 'Name' (#1001) in an export with its 'Lineitem ...' columns; None when no one column does (then
    no order-level checks)."""
    if given is not None:
        col = find_column(frame, (), given, "order id", "--order-col", source)
        if col in roles:
            raise DataError("one column is used for two roles", file=source, location="--order-col", found=repr(col))
        return col
    found = [c for c in frame.columns if _norm(c) in ORDER_ID_NAMES and c not in roles]
    if found:
        return found[0] if len(found) == 1 else None
    norms = {_norm(c): c for c in frame.columns}
    name = norms.get(SHOPIFY_ORDER_NAME)
    if name is not None and name not in roles and any(n.startswith(SHOPIFY_LINE_PREFIX) for n in norms):
        return name
    return None


_INT_LIKE = re.compile(r"^[-+]?\d+$")
_FLOAT_ZERO = re.compile(r"^([-+]?\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^[-+]?\d+(?:\.\d+)?[eE][-+]?\d+$")


def _customer_ids(ids: pd.Series, source: str, column: str, warnings: list[str]) -> pd.Series:
    """Customer ids as text, one spelling per customer.

    Excel and some exports write numeric ids as floats in part of a file ("1.0" beside "1"), which would split
    one customer in two: ids that are whole numbers written with ".0" are read as the whole number when every
    id of the column is numeric. Ids in scientific notation (1.23457E+11) have lost digits: an error.
    """
    text, codes = _unique_view(ids)
    fixed = _unique_customer_ids(text, source, column, warnings)
    return pd.Series(fixed.to_numpy()[codes], index=ids.index, dtype=object)


def _unique_customer_ids(ids: pd.Series, source: str, column: str, warnings: list[str]) -> pd.Series:
    sci = ids.str.fullmatch(_SCIENTIFIC).to_numpy(dtype=bool)
    if sci.any():
        i = int(np.flatnonzero(sci)[0])
        raise DataError(
            "customer id in scientific notation: its digits are lost (a spreadsheet turned a long number into"
            " 1.23E+11)",
            file=source,
            location=f"row {_row(ids, i)}, column {column!r}",
            found=_short(ids.iloc[i]),
            allowed="ids exported as text (format the column as text before saving the CSV)",
        )
    zero = ids.str.fullmatch(_FLOAT_ZERO).to_numpy(dtype=bool)
    if not zero.any():
        return ids
    present = ids != ""
    integer = ids.str.fullmatch(_INT_LIKE).to_numpy(dtype=bool)
    if not (zero | integer | ~present.to_numpy()).all():
        i = int(np.flatnonzero(~(zero | integer | ~present.to_numpy()))[0])
        j = int(np.flatnonzero(zero)[0])
        raise DataError(
            f"customer ids are written both as decimals ({ids.iloc[j]!r}, row {_row(ids, j)}) and as other text"
            f" ({ids.iloc[i]!r}, row {_row(ids, i)}): whether {ids.iloc[j]!r} is the same customer as"
            f" {ids.iloc[j].split('.')[0]!r} cannot be told",
            file=source,
            location=f"column {column!r}",
            allowed="ids exported as text, written one way",
        )
    fixed = ids.where(~zero, ids.str.replace(_FLOAT_ZERO, r"\1", regex=True))
    warnings.append(
        f"{int(zero.sum())} customer ids written as decimals (such as {ids[zero].iloc[0]!r}) were read as whole"
        " numbers, the way the other ids are written"
    )
    return fixed


def detect_currency(
    frame: pd.DataFrame, amount_col: str, source: str, encoding: str | None = None
) -> tuple[str | None, str | None]:
    """The currency the export states: (ISO code, where it says so), or (None, why it cannot tell).

    A currency column with one code throughout, or amounts marked with one currency's sign or code (₩, 원,
    KRW, US$, €, ...). Two different currencies in one file are an error (the amounts could not be added up).
    A bare "$" or "¥" names no single currency and is not read as one; nor does a backslash, except in a CP949
    file (Korean Excel), where it is how the won sign is stored.
    """
    ccol = next((c for c in frame.columns if _norm(c) in CURRENCY_NAMES), None)
    if ccol is not None:
        codes = frame[ccol].astype(str).str.strip().str.upper()
        codes = codes[codes != ""]
        found = sorted(set(codes))
        if len(found) > 1:
            raise DataError(
                "the export mixes currencies",
                file=source,
                location=f"column {ccol!r}",
                found=", ".join(found[:5]),
                allowed="orders in one currency (convert or split the export)",
            )
        if found and re.fullmatch(r"[A-Z]{3}", found[0]):
            return found[0], f"column {ccol!r}"
        if found and found[0] in CURRENCY_MARKS:
            return CURRENCY_MARKS[found[0]], f"column {ccol!r}"
    text = pd.Series(frame[amount_col].astype(str).unique())
    # speed: a mark can only occur if all its characters do; most exports hold digits and separators only
    chars = set("".join(text.tolist()))
    marks = {
        code
        for mark, code in CURRENCY_MARKS.items()
        if set(mark) <= chars and text.str.contains(re.escape(mark), regex=True).any()
    }
    if len(marks) > 1:
        raise DataError(
            "amounts are marked with several currencies",
            file=source,
            location=f"column {amount_col!r}",
            found=", ".join(sorted(marks)),
            allowed="orders in one currency",
        )
    if not marks and encoding == "cp949" and "\\" in chars:  # Korean Excel's CP949 writes ₩ as a backslash
        marks = {"KRW"}
    if marks:
        return marks.pop(), f"currency marks in column {amount_col!r}"
    shared = [shown for sign, shown in _SHARED_SIGNS.items() if sign in chars]
    if shared:
        return None, f"amounts carry {' or '.join(shared)}, which several currencies use"
    return None, "the file names no currency"


# -- the spend log -----------------------------------------------------------------------------------


def read_spend(
    path: str | Path,
    *,
    until: date | pd.Timestamp | None = None,
    date_format: str | None = None,
    decimal: str | None = None,
    fill_gaps: bool = False,
) -> pd.DataFrame:
    """Monthly marketing spend by channel: a frame indexed by month start, one column per channel.

    Rows may be monthly (``2024-03``) or daily/weekly dates; they are summed per calendar month. Two rows for
    the same date and channel are an error (a duplicated month would double its spend), and so is a month
    without any row between the first and the last (is its spend zero, or missing from the export?) unless
    `fill_gaps` (--spend-gaps zero) says those months had no spend. A channel missing from a month that other
    channels have rows for had no spend that month. `attrs["filled_months"]` lists months filled with zero.
    """
    source = str(path)
    frame, _ = read_table(path, "spend log")
    dcol = find_column(frame, SPEND_DATE_NAMES, None, "month or date", "a 'month' header", source)
    ccol = find_column(frame, SPEND_CHANNEL_NAMES, None, "channel", "a 'channel' header", source)
    acol = find_column(frame, SPEND_AMOUNT_NAMES, None, "amount", "an 'amount' header", source)
    if frame.empty:
        raise DataError("has a header but no rows", file=source, location="row 2")
    dates = parse_dates(frame[dcol], source, dcol, date_format=date_format, months=True)
    amounts = parse_amounts(frame[acol], source, acol, decimal=decimal)
    channels = frame[ccol].astype(str).str.strip()
    empty = channels == ""
    if empty.any():
        row = _row(frame, int(np.flatnonzero(empty.to_numpy())[0]))
        raise DataError("empty channel name", file=source, location=f"row {row}, column {ccol!r}")
    safe = channels.map(_channel_id)
    _refuse_duplicate_rows(dates, safe, channels, source, dcol)
    month = dates.dt.to_period("M").dt.to_timestamp()
    table = (
        pd.DataFrame({"month": month.to_numpy(), "channel": safe.to_numpy(), "amount": amounts})
        .groupby(["month", "channel"])["amount"]
        .sum()
        .unstack("channel", fill_value=0.0)
        .sort_index()
    )
    if until is not None:
        table = table[table.index <= pd.Timestamp(until)]
    if table.empty:
        return table
    full = pd.date_range(table.index.min(), table.index.max(), freq="MS")
    missing = full.difference(table.index)
    if len(missing) and not fill_gaps:
        shown = ", ".join(f"{m:%Y-%m}" for m in missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        raise DataError(
            f"no spend rows for {shown}, between {table.index.min():%Y-%m} and {table.index.max():%Y-%m}:"
            " zero spend, or months missing from the export?",
            file=source,
            location=f"column {dcol!r}",
            allowed="a row for every month (0 where nothing was spent), or --spend-gaps zero to read those months as 0",
        )
    late = _months_after_spend(table.index.max(), until, source, dcol, fill_gaps)
    table = table.reindex(full.append(late), fill_value=0.0)
    table.attrs["filled_months"] = [f"{m:%Y-%m}" for m in missing.append(late)]
    return table


def _months_after_spend(
    last: pd.Timestamp, until: date | pd.Timestamp | None, source: str, column: str, fill_gaps: bool
) -> pd.DatetimeIndex:
    """The full months between the spend log's last month and the cut-off (`until`): none, or with `fill_gaps`
    the months to read as zero spend. Else an error: without those rows the fit would miss the months' new
    customers and today's plan would be the spend of months long past."""
    if until is None:
        return pd.DatetimeIndex([])
    cut = pd.Timestamp(until)
    last_full = ((cut + pd.Timedelta(days=1)).to_period("M") - 1).to_timestamp()
    late = pd.date_range(last + pd.offsets.MonthBegin(1), last_full, freq="MS")
    if len(late) == 0 or fill_gaps:
        return late
    raise DataError(
        f"the spend log ends in {last:%Y-%m}, but the order log runs to {cut.date()}: no spend rows for"
        f" {late[0]:%Y-%m}" + (f" to {late[-1]:%Y-%m}" if len(late) > 1 else "") + " (zero spend, or missing?)",
        file=source,
        location=f"column {column!r}",
        allowed=f"rows up to {last_full:%Y-%m} (0 where nothing was spent), --until"
        f" {(last + pd.offsets.MonthEnd(0)).date()} to calibrate on the months both cover, or --spend-gaps zero",
    )


def _refuse_duplicate_rows(dates: pd.Series, channels: pd.Series, shown: pd.Series, source: str, column: str) -> None:
    """Two rows with the same date and channel: a duplicated export, or two parts to add up? Refuse."""
    key = pd.DataFrame({"date": dates.to_numpy(), "channel": channels.to_numpy()})
    dup = key.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    rows = np.flatnonzero(dup)
    first = rows[0]
    same = rows[
        (key["date"].to_numpy()[rows] == key["date"].iloc[first])
        & (key["channel"].to_numpy()[rows] == key["channel"].iloc[first])
    ]
    raise DataError(
        f"rows {_row(dates, int(same[0]))} and {_row(dates, int(same[1]))} both give the spend of {shown.iloc[first]!r} on"
        f" {dates.iloc[first]:%Y-%m-%d}: a duplicated row would count that spend twice",
        file=source,
        location=f"column {column!r}",
        allowed="one row per date and channel (add up parts such as campaigns into one row)",
    )


def _channel_id(name: str) -> str:
    """A scenario channel id from a spend-log channel name (letters, digits, '_' and '-')."""
    out = re.sub(r"[^\w\-]+", "_", name.strip().lower(), flags=re.UNICODE).strip("_")
    return out or "channel"
