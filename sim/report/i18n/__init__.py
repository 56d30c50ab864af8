"""Words and number formats of the reports, in English and Korean: one message catalog, two languages.

A catalog is a flat JSON object of `key -> text` per language (`en.json`, `ko.json`); both hold the same
keys with the same `{placeholders}`. `t("summary.gain", "ko", gain="1.2억 원")` looks a text up and
fills it in. Numbers are formatted here too, so that a figure reads the same in a sentence, a table and
a plot axis: money follows the scenario's currency (KRW without decimals, in 만/억 when compact in
Korean; USD with cents for small amounts), shares as percentages, ratios and months in each language.

Texts are plain text: whoever puts them into HTML escapes them (`sim.report.html_text`).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import string
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

from sim.report.i18n import particles

LANGUAGES = ("en", "ko")

# currency -> (symbol, decimals for amounts below 1,000); unknown codes are written as "CHF 1,234.00"
_CURRENCIES: dict[str, tuple[str, int]] = {
    "KRW": ("₩", 0),
    "USD": ("$", 2),
    "EUR": ("€", 2),
    "GBP": ("£", 2),
    "JPY": ("¥", 0),
    "CNY": ("CN¥", 2),
}
# how Korean names a currency after a number written in 만/억 units
_KO_CURRENCY_WORDS = {"KRW": "원", "USD": "달러", "EUR": "유로", "GBP": "파운드", "JPY": "엔", "CNY": "위안"}


def check_lang(lang: str) -> str:
    """The language code if supported, else a ValueError naming the allowed ones."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; allowed: {', '.join(LANGUAGES)}")
    return lang


@cache
def catalog(lang: str) -> dict[str, str]:
    """The message catalog of a language (key -> text)."""
    check_lang(lang)
    text = resources.files(__package__).joinpath(f"{lang}.json").read_text(encoding="utf-8")
    return json.loads(text)


def placeholders(text: str) -> set[str]:
    """Names of the `{placeholders}` in a catalog text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def t(key: str, lang: str, **fmt: object) -> str:
    """The text of `key` in `lang`, with its placeholders filled from `fmt` (a KeyError names what is missing)."""
    texts = catalog(lang)
    if key not in texts:
        raise KeyError(f"message {key!r} is not in the {lang} catalog")
    template = texts[key]
    if lang == "ko" and fmt:  # particles after a value agree with how the value is read (particles.py)
        template = particles.mark(template)
    try:
        text = template.format(**fmt) if fmt or "{" in template else template
    except KeyError as exc:
        raise KeyError(f"message {key!r} ({lang}) needs placeholder {exc.args[0]!r}") from None
    if lang == "ko" and fmt:
        return particles.resolve(text)
    return _singular(text) if lang == "en" and fmt else text


# English counts agree with their noun: "over 1 month", never "over 1 months" (a one-month horizon, one day)
_ONE_OF = re.compile(r"(?<![\d.,])1 (month|day|week|quarter|year|customer|order)s\b")


def _singular(text: str) -> str:
    return _ONE_OF.sub(r"1 \1", text)


def listing(items: list[str], lang: str) -> str:
    """Items as a sentence lists them: "a, b and c" in English, "a, b, c" in Korean (`list.comma`, `list.and`)."""
    if len(items) <= 1:
        return "".join(items)
    return t("list.comma", lang).join(items[:-1]) + t("list.and", lang) + items[-1]


def has(key: str, lang: str = "en") -> bool:
    """Whether the catalog holds `key`."""
    return key in catalog(lang)


def korean_font_path(weight: str = "") -> Path | None:
    """NanumGothic{weight}.ttf shipped inside the koreanize-matplotlib package (weight "" or "Bold"),
    or None if the package is missing. Reports never download fonts."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / f"NanumGothic{weight}.ttf"
    return path if path.exists() else None


# -- numbers ------------------------------------------------------------------------------------------


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


MINUS = "\u2212"  # the minus sign, as typeset (−₩7.07M, −0.19, −3.0%): never a hyphen beside an ROI's minus


def _signed(text: str) -> str:
    """`text` (a formatted number) with its leading hyphen-minus typeset as the minus sign."""
    return MINUS + text[1:] if text.startswith("-") else text


def fmt_number(value: float | None, lang: str = "en", decimals: int = 0) -> str:
    """1,234,567 (both languages group thousands with commas); '–' for a missing value."""
    if _missing(value):
        return "–"
    return _signed(f"{value:,.{decimals}f}")


def fmt_count(value: float | None, lang: str = "en") -> str:
    """A count of people: 33,366 (en) or 33,366명 (ko)."""
    if _missing(value):
        return "–"
    text = _signed(f"{round(value):,d}")
    return text + "명" if lang == "ko" else text


def fmt_percent(value: float | None, lang: str = "en", decimals: int = 1) -> str:
    """A share as a percentage: 0.123 -> 12.3%."""
    if _missing(value):
        return "–"
    return _signed(f"{100.0 * value:.{decimals}f}%")


def fmt_points(value: float | None, lang: str = "en", decimals: int = 0, signed: bool = False) -> str:
    """A difference of two shares in percentage points: 5 pp (en) or 5%p (ko); +5 pp with `signed`."""
    if _missing(value):
        return "–"
    unit = "%p" if lang == "ko" else " pp"
    return _signed(f"{100.0 * value:{'+' if signed else ''}.{decimals}f}{unit}")


def fmt_ratio(value: float | None, lang: str = "en", decimals: int = 1) -> str:
    """A ratio: 5.8× (en) or 5.8배 (ko)."""
    if _missing(value):
        return "–"
    return _signed(f"{value:.{decimals}f}배" if lang == "ko" else f"{value:.{decimals}f}×")


SMALL_ROI_DECIMALS = 4  # a marginal ROI too small for two decimals shows its first digit, up to four places


def fmt_roi(value: float | None, lang: str = "en", decimals: int = 2) -> str:
    """A marginal ROI (extra contribution per unit of extra spend, 0 = break-even): +0.35 or −0.80. One that
    rounds to zero at `decimals` shows its first significant digit (+0.004), so its sign, which decides
    whether to raise or cut, is never hidden behind a '+0.00'."""
    if _missing(value):
        return "–"
    a = abs(value)
    if 0.0 < a < 0.5 * 10.0**-decimals:
        decimals = min(max(-math.floor(math.log10(a)), decimals), SMALL_ROI_DECIMALS)
    return _signed(f"{value:+.{decimals}f}")


def fmt_months(value: float | None, lang: str = "en") -> str:
    """A duration in months: 7 months / 7개월."""
    if _missing(value):
        return "–"
    n = round(value)
    if lang == "ko":
        return f"{n}개월"
    return f"{n} month" if n == 1 else f"{n} months"


def fmt_date(value: date, lang: str = "en", day: bool = True) -> str:
    """1 Jan 2027 / 2027년 1월 1일 (or only month and year)."""
    if lang == "ko":
        return f"{value.year}년 {value.month}월 {value.day}일" if day else f"{value.year}년 {value.month}월"
    return value.strftime("%-d %b %Y") if day else value.strftime("%b %Y")


def currency_symbol(currency: str) -> str:
    """₩, $, € ...; the ISO code itself for currencies without a known symbol."""
    return _CURRENCIES.get(currency, (currency + " ", 2))[0]


def _ko_units(value: float, digits: int = 3) -> str:
    """A number in Korean 만/억/조 units: 32,771,000 -> '3,277만'; 3,276,716,592 -> '32.8억'."""
    a = abs(value)
    sign = MINUS if value < 0 else ""
    for unit, size in (("조", 1e12), ("억", 1e8), ("만", 1e4)):
        if a >= size:
            x = a / size
            decimals = 0 if x >= 10 ** (digits - 1) else max(digits - 1 - int(math.floor(math.log10(x))), 0)
            text = f"{x:,.{decimals}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return f"{sign}{text}{unit}"
    return f"{sign}{a:,.0f}"


def _en_compact(value: float) -> str:
    a = abs(value)
    sign = MINUS if value < 0 else ""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= size:
            x = a / size
            decimals = 0 if x >= 100 else (1 if x >= 10 else 2)
            text = f"{x:.{decimals}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return f"{sign}{text}{unit}"
    return f"{sign}{a:,.0f}"


def fmt_compact(value: float | None, lang: str = "en") -> str:
    """A large count in short form: 150k / 1.2M (en), 15만 / 120만 (ko); small numbers in full."""
    if _missing(value):
        return "–"
    if abs(value) < 1e4:
        return _signed(f"{value:,.0f}")
    return _ko_units(value) if lang == "ko" else _en_compact(value)


def fmt_money(value: float | None, currency: str, lang: str = "en", *, compact: bool = False) -> str:
    """An amount in the scenario's currency.

    Full form: ₩19,421 / 19,421원 (KRW has no decimals), $54.00 / $750 / $12,345 (cents only below 100).
    Compact form (sentences, axes): ₩3.28B / 32.8억 원, $1.2M / 120만 달러.
    """
    if _missing(value):
        return "–"
    symbol, decimals = _CURRENCIES.get(currency, (currency + " ", 2))
    minus = MINUS if value < 0 else ""
    a = abs(value)
    if compact and a >= 1e4:
        if lang == "ko":
            word = _KO_CURRENCY_WORDS.get(currency, currency)
            return f"{minus}{_ko_units(a)} {word}"
        return f"{minus}{symbol}{_en_compact(a)}"
    places = decimals if a < 100 else 0  # cents only on small amounts: "$750" beside "$1,500", not "$750.00"
    text = f"{a:,.{places}f}"
    if lang == "ko" and currency == "KRW":
        return f"{minus}{text}원"
    return f"{minus}{symbol}{text}"


# amounts from here up read in short form, smaller ones in full: English from a million (₩450,000, ₩3.08B);
# Korean counts in 만 (10^4), so from 10만 up (38,000원, 45만 원, 30.8억 원), never "450,000원" beside "2,355만 원"
COMPACT_FROM = {"en": 1e6, "ko": 1e5}


def fmt_amount(value: float | None, currency: str, lang: str = "en") -> str:
    """An amount as the report shows it everywhere (sentences, tables, summaries), so that one quantity
    reads the same wherever it appears: in full when small (₩19,421), in short form above `COMPACT_FROM`."""
    compact = not _missing(value) and abs(value) >= COMPACT_FROM.get(lang, 1e6)
    return fmt_money(value, currency, lang, compact=compact)


def money_axis_label(currency: str, lang: str) -> str:
    """The unit part of a money axis label: 'KRW' / '원', 'USD' / '달러'."""
    if lang == "ko":
        return _KO_CURRENCY_WORDS.get(currency, currency)
    return currency


def fmt_kpi(name: str, value: float | None, currency: str, lang: str = "en") -> str:
    """A KPI value in the format its kind needs (money, share, ratio, months, ROI)."""
    if name in ("cac", "clv", "cumulative_contribution", "npv", "revenue", "gross_profit", "marketing_spend"):
        return fmt_amount(value, currency, lang)
    if name in (
        "first_purchase_conversion",
        "repeat_purchase_rate",
        "retention_12m",
        "returning_revenue_share",
        "unaware_share_end",
        "dissatisfied_share",
        "delighted_share",
    ):
        return fmt_percent(value, lang)
    if name == "ltv_cac":
        return fmt_ratio(value, lang)
    if name == "payback_months":
        return fmt_months(value, lang)
    if name.startswith("marginal_roi_"):
        return fmt_roi(value, lang)
    if name in ("new_customers", "active_customers_end", "loyal_customers_end", "lapsed_customers_end"):
        return fmt_count(value, lang)
    if name == "orders":
        return fmt_number(value, lang)
    return fmt_number(value, lang, 2)
