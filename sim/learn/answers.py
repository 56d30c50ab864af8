"""Reading a trainee's answer the way people write it: "20,000", "2만", "2만 원", "₩20,000", "74%", 0.74, "0.74",
"백엔드" or "back-end".

A number is read into a `Reading` (its value, the unit it was written with, its decimals); text that cannot
be read as a number, or is ambiguous ("1,5": one and a half or fifteen?), raises `FormProblem`, whose
message says how to write it. The check cell (`sim.learn.exercises`) then compares the reading with the
expected answer, so that a right figure in another form is never marked wrong, and a wrong form is called
a wrong form rather than a wrong answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


class FormProblem(ValueError):
    """An answer whose form, not content, is the problem; `en` and `ko` say how to write it."""

    def __init__(self, en: str, ko: str) -> None:
        super().__init__(en)
        self.en, self.ko = en, ko

    def text(self, lang: str) -> str:
        return self.ko if lang == "ko" else self.en


@dataclass(frozen=True)
class Reading:
    """A number as written: `unit` is what its words or signs said ("money", "percent", "count", "times"
    or None for a bare number); `decimals` counts the digits written after the decimal point."""

    value: float
    unit: str | None
    decimals: int
    text: str


# unit words and signs, longest first so that "퍼센트" wins over a stray letter
_UNIT_WORDS: list[tuple[str, str]] = sorted(
    [
        ("%", "percent"),
        ("퍼센트", "percent"),
        ("프로", "percent"),
        ("percent", "percent"),
        ("per cent", "percent"),
        ("pct", "percent"),
        ("원", "money"),
        ("₩", "money"),
        ("krw", "money"),
        ("won", "money"),
        ("명", "count"),
        ("건", "count"),
        ("개", "count"),
        ("people", "count"),
        ("persons", "count"),
        ("customers", "count"),
        ("orders", "count"),
        ("배", "times"),
        ("times", "times"),
    ],
    key=lambda item: -len(item[0]),
)
_APPROX = ("약", "대략", "about", "approx.", "approx", "around", "~", "≈", "정도", "쯤", "가량")
_KO_BIG = {"조": 1e12, "억": 1e8, "만": 1e4}
_KO_SMALL = {"천": 1e3, "백": 1e2, "십": 1e1}
_EN_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_NUMBER = re.compile(r"^[+-]?(\d+(?:[ ,]\d{3})*|\d*)(?:\.(\d+))?$")

_HOW = (
    "Write it like 20000, 20,000, 2만, 2만 원, 74% or 0.74.",
    "20000, 20,000, 2만, 2만 원, 74%, 0.74처럼 써 주세요.",
)


def normalize(text: str) -> str:
    """Lower case, full-width signs and digits folded (NFKC), typographic minus signs and quotes removed."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    s = s.replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-")
    return s.strip(" \"'`“”‘’.!?;:。")


def _plain_number(token: str, original: str) -> tuple[float, int]:
    """A number written with digits: '20,000', '20 000', '1.98', '-0.54'; ambiguous commas are refused."""
    token = token.strip()
    if re.fullmatch(r"[+-]?\d+,\d{1,2}", token) or re.fullmatch(r"[+-]?\d+,\d{4,}", token):
        raise FormProblem(
            f"{original!r} is ambiguous: is the comma a decimal point or a thousands separator? "
            "Use a point for decimals (1.5) and commas only between groups of three digits (20,000).",
            f"두 가지로 읽히는 답입니다: {original!r}. 쉼표가 소수점인지 천 단위 구분인지 알 수 없습니다. "
            "소수점은 점(1.5)으로, 쉼표는 세 자리마다(20,000)만 써 주세요.",
        )
    match = _NUMBER.fullmatch(token)
    if not match or token in ("", "+", "-", ".") or not re.search(r"\d", token):
        raise ValueError(token)
    decimals = len(match.group(2) or "")
    return float(token.replace(",", "").replace(" ", "")), decimals


def _korean_number(s: str, original: str) -> tuple[float, int]:
    """A number written with Korean units: '2만', '2만 5천', '3.5만', '1억 2천만', '2만 4,800', '천'."""
    parts = re.findall(r"[\d.,]+|[조억만천백십]", s.replace(" ", ""))
    if "".join(parts) != s.replace(" ", ""):
        raise ValueError(s)
    total, section, current, decimals = 0.0, 0.0, None, 0
    for part in parts:
        if part in _KO_BIG:
            section += current or 0.0
            total += (section or 1.0) * _KO_BIG[part]
            section, current = 0.0, None
        elif part in _KO_SMALL:
            section += (1.0 if current is None else current) * _KO_SMALL[part]
            current = None
        else:
            if current is not None:
                raise ValueError(s)
            current, decimals = _plain_number(part, original)
    return total + section + (current or 0.0), decimals


def read_number(answer: object) -> Reading:
    """Read a number as people write it, or raise `FormProblem` saying how to write it."""
    if isinstance(answer, bool):
        raise FormProblem(
            "Answer with a number, not True or False. " + _HOW[0],
            "True나 False가 아니라 숫자로 답해 주세요. " + _HOW[1],
        )
    if isinstance(answer, int | float):
        if answer != answer:  # NaN
            raise FormProblem("The answer is NaN (not a number). " + _HOW[0], "답이 NaN(숫자 아님)입니다. " + _HOW[1])
        text = repr(answer)
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
        return Reading(float(answer), None, decimals, text)
    if not isinstance(answer, str):
        raise FormProblem(
            f"Answer with one number, not a {type(answer).__name__}. " + _HOW[0],
            f"숫자 하나로 답해 주세요(받은 답의 형식: {type(answer).__name__}). " + _HOW[1],
        )
    original = answer
    s = normalize(answer)
    for word in _APPROX:
        s = s.removeprefix(word).removesuffix(word).strip()
    unit = None
    for word, kind in _UNIT_WORDS:
        if word in s:
            if unit not in (None, kind):
                raise FormProblem(
                    f"{original!r} mixes two units. " + _HOW[0],
                    f"단위가 두 가지 섞인 답입니다: {original!r}. " + _HOW[1],
                )
            unit = kind
            s = s.replace(word, " ")
    s = re.sub(r"\s+", " ", s).strip()
    try:
        if re.search(r"[조억만천백십]", s):
            value, decimals = _korean_number(s, original)
        else:
            scale = 1.0
            m = re.fullmatch(r"(.*?)\s*(k|thousand|mn|m|million|bn|b|billion)", s)
            if m:
                s, scale = m.group(1), _EN_SCALE[m.group(2)]
            value, decimals = _plain_number(s, original)
            value *= scale
    except FormProblem:
        raise
    except ValueError:
        raise FormProblem(
            f"I could not read {original!r} as a number. " + _HOW[0],
            f"숫자로 읽을 수 없는 답입니다: {original!r}. " + _HOW[1],
        ) from None
    return Reading(value, unit, decimals, original)


def read_numbers(answer: object) -> list[int]:
    """Several whole numbers, e.g. the points of a checklist: "3, 4, 5", [3, 4, 5], "3번, 4번, 5번", "3 and 5"."""
    if isinstance(answer, int) and not isinstance(answer, bool):
        return [answer]
    if isinstance(answer, list | tuple | set | frozenset):
        items = list(answer)
        if all(isinstance(x, int) and not isinstance(x, bool) for x in items):
            return sorted(set(items))
        answer = ", ".join(str(x) for x in items)
    if not isinstance(answer, str):
        raise ValueError(answer)
    s = normalize(answer)
    s = re.sub(r"(번째|번|째|point|points|no\.)", " ", s)
    s = re.sub(r"\b(and|or)\b|그리고|와|과|및", ",", s)
    items = [x for x in re.split(r"[,\s/·]+", s) if x]
    if not items or not all(x.isdigit() for x in items):
        raise ValueError(answer)
    return sorted({int(x) for x in items})


def word_key(text: str) -> str:
    """A word answer reduced to what identifies it: lower case, no spaces, hyphens or quotes, no trailing
    'marketing'/'마케팅' or Korean sentence ending ('백엔드 마케팅입니다' -> '백엔드')."""
    s = normalize(text)
    for ending in ("입니다", "이에요", "예요", "이요", "이다", "요", "임"):
        s = s.removesuffix(ending).strip()
    for tail in ("마케팅", "marketing"):
        s = s.removesuffix(tail).strip()
    return re.sub(r"[\s\-_,.()/'\"]+", "", s)
