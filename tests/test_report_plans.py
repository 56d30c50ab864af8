"""The recommendation in words and charts, on small inputs: the gain's parts credited by their bands, actions by
month, budget advice, what one must believe, the composition effect on 12-month retention, CAC not defined
without front-end spend, and the promotions' counterfactuals (orders past capacity lose customers)."""

from __future__ import annotations

import math
import re
from datetime import date

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import small

from sim.report import plots
from sim.report import recommendation as reco
from sim.report.data import ReportData
from sim.report.i18n import LANGUAGES, fmt_date, fmt_percent, fmt_ratio, listing, t
from sim.report.markup import plans_kpi_table
from sim.report.plans import undefined_without_front

matplotlib.use("Agg")


def report(**fields) -> ReportData:
    """A ReportData with only the fields a test needs (the rest empty)."""
    base = {
        "meta": {"currency": "KRW", "horizon_months": 24, "retention_measured": False},
        "kpis": {},
        "plan": {"current_value": 1e9, "recommended_split": {"front": 0.7, "back": 0.2, "winback": 0.1}},
        "summary": {},
        **{name: pd.DataFrame() for name in ("funnel", "stages", "revenue", "cohorts", "curve", "marginal", "levers")},
        "breakevens": pd.DataFrame(),
    }
    base.update(fields)
    return ReportData(**base)


def path_frame(current: list[tuple[float, float, float]], recommended: list[tuple[float, float, float]]):
    rows = []
    for plan, spends in (("current", current), ("recommended", recommended)):
        for k, (f, b, w) in enumerate(spends):
            start = pd.Timestamp("2027-01-01") + pd.DateOffset(months=3 * k)
            end = start + pd.DateOffset(months=3) - pd.Timedelta(days=1)
            rows.append(
                {
                    "plan": plan,
                    "period": k + 1,
                    "start": start.date().isoformat(),
                    "end": end.date().isoformat(),
                    "budget_per_month": f + b + w,
                    "front_per_month": f,
                    "back_per_month": b,
                    "winback_per_month": w,
                }
            )
    return pd.DataFrame(rows)


GAIN = pd.DataFrame(
    {
        "part": ["budget_level", "purpose_split", "timing", "channel_mix"],
        "value": [0.0, -2e6, 3e8, 1.5e8],
        "p05": [0.0, -9e7, 2e8, 7e7],
        "p95": [0.0, 9e7, 3.8e8, 2.5e8],
    }
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_part_whose_band_spans_zero_is_called_uncertain_not_a_gain(lang):
    text = reco.gain_reading(report(gain=GAIN), lang)
    clear, _, rest = text.partition(t("gain.uncertain", lang, items="").split(":")[0])
    split = t("gain.part.purpose_split", lang)
    assert t("gain.part.timing", lang) in clear and t("gain.part.channel_mix", lang) in clear
    assert split not in clear and split in rest, text
    assert t("gain.part.budget_level", lang) in rest  # unchanged, said so
    assert reco.part_is_uncertain(-2e6, -9e7, 9e7) and not reco.part_is_uncertain(3e8, 2e8, 3.8e8)


def test_actions_by_month_follow_the_plan_changes():
    path = path_frame(
        [(18e6, 5e6, 1e6)] * 4,
        [(24e6, 0.0, 0.0), (24e6, 0.0, 0.0), (20e6, 4e6, 0.0), (20e6, 4e6, 0.0)],
    )
    data = report(path=path)
    actions = reco.plan_actions(data)
    assert [a.start.isoformat() for a in actions] == ["2027-01-01", "2027-07-01"]
    # win-back's 1M is under 5% on its own, yet it moves in that action: the moves add up to the budget's change
    assert actions[0].changes == (("front", 18e6, 24e6), ("back", 5e6, 0.0), ("winback", 1e6, 0.0))
    for a in actions:
        assert sum(after - before for _, before, after in a.changes) == pytest.approx(0.0)
    assert actions[1].changes == (("front", 24e6, 20e6), ("back", 0.0, 4e6))
    texts = reco.first_actions(data, "en")
    assert texts[0].startswith("From Jan 2027:") and "stop back-end" in texts[0]
    assert "start back-end (retention) at ₩4M a month" in texts[1]
    assert reco.back_end_start(data) == (pd.Timestamp("2027-07-01").date(), 4e6, 4e6 / 24e6)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_plan_that_moves_a_little_every_quarter_is_told_as_one_gradual_change(lang):
    """Steps under the action threshold (5% of the budget) that add up are one gradual change, told once they
    do; every action starts where the one before left the spend, and a drift that never adds up is no action."""
    rec = [(20e6, 4e6, 0.0), (19.4e6, 4.6e6, 0.0), (18.8e6, 5.2e6, 0.0), (18.2e6, 5.8e6, 0.0), (14e6, 10e6, 0.0)]
    rec += [(14e6, 10e6, 0.0), (13.9e6, 10.1e6, 0.0)]  # a flat period, then a drift of 0.4% of the budget
    data = report(path=path_frame([(24e6, 0.0, 0.0)] * 7, rec))
    actions = reco.plan_actions(data)
    assert [(a.start.isoformat(), a.until and a.until.isoformat()) for a in actions] == [
        ("2027-01-01", None),
        ("2027-04-01", "2027-10-01"),
        ("2028-01-01", None),
    ]
    assert actions[1].changes == (("front", 20e6, 18.2e6), ("back", 4e6, 5.8e6))  # the three steps in all
    for before, after in zip(actions[:-1], actions[1:], strict=True):  # each starts where the last one ended
        assert {p: b for p, _, b in before.changes} == {p: a for p, a, _ in after.changes}
    text = reco.action_text(data, actions[1], lang)
    assert t("period.quarter", lang) in text and fmt_date(actions[1].until, lang, day=False) in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_action_after_smaller_unlisted_steps_says_where_the_spend_was_last_told(lang):
    """Front-end goes to 24M, eases to 23.55M in steps under the threshold that change direction with win-back
    (no gradual run), then drops to 21.15M: that action starts from 23.7M, and says it got there from 24M."""
    rec = [(24e6, 0.0, 0.0), (23.85e6, 0.0, 0.15e6), (23.55e6, 0.0, 0.45e6), (23.7e6, 0.0, 0.3e6)]
    rec += [(21.15e6, 2.1e6, 0.75e6)]
    data = report(path=path_frame([(18e6, 4.8e6, 1.2e6)] * 5, rec))
    actions = reco.plan_actions(data)
    assert [a.start.isoformat() for a in actions] == ["2027-01-01", "2028-01-01"]
    assert actions[0].earlier == ()
    assert actions[1].changes == (("front", 23.7e6, 21.15e6), ("back", 0.0, 2.1e6), ("winback", 0.3e6, 0.75e6))
    assert actions[1].earlier == (("front", 24e6), ("winback", 0.0))  # the levels the first action gave
    text = reco.action_text(data, actions[1], lang)
    told = t("actions.earlier", lang, before=reco.money(data, 23.7e6, lang), told=reco.money(data, 24e6, lang))
    assert told in text
    assert t("actions.earlier", lang, before=reco.money(data, 0.0, lang), told=reco.money(data, 0.0, lang)) not in text


def advice(direction: str, roi: float, purpose: str = "front") -> dict:
    return {
        "purpose": purpose,
        "direction": direction,
        "amount_per_month": 1e6,
        "marginal_roi": roi,
        "hurdle_rate": 0.0,
        "spend_per_month": 5e6,
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_cut_of_the_whole_spend_is_advice_to_stop(lang):
    whole = {**advice("cut", -0.9, "winback"), "amount_per_month": 5e6}
    texts = reco.budget_advice(report(plans={"advice": [whole, advice("cut", -0.2)], "hurdle_rate": 0.0}), lang)
    spend, purpose = reco.money(report(), 5e6, lang), t("purpose_text.winback", lang)
    assert texts[0] == t("advice.stop", lang, purpose=purpose, amount=spend, spend=spend, roi="−0.90", hurdle="+0.00")
    part = reco.money(report(), 1e6, lang)  # a cut of part of the spend stays a cut
    front = t("purpose_text.front", lang)
    assert texts[1] == t("advice.cut", lang, purpose=front, amount=part, spend=spend, roi="−0.20", hurdle="+0.00")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_purpose_held_where_its_marginal_roi_points_away_says_what_the_step_returns(lang):
    """Hold with a negative marginal ROI: cutting a tenth loses more than it saves, and the text gives that
    figure (a reader would otherwise ask why a unit returning -0.84 is not cut); likewise for a raise."""
    low = {**advice("hold", -0.84), "tried": "cut", "first_step_roi": 0.27, "amount_per_month": 0.0}
    high = {**advice("hold", 0.4, "back"), "tried": "raise", "first_step_roi": -0.1, "amount_per_month": 0.0}
    texts = reco.budget_advice(report(plans={"advice": [low, high], "hurdle_rate": 0.0}), lang)
    spend = reco.money(report(), 5e6, lang)
    front, back = t("purpose_text.front", lang), t("purpose_text.back", lang)
    assert texts[0] == t("advice.hold_low", lang, purpose=front, spend=spend, roi="−0.84", step="+0.27", hurdle="+0.00")
    assert texts[1] == t("advice.hold_high", lang, purpose=back, spend=spend, roi="+0.40", step="−0.10", hurdle="+0.00")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_marginal_roi_note_gives_each_purposes_own_step_and_says_when_it_is_a_first_unit(lang):
    """A marginal ROI adds a tenth of the purpose's own spend: the note gives the amounts the optimizer used at
    the current plan, and, for a purpose that plan leaves empty, that its figure is for the first units."""
    steps = {"current": {"front": 0.9e6, "back": 0.1e6, "winback": 0.05e6}, "recommended": {}}
    plan = {"monthly_budget_mean": 10e6, "current_split": {"front": 0.9, "back": 0.1, "winback": 0.0}}
    data = report(plan=plan, plans={"marginal_step": steps})
    items = [
        t("roi.step_item", lang, amount=reco.money(data, v, lang), purpose=t(f"purpose_text.{p}", lang))
        for p, v in steps["current"].items()
    ]
    step = t("roi.step", lang, steps=listing(items, lang))
    empty = t("roi.step_empty", lang, purposes=t("purpose_text.winback", lang), share=fmt_percent(0.005, lang, 1))
    assert reco.marginal_step_note(data, lang) == f"{step} {empty}"
    full = {**plan, "current_split": {"front": 0.8, "back": 0.1, "winback": 0.1}}
    assert reco.marginal_step_note(report(plan=full, plans={"marginal_step": steps}), lang) == step
    assert reco.marginal_step_note(report(plan=full), lang) == ""  # no optimizer, no steps to name


@pytest.mark.parametrize("lang", LANGUAGES)
def test_unequal_marginal_rois_at_the_recommended_plan_are_explained_not_left_as_a_puzzle(lang):
    """Marginal ROIs 0.5 apart at the recommended plan: the advice says why budget is not moved between them.
    When the highest and the lowest spend in different periods, each is an average over its own periods;
    when they spend in the same ones, the search stopped at its smallest step. Close ones need no word."""
    rois = {"front": 1.09, "back": 0.56, "winback": 0.9}
    apart = path_frame([(18e6, 6e6, 0.0)] * 2, [(23e6, 0.0, 1e6), (0.0, 23e6, 1e6)])
    together = path_frame([(18e6, 6e6, 0.0)] * 2, [(17e6, 6e6, 1e6), (17e6, 6e6, 1e6)])
    items = [f"{t(f'purpose_text.{p}', lang)} {reco.fmt_roi(v, lang)}" for p, v in rois.items()]
    fmt = {"rois": listing(items, lang), "step": fmt_percent(0.0125, lang, 2)}
    for path, key in ((apart, "advice.unequal_periods"), (together, "advice.unequal")):
        plans = {"advice": [advice("raise", 1.09)], "hurdle_rate": 0.0, "marginal_roi": {"recommended": rois}}
        texts = reco.budget_advice(report(path=path, plans=plans), lang)
        assert t(key, lang, **fmt) in texts
    close = {
        "advice": [advice("raise", 1.0)],
        "hurdle_rate": 0.0,
        "marginal_roi": {"recommended": dict.fromkeys(rois, 1.0)},
    }
    assert reco.unequal_margins_note(report(path=apart, plans=close), lang) == ""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_plan_over_time_is_not_read_off_the_curve_of_constant_splits(lang):
    """The curve holds one split for the whole horizon: a recommendation whose split changes between quarters is
    said not to be a point of it, with what its timing is worth; a constant one is read off the curve."""
    plan = {
        "current_value": 1e9,
        "recommended_split": {"front": 0.7, "back": 0.24, "winback": 0.06},
        "recommended_value": 1.4e9,
    }
    phased = path_frame([(18e6, 6e6, 0.0)] * 2, [(24e6, 0.0, 0.0), (16e6, 7e6, 1e6)])
    constant = path_frame([(18e6, 6e6, 0.0)] * 2, [(17e6, 6e6, 1e6), (17e6, 6e6, 1e6)])
    fmt = {"share": fmt_percent(0.24, lang, 0), "value": reco.money(report(), 1.4e9, lang)}
    text = reco.curve_recommended_note(report(plan=plan, path=phased, gain=GAIN, plans={"period": "quarter"}), lang)
    timing = reco.signed_money(report(), 3e8, lang)
    assert text == t("curve.phased", lang, **fmt, period=t("period.quarter", lang), timing=timing)
    assert reco.curve_recommended_note(report(plan=plan, path=constant, gain=GAIN), lang) == t(
        "curve.recommended", lang, **fmt
    )
    assert reco.curve_recommended_note(report(plan={"current_value": 1e9}), lang) == ""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_empty_purpose_whose_first_units_do_not_pay_is_left_empty_not_held_at_a_tenth(lang):
    """Win-back gets nothing and its first units return -0.4: nothing to cut, so the advice says to leave it
    empty (no 'the last tenth of its spend' of a spend that does not exist)."""
    empty = {**advice("hold", -0.4, "winback"), "tried": "cut", "first_step_roi": None, "spend_per_month": 0.0}
    texts = reco.budget_advice(report(plans={"advice": [empty], "hurdle_rate": 0.0}), lang)
    assert texts[0] == t(
        "advice.leave_empty", lang, purpose=t("purpose_text.winback", lang), roi="−0.40", hurdle="+0.00"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_raise_that_pays_as_far_as_was_tried_is_not_called_a_limit(lang):
    """A raise that still paid at the largest step tried is "at least" that much, not "up to" it."""
    beyond = {**advice("raise", 0.9), "whole_range": True}
    texts = reco.budget_advice(
        report(plans={"advice": [beyond, advice("raise", 0.5, "back")], "hurdle_rate": 0.0}), lang
    )
    part, spend = reco.money(report(), 1e6, lang), reco.money(report(), 5e6, lang)
    front, back = t("purpose_text.front", lang), t("purpose_text.back", lang)
    fmt = {"amount": part, "spend": spend, "hurdle": "+0.00"}
    assert texts[0] == t("advice.raise_beyond", lang, purpose=front, roi="+0.90", **fmt)
    assert texts[1] == t("advice.raise", lang, purpose=back, roi="+0.50", **fmt)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_budget_advice_says_spend_less_when_every_unit_earns_below_the_hurdle(lang):
    cut = {"advice": [advice("cut", -0.2), advice("cut", -0.1, "back"), advice("hold", -0.6, "winback")]}
    texts = reco.budget_advice(report(plans={**cut, "hurdle_rate": 0.0}), lang)
    assert texts[-1] == t("advice.spend_less", lang, hurdle="+0.00")
    assert texts[0] == t(
        "advice.cut",
        lang,
        purpose=t("purpose_text.front", lang),
        amount=reco.money(report(), 1e6, lang),
        spend=reco.money(report(), 5e6, lang),
        roi="−0.20",
        hurdle="+0.00",
    )
    raise_ = {"advice": [advice("raise", 0.8), advice("hold", -0.1, "winback")], "hurdle_rate": 0.0}
    texts = reco.budget_advice(report(plans=raise_), lang)
    assert texts[-1] == t("advice.budget_too_small", lang, hurdle="+0.00")
    assert not any(x == t("advice.spend_less", lang, hurdle="+0.00") for x in texts)
    # a plan that spends nothing (a capped search lowered every level to zero) has nothing to cut
    empty = [
        {**advice("hold", r, p), "spend_per_month": 0.0, "amount_per_month": 0.0}
        for r, p in ((-0.6, "front"), (-0.7, "back"))
    ]
    texts = reco.budget_advice(report(plans={"advice": empty, "hurdle_rate": 0.0}), lang)
    assert not any(x == t("advice.spend_less", lang, hurdle="+0.00") for x in texts)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_spend_less_with_a_free_budget_level_does_not_say_the_search_kept_the_budget(lang):
    cut = {"advice": [advice("cut", -0.2), advice("cut", -0.1, "back")], "hurdle_rate": 0.0}
    texts = reco.budget_advice(report(plans={**cut, "budget_level_free": True}), lang)
    assert texts[-1] == t("advice.spend_less_level", lang, hurdle="+0.00")
    assert "--budget-cap" not in texts[-1]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_rules_the_plan_keeps_are_stated_each_with_its_figure(lang):
    """The planning section's limits, each in words with its figure and the plan's period; none set: said so."""
    rules = {
        "min_share": {"back": 0.1},
        "max_share": {"winback": 0.05},
        "min_channel": {},
        "max_channel": {"search_ads": 4_000_000.0},
        "monthly_cap": None,
        "payback_within_months": 9.0,
        "hurdle_rate": 0.2,
        "budget_cap": 30_000_000.0,
    }
    data = report(
        plans={"constraints": rules, "period": "half"}, meta={**report().meta, "channels": {"search_ads": "Search ads"}}
    )
    text = reco.planning_rules(data, lang)
    items = [
        t("rules.min_share", lang, purpose=t("purpose_text.back", lang), share=fmt_percent(0.1, lang, 0)),
        t("rules.max_share", lang, purpose=t("purpose_text.winback", lang), share=fmt_percent(0.05, lang, 0)),
        t("rules.max_channel", lang, channel="Search ads", amount=reco.money(data, 4e6, lang)),
        t("rules.budget_cap", lang, amount=reco.money(data, 3e7, lang)),
        t("rules.payback", lang, months="9"),
        t("rules.hurdle", lang, hurdle="+0.20"),
    ]
    assert text == t("rules.set", lang, period=t("period.half", lang), items=listing(items, lang))
    none = {k: ({} if isinstance(v, dict) else None) for k, v in rules.items()} | {"hurdle_rate": 0.0}
    text = reco.planning_rules(report(plans={"constraints": none, "period": "quarter"}), lang)
    assert text == t("rules.none", lang, period=t("period.quarter", lang))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_raise_one_cut_another_in_a_plan_over_time_is_about_when_the_budget_is_spent(lang):
    """Front-end early returns more than the hurdle, back-end late less: that is advice on when the budget is
    spent, not 'the budget is too small'; when the two spend in the same periods, money moves between them
    first; with raises only, the budget is too small."""
    mixed = {"advice": [advice("raise", 0.4), advice("cut", -0.6, "back")], "hurdle_rate": 0.0}
    apart = path_frame([(18e6, 6e6, 0.0)] * 2, [(24e6, 0.0, 0.0), (0.0, 24e6, 0.0)])
    together = path_frame([(18e6, 6e6, 0.0)] * 2, [(18e6, 6e6, 0.0)] * 2)
    small = t("advice.budget_too_small", lang, hurdle="+0.00")
    texts = reco.budget_advice(report(path=apart, plans=mixed), lang)
    assert t("advice.budget_in_time", lang, hurdle="+0.00") in texts and small not in texts
    texts = reco.budget_advice(report(path=together, plans=mixed), lang)
    assert t("advice.rebalance", lang, hurdle="+0.00") in texts and small not in texts
    raises = {"advice": [advice("raise", 0.4), advice("raise", 0.2, "back")], "hurdle_rate": 0.0}
    assert small in reco.budget_advice(report(path=apart, plans=raises), lang)


def test_cac_is_not_defined_without_front_end_spend_never_zero():
    kpis = {"cac": 0.0, "ltv_cac": math.inf, "payback_months": None, "clv": 9e4}
    kept = undefined_without_front(kpis, 0.0)
    assert kept == {"cac": None, "ltv_cac": None, "payback_months": None, "clv": 9e4}
    assert undefined_without_front(kpis, 1.0) is kpis
    for lang in LANGUAGES:
        page = plans_kpi_table(
            {"current": {"cac": 15000.0, "clv": 9e4}, "recommended": kept},
            ["cac", "clv"],
            lang=lang,
            currency="KRW",
            front_spend={"current": 1e8, "recommended": 0.0},
        )
        row = re.search(r'<tr data-kpi="cac"[^>]*>(.*?)</tr>', page).group(1)
        cells = re.findall(r"<td>([^<]*)</td>", row)
        assert cells[2] == t("kpis.not_defined_front", lang), cells
        assert "0" not in cells[2] and "nan" not in page.lower() and "None" not in page


def test_retention_composition_is_explained_with_the_cohorts_numbers():
    plans = {
        "kpis": {"current": {"retention_12m": 0.7246}, "recommended": {"retention_12m": 0.7231}},
        "back_spend": {"current": 1.0e8, "recommended": 2.0e8},
        "cohort": {
            "current": {"start": 12998.0, "retained": 9419.0},
            "recommended": {"start": 13800.0, "retained": 9985.0},
        },
    }
    text = reco.retention_composition(report(plans=plans), "en")
    for figure in ("72.5%", "72.3%", "12,998", "13,800", "9,419", "9,985", "₩200M", "₩100M"):
        assert figure in text, (figure, text)
    assert text.startswith("Why the recommended plan")
    # retention moving with the spend needs no explanation
    plans["kpis"]["recommended"]["retention_12m"] = 0.74
    assert reco.retention_composition(report(plans=plans), "en") == ""


def breakevens() -> pd.DataFrame:
    nan = float("nan")
    rows = [
        ("retention.effect", "Back-end effect", 1.0, nan, 1.5, 0.125, 8.0, {"back": 0.2}, {"back": 0.45}),
        ("economics.gross_margin", "Gross margin", 0.65, 0.2, nan, 0.08, 1.0, {"back": 0.22}, {}),
        ("winback.base_reactivation", "Win-back", 0.025, nan, nan, 0.003, 0.2, {}, {}),
    ]
    out = []
    for p, label, base, lo, hi, lo_t, hi_t, lo_s, hi_s in rows:
        row = {"parameter": p, "label": label, "kind": "assumed", "base_value": base, "standard_error": nan}
        row |= {"low_breakeven": lo, "high_breakeven": hi, "low_tried": lo_t, "high_tried": hi_t}
        for side, split in (("low", lo_s), ("high", hi_s)):
            row |= {f"{side}_split_{q}": split.get(q, nan) for q in ("front", "back", "winback")}
        out.append(row)
    return pd.DataFrame(out)


def test_a_model_parameter_in_the_break_evens_shows_its_significant_digits_not_padding():
    shown = [reco.input_value_text(v, "repeat_purchase.alpha", "KRW", "en") for v in (95.0, 35.6251, 760.0, 0.84089)]
    assert shown == ["95", "35.63", "760", "0.8409"]
    assert reco.input_value_text(12345.6, "repeat_purchase.alpha", "KRW", "ko") == "12,346"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_what_one_must_believe_for_retention_to_deserve_more(lang):
    data = report(breakevens=breakevens(), path=path_frame([(9.0, 1.0, 0.0)] * 2, [(10.0, 0.0, 0.0), (6.0, 4.0, 0.0)]))
    texts = reco.retention_beliefs(data, lang, plots.input_label)
    assert texts[0] == t("beliefs.assumed", lang)
    assert fmt_ratio(1.5, lang, 2) in texts[1] and "45%" in texts[1]  # the effect above 1.5x gives back-end 45%
    assert "20.0%" not in texts[1]  # a gross margin below 20% gives back-end 22%: not 5 points above 20%
    assert fmt_month(lang) in texts[2]
    measured = report(breakevens=breakevens(), meta={**report().meta, "retention_measured": True})
    assert reco.retention_beliefs(measured, lang, plots.input_label)[0] == t("beliefs.measured", lang)
    closest = reco.closest_break_even(data)
    assert (closest.parameter, closest.side) == ("retention.effect", "high")  # log distance 0.41 < 1.18


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_lift_test_that_does_not_settle_the_split_is_said_so(lang):
    """Measured back-end effects: the reading gives their standard error and, when the plan changes within
    the 3 standard errors tried, how many standard errors from the measurement; otherwise that it holds."""
    meta = {**report().meta, "retention_measured": True}
    fitted = breakevens()
    fitted.loc[0, ["kind", "standard_error"]] = ["fitted", 0.25]
    close = reco.retention_beliefs(report(breakevens=fitted, meta=meta), lang, plots.input_label)[0]
    assert close.startswith(t("beliefs.measured_close", lang, se="", side="", value="", z="")[:20])
    assert "0.25" in close and fmt_ratio(1.5, lang, 2) in close and "2.0" in close  # (1.5 - 1.0) / 0.25 standard errors
    fitted.loc[0, "high_breakeven"] = float("nan")
    holds = reco.retention_beliefs(report(breakevens=fitted, meta=meta), lang, plots.input_label)[0]
    assert holds == t("beliefs.measured_holds", lang, se="0.25")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_summary_says_what_the_plan_hinges_on_once_and_as_fitted_or_assumed(lang):
    """The executive summary: a measured effect that is also the closest break-even is read once, by the
    lift test's reading (not again as 'check this input'); a fitted input is not sent to be checked against
    the client's data it came from; an assumed one is."""
    meta = {**report().meta, "retention_measured": True}
    fitted = breakevens()
    fitted.loc[0, ["kind", "standard_error"]] = ["fitted", 0.25]
    measured = reco.summary_hinge(report(breakevens=fitted, meta=meta), lang, plots.input_label)
    assert measured == [reco.retention_beliefs(report(breakevens=fitted, meta=meta), lang, plots.input_label)[0]]
    check = t("breakevens.closest", lang, input="", side="", value="", base="").split(")")[-1].strip()
    assumed = reco.summary_hinge(report(breakevens=breakevens()), lang, plots.input_label)
    assert len(assumed) == 2 and check in assumed[0] and assumed[1] == t("beliefs.assumed", lang)
    fitted.loc[0, "parameter"] = "purchase.alpha"  # a fitted repeat-purchase parameter is the closest
    other = reco.summary_hinge(report(breakevens=fitted, meta=meta), lang, plots.input_label)
    assert len(other) == 2 and check not in other[0]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_back_end_money_from_the_first_period_starts_at_once_not_once_the_base_has_grown(lang):
    """...and goes on from the first period when the current plan already spends on it (5% or more)."""
    cases = {
        "beliefs.when": ((9.6, 0.4, 0.0), (10.0, 0.0, 0.0), "2027-04-01", 0.4),
        "beliefs.when_first": ((9.6, 0.4, 0.0), (7.0, 3.0, 0.0), "2027-01-01", 0.3),
        "beliefs.when_kept": ((9.0, 1.0, 0.0), (7.0, 3.0, 0.0), "2027-01-01", 0.3),
    }
    for key, (current, first_period, month, share) in cases.items():
        data = report(path=path_frame([current] * 2, [first_period, (6.0, 4.0, 0.0)]))
        back = share * 10.0
        said = t(
            key,
            lang,
            month=fmt_date(date.fromisoformat(month), lang, day=False),
            amount=reco.money(data, back, lang),
            share=fmt_percent(share, lang, 0),
        )
        assert reco.retention_beliefs(data, lang, plots.input_label)[-1] == said


def lever_frame(gains: dict[str, list[tuple[float, bool, float, float]]]) -> pd.DataFrame:
    rows = [
        {"lever": name, "value": v, "current": cur, "contribution": 1e9 + g, "gain": g, "dissatisfied_share": bad}
        for name, values in gains.items()
        for v, cur, g, bad in values
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_lever_that_moves_nothing_is_said_so_and_today_wins_ties(lang):
    from sim.report import rules

    levers = lever_frame(
        {
            "reliability": [(0.85, False, 0.0, 0.13), (1.0, True, 0.0, 0.0)],  # moves orders, not money
            "delight_coverage": [(0.0, True, 0.0, 0.0), (0.2, False, -3e4, 0.0)],  # costs only
            "proactive_coverage": [(0.0, True, 0.0, 0.02), (0.5, False, 2e7, 0.01)],  # pays
        }
    )
    for neutral in (True, False):
        data = report(
            levers=levers, kpis={"cumulative_contribution": 1e9}, meta={**report().meta, "experience_neutral": neutral}
        )
        rows = {r["lever"]: r for r in rules.best_levers(data)}
        assert rows["reliability"]["no_effect"] and rows["reliability"]["best_value"] == 1.0
        assert not rows["delight_coverage"]["no_effect"] and rows["delight_coverage"]["best_value"] == 0.0
        assert rows["proactive_coverage"]["best_value"] == 0.5 and rows["proactive_coverage"]["gain"] == 2e7
        texts = {name: rules.lever_item(row, data, lang) for name, row in rows.items()}
        assert "13.0%" in texts["reliability"] and "85%" not in texts["reliability"]
        assert (t("levers.why_neutral", lang) in texts["reliability"]) is neutral
        assert (
            texts["delight_coverage"].startswith(t("lever.delight_coverage", lang))
            and "30,000" in texts["delight_coverage"]
        )
        assert "50%" in texts["proactive_coverage"] and "+" in texts["proactive_coverage"]


def fmt_month(lang: str) -> str:
    return "2027년 4월" if lang == "ko" else "Apr 2027"


def test_promotion_past_capacity_costs_customers_and_one_within_capacity_does_not():
    """The counterfactual runs: the same 11.11 sale with a fulfilment team that ships less than its peak raises
    the delay and the disappointed share over the sale and loses customers to late parcels; with enough
    capacity it loses none. Discount and cost are what the sale gave away."""
    from sim.engines.fast import simulate_batch
    from sim.report import events

    scenario = small("early_stage_d2c", 0.1, 12)
    sale = {"name": "11.11", "start": "2027-11-11", "end": "2027-11-12", "uplift_customers": 3.0}
    sale |= {"uplift_aware": 2.0, "extra_reach": 2000.0, "discount": 0.2, "fixed_cost": 500000.0}
    out = {}
    for capacity in (8.0, 400.0):
        s = scenario.with_changes({"events": [sale], "operations.fulfilment_capacity_per_day": capacity})
        base = simulate_batch(s, mode="expected", keep_daily=True).result(0)
        overloaded = events.overloaded_events(base)
        variants = events.counterfactual_scenarios(s, overloaded)
        batch = simulate_batch(variants, mode="expected", keep_daily=True)
        effects = events.event_effects(base, [batch.result(i) for i in range(batch.n)])
        months = events.capacity_months(base)
        out[capacity] = (overloaded, effects.iloc[0], months)
    overloaded, hit, months = out[8.0]
    assert overloaded == [0] and bool(hit["over_capacity"]) and hit["peak_day_orders"] > 8.0
    assert (
        hit["delay_days"] > hit["delay_days_without"] and hit["dissatisfied_share"] > hit["dissatisfied_share_without"]
    )
    assert hit["customers_lost"] > 0 and hit["extra_orders"] > 0
    assert months["days_over_capacity"].sum() >= 1 and months.loc[10, "events"] == "11.11"
    assert hit["fixed_cost"] == pytest.approx(500000.0) and hit["discounts"] > 0
    overloaded, fine, _ = out[400.0]
    assert overloaded == [] and fine["customers_lost"] == 0.0 and fine["delay_days"] == pytest.approx(0.0, abs=1e-6)
    assert hit["contribution_effect"] < fine["contribution_effect"]  # late parcels cost contribution
    for row in (hit, fine):
        assert all(np.isfinite(v) for v in row.drop(["name", "start", "end", "over_capacity"]).astype(float))


def axes_ok(ax) -> None:
    """Every report plot: a title, both axis labels, a legend with entries (the axes' own, or the figure's
    when it sits under the figure)."""
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    legends = [ax.get_legend(), *ax.figure.legends]
    assert any(legend is not None and len(legend.get_texts()) >= 2 for legend in legends)
    matplotlib.pyplot.close(ax.figure)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_new_plots_have_title_axis_labels_and_legend(lang):
    plots.use_report_style(lang)
    path = path_frame([(9.0, 1.0, 0.5)] * 3, [(10.0, 0.0, 0.5), (6.0, 4.0, 0.5), (0.0, 10.0, 0.5)])
    axes_ok(plots.plot_plan_path(path, lang=lang, currency="KRW"))
    axes_ok(plots.plot_gain_parts(GAIN, lang=lang, currency="KRW", months=36, total_band=(3e8, 5e8)))
    marginal = pd.DataFrame(
        [
            {"plan": p, "purpose": q, "roi": r}
            for p in ("current", "recommended")
            for q, r in zip(("front", "back", "winback"), (1.4, 0.3, -0.5), strict=True)
        ]
    )
    axes_ok(plots.plot_marginal_roi(marginal, lang=lang, months=36))
    months = pd.DataFrame(
        {
            "month": pd.date_range("2027-01-01", periods=3, freq="31D"),
            "orders_per_day": [100.0, 150.0, 300.0],
            "peak_day_orders": [120.0, 180.0, 600.0],
            "capacity_per_day": [400.0] * 3,
            "events": ["", "", "11.11"],
        }
    )
    axes_ok(plots.plot_capacity(months, lang=lang))
    ev = pd.DataFrame(
        {
            "name": ["설", "11.11"],
            "start": ["2027-01-27", "2027-11-11"],
            "contribution_effect": [5e6, -1e6],
            "over_capacity": [False, True],
        }
    )
    axes_ok(plots.plot_events(ev, lang=lang, currency="KRW"))
    axes_ok(plots.plot_breakevens(breakevens(), lang=lang))


def test_a_part_that_clearly_costs_is_said_to_cost():
    gain = GAIN.assign(value=[0.0, -5e7, 3e8, 1.5e8], p05=[0.0, -9e7, 2e8, 7e7], p95=[0.0, -1e7, 3.8e8, 2.5e8])
    text = reco.gain_reading(report(gain=gain), "en")
    assert "It gives some back in: Purpose split (average) −₩50M" in text and "Uncertain" not in text


def test_a_conversion_set_by_calibration_is_not_read_as_a_finding():
    """A calibrated scenario's first-purchase conversion is calibration's convention (acquisition curves count
    new customers): it is not one of the client's three KPIs, and LTV:CAC takes its place."""
    from sim.report import rules

    kpis = {
        "unaware_share_end": 0.99,
        "never_met_share_end": 0.99,
        "forgot_share_end": 0.0,
        "cac": 28000.0,
        "first_purchase_conversion": 0.995,
        "repeat_purchase_rate": 0.65,
        "ltv_cac": 2.7,
        "clv": 77000.0,
    }
    assert [p.name for p in rules.top_kpis(report(kpis=kpis), "en")] == [
        "cac",
        "first_purchase_conversion",
        "repeat_purchase_rate",
    ]
    convention = report(kpis=kpis, meta={**report().meta, "conversion_by_construction": True})
    assert [p.name for p in rules.top_kpis(convention, "en")] == ["cac", "ltv_cac", "repeat_purchase_rate"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_win_back_read_as_paying_says_its_response_is_assumed(lang):
    """When win-back returns the most per extra unit, the reading adds that the return rests on the assumed
    reactivation chance and how to test it; a win-back that returns the least needs no such caveat."""
    from sim.report import rules

    kpis = {"unaware_share_start": 1.0, "unaware_share_end": 0.99, "never_met_share_end": 0.99}
    caveat = t("winback.assumed", lang, chance="2.5%")
    high = report(kpis={**kpis, "marginal_roi_front": 0.3, "marginal_roi_back": 1.4, "marginal_roi_winback": 4.3})
    assert rules.winback_reading(high, lang)[-1] != caveat  # no break-evens: nothing says the input is assumed
    high = report(kpis=high.kpis, breakevens=breakevens())
    assert rules.winback_reading(high, lang)[-1] == caveat
    low = report(kpis={**high.kpis, "marginal_roi_winback": 0.1}, breakevens=breakevens())
    assert caveat not in rules.winback_reading(low, lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_chapter_7_calls_win_back_the_least_bad_when_every_purpose_loses(lang):
    """Win-back with the highest marginal ROI is said to pay only when that ROI is not a loss."""
    from sim.report import rules

    def chapter_7(rois: dict[str, float]) -> str:
        kpis = {f"marginal_roi_{p}": v for p, v in rois.items()}
        chapters = rules.playbook_chapters(report(kpis=kpis, meta={**report().meta, "channels": {}}), lang)
        return next(c.reason for c in chapters if c.number == 7)

    losing = chapter_7({"front": -0.92, "back": -0.83, "winback": -0.62})
    assert losing == t("rule.ch7_least_bad", lang, roi=reco.fmt_roi(-0.62, lang))
    paying = chapter_7({"front": 0.2, "back": 0.1, "winback": 0.5})
    assert paying == t("rule.ch7_pays", lang, roi=reco.fmt_roi(0.5, lang))
