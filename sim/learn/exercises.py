"""Exercises of the learning notebooks: the question (read from the chapter), the check cell's verdict and the
solution revealed on request, in English or Korean.

Each exercise has an expected answer: a number in a unit (KRW, people, a percentage, a share, a plain
number) with a tolerance, one word from a list of choices, several of them, or several checklist points.
Answers that depend on the model are computed by the simulator when first asked for, through the same
cached runs the playbook quotes (`sim.learn.figures`), so a changed model never leaves a stale answer.
The question and the solution are the chapter's own (its `## Exercises` list and its `<details>` block, in
`playbook/` or `playbook/ko/`), so notebook and chapter cannot disagree.

Answers are read as people write them (`sim.learn.answers`): 20000, "20,000", "2만", "2만 원", "74%", 0.74,
"back-end" or "백엔드". When the figure is right but written in another form (a share where a percentage
was asked, thousands of KRW, too few decimals), the verdict says that the form, not the content, was
the problem.

    >>> check_answer("ch4_q1", "1.98%")
    Correct: 1.98% is right.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sim.learn.answers import FormProblem, Reading, read_number, read_numbers, word_key

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = {"en": ROOT / "playbook", "ko": ROOT / "playbook" / "ko"}


@dataclass(frozen=True)
class Bi:
    """A text in English and Korean."""

    en: str
    ko: str

    def get(self, lang: str) -> str:
        return self.ko if lang == "ko" else self.en


@dataclass(frozen=True)
class Choice:
    """One possible word answer: its key (what `expected_answer` returns), how each language names it,
    other ways people write it, and, if it is a tempting wrong answer, why it is wrong."""

    key: str
    en: str
    ko: str
    also: tuple[str, ...] = ()
    why_not: Bi | None = None

    def names(self) -> set[str]:
        return {word_key(w) for w in (self.key, self.en, self.ko, *self.also)}

    def label(self, lang: str) -> str:
        return self.ko if lang == "ko" else self.en


# how a number answer is asked for: the unit's name and examples of the forms it may take
UNITS: dict[str, Bi] = {
    "krw": Bi("an amount in KRW, e.g. 24000, 24,000 or 2만 4천", "원 단위 금액. 예: 24000, 24,000, 2만 4천 원"),
    "count": Bi("a number of people or orders, e.g. 400 or 2,090", "사람 수나 주문 수. 예: 400, 2,090, 2천"),
    "percent": Bi("a percentage, e.g. 74%, 74 or 0.74", "퍼센트. 예: 74%, 74, 0.74"),
    "share": Bi("a share, e.g. 0.45 or 45%", "비율. 예: 0.45, 45%"),
    "number": Bi("a number, e.g. 1.25", "숫자. 예: 1.25"),
}
_READS_AS = {"krw": "money", "count": "count", "percent": "percent", "share": "percent", "number": None}
_UNIT_NAME = {
    "money": Bi("an amount of money", "금액(원)"),
    "percent": Bi("a percentage", "퍼센트(%)"),
    "count": Bi("a count of people or things", "개수(명, 건)"),
    "times": Bi("a multiple", "배수(배)"),
}


@dataclass(frozen=True)
class Exercise:
    """One exercise. `expected` is a value or a function computing it; `unit` makes it a number answer,
    `choices` a word answer (`several`: a set of them), `points` a set of checklist points (whole numbers)."""

    expected: Any
    hint: Bi
    unit: str | None = None
    tolerance: float = 0.0
    decimals: int | None = None  # the precision the question asks for (a rounding slip is a form problem)
    choices: tuple[Choice, ...] | Callable[[], tuple[Choice, ...]] = ()
    several: bool = False
    points: bool = False
    how: Bi | None = None  # what the check cell wants, when the chapter's question asks for more
    key: str = field(default="", compare=False)

    def answer(self) -> Any:
        return self.expected() if callable(self.expected) else self.expected

    def options(self) -> tuple[Choice, ...]:
        return self.choices() if callable(self.choices) else self.choices


# -- answers the simulator computes --------------------------------------------------------------------------


def _pf():
    from sim.learn import figures

    return figures


# the grids the notebooks sweep; the exercises read their answers from the same grids
FRONT_SHARES_CH1 = (0.3, 0.45, 0.6, 0.75, 0.9, 0.95)
REFERRAL_RATES_CH2 = (0.0, 0.35, 2.0)
LANDING_QUALITY_CH4 = tuple(round(0.6 + 0.1 * i, 1) for i in range(11))
CAPACITY_CH5 = (40, 30, 25, 20, 17, 15, 10)
DATA_SHARES_CH6 = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
BACK_SHARES_CH6 = (0.2, 0.4)


def ch1_table():
    """Chapter 1's sweep of the front-end share (back-end gets the rest): KPIs by share."""
    import pandas as pd

    pf = _pf()
    plans = [pf.split(f, round(1 - f, 6)) for f in FRONT_SHARES_CH1]
    return pd.DataFrame(pf.sweep("d2c", plans), index=list(FRONT_SHARES_CH1))


CH1_KPIS = (
    Choice("new_customers", "new customers", "신규고객", ("new customer", "신규 고객", "신규")),
    Choice("cac", "CAC", "고객 획득 비용", ("고객획득비용", "customer acquisition cost", "획득 비용")),
    Choice("clv", "CLV", "고객 생애 가치", ("고객생애가치", "ltv", "customer lifetime value", "생애 가치")),
)


def _ch1_falling() -> frozenset[str]:
    table = ch1_table()
    return frozenset(c.key for c in CH1_KPIS if table[c.key].is_monotonic_decreasing)


def _new_difference() -> float:
    pf = _pf()
    heavy = pf.kpis("d2c", pf.FRONT_HEAVY)["new_customers"]
    balanced = pf.kpis("d2c", pf.BALANCED)["new_customers"]
    return float(heavy - balanced)


def _ever_bought_m24() -> float:
    last = _pf().base_run().daily.iloc[-1]
    return float(last["customer"] + last["loyal"] + last["lapsed"])


def ch2_unaware_runs() -> list:
    """Chapter 2's runs for three referral rates (fast engine)."""
    pf = _pf()
    return pf.sweep_results("d2c", [{"referral.contacts_per_loyal_per_month": r} for r in REFERRAL_RATES_CH2])


def _ch2_unaware_effect() -> str:
    runs = dict(zip(REFERRAL_RATES_CH2, ch2_unaware_runs(), strict=True))
    base, more = runs[0.35].daily["unaware"].iloc[-1], runs[2.0].daily["unaware"].iloc[-1]
    return "faster" if more < base else "slower" if more > base else "same"


def channel_returning_shares():
    """Returning revenue share by acquisition channel in the base run's order log (chapter 3)."""
    orders = _pf().base_run().orders
    return orders.groupby("acquisition_channel").apply(
        lambda g: g.loc[g["order_number"] > 1, "amount"].sum() / g["amount"].sum(), include_groups=False
    )


_CHANNEL_NAMES = {
    "search_ads": ("search ads", "검색광고", ("검색 광고", "search")),
    "sns_content": ("SNS content", "SNS 콘텐츠", ("sns", "sns콘텐츠")),
    "influencer": ("influencer", "인플루언서", ()),
    "kakao_crm": ("Kakao CRM messages", "카카오 CRM 메시지", ("kakao", "카카오")),
    "referral": ("referral", "추천", ("word of mouth", "입소문", "리퍼럴")),
    "prior_awareness": ("prior awareness", "사전 인지", ("aware at the start", "처음부터 인지", "prior")),
    "existing": ("existing customers", "기존 고객", ("existing", "기존")),
}
_EXISTING_WHY = Bi(
    "`existing` is 100% by construction: those customers bought before the log began, so every order of "
    "theirs in it is a repeat order. Leave that row out and compare the channels that win new customers.",
    "`existing`의 100%는 계산 방식 때문에 생긴 숫자입니다. 이 고객들은 주문 기록이 시작되기 전에 이미 샀으므로 "
    "기록에 남은 주문은 모두 재구매로 잡힙니다. 이 줄은 빼고 신규고객을 데려온 채널끼리 비교하세요.",
)


def _ch3_channels() -> tuple[Choice, ...]:
    out = []
    for key in channel_returning_shares().index:
        en, ko, also = _CHANNEL_NAMES.get(key, (key, key, ()))
        out.append(Choice(key, en, ko, also, _EXISTING_WHY if key == "existing" else None))
    return tuple(out)


def _ch3_best_channel() -> str:
    shares = channel_returning_shares().drop("existing", errors="ignore")
    return str(shares.idxmax())


def _orders_per_new_customer() -> float:
    return _pf().orders_per_new_customer()


def ch4_table():
    """Chapter 4's sweep of landing-page quality: KPIs by quality."""
    import pandas as pd

    pf = _pf()
    plans = [{"first_purchase.landing_page_quality": q} for q in LANDING_QUALITY_CH4]
    return pd.DataFrame(pf.sweep("d2c", plans), index=list(LANDING_QUALITY_CH4))


def _ch4_first_quality_below() -> float:
    table = ch4_table()
    below = table.index[table["cac"] < 20000]
    if not len(below):
        raise ValueError("no landing-page quality on the grid gives a CAC below 20,000 KRW")
    return float(below[0])


def _dissatisfied_pct() -> float:
    from sim.model import experience

    dis, _, _ = experience.experience_probabilities(0.9, 0.0, 2.0, 1.0, 0.5, 0.0, 0.4, 0.03)
    return round(100 * float(dis), 2)


def ch5_capacity_table():
    """Chapter 5's sweep of the fulfilment team's capacity (orders a day): KPIs by capacity."""
    import pandas as pd

    pf = _pf()
    plans = [{"operations.fulfilment_capacity_per_day": c} for c in CAPACITY_CH5]
    return pd.DataFrame(pf.sweep("d2c", plans), index=list(CAPACITY_CH5))


def _ch5_capacity_where_it_rises() -> float:
    """The lowest capacity on the grid whose dissatisfied share is within half a point of the share with
    capacity to spare: below it, the share rises."""
    share = ch5_capacity_table()["dissatisfied_share"]
    spare = share.loc[max(CAPACITY_CH5)]
    return float(min(c for c in CAPACITY_CH5 if share.loc[c] <= spare + 0.005))


def ch6_curves() -> dict:
    """Chapter 6's sweeps of the first-party data share at two back-end shares (win-back 5%)."""
    import pandas as pd

    pf = _pf()
    curves = {}
    for back in BACK_SHARES_CH6:
        plans = [
            {"retention.first_party_data_share": x, **pf.split(round(0.95 - back, 6), back, 0.05)}
            for x in DATA_SHARES_CH6
        ]
        curves[back] = pd.DataFrame(pf.sweep("d2c", plans), index=list(DATA_SHARES_CH6))
    return curves


def _ch6_gain_trend() -> str:
    gains = {
        b: t["cumulative_contribution"].iloc[-1] - t["cumulative_contribution"].iloc[0] for b, t in ch6_curves().items()
    }
    return "grows" if gains[max(gains)] > gains[min(gains)] else "shrinks"


def _worst_front_kind() -> str:
    pf = _pf()
    return min(("d2c", "saturated"), key=lambda k: pf.mroi_case(k)["front"])


def _winback_still_best_r01() -> str:
    rois = _pf().mroi_case("saturated_r01")
    front = _pf().mroi_case("saturated")["front"]
    return "yes" if rois["winback"] >= max(rois["back"], front) else "no"


def _search_only_reach() -> float:
    return float(_pf().monthly_reach({"search_ads": 1.0}))


def ch8_best_split() -> tuple[dict[str, float], float]:
    """The front-end split over the three channels, on a 5% grid, that reaches the most people a month."""
    pf = _pf()
    grid = [(a / 20, b / 20) for a in range(21) for b in range(21 - a)]

    def mix(ab: tuple[float, float]) -> dict[str, float]:
        return {"search_ads": ab[0], "sns_content": ab[1], "influencer": round(1 - ab[0] - ab[1], 2)}

    best = max(grid, key=lambda ab: pf.monthly_reach(mix(ab)))
    return mix(best), float(pf.monthly_reach(mix(best)))


def _ch8_best_reach() -> float:
    return ch8_best_split()[1]


def ch9_best_front(kind: str, months: int | None = None) -> float:
    """The front-end share with the highest NPV in chapter 9's sweep (the one place that decides the best
    split: switch it to `sim.analysis.optimize` here and every cell and check follows)."""
    pf = _pf()
    table = pf.split_sweep(kind, horizon_months=months)
    return float(table.loc[table["npv"].idxmax(), "front_share"])


def _best_front_saturated() -> float:
    return ch9_best_front("saturated")


def _ch9_horizon_moves() -> str:
    short, long = ch9_best_front("d2c", 12), ch9_best_front("d2c")
    return "down" if short < long else "up" if short > long else "same"


# -- choices that several exercises share -----------------------------------------------------------------

YES_NO = (
    Choice("yes", "yes", "예", ("y", "true", "네", "그렇다", "맞다", "맞아요")),
    Choice("no", "no", "아니요", ("n", "false", "아니오", "아니", "아니다", "아닙니다")),
)


EXERCISES: dict[str, Exercise] = {
    "ch1_q1": Exercise(
        "back",
        Bi(
            "ask who the message is for: people who have never bought, or people who already did?",
            "메시지를 받는 사람이 누구인지 물어보세요. 아직 사지 않은 사람인가요, 이미 산 사람인가요?",
        ),
        choices=(
            Choice(
                "front",
                "front-end",
                "프론트엔드",
                ("front", "프런트엔드", "프론트", "프런트", "acquisition", "신규 확보"),
            ),
            Choice("back", "back-end", "백엔드", ("back", "backend", "백", "retention", "고객 유지")),
        ),
    ),
    "ch1_q2": Exercise(
        _new_difference,
        Bi(
            "subtract the balanced plan's new customers from the front-heavy plan's, as printed at the top.",
            "맨 위에 찍힌 두 숫자에서, 프론트엔드 중심 계획의 신규고객 수에서 균형 계획의 신규고객 수를 빼세요.",
        ),
        unit="count",
        tolerance=1.0,
    ),
    "ch1_q3": Exercise(
        _ch1_falling,
        Bi(
            "read the table under the plot from top to bottom: which column gets smaller at every step?",
            "그래프 아래 표를 위에서 아래로 읽어 보세요. 줄마다 값이 작아지는 열은 어느 것인가요?",
        ),
        choices=CH1_KPIS,
        several=True,
        how=Bi(
            "In the check cell, name the KPI that falls as the front share grows: new customers, CAC or CLV "
            '(e.g. `"CLV"`; several: `"CAC, CLV"`).',
            '확인 셀에는 프론트 비중이 커질수록 내려가는 KPI를 적으세요. 신규고객, CAC, CLV 가운데 고릅니다(예: `"CLV"`, '
            '여럿이면 `"CAC, CLV"`).',
        ),
    ),
    "ch2_q1": Exercise(
        "activation",
        Bi(
            "it acts on people who already know the brand and turns them into buyers.",
            "이미 브랜드를 아는 사람에게 작용해 첫 구매 고객으로 바꿉니다.",
        ),
        choices=(
            Choice("acquisition", "acquisition", "신규고객 확보", ("획득", "신규 고객 확보", "확보")),
            Choice("activation", "activation", "첫 구매 유도", ("활성화", "첫구매 유도")),
            Choice("retention", "retention", "리텐션", ("고객 유지", "유지")),
            Choice("referral", "referral", "추천", ("입소문", "리퍼럴")),
        ),
    ),
    "ch2_q2": Exercise(
        _ever_bought_m24,
        Bi(
            "read the last row of `result.daily` and add three of the five stage columns.",
            "`result.daily`의 마지막 줄을 읽고 다섯 단계 가운데 세 열을 더하세요.",
        ),
        unit="count",
        tolerance=0.5,
    ),
    "ch2_q3": Exercise(
        _ch2_unaware_effect,
        Bi(
            "compare the unaware curves for 0.35 and 2 contacts in the static plot: which one falls more steeply?",
            "정적 그래프에서 0.35명과 2명일 때의 미인지 곡선을 비교하세요. 어느 쪽이 더 가파르게 내려가나요?",
        ),
        choices=(
            Choice("faster", "faster", "더 빨리", ("falls faster", "더 빠르게", "빨리", "빠르게", "더 빨리 줄어든다")),
            Choice("slower", "slower", "더 느리게", ("falls slower", "느리게", "천천히", "더 천천히")),
            Choice("same", "no change", "변화 없음", ("same", "unchanged", "그대로", "같다")),
        ),
        how=Bi(
            'In the check cell: does the unaware count fall `"faster"` or `"slower"`? (The why is in the solution.)',
            '확인 셀에는 미인지 인원이 `"더 빨리"` 줄어드는지 `"더 느리게"` 줄어드는지 적으세요. 이유는 풀이에 있습니다.',
        ),
    ),
    "ch3_q1": Exercise(
        _orders_per_new_customer,
        Bi(
            "keep the customers with an order_number 1 in the log, count all their orders, divide by their number.",
            "기록에서 order_number가 1인 주문이 있는 고객만 남기고, 그 고객들의 주문을 모두 세어 고객 수로 나누세요.",
        ),
        unit="number",
        tolerance=0.006,
        decimals=2,
    ),
    "ch3_q2": Exercise(
        24000.0,
        Bi("CAC is front-end spend divided by new customers.", "CAC는 프론트엔드 비용을 신규고객 수로 나눈 값입니다."),
        unit="krw",
        tolerance=1.0,
    ),
    "ch3_q3": Exercise(
        _ch3_best_channel,
        Bi(
            "compare the channels that win new customers in the printed table; one row holds by construction.",
            "찍힌 표에서 신규고객을 데려오는 채널끼리 비교하세요. 한 줄은 계산 방식 때문에 생긴 값입니다.",
        ),
        choices=_ch3_channels,
        how=Bi(
            'In the check cell, give the channel (as the table names it, e.g. `"search_ads"`) whose new customers '
            "bring the highest returning revenue share.",
            '확인 셀에는 신규고객의 재구매 매출 비중이 가장 높은 채널을 표에 적힌 이름으로 적으세요(예: `"search_ads"`).',
        ),
    ),
    "ch4_q1": Exercise(
        1.98,
        Bi(
            "the model multiplies the three numbers (before any word-of-mouth cut).",
            "모델은 세 숫자를 곱합니다(입소문으로 깎이기 전).",
        ),
        unit="percent",
        tolerance=0.005,
        decimals=2,
    ),
    "ch4_q2": Exercise(
        "no",
        Bi(
            "landing_page_quality scales the first-purchase chance of people who are already aware.",
            "landing_page_quality는 이미 브랜드를 아는 사람의 첫 구매 확률에 곱해집니다.",
        ),
        choices=YES_NO,
    ),
    "ch4_q3": Exercise(
        _ch4_first_quality_below,
        Bi(
            "read the CAC column of the table under the plot, from low to high quality.",
            "그래프 아래 표의 CAC 열을 품질이 낮은 쪽부터 읽어 내려가세요.",
        ),
        unit="number",
        tolerance=0.001,
        how=Bi(
            "In the check cell, give the first quality on the notebook's grid (0.6, 0.7, ..., 1.6) with a CAC below "
            "20,000 KRW, e.g. `1.4`.",
            "확인 셀에는 노트북의 격자(0.6, 0.7, ..., 1.6)에서 CAC가 처음으로 2만 원 아래로 내려가는 품질을 적으세요. "
            "예: `1.4`",
        ),
    ),
    "ch5_q1": Exercise(
        810.0,
        Bi(
            "coverage times cost, for both kinds of care, added up.",
            "두 가지 관리 모두 적용 비율 × 비용을 구해 더하세요.",
        ),
        unit="krw",
        tolerance=0.5,
    ),
    "ch5_q2": Exercise(
        _dissatisfied_pct,
        Bi(
            "failures are 1 - reliability; proactive messages rescue coverage x rescue of them.",
            "실패는 1 − reliability이고, 선제 안내가 그 가운데 coverage × rescue만큼을 구합니다.",
        ),
        unit="percent",
        tolerance=0.01,
    ),
    "ch5_q3": Exercise(
        _ch5_capacity_where_it_rises,
        Bi(
            "read the printed dissatisfied shares from 40 down: where does the share leave its level with capacity "
            "to spare?",
            "찍힌 불만족 비율을 40부터 아래로 읽어 보세요. 여유가 있을 때의 수준에서 처음 벗어나는 곳은 어디인가요?",
        ),
        unit="count",
        tolerance=2.0,
        how=Bi(
            "In the check cell, give the capacity (orders a day) below which the dissatisfied share starts to rise.",
            "확인 셀에는 그보다 낮아지면 불만족 비율이 오르기 시작하는 처리 능력(하루 주문 수)을 적으세요.",
        ),
    ),
    "ch6_q1": Exercise(
        0.52,
        Bi(
            "precision x (marketplace_effectiveness + (1 - marketplace_effectiveness) x data share).",
            "precision × (marketplace_effectiveness + (1 − marketplace_effectiveness) × 데이터 비중).",
        ),
        unit="share",
        tolerance=0.005,
        decimals=2,
    ),
    "ch6_q2": Exercise(
        "one-time, hesitating",
        Bi(
            "the coupon is for people who bought once and have gone quiet since.",
            "쿠폰은 한 번 사고 그 뒤로 조용해진 사람을 위한 것입니다.",
        ),
        choices=(
            Choice("one-time, recent", "one-time, recent", "한 번 구매·최근", ("한 번 구매 최근", "one time recent")),
            Choice(
                "one-time, hesitating",
                "one-time, hesitating",
                "한 번 구매·망설임",
                ("한 번 구매 망설임", "망설임", "one time hesitating", "hesitating", "첫 구매 뒤 망설이는 고객"),
            ),
            Choice("repeat, active", "repeat, active", "반복 구매·활동 중", ("반복 구매 활동 중", "repeat active")),
            Choice(
                "repeat, at risk",
                "repeat, at risk",
                "반복 구매·이탈 우려",
                ("반복 구매 이탈 우려", "repeat at risk", "at risk", "이탈 우려"),
                Bi(
                    "that segment gets the offer for formerly loyal customers at risk of leaving, not the second-try coupon.",
                    "그 고객군은 이탈이 우려되는 예전 충성고객을 위한 제안을 받습니다. 두 번째 구매 쿠폰의 대상이 아닙니다.",
                ),
            ),
        ),
    ),
    "ch6_q3": Exercise(
        _ch6_gain_trend,
        Bi(
            "compare the two printed gains from 10% to 100% data.",
            "데이터 10%에서 100%로 갈 때의 이익 증가 두 개(찍힌 값)를 비교하세요.",
        ),
        choices=(
            Choice("grows", "grows", "커진다", ("grow", "bigger", "larger", "more", "커짐", "늘어난다", "증가")),
            Choice("shrinks", "shrinks", "작아진다", ("shrink", "smaller", "less", "작아짐", "줄어든다", "감소")),
        ),
    ),
    "ch7_q1": Exercise(
        20000.0,
        Bi(
            "divide the cost of one contact by the chance that a contact brings someone back.",
            "연락 한 번의 비용을 그 연락으로 한 명이 돌아올 확률로 나누세요.",
        ),
        unit="krw",
        tolerance=1.0,
    ),
    "ch7_q2": Exercise(
        _worst_front_kind,
        Bi(
            "compare the two front-end marginal ROIs printed in the notebook.",
            "노트북에 찍힌 두 프론트엔드 한계 ROI를 비교하세요.",
        ),
        choices=(
            Choice("d2c", "d2c", "초기 시장", ("early", "초기", "early shop", "early market", "d2c 시장")),
            Choice("saturated", "saturated", "포화 시장", ("포화", "saturated market", "saturated shop")),
        ),
    ),
    "ch7_q3": Exercise(
        _winback_still_best_r01,
        Bi(
            "set saturation to 1 and the comeback chance to 0.01 in the sliders, and compare the three bars.",
            "슬라이더에서 포화도를 1, 재구매 복귀 확률을 0.01로 놓고 막대 세 개를 비교하세요.",
        ),
        choices=YES_NO,
    ),
    "ch8_q1": Exercise(
        74.0,
        Bi(
            "it is the first of the four O2O figures in the chapter.",
            "이 장에 나오는 O2O 수치 네 개 가운데 첫 번째입니다.",
        ),
        unit="percent",
        tolerance=0.0,
    ),
    "ch8_q2": Exercise(
        _search_only_reach,
        Bi(
            "call pf.monthly_reach({'search_ads': 1.0}); the hill curve gives half the maximum at the half-saturation spend.",
            "pf.monthly_reach({'search_ads': 1.0})를 실행해 보세요. hill 곡선은 half_saturation 금액에서 최대 도달의 절반을 줍니다.",
        ),
        unit="count",
        tolerance=1.0,
    ),
    "ch8_q3": Exercise(
        _ch8_best_reach,
        Bi(
            "move the sliders in steps of 0.05 and watch the reach in the title: it peaks where the last won buys "
            "about as many people in every channel.",
            "슬라이더를 0.05씩 움직이며 제목의 도달 인원을 보세요. 마지막 1원이 어느 채널에서나 비슷한 수의 사람에게 "
            "닿는 곳에서 가장 커집니다.",
        ),
        unit="count",
        tolerance=5.0,
        how=Bi(
            "In the check cell, give the highest reach (people a month) you found with the sliders.",
            "확인 셀에는 슬라이더로 찾은 가장 큰 월 도달 인원을 적으세요.",
        ),
    ),
    "ch8_q4": Exercise(
        frozenset({3, 4, 5}),
        Bi(
            "for each point, ask whether some scenario field changes when the shop acts on it.",
            "항목마다, 쇼핑몰이 그 항목대로 움직이면 시나리오의 어떤 필드가 바뀌는지 물어보세요.",
        ),
        points=True,
        how=Bi(
            "The table is yours to write; the check cell checks the last question: which of the six points (1-6) can "
            'you try out by changing a scenario field? E.g. `"1, 2"`.',
            "표는 직접 채워 보세요. 확인 셀은 마지막 질문만 확인합니다. 여섯 항목(1-6) 가운데 시나리오 필드를 바꿔 시험해 "
            '볼 수 있는 것은 몇 번인가요? 예: `"1, 2"`',
        ),
    ),
    "ch9_q1": Exercise(
        _best_front_saturated,
        Bi(
            "look for the largest npv in the saturated sweep table; answer as a share, e.g. 0.45, or as 45%.",
            "포화 시장 표에서 npv가 가장 큰 줄을 찾으세요. 0.45나 45%처럼 답하면 됩니다.",
        ),
        unit="share",
        tolerance=0.001,
    ),
    "ch9_q2": Exercise(
        4.13,
        Bi("divide CLV by CAC.", "CLV를 CAC로 나누세요."),
        unit="number",
        tolerance=0.006,
        decimals=2,
    ),
    "ch9_q3": Exercise(
        _ch9_horizon_moves,
        Bi(
            "compare the best front-end share of the 12-month sweep with the 24-month one.",
            "12개월 표의 최적 프론트엔드 비중을 24개월 표의 것과 비교하세요.",
        ),
        choices=(
            Choice("up", "up", "올라간다", ("higher", "more", "rises", "오른다", "높아진다", "위")),
            Choice("down", "down", "내려간다", ("lower", "less", "falls", "내린다", "낮아진다", "아래")),
            Choice("same", "no change", "그대로", ("same", "unchanged", "같다", "변화 없음")),
        ),
    ),
}
EXERCISES = {key: Exercise(**{**ex.__dict__, "key": key}) for key, ex in EXERCISES.items()}


def _exercise(key: str) -> Exercise:
    if key not in EXERCISES:
        raise KeyError(f"unknown exercise {key!r}; known: {', '.join(EXERCISES)}")
    return EXERCISES[key]


def expected_answer(key: str) -> Any:
    """The right answer of an exercise (computed by the simulator when it depends on the model)."""
    return _exercise(key).answer()


# -- the verdict ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the check cell says: `correct`, `form` (the form, not the content, was the problem) and the text."""

    correct: bool
    form: bool
    en: str
    ko: str

    def text(self, lang: str) -> str:
        return self.ko if lang == "ko" else self.en


def _form(en: str, ko: str) -> Verdict:
    return Verdict(
        False,
        True,
        f"Right or wrong, I cannot tell yet: the form, not the content, is the problem. {en}",
        f"맞는지 아직 알 수 없습니다. 내용이 아니라 쓰는 형식이 문제입니다. {ko}",
    )


def _not_quite(hint: Bi) -> Verdict:
    return Verdict(False, False, f"Not quite: {hint.en}", f"아쉽습니다. 힌트: {hint.ko}")


def _correct(shown: str, note_en: str = "", note_ko: str = "") -> Verdict:
    return Verdict(True, False, f"Correct: {shown} is right.{note_en}", f"정답입니다: {shown}.{note_ko}")


def _choices_text(options: tuple[Choice, ...]) -> tuple[str, str]:
    en = ", ".join(repr(c.key) for c in options)
    ko = ", ".join(f"'{c.ko}'" for c in options)
    return en, ko


def _match_choice(options: tuple[Choice, ...], text: str) -> Choice | None:
    key = word_key(text)
    return next((c for c in options if key in c.names()), None)


def _judge_choice(ex: Exercise, answer: Any) -> Verdict:
    options = ex.options()
    en, ko = _choices_text(options)
    how_en = f"Answer with one of {en} (English or Korean)."
    how_ko = f"{ko} 가운데 하나로 답하세요(한국어나 영어)."
    if ex.several:
        how_en = f"Answer with one or more of {en}, separated by commas (English or Korean)."
        how_ko = f"{ko} 가운데 하나 이상을 쉼표로 나눠 적으세요(한국어나 영어)."
    if isinstance(answer, list | tuple | set | frozenset) and ex.several:
        words = [str(a) for a in answer]
    elif isinstance(answer, str):
        words = [w for w in re.split(r"[,;/]|\band\b|그리고", answer) if w.strip()] if ex.several else [answer]
    else:
        return _form(how_en, how_ko)
    picked = []
    for word in words:
        choice = _match_choice(options, word)
        if choice is None:
            return _form(
                f"I do not know {word.strip()!r} here. {how_en}", f"보기에 없는 답입니다: '{word.strip()}'. {how_ko}"
            )
        picked.append(choice)
    expected = ex.answer()
    wanted = set(expected) if ex.several else {expected}
    got = {c.key for c in picked}
    if got == wanted:
        shown = ", ".join(c.en for c in picked)
        return Verdict(True, False, f"Correct: {shown} is right.", f"정답입니다: {', '.join(c.ko for c in picked)}.")
    wrong = [c for c in picked if c.key not in wanted and c.why_not is not None]
    if wrong:
        return Verdict(False, False, f"Not quite: {wrong[0].why_not.en}", f"아쉽습니다. {wrong[0].why_not.ko}")
    if ex.several and got < wanted:
        return Verdict(
            False,
            False,
            f"Part of it: what you named is right, but something is missing. Hint: {ex.hint.en}",
            f"절반은 맞습니다. 적은 것은 맞지만 빠진 것이 있습니다. 힌트: {ex.hint.ko}",
        )
    return _not_quite(ex.hint)


def _judge_points(ex: Exercise, answer: Any) -> Verdict:
    try:
        got = set(read_numbers(answer))
    except ValueError:
        return _form(
            'Give the numbers of the points, separated by commas, e.g. "1, 2" or [1, 2].',
            '항목 번호를 쉼표로 나눠 적으세요. 예: "1, 2" 또는 [1, 2]',
        )
    bad = sorted(p for p in got if not 1 <= p <= 6)
    if bad:
        return _form(
            f"The points are numbered 1 to 6; {bad[0]} is not one of them.",
            f"항목 번호는 1부터 6까지입니다. {bad[0]}번 항목은 없습니다.",
        )
    wanted = set(ex.answer())
    if got == wanted:
        shown = ", ".join(str(p) for p in sorted(got))
        return _correct(shown)
    if got < wanted:
        return Verdict(
            False,
            False,
            f"Part of it: every point you named can be tried out, but not all of them. Hint: {ex.hint.en}",
            f"절반은 맞습니다. 적은 항목은 모두 시험해 볼 수 있지만 빠진 항목이 있습니다. 힌트: {ex.hint.ko}",
        )
    return _not_quite(ex.hint)


def _readings(ex: Exercise, r: Reading) -> list[tuple[float, str, str]]:
    """The values an answer can mean for this exercise, with a note on how it was read."""
    v = r.value
    if ex.unit == "percent":  # expected in percent: 74 means 74%
        if r.unit == "percent":
            return [(v, "", "")]
        out = [(v, "", "")]
        if abs(v) <= 1:
            out.append(
                (100 * v, f" (read as a share: {r.text} = {100 * v:g}%)", f" ({r.text}를 비율로 읽어 {100 * v:g}%)")
            )
        return out
    if ex.unit == "share":  # expected as a share: 0.45 means 45%
        if r.unit == "percent":
            return [(v / 100, "", "")]
        out = [(v, "", "")]
        if 1 < abs(v) <= 100:
            out.append(
                (
                    v / 100,
                    f" (read as a percentage: {r.text} = {v / 100:g})",
                    f" ({r.text}를 퍼센트로 읽어 {v / 100:g})",
                )
            )
        return out
    return [(v, "", "")]


def _judge_number(ex: Exercise, answer: Any) -> Verdict:
    unit_text = UNITS[ex.unit or "number"]
    try:
        r = read_number(answer)
    except FormProblem as problem:
        return _form(
            problem.en + f" The question asks for {unit_text.en}.",
            problem.ko + f" 이 문제의 답은 {unit_text.ko}입니다.",
        )
    expected = float(ex.answer())
    wanted = _READS_AS[ex.unit or "number"]
    if r.unit is not None and r.unit != wanted and not (wanted is None and r.unit == "times"):
        said = _UNIT_NAME[r.unit]
        return _form(
            f"You wrote {said.en} ({r.text!r}); the question asks for {unit_text.en}.",
            f"적은 답 '{r.text}'에는 {said.ko} 표시가 붙어 있는데, 이 문제의 답은 {unit_text.ko}입니다.",
        )
    close = ex.tolerance + 1e-9
    for value, note_en, note_ko in _readings(ex, r):
        if abs(value - expected) <= close:
            return _correct(r.text, note_en, note_ko)
    for value, _, _ in _readings(ex, r):
        for factor, en, ko in (
            (1e3, "thousands", "천 단위"),
            (1e4, "units of 만", "만 단위"),
            (1e6, "millions", "백만 단위"),
        ):
            if expected != 0 and abs(value * factor - expected) <= close * max(1.0, factor / 1e3):
                return _form(
                    f"Your figure looks right in {en}; write the whole number ({unit_text.en}).",
                    f"{ko}로는 맞는 숫자로 보입니다. 단위 없이 전체 숫자로 적어 주세요({unit_text.ko}).",
                )
        if ex.decimals is not None and r.decimals < ex.decimals and abs(value - round(expected, r.decimals)) < 1e-9:
            return _form(
                f"Close: the question asks for {ex.decimals} decimals; round your figure to {ex.decimals} decimals.",
                f"거의 맞았습니다. 소수점 아래 {ex.decimals}자리까지 반올림해 적어 주세요.",
            )
    return _not_quite(ex.hint)


def judge(key: str, answer: Any) -> Verdict:
    """The verdict on a trainee's answer: correct, a form problem (what to write instead), or a hint."""
    ex = _exercise(key)
    if answer is None or answer is ... or (isinstance(answer, str) and not answer.strip()):
        return Verdict(
            False,
            False,
            f"No answer yet: set `answer` and run this cell again. Hint: {ex.hint.en}",
            f"아직 답이 없습니다. `answer`에 답을 넣고 이 셀을 다시 실행하세요. 힌트: {ex.hint.ko}",
        )
    if ex.points:
        return _judge_points(ex, answer)
    if ex.options():
        return _judge_choice(ex, answer)
    return _judge_number(ex, answer)


def is_correct(key: str, answer: Any) -> bool:
    """Whether `answer` is right (numbers within the tolerance in any of the forms people write)."""
    return judge(key, answer).correct


def check_answer(key: str, answer: Any, show: Callable[[str], None] = print, lang: str | None = None) -> None:
    """Print the verdict on a trainee's answer in the course language and offer the solution behind a button
    (`judge` returns the verdict itself)."""
    from sim.learn import notebook

    lang = lang or notebook.current_language()
    show(judge(key, answer).text(lang))
    notebook.solution_button(key, lang)


# -- the chapter's question and solution ---------------------------------------------------------------------


def _chapter_file(chapter: int, lang: str) -> Path | None:
    found = sorted(PLAYBOOK[lang].glob(f"{chapter:02d}_*.md"))
    return found[0] if found else None


_ITEM = re.compile(r"^(\d+)\.\s+(.*)$")
_FIG = re.compile(r"<!--fig:[A-Za-z0-9_]+-->(.*?)<!--/fig-->", re.S)


def _numbered(block: str) -> dict[int, str]:
    """The items of a Markdown numbered list, continuation lines included (indentation removed)."""
    items: dict[int, list[str]] = {}
    current = None
    for line in block.splitlines():
        m = _ITEM.match(line)
        if m:
            current = int(m.group(1))
            items[current] = [m.group(2)]
        elif current is not None and (line.startswith("   ") or not line.strip()):
            items[current].append(line[3:] if line.startswith("   ") else "")
        elif current is not None:
            current = None
    return {n: "\n".join(lines).strip() for n, lines in items.items()}


@cache
def chapter_exercises(chapter: int, lang: str = "en") -> tuple[dict[int, str], dict[int, str]]:
    """The chapter's exercises and solutions (number -> Markdown, figure marks replaced by their text)."""
    path = _chapter_file(chapter, lang)
    if path is None:
        raise FileNotFoundError(f"no chapter {chapter} in {PLAYBOOK[lang]}")
    text = _FIG.sub(r"\1", path.read_text(encoding="utf-8"))
    details = text.rfind("<details>")
    end = text.find("</details>", details)
    if details < 0 or end < 0:
        raise ValueError(f"{path}: no <details> block with the solutions")
    heading = text.rfind("\n## ", 0, details)
    questions = _numbered(text[heading:details])
    solutions = _numbered(text[text.find("\n", details) : end])
    return questions, solutions


def _split_key(key: str) -> tuple[int, int]:
    m = re.fullmatch(r"ch(\d+)_q(\d+)", key)
    if not m:
        raise KeyError(f"unknown exercise {key!r}")
    return int(m.group(1)), int(m.group(2))


def _chapter_text(key: str, lang: str, part: int) -> tuple[str, str]:
    """(text, language it is in): the chapter's own text, in English when the Korean chapter lacks it."""
    chapter, number = _split_key(key)
    for language in dict.fromkeys((lang, "en")):
        try:
            found = chapter_exercises(chapter, language)[part]
        except FileNotFoundError:
            continue
        if number in found:
            return found[number], language
    raise KeyError(f"chapter {chapter} has no exercise {number}")


def question(key: str, lang: str = "en") -> str:
    """The exercise as the chapter asks it, with what the check cell wants, as Markdown."""
    ex = _exercise(key)
    text, found = _chapter_text(key, lang, 0)
    _, number = _split_key(key)
    note = "" if found == lang else "\n\n*(한국어 장이 아직 없어 영어 원문을 보여 드립니다.)*"
    if ex.how is not None:
        how = ex.how.get(lang)
    elif ex.points or ex.options():
        en, ko = _choices_text(ex.options())
        how = Bi(f"In the check cell, answer with one of {en}.", f"확인 셀에는 {ko} 가운데 하나로 답하세요.").get(lang)
    else:
        how = Bi(
            f"In the check cell, answer with {UNITS[ex.unit].en}.", f"확인 셀에는 {UNITS[ex.unit].ko}로 답하세요."
        ).get(lang)
    return f"**{number}.** {text}{note}\n\n{how}"


def solution(key: str, lang: str = "en") -> str:
    """The chapter's solution of the exercise, as Markdown (figures as the chapter quotes them)."""
    text, found = _chapter_text(key, lang, 1)
    note = "" if found == lang else "\n\n*(한국어 풀이가 아직 없어 영어 풀이를 보여 드립니다.)*"
    return text + note


def show_solution(key: str, lang: str | None = None) -> None:
    """Display the solution of an exercise (for readers without the button)."""
    from sim.learn import notebook

    notebook.show_markdown(solution(key, lang or notebook.current_language()))


def show_question(key: str, lang: str | None = None) -> None:
    """Display the exercise as the chapter asks it, and what the check cell below it wants."""
    from sim.learn import notebook

    notebook.show_markdown(question(key, lang or notebook.current_language()))
