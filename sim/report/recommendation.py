"""The recommendation in words: where its gain comes from, what to do month by month, how the budget should
move, what it hinges on, and why a figure may move against intuition.

Each function reads `sim.report.data.ReportData` (the optimizer's figures, written once) and returns
sentences in the report's language; the notebook only places them. Every amount is formatted by
`fmt_amount`, so a figure reads the same in the text, the tables and the charts. A part of the gain whose 90%
band spans zero is called uncertain, never credited as a gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from sim.model.scenario import PURPOSES
from sim.report.data import ReportData
from sim.report.i18n import fmt_amount, fmt_date, fmt_number, fmt_percent, fmt_ratio, fmt_roi, listing, t
from sim.report.plans import FRONT_KPIS, plan_rows

SHORT_HORIZON_MONTHS = 12  # a shorter horizon leaves out most of what a customer won now is worth: said so
MIN_ACTION_SHARE = 0.05  # a change of a purpose's spend under 5% of the monthly budget is not an action
UNEQUAL_MARGINS = 0.1  # recommended-plan marginal ROIs this far apart are explained (`unequal_margins_note`)
MIN_PART_SHARE = 0.005  # a part of the gain under 0.5% of the current plan's value is "no change"
MORE_BACK = 0.05  # a break-even where the best back-end share is 5 points above the recommendation's
SHARE_INPUTS = ("first_purchase.monthly_conversion", "winback.base_reactivation", "economics.gross_margin")
MONEY_INPUTS = ("economics.order_value_mean", "retention.half_saturation_per_customer")
MULTIPLE_INPUTS = ("retention.effect", "channels.reach.max_reach")
SIGNIFICANT = 4  # digits of an input without a unit (a repeat-purchase parameter) in the break-even texts


def money(data: ReportData, value: float | None, lang: str) -> str:
    return fmt_amount(value, data.currency, lang)


def signed_money(data: ReportData, value: float | None, lang: str) -> str:
    """+₩4.2M / −₩1.7M: a change, with its sign."""
    if value is None or not math.isfinite(value):
        return money(data, value, lang)
    text = money(data, abs(value), lang)
    return ("+" if value >= 0 else "−") + text


# -- where the gain comes from ------------------------------------------------------------------------------


def part_is_uncertain(value: float, p05: float, p95: float) -> bool:
    """A part whose 90% band spans zero (or whose expected value lies on the other side of zero from its
    band) cannot be credited with a sign."""
    return p05 < 0.0 < p95 or (p05 >= 0.0 and value < 0.0) or (p95 <= 0.0 and value > 0.0)


def gain_reading(data: ReportData, lang: str) -> str:
    """One sentence crediting each part of the gain truthfully: parts with a band clear of zero as gains (or
    losses), parts whose band spans zero as uncertain, parts that do not move as unchanged."""
    gain = data.gain
    if gain is None or gain.empty:
        return ""
    scale = abs(float(data.plan.get("current_value") or 0.0))
    clear, costs, uncertain, unchanged = [], [], [], []
    for row in sorted(gain.to_dict("records"), key=lambda r: -abs(r["value"])):
        name = t(f"gain.part.{row['part']}", lang)
        fmt = {
            "part": name,
            "value": signed_money(data, row["value"], lang),
            "p05": signed_money(data, row["p05"], lang),
            "p95": signed_money(data, row["p95"], lang),
        }
        small = MIN_PART_SHARE * scale
        if max(abs(row["value"]), abs(row["p05"]), abs(row["p95"])) <= small:
            unchanged.append(name)
        elif part_is_uncertain(row["value"], row["p05"], row["p95"]):
            uncertain.append(t("gain.item", lang, **fmt))
        else:
            (clear if row["value"] > 0 else costs).append(t("gain.item", lang, **fmt))
    texts = []
    if clear:
        texts.append(t("gain.clear", lang, items="; ".join(clear)))
    if costs:
        texts.append(t("gain.costs", lang, items="; ".join(costs)))
    if uncertain:
        texts.append(t("gain.uncertain", lang, items="; ".join(uncertain)))
    if unchanged:
        texts.append(t("gain.unchanged", lang, items=listing(unchanged, lang)))
    return " ".join(texts)


# -- the plan month by month ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A dated change of the plan: from this month, these purposes' spend a month moves; a gradual change
    (`until` set) moves a step every period from `start` to `until`, by these amounts in all. `earlier`: the
    purposes whose spend had moved in smaller steps since the last action told it, with the level told then."""

    start: date
    changes: tuple[tuple[str, float, float], ...]  # (purpose, spend a month before, after)
    until: date | None = None  # the first day of the last period of a gradual change
    earlier: tuple[tuple[str, float], ...] = ()  # (purpose, spend a month the summary last gave for it)


def plan_actions(data: ReportData) -> list[Action]:
    """The recommended plan's changes in date order: at its first period against the current plan, then at
    every period where a purpose's spend a month moves by at least `MIN_ACTION_SHARE` of the budget; runs of
    smaller steps the same way are one gradual change, told when they add up to that much (so a plan that
    moves a little every quarter is not read as standing still). An action lists every purpose that moves in
    it, so its moves add up to the change of the budget; a purpose that had moved in smaller steps since it
    was last told carries that level (`earlier`), so the reader can follow each purpose from action to action."""
    path = data.path
    if path is None or path.empty:
        return []
    cur = plan_rows(path, "current")
    rec = plan_rows(path, "recommended")
    rows = [cur.iloc[0]] + [rec.iloc[k] for k in range(len(rec))]  # the current plan, then each period

    def spend(row) -> np.ndarray:
        return np.array([float(row[f"{p}_per_month"]) for p in PURPOSES])

    def changes(before, after) -> tuple[tuple[str, float, float], ...]:
        """Every purpose that moves, when one of them moves by at least the threshold; else ()."""
        budget = max(float(after["budget_per_month"]), float(before["budget_per_month"]), 1e-12)
        a, b = spend(before), spend(after)
        if not (np.abs(b - a) >= MIN_ACTION_SHARE * budget).any():
            return ()
        return tuple((p, a[j], b[j]) for j, p in enumerate(PURPOSES) if abs(b[j] - a[j]) > 1e-9 * budget)

    def moves(before, after) -> bool:
        return bool(np.abs(spend(after) - spend(before)).max() > 1e-9 * max(float(after["budget_per_month"]), 1.0))

    told = dict(zip(PURPOSES, spend(rows[0]), strict=True))  # what the summary last said each purpose gets
    actions: list[Action] = []

    def tell(start: date, moved: tuple, until: date | None = None) -> None:
        tol = 1e-9 * max(float(rows[0]["budget_per_month"]), 1.0)
        earlier = tuple((p, told[p]) for p, before, _ in moved if abs(before - told[p]) > tol)
        actions.append(Action(start, moved, until, earlier))
        told.update({p: after for p, _, after in moved})

    k = 1
    while k < len(rows):
        big = changes(rows[k - 1], rows[k])
        if big or k == 1 or not moves(rows[k - 1], rows[k]):  # a step of its own (the first: against today's)
            if big:
                tell(date.fromisoformat(str(rows[k]["start"])), big)
            k += 1
            continue
        end = k  # a run of small steps, each purpose moving one way (or not at all)
        while (
            end + 1 < len(rows)
            and moves(rows[end], rows[end + 1])
            and not changes(rows[end], rows[end + 1])
            and _same_way(rows, k - 1, end + 1, spend)
        ):
            end += 1
        total = changes(rows[k - 1], rows[end])
        if total:
            start, until = (date.fromisoformat(str(rows[i]["start"])) for i in (k, end))
            tell(start, total, until if end > k else None)
        k = end + 1
    return actions


def _same_way(rows: list, first: int, last: int, spend) -> bool:
    """Whether every purpose's spend a month moves one way only (or not at all) from row `first` to `last`."""
    steps = np.diff(np.stack([spend(rows[i]) for i in range(first, last + 1)]), axis=0)
    return bool(np.all((steps >= -1e-9).all(axis=0) | (steps <= 1e-9).all(axis=0)))


def action_text(data: ReportData, action: Action, lang: str) -> str:
    """'From Oct 2028: back-end from ₩0 to ₩2.1M a month; front-end from ₩24.0M to ₩21.2M a month.'; a
    gradual change: 'From Apr 2026 to Jan 2028, a little every quarter: ...'; a purpose that had moved in
    smaller steps since it was last told: '... from ₩23.6M (after smaller steps from ₩24M) to ...'."""
    items, earlier = [], dict(action.earlier)
    for purpose, before, after in action.changes:
        key = "actions.start" if before <= 0 else ("actions.stop" if after <= 0 else "actions.move")
        item = t(
            key,
            lang,
            purpose=t(f"purpose_text.{purpose}", lang),
            before=money(data, before, lang),
            after=money(data, after, lang),
        )
        if purpose in earlier:  # it had moved in smaller steps since the summary last gave its spend
            item += t(
                "actions.earlier", lang, before=money(data, before, lang), told=money(data, earlier[purpose], lang)
            )
        items.append(item)
    month = fmt_date(action.start, lang, day=False)
    if action.until is None:
        return t("actions.item", lang, month=month, items="; ".join(items))
    period = t(f"period.{(data.plans or {}).get('period') or 'quarter'}", lang)
    until = fmt_date(action.until, lang, day=False)
    return t("actions.gradual", lang, month=month, until=until, period=period, items="; ".join(items))


def first_actions(data: ReportData, lang: str, limit: int = 3) -> list[str]:
    """The first `limit` actions of the recommended plan by month, in words."""
    return [action_text(data, a, lang) for a in plan_actions(data)[:limit]]


# -- budget advice ----------------------------------------------------------------------------------------


def budget_advice(data: ReportData, lang: str) -> list[str]:
    """The optimizer's advice at the recommended plan in words: raise a purpose while its marginal ROI stays
    above the hurdle, cut one below it; and in one line, spend more or spend less in total."""
    plans = data.plans or {}
    advice = plans.get("advice") or []
    hurdle = float(plans.get("hurdle_rate") or 0.0)
    texts = []
    for a in advice:
        fmt = {
            "purpose": t(f"purpose_text.{a['purpose']}", lang),
            "amount": money(data, a["amount_per_month"], lang),
            "spend": money(data, a["spend_per_month"], lang),
            "roi": fmt_roi(a["marginal_roi"], lang),
            "hurdle": fmt_roi(hurdle, lang),
        }
        # a cut of the whole spend is advice to stop the purpose (every cut up to all of it still pays)
        stop = a["direction"] == "cut" and a["amount_per_month"] >= a["spend_per_month"] * (1.0 - 1e-9) > 0.0
        key = "advice.stop" if stop else f"advice.{a['direction']}"
        if a["direction"] == "hold" and a.get("first_step_roi") is not None:  # why not move, with the figure
            key = "advice.hold_low" if a.get("tried") == "cut" else "advice.hold_high"
            fmt["step"] = fmt_roi(a["first_step_roi"], lang)
        elif a["direction"] == "hold" and not a["spend_per_month"]:  # empty, and its first units do not pay
            key = "advice.leave_empty"
        if a["direction"] == "raise" and a.get("whole_range"):  # the bound of the range tried, not the hurdle's
            key = "advice.raise_beyond"
        texts.append(t(key, lang, **fmt))
    unequal = unequal_margins_note(data, lang)
    if unequal:
        texts.append(unequal)
    # "spend less" speaks of the money being spent: a purpose the plan leaves empty has nothing to cut
    rois = [a["marginal_roi"] for a in advice if a.get("marginal_roi") is not None and a["spend_per_month"] > 0]
    raise_, cut = (any(a["direction"] == d for a in advice) for d in ("raise", "cut"))
    if rois and all(r < hurdle for r in rois):
        key = "advice.spend_less_level" if plans.get("budget_level_free") else "advice.spend_less"
        texts.append(t(key, lang, hurdle=fmt_roi(hurdle, lang)))
    elif raise_ and not plans.get("budget_level_free"):
        # raise one and cut another: money moves between them first; when they spend in different periods it
        # is the budget's placement in time that the advice points at, not its size
        moved = [[a["purpose"] for a in advice if a["direction"] == d] for d in ("raise", "cut")]
        key = (
            "advice.budget_too_small"
            if not cut
            else "advice.budget_in_time"
            if _apart(data, *moved)
            else "advice.rebalance"
        )
        texts.append(t(key, lang, hurdle=fmt_roi(hurdle, lang)))
    return texts


def planning_rules(data: ReportData, lang: str) -> str:
    """The rules the recommended plan keeps (the scenario's planning section) in one sentence, so a client reads
    which limits shaped the answer, or that none did and how often the split may change."""
    plans = data.plans or {}
    rules = plans.get("constraints") or {}
    channels = data.meta.get("channels") or {}
    period = t(f"period.{plans.get('period') or 'quarter'}", lang)
    items = []
    for key in ("min_share", "max_share"):
        for purpose, share in (rules.get(key) or {}).items():
            items.append(
                t(f"rules.{key}", lang, purpose=t(f"purpose_text.{purpose}", lang), share=fmt_percent(share, lang, 0))
            )
    for key in ("min_channel", "max_channel"):
        for channel, amount in (rules.get(key) or {}).items():
            items.append(
                t(f"rules.{key}", lang, channel=channels.get(channel, channel), amount=money(data, amount, lang))
            )
    for key in ("monthly_cap", "budget_cap"):
        if rules.get(key) is not None:
            items.append(t(f"rules.{key}", lang, amount=money(data, rules[key], lang)))
    if rules.get("payback_within_months") is not None:
        items.append(t("rules.payback", lang, months=fmt_number(rules["payback_within_months"], lang)))
    if rules.get("hurdle_rate"):
        items.append(t("rules.hurdle", lang, hurdle=fmt_roi(rules["hurdle_rate"], lang)))
    if not items:
        return t("rules.none", lang, period=period)
    return t("rules.set", lang, period=period, items=listing(items, lang))


def unequal_margins_note(data: ReportData, lang: str) -> str:
    """Why the recommended plan's marginal ROIs may differ by `UNEQUAL_MARGINS` or more although the search
    could move budget between the purposes (a reader would otherwise ask why the low one is not cut for the
    high one). When the highest and the lowest spend in different periods (`_apart`), each is an average over
    its own periods, which earn differently; otherwise the search stopped at its smallest step, and finer
    moves (the advice's) can still pay. '' when they are close."""
    from sim.analysis.search import PERIOD_MIN_STEP

    rois = ((data.plans or {}).get("marginal_roi") or {}).get("recommended") or {}
    known = {p: float(rois[p]) for p in PURPOSES if rois.get(p) is not None and math.isfinite(float(rois[p]))}
    if len(known) < 2 or max(known.values()) - min(known.values()) < UNEQUAL_MARGINS:
        return ""
    items = [f"{t(f'purpose_text.{p}', lang)} {fmt_roi(v, lang)}" for p, v in known.items()]
    high, low = max(known, key=known.get), min(known, key=known.get)
    key = "advice.unequal_periods" if _apart(data, [high], [low]) else "advice.unequal"
    return t(key, lang, rois=listing(items, lang), step=fmt_percent(PERIOD_MIN_STEP, lang, 2))


APART_OVERLAP = 0.5  # two purposes whose spend over the periods overlaps less than this spend "in different periods"


def _apart(data: ReportData, first: list[str], second: list[str]) -> bool:
    """Whether the purposes `first` and `second` spend in different periods of the recommended plan: the
    overlap of their spend's spread over the periods (each summing to 1) is under `APART_OVERLAP`."""
    path = data.path
    if path is None or path.empty:
        return False
    rec = plan_rows(path, "recommended")
    spread = []
    for group in (first, second):
        spend = rec[[f"{p}_per_month" for p in group]].to_numpy(dtype=float).sum(axis=1)
        if spend.sum() <= 0:
            return False
        spread.append(spend / spend.sum())
    return bool(np.minimum(*spread).sum() < APART_OVERLAP)


def marginal_step_note(data: ReportData, lang: str) -> str:
    """How a marginal ROI is measured: a tenth more of the purpose's own spend, every month, with the amounts at
    the current plan (`sim.analysis.marginal.marginal_amounts`), and, for a purpose the plan leaves empty, that
    its figure is the return of its first units. Empty without the optimizer's steps."""
    from sim.analysis.marginal import MarginalStep

    steps = ((data.plans or {}).get("marginal_step") or {}).get("current") or {}
    if not steps or any(steps.get(p) is None for p in PURPOSES):
        return ""
    items = [
        t("roi.step_item", lang, amount=money(data, steps[p], lang), purpose=t(f"purpose_text.{p}", lang))
        for p in PURPOSES
    ]
    text = t("roi.step", lang, steps=listing(items, lang))
    shares = (data.plan or {}).get("current_split") or {}
    empty = [t(f"purpose_text.{p}", lang) for p in PURPOSES if shares.get(p) is not None and float(shares[p]) <= 0.0]
    if not empty:
        return text
    step = MarginalStep()
    share = fmt_percent(step.share_of_spend * step.budget_share_if_empty, lang, 1)
    return f"{text} {t('roi.step_empty', lang, purposes=listing(empty, lang), share=share)}"


PHASED_SPREAD = 0.01  # a purpose whose share of a period's budget moves by more than this: a plan over time


def curve_recommended_note(data: ReportData, lang: str) -> str:
    """Where the recommended plan stands against the curve of constant splits: a plan over time is not a point
    of it (a reader would otherwise ask why the plan is not the curve's peak), and what its timing adds; a
    constant plan is read off the curve. '' without a recommendation."""
    plan = data.plan or {}
    share, value = (plan.get("recommended_split") or {}).get("back"), plan.get("recommended_value")
    if share is None or value is None:
        return ""
    fmt = {"share": fmt_percent(float(share), lang, 0), "value": money(data, float(value), lang)}
    path = data.path
    rec = plan_rows(path, "recommended")
    if rec is None or len(rec) < 2:
        return t("curve.recommended", lang, **fmt)
    level = rec["budget_per_month"].to_numpy(dtype=float)
    shares = rec[[f"{p}_per_month" for p in PURPOSES]].to_numpy(dtype=float) / np.maximum(level, 1e-12)[:, None]
    if float(np.ptp(shares, axis=0).max()) <= PHASED_SPREAD:
        return t("curve.recommended", lang, **fmt)
    gain = data.gain
    timing = gain.loc[gain["part"] == "timing", "value"] if gain is not None and not gain.empty else []
    fmt["period"] = t(f"period.{(data.plans or {}).get('period', 'quarter')}", lang)
    fmt["timing"] = signed_money(data, float(timing.iloc[0]), lang) if len(timing) else "–"
    return t("curve.phased", lang, **fmt)


# -- what the recommendation hinges on ---------------------------------------------------------------------


def input_value_text(value: float, parameter: str, currency: str, lang: str) -> str:
    """An uncertain input's value as the report shows it: shares in percent, money in the report's currency,
    multiples of the scenario's value with × (배), other parameters (a model's α, b) to `SIGNIFICANT` digits, so
    95 reads '95', not '95.000', and 0.8409 keeps its digits."""
    if parameter in SHARE_INPUTS:
        return fmt_percent(value, lang, 1)
    if parameter in MONEY_INPUTS:
        return fmt_amount(value, currency, lang)
    if parameter in MULTIPLE_INPUTS:
        return fmt_ratio(value, lang, 2)  # 1.50× / 1.50배
    if not math.isfinite(value) or value == 0:
        return fmt_number(value, lang, 0)
    decimals = max(SIGNIFICANT - 1 - math.floor(math.log10(abs(value))), 0)
    text = fmt_number(value, lang, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class BreakEven:
    """One side of one input where the recommended plan changes."""

    parameter: str
    label: str | None
    side: str  # "low" or "high"
    value: float
    base: float
    split: dict[str, float]  # the best split by purpose at the break-even

    @property
    def distance(self) -> float:
        """How far from the scenario's value, as a log ratio (a factor of 2 either way is the same distance)."""
        return abs(math.log(self.value / self.base)) if self.value > 0 and self.base > 0 else math.inf


def break_evens(data: ReportData) -> list[BreakEven]:
    """Every side of every uncertain input where the recommended plan changes, closest first."""
    be = data.breakevens
    if be is None or be.empty:
        return []
    out = []
    for r in be.to_dict("records"):
        for side in ("low", "high"):
            edge = r.get(f"{side}_breakeven")
            if edge is None or not isinstance(edge, int | float) or not math.isfinite(edge):
                continue
            split = {p: r.get(f"{side}_split_{p}") for p in PURPOSES}
            split = {p: float(v) for p, v in split.items() if isinstance(v, int | float) and math.isfinite(v)}
            out.append(BreakEven(r["parameter"], r.get("label"), side, float(edge), float(r["base_value"]), split))
    return sorted(out, key=lambda b: b.distance)


def breakeven_row(data: ReportData, parameter: str) -> dict | None:
    """One uncertain input's row of the break-evens table (its kind, value, standard error), or None."""
    be = data.breakevens
    if be is None or be.empty or "parameter" not in be:
        return None
    rows = be[be["parameter"] == parameter].to_dict("records")
    return rows[0] if rows else None


def closest_break_even(data: ReportData) -> BreakEven | None:
    found = break_evens(data)
    return found[0] if found else None


def hinge_reading(data: ReportData, lang: str, label) -> str:
    """The assumption the recommendation hinges on (its closest break-even), or that it holds over every
    range tried. `label(parameter, label, lang)` names an input (the catalog's name)."""
    edge = closest_break_even(data)
    if edge is None:
        return t("breakevens.holds", lang)
    row = breakeven_row(data, edge.parameter) or {}
    fitted = row.get("kind") == "fitted"  # from the client's own data already: a longer history, not a check
    return t(
        "breakevens.closest_fitted" if fitted else "breakevens.closest",
        lang,
        input=label(edge.parameter, edge.label, lang),
        side=t(f"breakevens.side.{edge.side}", lang),
        value=input_value_text(edge.value, edge.parameter, data.currency, lang),
        base=input_value_text(edge.base, edge.parameter, data.currency, lang),
    )


def summary_hinge(data: ReportData, lang: str, label) -> list[str]:
    """The executive summary's 'what it hinges on': the closest break-even, and whether the back-end effects
    are measured or assumed; when the closest break-even is the measured effects themselves, the lift test's
    reading alone (it gives that break-even, and what would settle it)."""
    edge = closest_break_even(data)
    beliefs = retention_beliefs(data, lang, label)[0]
    if edge is not None and edge.parameter == "retention.effect" and data.meta.get("retention_measured"):
        return [beliefs]
    return [hinge_reading(data, lang, label), beliefs]


def retention_beliefs(data: ReportData, lang: str, label) -> list[str]:
    """Whether the recommendation rests on assumed back-end effects (no lift test), what one would have to
    believe for retention to deserve more budget (the break-evens where the best back-end share rises), and
    when in the recommended plan back-end money starts."""
    texts = [measured_reading(data, lang) if data.meta.get("retention_measured") else t("beliefs.assumed", lang)]
    rec_back = float((data.plan.get("recommended_split") or {}).get("back", 0.0))
    more = [b for b in break_evens(data) if b.split.get("back", 0.0) >= rec_back + MORE_BACK]
    if more:
        items = [
            t(
                "beliefs.item",
                lang,
                input=label(b.parameter, b.label, lang),
                side=t(f"breakevens.side.{b.side}", lang),
                value=input_value_text(b.value, b.parameter, data.currency, lang),
                base=input_value_text(b.base, b.parameter, data.currency, lang),
                share=fmt_percent(b.split.get("back"), lang, 0),
            )
            for b in more
        ]
        texts.append(t("beliefs.more_back", lang, items="; ".join(items), recommended=fmt_percent(rec_back, lang, 0)))
    else:
        texts.append(t("beliefs.no_more_back", lang, recommended=fmt_percent(rec_back, lang, 0)))
    when = back_end_start(data)
    if when is not None:
        rec, cur = (data.path[data.path["plan"] == name].iloc[0] for name in ("recommended", "current"))
        first = str(rec["start"]) == when[0].isoformat()  # from the plan's first period: at once
        kept = first and float(cur["back_per_month"]) >= MIN_ACTION_SHARE * float(cur["budget_per_month"])
        texts.append(
            t(
                "beliefs.when_kept" if kept else "beliefs.when_first" if first else "beliefs.when",
                lang,
                month=fmt_date(when[0], lang, day=False),
                amount=money(data, when[1], lang),
                share=fmt_percent(when[2], lang, 0),
            )
        )
    return texts


def measured_reading(data: ReportData, lang: str) -> str:
    """What a lift test settles: the back-end effects' standard error (as a factor on the measured sizes) and
    whether the recommended split holds within the range tried (3 standard errors either side) or changes
    inside it, and then how many standard errors from the measurement."""
    row = breakeven_row(data, "retention.effect")
    se = float(row["standard_error"]) if row is not None else math.nan
    if not math.isfinite(se) or se <= 0:
        return t("beliefs.measured", lang)
    edges = [b for b in break_evens(data) if b.parameter == "retention.effect"]
    if not edges:
        return t("beliefs.measured_holds", lang, se=fmt_number(se, lang, 2))
    edge = min(edges, key=lambda b: abs(b.value - b.base))
    return t(
        "beliefs.measured_close",
        lang,
        se=fmt_number(se, lang, 2),
        side=t(f"breakevens.side.{edge.side}", lang),
        value=input_value_text(edge.value, edge.parameter, data.currency, lang),
        z=fmt_number(abs(edge.value - edge.base) / se, lang, 1),
    )


def back_end_start(data: ReportData) -> tuple[date, float, float] | None:
    """The period of the recommended plan from which back-end spend is at least `MIN_ACTION_SHARE` of the budget
    (after periods below it, or from the start): (its first day, back-end spend a month, its share of the
    budget); None when it never is."""
    path = data.path
    if path is None or path.empty:
        return None
    rec = plan_rows(path, "recommended")
    for k in range(len(rec)):
        back, total = float(rec.loc[k, "back_per_month"]), float(rec.loc[k, "budget_per_month"])
        if total > 0 and back >= MIN_ACTION_SHARE * total:
            return date.fromisoformat(str(rec.loc[k, "start"])), back, back / total
    return None


# -- what runs against intuition -----------------------------------------------------------------------------


def retention_composition(data: ReportData, lang: str) -> str:
    """Where the plan with more back-end spend shows the lower 12-month retention (or less spend the higher),
    the numbers behind it: the retention cohort's size and the customers it keeps under both plans. Empty
    when retention moves with the spend."""
    plans = data.plans or {}
    kpis, cohort, back = plans.get("kpis", {}), plans.get("cohort", {}), plans.get("back_spend", {})
    try:
        r_cur, r_rec = kpis["current"]["retention_12m"], kpis["recommended"]["retention_12m"]
        b_cur, b_rec = back["current"], back["recommended"]
        s_cur, s_rec = cohort["current"]["start"], cohort["recommended"]["start"]
        k_cur, k_rec = cohort["current"]["retained"], cohort["recommended"]["retained"]
    except (KeyError, TypeError):
        return ""
    if None in (r_cur, r_rec, b_cur, b_rec, s_cur, s_rec, k_cur, k_rec) or abs(b_rec - b_cur) < 1e-9:
        return ""
    more, higher = b_rec > b_cur, r_rec > r_cur
    if more == higher or fmt_percent(r_rec, lang) == fmt_percent(r_cur, lang):
        return ""  # retention moves with the spend, or not by a difference the report shows
    fmt = {
        "more_plan": t("plan.recommended" if more else "plan.current", lang),
        "less_plan": t("plan.current" if more else "plan.recommended", lang),
        "back_more": money(data, max(b_cur, b_rec), lang),
        "back_less": money(data, min(b_cur, b_rec), lang),
        "r_more": fmt_percent(r_rec if more else r_cur, lang),
        "r_less": fmt_percent(r_cur if more else r_rec, lang),
        "start_more": fmt_number(s_rec if more else s_cur, lang),
        "start_less": fmt_number(s_cur if more else s_rec, lang),
        "kept_more": fmt_number(k_rec if more else k_cur, lang),
        "kept_less": fmt_number(k_cur if more else k_rec, lang),
    }
    kept_more_customers = (k_rec if more else k_cur) >= (k_cur if more else k_rec)
    return t("composition.reading" if kept_more_customers else "composition.fewer", lang, **fmt)


# -- KPI values that are not defined ----------------------------------------------------------------------


def kpi_undefined(name: str, front_spend: float | None) -> bool:
    """CAC, LTV:CAC and payback are not defined for a plan that spends nothing on the front end."""
    return name in FRONT_KPIS and front_spend is not None and front_spend <= 0
