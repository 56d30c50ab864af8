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
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import DataError

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
SPEND_DATE_NAMES = ("month", "date", "period", "월", "년월", "날짜", "일자", "기간")
SPEND_CHANNEL_NAMES = ("channel", "media", "source", "채널", "매체", "광고매체")
SPEND_AMOUNT_NAMES = ("amount", "spend", "cost", "budget", "광고비", "비용", "금액", "지출", "집행금액")

# Date formats tried in order; the first that reads every value wins (ISO before day/month guesses).
DATE_FORMATS = (
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
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%Y-%m",
    "%Y/%m",
    "%Y.%m",
    "%Y%m",
)
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%Y.%m", "%Y%m")
_KOREAN_DATE = re.compile(r"^\s*(\d{4})\s*(?:년|[.\-/])\s*(\d{1,2})\s*(?:월|[.\-/])\s*(?:(\d{1,2})\s*(?:일|\.)?)?")
# Marks in amounts that name one currency. A bare "$" or "¥" is left out on purpose: several currencies use
# them (USD, CAD, AUD, ...; JPY, CNY), so they are never read as a currency.
CURRENCY_MARKS = {
    "₩": "KRW",
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
_MONEY_JUNK = re.compile(r"[,\s₩$€£¥원]|KRW|USD|EUR")


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


def read_text(path: str | Path, what: str = "order log") -> tuple[str, str]:
    """The file's text and encoding (UTF-8, UTF-8 with BOM, CP949/EUC-KR), or a `DataError`."""
    p = Path(path)
    source = str(path)
    if not p.exists():
        raise DataError("file not found", file=source, allowed=f"a CSV {what}")
    if p.is_dir():
        raise DataError("is a folder", file=source, allowed=f"a CSV {what}")
    raw = p.read_bytes()
    if not raw.strip():
        raise DataError("is empty", file=source, allowed=f"a CSV {what} with a header row")
    head = raw[:8192]
    if head.startswith(b"PK\x03\x04"):
        raise DataError(
            "is an Excel workbook or a zip archive, not CSV", file=source, allowed="save it as CSV (UTF-8) first"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError("is an old Excel (.xls) file, not CSV", file=source, allowed="save it as CSV (UTF-8) first")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    if b"\x00" in head:
        raise DataError("is a binary file, not CSV text", file=source, allowed=f"a CSV {what}")
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataError("is not text in UTF-8 or CP949/EUC-KR", file=source, allowed="save it as CSV (UTF-8)")


def read_table(path: str | Path, what: str = "order log") -> tuple[pd.DataFrame, str]:
    """The CSV as a frame of strings (header kept as in the file) and its encoding."""
    text, encoding = read_text(path, what)
    source = str(path)
    # the first 50 non-blank lines, for the delimiter (speed: from the file's first 64 KB when they are there)
    lines = [ln for ln in text[:65536].splitlines()[:-1] if ln.strip()][:50]
    if len(lines) < 50:
        lines = [ln for ln in text.splitlines() if ln.strip()][:50]
    if not lines:
        raise DataError("is empty", file=source, allowed=f"a CSV {what} with a header row")
    sample = "\n".join(lines[:50])
    delimiter = ","
    try:
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
    if len(frame.columns) < 2:
        raise DataError(
            "is not a CSV file with several columns",
            file=source,
            location="row 1",
            found=_short(lines[0]),
            allowed="a header row such as customer_id,order_date,amount",
        )
    return frame, encoding


def _short(text: str) -> str:
    text = str(text)
    return repr(text if len(text) <= 60 else text[:57] + "...")


# -- finding columns --------------------------------------------------------------------------------


def find_column(
    frame: pd.DataFrame, names: tuple[str, ...], given: str | None, role: str, flag: str, source: str
) -> str:
    """The header of the column playing `role`: the one named by a flag, or the one recognized."""
    headers = list(frame.columns)
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
    raise DataError(
        f"has no {role} column",
        file=source,
        location="row 1",
        found=", ".join(headers),
        allowed=f"a header such as {', '.join(names[:3])} or {names[len(names) // 2]}, or name it with {flag}",
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


def stripped_text(values: pd.Series) -> pd.Series:
    """The values as text without surrounding spaces (`astype(str).str.strip()`). Speed: each distinct value is
    converted and stripped once (an export repeats its dates, customer ids and amounts many times)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    text = np.array([str(u).strip() for u in np.asarray(uniques, dtype=object)], dtype=object)
    return pd.Series(text[codes], index=values.index, dtype=object)


def parse_dates(values: pd.Series, source: str, column: str, formats: tuple[str, ...] = DATE_FORMATS) -> pd.Series:
    """Dates (day precision) from text in the usual formats; the first unreadable value is an error."""
    text = stripped_text(values)
    empty = text == ""
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0]) + 2
        raise DataError("empty date", file=source, location=f"row {row}, column {column!r}")
    sample = text.iloc[: min(len(text), 2000)]
    chosen = None
    for fmt in formats:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        if parsed.notna().all():
            chosen = fmt
            break
    if chosen is not None:
        parsed = pd.to_datetime(text, format=chosen, errors="coerce")
    else:
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    bad = parsed.isna()
    for fmt in formats:  # mixed formats in one column (dates with and without a time, ...)
        if not bad.any():
            break
        parsed[bad] = pd.to_datetime(text[bad], format=fmt, errors="coerce")
        bad = parsed.isna()
    if bad.any():  # Korean Excel writes '2024. 1. 5.', '2024년 1월 5일' or '2024-01-05 오후 1:45:00'
        fixed = text[bad].map(_korean_date)
        parsed[bad] = pd.to_datetime(fixed, format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            "unreadable date",
            file=source,
            location=f"row {i + 2}, column {column!r}",
            found=_short(text.iloc[i]),
            allowed="dates such as 2024-03-15, 2024/03/15, 20240315, 2024. 3. 15., 03/15/2024",
        )
    return parsed.dt.normalize()


def _korean_date(text: str) -> str | None:
    m = _KOREAN_DATE.match(text)
    if not m:
        return None
    y, mo, d = m.group(1), m.group(2), m.group(3) or "1"
    return f"{y}-{int(mo):02d}-{int(d):02d}"


def parse_amounts(values: pd.Series, source: str, column: str) -> np.ndarray:
    """Non-negative amounts from text with thousands separators and currency signs."""
    text = stripped_text(values)
    numbers = pd.to_numeric(text, errors="coerce")
    marked = numbers.isna()
    if marked.any():  # speed: only amounts with separators or currency marks are cleaned
        numbers[marked] = pd.to_numeric(text[marked].str.replace(_MONEY_JUNK, "", regex=True), errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            "amount is not a number",
            file=source,
            location=f"row {i + 2}, column {column!r}",
            found=_short(text.iloc[i]),
            allowed="numbers such as 38000, 38,000 or 38000.50",
        )
    arr = numbers.to_numpy(dtype=float)
    neg = arr < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise DataError(
            "negative amount (a refund or cancellation?)",
            file=source,
            location=f"row {i + 2}, column {column!r}",
            found=_short(text.iloc[i]),
            allowed="amounts >= 0; remove refunds and cancellations from the export",
        )
    return arr


# -- the order log -----------------------------------------------------------------------------------


def read_orders(
    path: str | Path,
    *,
    customer_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    until: date | pd.Timestamp | None = None,
    today: date | None = None,
) -> OrderLog:
    """Read an order export and return one transaction per customer per day.

    Orders after `until` are dropped (for holdout checks); an order dated after `today` (default: the
    machine's date) is an error, as is an `until` after today.
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
    cust = find_column(frame, CUSTOMER_NAMES, customer_col, "customer id", "--customer-col", source)
    dcol = find_column(frame, DATE_NAMES, date_col, "order date", "--date-col", source)
    acol = find_column(frame, AMOUNT_NAMES, amount_col, "amount", "--amount-col", source)
    if len({cust, dcol, acol}) < 3:
        raise DataError(
            "one column is used for two roles",
            file=source,
            found=f"customer={cust!r}, date={dcol!r}, amount={acol!r}",
            allowed="three different columns",
        )
    if frame.empty:
        raise DataError("has a header but no orders", file=source, location="row 2")
    warnings: list[str] = []
    ids = stripped_text(frame[cust])
    missing = ids == ""
    if missing.all():
        raise DataError("customer id column is empty", file=source, location=f"column {cust!r}")
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0]) + 2
        warnings.append(
            f"{int(missing.sum())} orders without a customer id (first at row {row}) were left out (guest orders?)"
        )
    dates = parse_dates(frame[dcol], source, dcol)
    amounts = parse_amounts(frame[acol], source, acol)
    future = (dates > today_ts).to_numpy()
    if future.any():
        i = int(np.flatnonzero(future)[0])
        raise DataError(
            "order date is in the future",
            file=source,
            location=f"row {i + 2}, column {dcol!r}",
            found=str(dates.iloc[i].date()),
            allowed=f"dates up to today ({today_ts.date()})",
        )
    keep = ~missing.to_numpy()
    if until is not None:
        cut = pd.Timestamp(until)
        after = (dates > cut).to_numpy()
        keep &= ~after
        if after.any():
            warnings.append(f"{int(after.sum())} orders after --until {cut.date()} were ignored")
        if not keep.any():
            raise DataError(
                "no orders on or before --until",
                file=source,
                found=f"first order {dates.min().date()}",
                allowed=f"--until after {dates.min().date()}",
            )
    currency, evidence = detect_currency(frame, acol, source)
    tx = pd.DataFrame({"customer_id": ids.to_numpy()[keep], "date": dates.to_numpy()[keep], "amount": amounts[keep]})
    raw = len(tx)
    tx = tx.groupby(["customer_id", "date"], sort=True, as_index=False)["amount"].sum()
    if len(tx) < raw:
        warnings.append(f"{raw - len(tx)} same-day orders were merged into transactions of the same customer")
    return OrderLog(
        transactions=tx,
        source=source,
        columns={"customer_id": cust, "order_date": dcol, "amount": acol},
        encoding=encoding,
        raw_orders=raw,
        warnings=warnings,
        currency=currency,
        currency_evidence=evidence,
    )


def detect_currency(frame: pd.DataFrame, amount_col: str, source: str) -> tuple[str | None, str | None]:
    """The currency the export states: (ISO code, where it says so), or (None, why it cannot tell).

    A currency column with one code throughout, or amounts marked with one currency's sign or code (₩, 원,
    KRW, US$, €, ...). Two different currencies in one file are an error (the amounts could not be added up).
    A bare "$" or "¥" names no single currency and is not read as one.
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
    if marks:
        return marks.pop(), f"currency marks in column {amount_col!r}"
    if chars & {"$", "¥"}:
        return None, "amounts carry '$' or '¥', which several currencies use"
    return None, "the file names no currency"


# -- the spend log -----------------------------------------------------------------------------------


def read_spend(path: str | Path, *, until: date | pd.Timestamp | None = None) -> pd.DataFrame:
    """Monthly marketing spend by channel: a frame indexed by month start, one column per channel.

    Rows may be monthly (``2024-03``) or daily/weekly dates; they are summed per calendar month.
    """
    source = str(path)
    frame, _ = read_table(path, "spend log")
    dcol = find_column(frame, SPEND_DATE_NAMES, None, "month or date", "a 'month' header", source)
    ccol = find_column(frame, SPEND_CHANNEL_NAMES, None, "channel", "a 'channel' header", source)
    acol = find_column(frame, SPEND_AMOUNT_NAMES, None, "amount", "an 'amount' header", source)
    if frame.empty:
        raise DataError("has a header but no rows", file=source, location="row 2")
    dates = parse_dates(frame[dcol], source, dcol)
    amounts = parse_amounts(frame[acol], source, acol)
    channels = frame[ccol].astype(str).str.strip()
    empty = channels == ""
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0]) + 2
        raise DataError("empty channel name", file=source, location=f"row {row}, column {ccol!r}")
    safe = channels.map(_channel_id)
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
    full = pd.date_range(table.index.min(), table.index.max(), freq="MS")
    return table.reindex(full, fill_value=0.0)


def _channel_id(name: str) -> str:
    """A scenario channel id from a spend-log channel name (letters, digits, '_' and '-')."""
    out = re.sub(r"[^\w\-]+", "_", name.strip().lower(), flags=re.UNICODE).strip("_")
    return out or "channel"
