"""The calibrated scenario as a consultant reads it: every field with its unit, meaning and where it came from.

`build` turns the fitted pieces of a `Calibration` into the scenario mapping, a comment for every field
("fitted, se ..."; "from the spend log"; "default"; "ASSUMPTION to set") and the snapshot of the customers
who exist at the cut-off. `write_calibration` writes the snapshot CSV and the commented YAML atomically,
after checking that the YAML reads back to the same mapping and validates as a scenario.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.calibration import families
from sim.calibration.acquisition import (
    CONVERSION_MONTHLY,
    conversion_lag_matrix,
    fit_spend_response,
    rate_log_covariance,
)
from sim.calibration.lifttest import EFFECT_CAPS
from sim.calibration.summary import DAYS_PER_MONTH, month_index
from sim.errors import DataError, UserInputError
from sim.io import plain
from sim.model.scenario import Retention, Winback, parse_scenario

# speed: libyaml's C loader and dumper where PyYAML has them (the calibration block is long), else Python's
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

MARKET_MULTIPLE = 50  # default market size: this many times the customers seen and expected in 3 years
RECENT_DAYS = 91  # the new-customer rate without a spend log: the last quarter before the cut-off
HORIZON_MONTHS = 36
CRM_CHANNEL = "crm"  # the channel that carries back-end and win-back budgets unless --channel-split names others
ASSUMPTION = "ASSUMPTION to set"

# the levers an order log cannot show, written out with these values and marked as assumptions
NEUTRAL_EXPERIENCE = {
    "reliability": 1.0,
    "proactive_coverage": 0.0,
    "delight_coverage": 0.0,
    "baseline_delight": 0.0,
    "dissatisfied_dropout_multiplier": 1.0,
    "delighted_dropout_multiplier": 1.0,
}
NEUTRAL_LOYALTY = {
    "step_probability_satisfied": 0.0,
    "step_probability_delighted": 0.0,
    "demote_on_dissatisfied": 0.0,
    "purchase_rate_multiplier": 1.0,
    "dropout_multiplier": 1.0,
    "order_value_multiplier": 1.0,
}


# -- the scenario -------------------------------------------------------------------------------------


def build(
    cal,
    *,
    assumptions,
    plan,
    name: str | None,
    seed: int,
    orders_source: str,
    spend_source: str | None,
) -> None:
    """Fill `cal.scenario`, `cal.comments`, `cal.snapshot` and `cal.diagnostics` from the fitted pieces."""
    s: dict[str, Any] = {}
    c: dict[str, str] = {}
    cutoff, log = cal.cutoff, cal.log
    warnings = cal.warnings
    stem = Path(log.source).stem
    s["schema_version"] = 1
    c["schema_version"] = "version of this file format"
    s["name"] = name or f"Calibrated: {stem}"
    c["name"] = "scenario name; the report file is named after it"
    s["archetype"] = "calibrated"
    s["description"] = (
        f"Calibrated by `sim calibrate` from {Path(log.source).name} up to {cutoff.date()}: the repeat-purchase"
        " model, order values and acquisition are fitted to the export; the levers an order log cannot show are"
        " assumptions, marked as such."
    )
    acq, channels, monthly_new = _acquisition(cal, plan, spend_source, warnings)
    _market(s, c, cal, assumptions, monthly_new, warnings)
    _economics(s, c, cal, assumptions, warnings)
    s["channels"] = channels["channels"]
    c.update(channels["comments"])
    _budget(s, c, cal, plan, channels, warnings)
    s["first_purchase"] = {
        "monthly_conversion": CONVERSION_MONTHLY,
        "landing_page_quality": 1.0,
        "offer_strength": 1.0,
        "forgetting_per_month": 0.0,
        "negative_wom_impact": 0.0,
    }
    c["first_purchase"] = "how reached people become customers; set so that channel reach is new customers a month"
    c["first_purchase.monthly_conversion"] = (
        "[share per month] default of calibration: reached people buy within about a week, so each channel's"
        " curve is a curve of new customers"
    )
    c["first_purchase.landing_page_quality"] = "[multiplier] 1 = as today (the fitted curves include today's page)"
    c["first_purchase.offer_strength"] = "[multiplier] 1 = as today"
    c["first_purchase.forgetting_per_month"] = "[share per month] 0: reached people buy at once (see conversion)"
    c["first_purchase.negative_wom_impact"] = f"[share] 0: neutral, {ASSUMPTION} with the experience levers"
    _repeat_purchase(s, c, cal)
    _retention(s, c, cal)
    _levers(s, c)
    peak = int(log.transactions.groupby("date").size().max())
    s["operations"] = {"fulfilment_capacity_per_day": float(max(1000, 20 * peak)), "service_capacity_per_day": 100.0}
    c["operations"] = "finite capacity; orders beyond it queue, delay and dissatisfy"
    c["operations.fulfilment_capacity_per_day"] = (
        f"[orders per day] {ASSUMPTION}: default 20 x the busiest day of the log ({peak}), i.e. no queueing"
    )
    c["operations.service_capacity_per_day"] = f"[tickets per day] {ASSUMPTION}: default"
    _calendar(s, c, cal)
    s["simulation"] = {
        "start_date": (cutoff + pd.Timedelta(days=1)).date(),
        "horizon_months": HORIZON_MONTHS,
        "seed": seed,
    }
    c["simulation.start_date"] = "first simulated day: the day after the cut-off"
    c["simulation.horizon_months"] = "[months] simulated"
    c["simulation.seed"] = "seed of every random draw; same seed, same results"
    cal.scenario = s
    cal.comments = c
    cal.snapshot = _snapshot(cal)
    cal.diagnostics = _diagnostics(cal, acq, orders_source, spend_source)
    s["calibration"] = cal.diagnostics
    c["calibration"] = "what calibration found: standard errors, the family comparison, backtest, warnings (read-only)"


def _market(s, c, cal, assumptions, monthly_new: float, warnings: list[str]) -> None:
    n = len(cal.summary)
    h = -math.log(1.0 - CONVERSION_MONTHLY) / DAYS_PER_MONTH
    if assumptions.market_size is not None:
        size = int(assumptions.market_size)
        size_note = "[people] people who could ever buy; from --market-size"
        if size < n:
            raise UserInputError(
                "is smaller than the customers already in the order log",
                location="--market-size",
                found=f"{size:,}",
                allowed=f">= {n:,}",
            )
    else:
        size = int(min(50_000_000, max(10_000, MARKET_MULTIPLE * (n + monthly_new * HORIZON_MONTHS))))
        size_note = (
            f"[people] people who could ever buy; {ASSUMPTION} (--market-size): an order log cannot show it;"
            f" default {MARKET_MULTIPLE} x the customers seen and expected in {HORIZON_MONTHS} months"
        )
        warnings.append(
            f"market size is an assumption to set: {size:,} people by default ({MARKET_MULTIPLE} x the customers"
            " seen and expected); give --market-size"
        )
    if assumptions.aware is not None:
        aware = int(assumptions.aware)
        aware_note = "[people] aware of the brand, not yet buyers; from --aware"
    else:
        aware = int(round(monthly_new / DAYS_PER_MONTH / h))
        aware_note = (
            f"[people] aware of the brand, not yet buyers; {ASSUMPTION} (--aware): default, the people about to buy"
            " at the recent rate of new customers"
        )
        warnings.append(f"aware people are an assumption to set: {aware:,} by default; give --aware")
    if aware + n > size:
        raise UserInputError(
            "aware people and existing customers exceed the market size",
            location="--aware",
            found=f"{aware:,} + {n:,} customers > {size:,}",
            allowed="a larger --market-size or a smaller --aware",
        )
    s["market"] = {
        "size": size,
        "initially_aware": aware,
        "existing": {"customers": n, "loyal": 0, "lapsed": 0, "snapshot": None},
    }
    c["market"] = "the addressable market; people in it are unaware, aware, customers, loyal or lapsed"
    c["market.size"] = size_note
    c["market.initially_aware"] = aware_note
    c["market.existing"] = "the customer base at the start: the snapshot's customers"
    c["market.existing.customers"] = "[people] customers in the order log (the snapshot replaces this count)"
    c["market.existing.loyal"] = "[people] 0: the snapshot carries every customer with their own history"
    c["market.existing.lapsed"] = "[people] 0: the snapshot's customers who dropped out are drawn as lapsed"
    c["market.existing.snapshot"] = (
        "one row per customer at the cut-off: id, frequency, recency, age (days), order_value (expected, per"
        " order)"
        + (
            "; recency_clock, age_clock: the same on the fitted seasonal clock, which the fitted model conditions on"
            if cal.seasonality is not None
            else ""
        )
    )


def _economics(s, c, cal, assumptions, warnings: list[str]) -> None:
    value = cal.value
    cur = cal.currency
    margin = assumptions.gross_margin
    se = value.standard_errors_
    s["economics"] = {
        "currency": cur,
        "order_value_mean": _r(value.mean_),
        "order_value_cv": _r(min(max(value.cv_, 0.01), 3.0)),
        "gross_margin": margin if margin is not None else 0.5,
        "fulfilment_cost_per_order": 0.0,
        "annual_discount_rate": 0.10,
    }
    c["economics"] = f"money per order and the cost of capital; amounts in {cur}"
    c["economics.currency"] = f"ISO 4217 code; {cal.currency_source}"
    c["economics.order_value_mean"] = f"[{cur} per order] fitted (Gamma ML), se {_fmt(se.get('mean'))}" + (
        "; order values differ by customer (Gamma-Gamma fits better): forecasts and scores use each customer's"
        " own expected value from the snapshot"
        if value.model_ == "gamma-gamma"
        else "; one shared Gamma fits better than Gamma-Gamma"
    )
    c["economics.order_value_cv"] = f"[ratio] spread of order values, sd/mean; fitted, se {_fmt(se.get('cv'))}"
    if margin is None:
        c["economics.gross_margin"] = f"[share] {ASSUMPTION} (--gross-margin): not in an order log; default 0.5"
        warnings.append("gross margin is not in an order log: set to 0.5 (use --gross-margin or edit economics)")
    else:
        c["economics.gross_margin"] = "[share] from --gross-margin"
    c["economics.fulfilment_cost_per_order"] = f"[{cur} per order] {ASSUMPTION}: pick, pack and ship; default 0"
    c["economics.annual_discount_rate"] = "[share per year] for NPV and CLV; default"


def _acquisition(cal, plan, spend_source: str | None, warnings: list[str]):
    """Channels with their reach curves (fitted from the spend log, or one 'unattributed' channel)."""
    summary, cutoff = cal.summary, cal.cutoff
    first_dates = cutoff + pd.to_timedelta(summary["first_day"].to_numpy(), unit="D")
    new_by_month = pd.Series(1, index=month_index(first_dates)).groupby(level=0).sum()
    channels: dict[str, Any] = {}
    comments: dict[str, str] = {}
    spend = cal.spend
    cur = cal.currency
    recent_split: dict[str, float] = {}
    recent_total = 0.0
    if spend is not None and not spend.empty:
        months = spend.index[
            (spend.index >= new_by_month.index.min()) & (spend.index + pd.offsets.MonthEnd(0) <= cutoff)
        ]
        if len(months) < 4:
            raise DataError(
                "the spend log overlaps fewer than 4 full months of the order log",
                file=spend_source,
                found=f"{len(months)} month{'s' if len(months) != 1 else ''}",
                allowed="monthly spend for the months of the order log",
            )
        y = new_by_month.reindex(months, fill_value=0).to_numpy()
        fits, acq = fit_spend_response(y, spend.loc[months], conversion_lag_matrix(months))
        recent = spend.loc[months].iloc[-3:].mean(axis=0)
        recent_total = float(recent.sum())
        recent_split = (
            (recent / recent_total).to_dict() if recent_total > 0 else {k: 1.0 / len(recent) for k in recent.index}
        )
        monthly_new = float(sum(f.max_reach * f.recent_spend / (f.recent_spend + f.half_saturation) for f in fits))
        for f in fits:
            channels[f.channel] = {"max_reach": f.max_reach, "half_saturation": f.half_saturation, "fitted": True}
        if acq["mape_new_customers"] is not None and acq["mape_new_customers"] > 0.35:
            warnings.append(
                f"the spend log explains monthly new customers poorly (MAPE {acq['mape_new_customers']:.0%}):"
                " much acquisition may be organic or lagged"
            )
    else:
        recent_start = cutoff - pd.Timedelta(days=RECENT_DAYS - 1)
        recent_new = int(np.sum(first_dates >= recent_start))
        monthly_new = recent_new / RECENT_DAYS * DAYS_PER_MONTH
        acq = {
            "method": f"no spend log: one unattributed channel at the new-customer rate of the last {RECENT_DAYS} days",
            "recent_new_customers": recent_new,
            "parameters": ["unattributed.max_reach"],
            "fitted_values": [_r(max(2.0 * monthly_new, 1e-6))],
            # the rate is a Poisson count: forecasts draw the channel's reach from this (log scale)
            "log_covariance": rate_log_covariance(recent_new),
        }
        channels["unattributed"] = {"max_reach": max(2.0 * monthly_new, 1e-6), "half_saturation": None, "fitted": False}
        if monthly_new == 0:
            warnings.append("no new customers in the last 3 months before the cut-off: the scenario acquires none")
    acq["monthly_new_customers"] = _r(monthly_new)
    acq["new_customers_by_month"] = {str(k.date())[:7]: int(v) for k, v in new_by_month.items()}
    return (
        acq,
        {
            "channels": channels,
            "comments": comments,
            "recent_split": recent_split,
            "recent_total": recent_total,
            "monthly_new": monthly_new,
            "currency": cur,
        },
        monthly_new,
    )


def _budget(s, c, cal, plan, ch, warnings: list[str]) -> None:
    """The plan: from the flags, else today's spend from the spend log, else none (a zero budget, said so)."""
    cur = cal.currency
    channels = ch["channels"]
    has_spend = bool(ch["recent_split"])
    if plan.budget is not None:
        total = float(plan.budget)
        source = "from --budget"
    elif has_spend:
        total = ch["recent_total"]
        source = "from the spend log: mean monthly spend of its last 3 months (today's plan)"
    else:
        total = 0.0
        source = "no plan: an order log shows no budget; give --budget (and --split) or set it here"
    purpose = dict(plan.purpose_split) if plan.purpose_split else {"front": 1.0}
    csplit: dict[str, dict[str, float]] = {}
    given = plan.channel_split or {}
    for p in ("front", "back", "winback"):
        if purpose.get(p, 0.0) <= 0 and p not in given:
            continue
        if p in given:
            csplit[p] = given[p]
        elif p == "front":
            csplit[p] = ch["recent_split"] if has_spend else {"unattributed": 1.0}
        else:
            csplit[p] = {CRM_CHANNEL: 1.0}
    for p, split in csplit.items():
        for name in split:
            if name not in channels:
                if p == "front":
                    raise UserInputError(
                        "names a front-end channel that has no reach curve (not in the spend log)",
                        location="--channel-split",
                        found=f"front:{name}",
                        allowed=", ".join(k for k in channels) or "the spend log's channels",
                    )
                channels[name] = {"max_reach": 1e-6, "half_saturation": 1e12, "fitted": False, "backend_only": True}
    monthly_new = ch["monthly_new"]
    front_total = total * purpose.get("front", 0.0)
    out = {}
    for cid, info in channels.items():
        half = info["half_saturation"]
        if half is None:  # the unattributed channel: its curve passes through (front budget, recent new customers)
            half = front_total if front_total > 0 else max(monthly_new * cal.value.mean_, 1.0)
        label = (
            "Unattributed (no spend log)"
            if cid == "unattributed"
            else ("CRM (back-end, win-back)" if cid == CRM_CHANNEL else cid)
        )
        out[cid] = {
            "label": label,
            "reach": {"kind": "hill", "max_reach": _r(info["max_reach"]), "half_saturation": _r(half), "shape": 1.0},
        }
        key = f"channels.{cid}"
        if info.get("fitted"):
            c[key] = "front-end channel from the spend log; reach curve fitted (Poisson ML of monthly new customers)"
            c[f"{key}.reach.max_reach"] = "[people reached per month] fitted: new customers a month at unlimited spend"
            c[f"{key}.reach.half_saturation"] = f"[{cur} per month] fitted: spend that buys half the maximum"
        elif info.get("backend_only"):
            c[key] = "carries back-end / win-back budget only (from --channel-split); no front-end reach"
            c[f"{key}.reach.max_reach"] = "[people per month] none: this channel is not used to acquire"
            c[f"{key}.reach.half_saturation"] = f"[{cur} per month] placeholder of a channel without reach"
        else:
            c[key] = (
                "no spend log: acquisition through one unattributed channel at the recent rate of new customers"
                f" ({monthly_new:,.1f} a month)"
            )
            c[f"{key}.reach.max_reach"] = "[people per month] twice the recent monthly new customers"
            c[f"{key}.reach.half_saturation"] = (
                f"[{cur} per month] {ASSUMPTION}: the front-end budget is assumed to buy the recent rate of new"
                " customers; without a spend log CAC and front-end ROI rest on this"
            )
        c[f"{key}.reach.kind"] = "response curve: max * S / (S + K)"
        c[f"{key}.reach.shape"] = "[1] Hill exponent; 1 = diminishing returns from the first unit"
    s["channels"] = out
    c["channels"] = "marketing channels; a channel can carry front-end, back-end and win-back budgets"
    s["budget"] = {
        "period": "month",
        "totals": _r(total),
        "purpose_split": _exact(purpose),
        "channel_split": {p: _exact(v) for p, v in csplit.items()},
    }
    c["budget"] = "the plan to test: a monthly total, split by purpose, then by channel"
    c["budget.period"] = "what one entry of totals covers"
    c["budget.totals"] = f"[{cur} per month] {source}"
    c["budget.purpose_split"] = "[share] front (acquisition), back (retention), winback; " + (
        "from --split" if plan.purpose_split else "default: all front-end, as a spend log records"
    )
    c["budget.channel_split"] = "[share] by channel within each purpose; " + (
        "from --channel-split" if plan.channel_split else "front-end by the spend log's recent shares"
    )
    cal._plan_status = {
        "status": "given" if total > 0 else "missing",
        "source": source,
        "needs": None
        if total > 0
        else "a monthly budget to split: sim calibrate ... --budget X [--split front=..,back=..,winback=..], or budget -> totals in this file",
    }
    if total <= 0:
        warnings.append("no plan to test: the budget is 0; give --budget (and --split) to compare splits")


def _repeat_purchase(s, c, cal) -> None:
    fit = cal.repeat
    rp: dict[str, Any] = {"model": families.base_of(fit.family)}
    c["repeat_purchase.model"] = f"family: {fit.label} ({fit.citation}); " + (
        "forced by --model"
        if cal.family_choice.get("forced")
        else "chosen by holdout accuracy (calibration -> model_choice)"
    )
    meaning = {
        "r": "[1] Gamma shape of the purchase rate",
        "alpha": "[days] Gamma rate of the purchase rate; mean rate r/alpha per day",
        "a": "[1] Beta a of the dropout chance per order",
        "b": "[1] Beta b of the dropout chance; mean a/(a+b)",
        "s": "[1] Gamma shape of the dropout hazard",
        "beta": "[days] Gamma rate of the dropout hazard; mean lifetime beta/(s-1) days",
    }
    pinned = {fit.param_names[idx] for i, j, _, label in type(fit).mixing if label in fit.collapsed_ for idx in (i, j)}
    for k, v in fit.params_.items():
        if k == "stayer_odds":  # the scenario carries the share; its standard error by the delta method
            share, se = fit.stayer_share, fit.standard_errors_[k] / (1.0 + v) ** 2  # d share / d odds = 1/(1+odds)^2
            rp["never_dropout_share"] = _r(share)
            c["repeat_purchase.never_dropout_share"] = (
                f"[share] customers who never drop out (a segment mixed with the family); fitted, se {_fmt(se)}"
            )
            continue
        rp[k] = _r(v)
        c[f"repeat_purchase.{k}"] = f"{meaning[k]}; fitted, se {_fmt(fit.standard_errors_[k])}" + (
            " (pinned: the data show no spread between customers; only the mean is fitted)" if k in pinned else ""
        )
    s["repeat_purchase"] = rp
    c["repeat_purchase"] = f"how customers buy again: {fit.label}, maximum likelihood on the order log"


def _retention(s, c, cal) -> None:
    defaults = Retention()
    block = {
        k: getattr(defaults, k)
        for k in (
            "purchase_rate_uplift_max",
            "dropout_reduction_max",
            "order_value_uplift_max",
            "half_saturation_per_customer",
            "first_party_data_share",
            "marketplace_effectiveness",
            "targeting_precision",
        )
    }
    lift = cal.lift
    why = "no lift test (--lift-test)" if lift is None else "a lift test does not measure it"
    notes = {k: f"{ASSUMPTION}: {why}; schema default" for k in block}
    if lift is not None:
        values = lift.retention_values()
        notes.update(_lift_notes(values))
        block.update({k: _r(v) for k, (v, _) in values.items()})
        c["retention"] = f"back-end marketing; effect sizes fitted from the lift test {lift.source_name}"
    else:
        c["retention"] = (
            f"back-end marketing; {ASSUMPTION}: no lift test, so every effect size is an assumption and a"
            " recommended back-end share rests on it"
        )
    s["retention"] = block
    units = {
        "purchase_rate_uplift_max": "[share] most back-end spend can raise the purchase rate",
        "dropout_reduction_max": "[share] most it can cut the dropout chance",
        "order_value_uplift_max": "[share] most cross-sell can raise order value",
        "half_saturation_per_customer": f"[{cal.currency} per customer per month] spend giving half the effect",
        "first_party_data_share": "[share] customers whose data the seller holds",
        "marketplace_effectiveness": "[share] effect without first-party data",
        "targeting_precision": "[share] precision left after privacy limits",
    }
    for k in block:
        c[f"retention.{k}"] = f"{units[k]}; {notes[k]}"


def _lift_notes(values: dict[str, tuple[float, float]]) -> dict[str, str]:
    """What the scenario says of each retention field a lift test sets (`LiftTestFit.retention_values`): the
    three maxima are fitted (with their standard errors, and said when a maximum sits at its bound); the
    half-saturation spend is set at the tested spend, an assumption, since one tested spend level cannot show
    where the curve bends."""
    notes = {}
    for k, (v, se) in values.items():
        if k == "half_saturation_per_customer":
            notes[k] = (
                f"{ASSUMPTION}: the lift test's spend per customer and month (one tested spend level cannot show"
                " where the response bends, so the maxima above are read from the effects at this spend)"
            )
        elif se <= 0:
            notes[k] = "fitted from the lift test (no standard error: the estimate is at a bound)"
        else:
            at_bound = f", at its bound {_fmt(EFFECT_CAPS[k])}" if v >= EFFECT_CAPS[k] else ""
            notes[k] = f"fitted from the lift test, se {_fmt(se)}{at_bound}"
    return notes


def _levers(s, c) -> None:
    why = (
        "neutral, so that the fitted repeat-purchase model alone describes today's customers (it already contains"
        " today's experience); change to test an improvement"
    )
    s["experience"] = dict(NEUTRAL_EXPERIENCE)
    c["experience"] = f"what each order feels like; {ASSUMPTION}: {why}"
    for k in NEUTRAL_EXPERIENCE:
        c[f"experience.{k}"] = f"{ASSUMPTION}: neutral"
    s["loyalty"] = dict(NEUTRAL_LOYALTY)
    c["loyalty"] = f"the step to loyal customer; {ASSUMPTION}: {why}"
    for k in NEUTRAL_LOYALTY:
        c[f"loyalty.{k}"] = f"{ASSUMPTION}: neutral"
    s["referral"] = {"contacts_per_loyal_per_month": 0.0}
    c["referral"] = f"word of mouth from loyal customers; {ASSUMPTION}"
    c["referral.contacts_per_loyal_per_month"] = f"[people per month] {ASSUMPTION}: 0 (no loyal stage, see loyalty)"
    w = Winback()
    s["winback"] = {"base_reactivation": w.base_reactivation, "decay_months": w.decay_months}
    c["winback"] = f"remarketing to lapsed customers; {ASSUMPTION}: an order log shows no win-back test"
    c["winback.base_reactivation"] = f"[share] {ASSUMPTION}: schema default"
    c["winback.decay_months"] = f"[months] {ASSUMPTION}: schema default"


def _calendar(s, c, cal) -> None:
    seas = cal.seasonality
    if seas is None:
        return
    s["seasonality"] = {
        "index": [_r(v, 4) for v in seas.index],
        "first_purchases": True,
        "repeat_purchases": True,
        "reach": False,
    }
    c["seasonality"] = "monthly demand index, January to December, mean 1"
    c["seasonality.index"] = "[multiplier] fitted jointly with the repeat-purchase model, se " + ", ".join(
        _fmt(v) for v in seas.standard_errors
    )
    c["seasonality.first_purchases"] = f"{ASSUMPTION}: the repeat purchases' index applied to first purchases too"
    c["seasonality.repeat_purchases"] = "fitted"
    c["seasonality.reach"] = "default: ads reach the same every month"
    future = [] if cal.events is None else cal.events.future_events(cal.cutoff)
    if future:
        s["events"] = future
        c["events"] = "dated promotions from --events after the cut-off, with the uplift fitted for their name"


def _snapshot(cal) -> pd.DataFrame:
    snap = cal.summary[["customer_id", "frequency", "recency", "age"]].copy()
    snap["order_value"] = np.round(cal.value.customer_values(cal.summary), 6)
    seas = cal.seasonality
    if seas is not None and seas.recency_clock is not None:
        snap["recency_clock"] = np.round(seas.recency_clock, 6)
        snap["age_clock"] = np.round(seas.age_clock, 6)
    return snap


def _diagnostics(cal, acq: dict[str, Any], orders_source: str, spend_source: str | None) -> dict[str, Any]:
    fit = cal.repeat
    x = cal.summary["frequency"].to_numpy()
    log = cal.log
    value = cal.value
    out: dict[str, Any] = {
        "source": Path(orders_source).name,
        "spend_source": None if spend_source is None else Path(spend_source).name,
        "columns": log.columns,
        "encoding": log.encoding,
        "currency": {"code": cal.currency, "source": cal.currency_source},
        "cutoff": str(cal.cutoff.date()),
        "data": {
            "orders": log.raw_orders,
            "transactions": len(log.transactions),
            "customers": len(cal.summary),
            "repeat_buyers": int(np.sum(x > 0)),
            "repeat_transactions": int(x.sum()),
            "first_order": str(log.first_date.date()),
            "last_order": str(log.last_date.date()),
            "days_observed": int((cal.cutoff - log.first_date).days) + 1,
            "mean_frequency": _r(float(np.mean(x))),
            "mean_age_days": _r(float(cal.summary["age"].mean())),
        },
        "repeat_purchase": {
            "family": fit.family,
            "label": fit.label,
            "citation": fit.citation,
            "time_unit": "days",
            "params": {k: _r(v) for k, v in fit.params_.items()},
            "standard_errors": {k: _r(v) for k, v in fit.standard_errors_.items()},
            # covariance of the log-parameters (same order as params): forecasts draw parameter sets from it
            "log_covariance": [[_r(v) for v in row] for row in np.asarray(fit.log_covariance_).tolist()],
            "log_likelihood": _r(fit.log_likelihood_),
            "converged": fit.converged_,
            "iterations": fit.iterations_,
            "mean_purchase_interval_days": _r(_mean_interval(fit)),
            "median_purchase_interval_days": _r(_median_interval(fit)),
        },
        "model_choice": _yaml_data(cal.family_choice),
        "order_value": {
            "model": value.model_,
            "mean": _r(value.mean_),
            "cv": _r(value.cv_),
            "standard_errors": {k: _r(v) for k, v in value.standard_errors_.items()},
            "aic": {k: _r(v) for k, v in value.aic.items()},
            "gamma_gamma": {k: _r(v) for k, v in value.gamma_gamma_.items()},
            "gamma_gamma_standard_errors": {k: _r(v) for k, v in value.gamma_gamma_standard_errors_.items()},
            "used_for": (
                "forecasts, scores and CLV use each customer's Gamma-Gamma expected value (snapshot column order_value)"
                if value.model_ == "gamma-gamma"
                else "one shared Gamma: every customer's expected order value is the mean"
            ),
        },
        "acquisition": acq,
        "plan": getattr(cal, "_plan_status", None),
        "warnings": cal.warnings,
    }
    if "a" in fit.params_:
        out["repeat_purchase"]["mean_dropout_per_order"] = _r(fit.params_["a"] / (fit.params_["a"] + fit.params_["b"]))
    if cal.seasonality is not None:
        out["seasonality"] = cal.seasonality.summary()
    if cal.events is not None:
        out["events"] = cal.events.summary()
    if cal.lift is not None:
        out["lift_test"] = cal.lift.summary()
    return _yaml_data(out)


def _mean_interval(fit) -> float:
    """Mean days between orders of an active customer: E[1/lambda] = alpha/(r-1) for lambda ~ Gamma(r, alpha);
    infinite when r <= 1 (many customers buy so rarely that the mean interval diverges)."""
    r, alpha = fit.params_["r"], fit.params_["alpha"]
    return alpha / (r - 1.0) if r > 1.0 else float("inf")


def _median_interval(fit) -> float:
    """Median over customers of their mean days between orders, 1/median(lambda)."""
    from scipy import stats

    return 1.0 / float(stats.gamma.ppf(0.5, fit.params_["r"], scale=1.0 / fit.params_["alpha"]))


# -- writing -------------------------------------------------------------------------------------------


def dump_commented(data: dict[str, Any], comments: dict[str, str], indent: int = 0, prefix: str = "") -> str:
    """YAML text of a mapping with a `# comment` after every field that has one (keys are dotted paths).

    Scalars and lists of scalars go on one line; nested mappings and lists of mappings are blocks. The
    caller checks that the text reads back to the same mapping.
    """
    lines: list[str] = []
    pad = " " * indent
    for key, value in data.items():
        path = f"{prefix}{key}"
        note = comments.get(path)
        tail = f"  # {note}" if note else ""
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{_key(key)}:{tail}")
            lines.append(dump_commented(value, comments, indent + 2, path + "."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{pad}{_key(key)}:{tail}")
            for item in value:
                body = dump_commented(item, comments, indent + 4, path + ".").splitlines()
                lines.append(f"{pad}  - {body[0].lstrip()}")
                lines.extend(body[1:])
        else:
            lines.append(f"{pad}{_key(key)}: {_scalar(value)}{tail}")
    return "\n".join(lines)


def _key(key: Any) -> str:
    return _scalar(str(key))


def _scalar(value: Any) -> str:
    """One YAML scalar or flow sequence on one line (quoted as PyYAML would)."""
    from sim.model.yamlfile import ScenarioDumper  # floats a reader cannot take for thousands (152.6110)

    text = yaml.dump(value, Dumper=ScenarioDumper, default_flow_style=True, allow_unicode=True, width=10**9).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    if text.endswith("..."):
        text = text[:-3].strip()
    return text


HEADER = (
    "# Calibrated by `python -m sim calibrate` from {source} (history up to {cutoff}).\n"
    "# Every field says its unit and where its value came from: fitted (with its standard error), from the spend\n"
    "# log, a default, or an ASSUMPTION to set. Standard errors, the model comparison, the backtest and warnings\n"
    "# are in the `calibration` block at the end. The customers at the cut-off are in the snapshot CSV named in\n"
    "# market -> existing -> snapshot.\n"
)


def check_scenario_out(out: str | Path) -> Path:
    """The scenario file `--out` names, refused in one line (a folder, not .yaml/.yml, a device or FIFO) before
    any work; a symbolic link is followed."""
    from sim.io import check_output_file

    out = Path(out)
    if out.exists() and out.is_dir():
        raise UserInputError("is a folder, expected a scenario file name", location="--out", found=str(out))
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise UserInputError("must end in .yaml or .yml", location="--out", found=str(out))
    return check_output_file(out)


def write_calibration(cal, out: str | Path) -> tuple[Path, Path]:
    """Write the scenario YAML and its snapshot CSV (`<name>.customers.csv` beside it) as one output set: both
    appear together, or neither does. Returns (yaml path, snapshot path)."""
    from sim.io import output_set

    out = check_scenario_out(out)
    snap_name = out.name[: -len(out.suffix)] + ".customers.csv"
    snap_path = out.parent / snap_name
    data = _yaml_data(cal.scenario)
    data["market"]["existing"]["snapshot"] = snap_name
    body = {k: v for k, v in data.items() if k != "calibration"}
    commented = HEADER.format(source=cal.diagnostics["source"], cutoff=cal.diagnostics["cutoff"]) + dump_commented(
        body, cal.comments
    )
    # the hand-written part must read back to the scenario; the calibration block is PyYAML's own dump
    assert yaml.load(commented, Loader=_LOADER) == body, "the commented YAML must read back to the scenario"
    text = (
        commented
        + "\n# "
        + cal.comments["calibration"]
        + "\n"
        + yaml.dump(
            {"calibration": data["calibration"]}, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=110
        )
    )
    parse_scenario(data, str(out))  # validate before anything is written
    # the scenario and the snapshot it names appear together, or neither does (a re-run never pairs a new
    # scenario with an old snapshot)
    with output_set(out.parent, "calibrate", [out.name, snap_name]) as outs:
        cal.snapshot.to_csv(outs.stage_path(snap_name), index=False)
        outs.stage_path(out.name).write_text(text, encoding="utf-8")
    return out, snap_path


# -- helpers -------------------------------------------------------------------------------------------


def _r(v: float | None, digits: int = 6) -> float | None:
    """A float for YAML: `digits` significant digits, NaN and infinity as null."""
    if v is None:
        return None
    v = float(v)
    return float(f"{v:.{digits}g}") if math.isfinite(v) else None


def _fmt(v: float | None) -> str:
    """A standard error for a comment: 3 significant digits, never in scientific notation."""
    if v is None or not math.isfinite(v):
        return "n/a"
    if v == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{digits}f}"


def _exact(split: dict[str, float]) -> dict[str, float]:
    """Shares rounded to 6 digits that still add up to 1 (the schema checks the sum)."""
    keys = list(split)
    vals = [round(float(split[k]), 6) for k in keys]
    vals[-1] = round(1.0 - sum(vals[:-1]), 6)
    return dict(zip(keys, vals, strict=True))


def _yaml_data(value: Any) -> Any:
    """Python data for YAML (timestamps as dates, NaN as null)."""
    return plain(value, dates="date")
