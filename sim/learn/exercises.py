"""Exercises of the learning notebooks and the cell that checks a trainee's answer.

Each exercise has an expected answer (a number with a tolerance, or one word from a list of choices) and a
hint. Answers that depend on the model are computed by the simulator when first asked for, through the same
cached runs the playbook quotes (`sim.learn.figures`), so a changed model never leaves a stale answer.

    >>> check_answer("ch4_q1", 1.98)
    Correct: 1.98 is right.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Exercise:
    """One exercise: `expected` is a value or a function computing it; `choices` makes it a word answer."""

    question: str
    expected: Any
    hint: str
    tolerance: float = 0.0
    choices: tuple[str, ...] = ()

    def answer(self) -> Any:
        return self.expected() if callable(self.expected) else self.expected


def _pf():
    from sim.learn import figures

    return figures


def _new_difference() -> float:
    pf = _pf()
    heavy = pf.kpis("d2c", pf.FRONT_HEAVY)["new_customers"]
    balanced = pf.kpis("d2c", pf.BALANCED)["new_customers"]
    return float(heavy - balanced)


def _ever_bought_m24() -> float:
    pf = _pf()
    last = pf.base_run().daily.iloc[-1]
    return float(last["customer"] + last["loyal"] + last["lapsed"])


def _orders_per_new_customer() -> float:
    return _pf().orders_per_new_customer()


def _dissatisfied_pct() -> float:
    from sim.model import experience

    dis, _, _ = experience.experience_probabilities(0.9, 0.0, 2.0, 1.0, 0.5, 0.0, 0.4, 0.03)
    return round(100 * float(dis), 2)


def _worst_front_kind() -> str:
    pf = _pf()
    return min(("d2c", "saturated"), key=lambda k: pf.mroi_case(k)["front"])


def _search_only_reach() -> float:
    return float(_pf().monthly_reach({"search_ads": 1.0}))


def _best_front_saturated() -> float:
    pf = _pf()
    sweep = pf.split_sweep("saturated")
    return float(sweep.loc[sweep["npv"].idxmax(), "front_share"])


EXERCISES: dict[str, Exercise] = {
    "ch1_q1": Exercise(
        "A Kakao message offers last month's cleanser buyers a matching toner. Front or back?",
        "back",
        "ask who the message is for: people who have never bought, or people who already did?",
        choices=("front", "back"),
    ),
    "ch1_q2": Exercise(
        "How many more new customers does the 90/10 split win than the 60/40 split (two-run averages)?",
        _new_difference,
        "subtract the balanced plan's new_customers from the front-heavy plan's, as printed above.",
        tolerance=1.0,
    ),
    "ch2_q1": Exercise(
        "Which AARRR step does `first_purchase.monthly_conversion` set?",
        "activation",
        "it acts on people who already know the brand and turns them into buyers.",
        choices=("acquisition", "activation", "retention", "referral"),
    ),
    "ch2_q2": Exercise(
        "At the end of month 24 of the base run, how many people have ever bought (customer + loyal + lapsed)?",
        _ever_bought_m24,
        "read the last row of `result.daily` and add three of the five stage columns.",
        tolerance=0.5,
    ),
    "ch3_q1": Exercise(
        "In the base run's order log, how many orders did a new customer place on average (two decimals)?",
        _orders_per_new_customer,
        "keep the customers with an order_number 1 in the log, count all their orders, divide by their number.",
        tolerance=0.006,
    ),
    "ch3_q2": Exercise(
        "A shop spent 21,600,000 KRW on acquisition and won 900 new customers. CAC in KRW?",
        24000.0,
        "CAC is front-end spend divided by new customers.",
        tolerance=1.0,
    ),
    "ch4_q1": Exercise(
        "monthly_conversion 1.5%, landing_page_quality 1.2, offer_strength 1.1: effective monthly chance, in %?",
        1.98,
        "the model multiplies the three numbers (before any word-of-mouth cut).",
        tolerance=0.005,
    ),
    "ch4_q2": Exercise(
        "Does a better landing page, by itself, make more people aware of the brand in the model? (yes/no)",
        "no",
        "landing_page_quality scales the first-purchase hazard of people who are already aware.",
        choices=("yes", "no"),
    ),
    "ch5_q1": Exercise(
        "proactive_coverage 1.0 at 60 KRW and delight_coverage 0.5 at 1,500 KRW: experience cost per order in KRW?",
        810.0,
        "coverage times cost, for both kinds of care, added up.",
        tolerance=0.5,
    ),
    "ch5_q2": Exercise(
        "reliability 0.9, no delay, proactive_coverage 1.0, proactive_rescue 0.5: chance of a dissatisfied order, in %?",
        _dissatisfied_pct,
        "failures are 1 - reliability; proactive messages rescue coverage x rescue of them.",
        tolerance=0.01,
    ),
    "ch6_q1": Exercise(
        "first_party_data_share 0.5, marketplace_effectiveness 0.3, targeting_precision 0.8: back-end effectiveness?",
        0.52,
        "precision x (marketplace_effectiveness + (1 - marketplace_effectiveness) x data share).",
        tolerance=0.005,
    ),
    "ch6_q2": Exercise(
        "Which segment should get the 'come back for a second try' coupon?",
        "one-time, hesitating",
        "the coupon is for people who bought once and have gone quiet since.",
        choices=("one-time, recent", "one-time, hesitating", "repeat, active", "repeat, at risk"),
    ),
    "ch7_q1": Exercise(
        "A win-back message costs 400 KRW and brings back 2% of those who get it. Cost per comeback in KRW?",
        20000.0,
        "divide the cost of one contact by the chance that a contact brings someone back.",
        tolerance=1.0,
    ),
    "ch7_q2": Exercise(
        "In which market does extra front-end spend have the lower marginal ROI: 'd2c' or 'saturated'?",
        _worst_front_kind,
        "compare the two front-end marginal ROIs printed in the notebook.",
        choices=("d2c", "saturated"),
    ),
    "ch8_q1": Exercise(
        "In the Ipsos survey, what percentage had bought online and had it delivered in the last four weeks?",
        74.0,
        "it is the first of the four O2O figures in the chapter.",
        tolerance=0.0,
    ),
    "ch8_q2": Exercise(
        "With the whole front-end budget (1,800,000 KRW a month) on search ads, how many people a month are reached?",
        _search_only_reach,
        "call pf.monthly_reach({'search_ads': 1.0}); the hill curve gives half the maximum at the half-saturation spend.",
        tolerance=1.0,
    ),
    "ch9_q1": Exercise(
        "In the saturated market, which front-end share of the budget gave the highest NPV in the sweep?",
        _best_front_saturated,
        "look for the largest npv in the saturated sweep table; answer as a share, e.g. 0.45.",
        tolerance=0.001,
    ),
    "ch9_q2": Exercise(
        "CLV 91,300 KRW and CAC 22,100 KRW: LTV:CAC (two decimals)?",
        4.13,
        "divide CLV by CAC.",
        tolerance=0.006,
    ),
}


def expected_answer(key: str) -> Any:
    """The right answer of an exercise (computed by the simulator when it depends on the model)."""
    if key not in EXERCISES:
        raise KeyError(f"unknown exercise {key!r}; known: {', '.join(EXERCISES)}")
    return EXERCISES[key].answer()


def is_correct(key: str, answer: Any) -> bool:
    """Whether `answer` is right (numbers within the tolerance; words case-insensitively)."""
    ex = EXERCISES[key]
    expected = ex.answer()
    if ex.choices:
        return isinstance(answer, str) and answer.strip().lower() == str(expected).lower()
    try:
        return abs(float(answer) - float(expected)) <= ex.tolerance + 1e-9
    except (TypeError, ValueError):
        return False


def check_answer(key: str, answer: Any, show: Callable[[str], None] = print) -> None:
    """Print 'Correct' or 'Not quite: <hint>' for a trainee's answer (`is_correct` returns the verdict)."""
    if key not in EXERCISES:
        raise KeyError(f"unknown exercise {key!r}; known: {', '.join(EXERCISES)}")
    ex = EXERCISES[key]
    if answer is None or answer is ...:
        show(f"No answer yet: set `answer` and run this cell again. Hint: {ex.hint}")
    elif ex.choices and (not isinstance(answer, str) or answer.strip().lower() not in ex.choices):
        show(f"Not quite: answer with one of {', '.join(repr(c) for c in ex.choices)}.")
    elif is_correct(key, answer):
        show(f"Correct: {answer} is right.")
    else:
        show(f"Not quite: {ex.hint}")
