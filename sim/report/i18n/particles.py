"""Korean particles after a filled-in value agree with how the value is read aloud.

A Korean particle changes with the last syllable it follows: 이/가, 을/를, 은/는, 과/와, 으로/로 take their first
form after a final consonant (받침) and the second after a vowel; 으로 becomes 로 after ㄹ too. A template such as
"{cac}이 들고" is right for "28,696원" and wrong for "$25.86" (read 25.86달러: "달러가"), so the particle is chosen
once the value is known, from its reading: the last Hangul syllable, the unit a number ends on (10 십, 700 칠백,
50,000 5만), the last digit of a decimal (0.90 영), % (퍼센트), × (배), or a currency written as a symbol ($ 달러).
"""

from __future__ import annotations

import re

PAIRS = {"이": 0, "가": 0, "을": 1, "를": 1, "은": 2, "는": 2, "과": 3, "와": 3, "으로": 4, "로": 4}
FORMS = (("이", "가"), ("을", "를"), ("은", "는"), ("과", "와"), ("으로", "로"))
# after a filled-in placeholder, a particle that ends the word (not the copula 이며, 이고, nor 로부터 ...)
AFTER_PLACEHOLDER = re.compile(r"(\{[^{}]*\})(으로|이|가|을|를|은|는|과|와|로)(?![가-힣])")
MARK = "\x00"
MARKED = re.compile(MARK + r"(으로|이|가|을|를|은|는|과|와|로)" + MARK)

DIGIT_FINAL = {"0": "ㅇ", "1": "ㄹ", "2": "", "3": "ㅁ", "4": "", "5": "", "6": "ㄱ", "7": "ㄹ", "8": "ㄹ", "9": ""}
PLACE_FINAL = {1: "ㅂ", 2: "ㄱ", 3: "ㄴ"}  # 십, 백, 천
MYRIAD_FINAL = ("ㄴ", "ㄱ", "")  # 만, 억, 조
SYMBOL_WORDS = {"₩": "원", "$": "달러", "€": "유로", "£": "파운드", "¥": "엔"}
SIGN_WORDS = {"%": "", "%p": "", "×": ""}  # 퍼센트, 퍼센트포인트, 배: all end on a vowel
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
FINAL_NAMES = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"


def mark(template: str) -> str:
    """The template with each particle right after a placeholder marked, to be chosen once it is filled."""
    return AFTER_PLACEHOLDER.sub(lambda m: f"{m.group(1)}{MARK}{m.group(2)}{MARK}", template)


def resolve(text: str) -> str:
    """Replace each marked particle by the form that agrees with the word before it (unchanged when the reading
    is not known, e.g. after Latin letters or a closing bracket)."""

    def choose(m: re.Match) -> str:
        final = _final(text[: m.start()])
        written = m.group(1)
        if final is None:
            return written
        consonant, vowel = FORMS[PAIRS[written]]
        if written in ("으로", "로"):
            return vowel if final in ("", "ㄹ") else consonant
        return consonant if final else vowel

    return MARKED.sub(choose, text)


def _final(before: str) -> str | None:
    """The final consonant of the last syllable read aloud in `before` ("" for a vowel), or None if unknown."""
    word = re.split(r"[\s(（]", before.replace(MARK, ""))[-1]
    if not word:
        return None
    for sign, final in SIGN_WORDS.items():
        if word.endswith(sign):
            return final
    last = word[-1]
    if HANGUL_FIRST <= ord(last) <= HANGUL_LAST:
        return FINAL_NAMES[(ord(last) - HANGUL_FIRST) % 28].strip()
    symbol = next((s for s in SYMBOL_WORDS if s in word), None)
    if symbol is not None and last.isdigit():
        return _final(SYMBOL_WORDS[symbol])
    if last.isdigit():
        return _number_final(re.sub(r"[^0-9.]", "", word))
    return None


def _number_final(number: str) -> str:
    """The final consonant of a number read in Korean: a decimal ends on its last digit, an integer on its last
    non-zero digit or on the unit its zeros make (십, 백, 천; 만, 억, 조 for whole myriads)."""
    if "." in number:
        return DIGIT_FINAL[number[-1]]
    digits = number.lstrip("0") or "0"
    if digits == "0":
        return DIGIT_FINAL["0"]
    myriads = 0
    while digits.endswith("0000"):
        digits, myriads = digits[:-4], myriads + 1
    if myriads:
        return MYRIAD_FINAL[min(myriads, 3) - 1]
    zeros = len(digits) - len(digits.rstrip("0"))
    return PLACE_FINAL[zeros] if zeros else DIGIT_FINAL[digits[-1]]
