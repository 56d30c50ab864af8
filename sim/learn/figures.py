"""Every figure the playbook quotes, computed by the simulator: a registry of name -> function.

A chapter never quotes a number from memory. It marks each figure inline,
``<!--fig:ch1_new_front_heavy-->1,234<!--/fig-->``, and this module knows how to compute it: each
registered function runs the model on a small, seeded learning scenario and returns a `Value`, one
number that the English chapters (playbook/) and the Korean ones (playbook/ko/) write each in their own
way: ``24,800 KRW`` and ``2만 4,800원``, ``132.4 million KRW`` and ``1억 3,240만 원``.
``python -m sim.learn.figures --check`` recomputes every marked figure of both languages and lists those
that drifted; ``--write`` rewrites them in place. The learning notebooks import the same helpers, so a trainee who
moves a slider sees the very runs the chapter talks about.

The learning scenarios are 1/10-scale copies of the early-stage D2C sample (40,000 people, 24 months),
kept here rather than read from `data/samples` so that a change to a sample does not move the playbook;
"saturated" is the same shop in a market that has mostly met the brand. Comparisons use the fast engine
in expected mode (deterministic, no noise between two plans); figures read from an order log use one
seeded run of the agent engine. Runs are cached (speed: several figures of a chapter share one run).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.analysis.marginal import MarginalStep, marginal_rois
from sim.model import acquisition, budget, money, retention
from sim.model.kpis import compute_kpis
from sim.model.result import SimulationResult
from sim.model.scenario import PURPOSES, Scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbook"
FOLDERS = {"en": PLAYBOOK, "ko": PLAYBOOK / "ko"}  # each language's chapters
ENGINE = "fast"  # expected mode: deterministic expectations, so two plans differ by their levers only
ORDER_LOG_ENGINE = "agent"  # the reference engine, one seeded run, for figures read from an order log

# -- the learning scenarios -------------------------------------------------------------------------

LEARNING_D2C_YAML = """
schema_version: 1
name: Learning D2C (1/10 scale)
client: Haneul Skincare (learning copy)
archetype: early-stage D2C
description: >
  The early-stage D2C skincare sample at one tenth of its size and over two years: own store, a large
  market that mostly has never heard of the brand, a small customer base.
market:
  size: 40000
  initially_aware: 400
  existing: {customers: 90, loyal: 12, lapsed: 25, lapsed_months_ago_max: 12}
economics:
  currency: KRW
  order_value_mean: 38000
  order_value_cv: 0.45
  gross_margin: 0.65
  fulfilment_cost_per_order: 3500
  annual_discount_rate: 0.12
channels:
  search_ads:
    label: Search ads
    reach: {kind: hill, max_reach: 600, half_saturation: 600000, shape: 1.0}
    backend_efficiency: 0.6
    winback_cost_per_contact: 900
  sns_content:
    label: SNS content
    reach: {kind: hill, max_reach: 800, half_saturation: 700000, shape: 1.2}
    backend_efficiency: 0.8
    winback_cost_per_contact: 700
  influencer:
    label: Influencer
    reach: {kind: hill, max_reach: 700, half_saturation: 900000, shape: 1.3}
    backend_efficiency: 0.3
    winback_cost_per_contact: 1500
  kakao_crm:
    label: Kakao CRM messages
    reach: {kind: exponential, max_reach: 150, half_saturation: 200000}
    backend_efficiency: 1.0
    winback_cost_per_contact: 250
budget:
  period: month
  totals: 2400000
  purpose_split: {front: 0.75, back: 0.2, winback: 0.05}
  channel_split:
    front: {search_ads: 0.4, sns_content: 0.35, influencer: 0.25}
    back: {kakao_crm: 0.7, sns_content: 0.3}
    winback: {kakao_crm: 1.0}
first_purchase:
  monthly_conversion: 0.015
  landing_page_quality: 1.0
  offer_strength: 1.0
  forgetting_per_month: 0.08
  negative_wom_impact: 0.5
repeat_purchase: {r: 1.3, alpha: 95.0, a: 1.0, b: 4.0}
retention:
  purchase_rate_uplift_max: 0.5
  dropout_reduction_max: 0.4
  order_value_uplift_max: 0.1
  half_saturation_per_customer: 2500
  first_party_data_share: 0.9
  marketplace_effectiveness: 0.3
  targeting_precision: 0.85
experience:
  reliability: 0.95
  delay_tolerance_days: 2.0
  proactive_coverage: 1.0
  proactive_rescue: 0.5
  proactive_cost_per_order: 60
  delight_coverage: 0.2
  delight_probability: 0.4
  delight_cost_per_order: 1500
  baseline_delight: 0.03
  dissatisfied_dropout_multiplier: 3.0
  delighted_dropout_multiplier: 0.5
loyalty:
  step_probability_satisfied: 0.12
  step_probability_delighted: 0.45
  demote_on_dissatisfied: 0.5
  purchase_rate_multiplier: 1.5
  dropout_multiplier: 0.5
  order_value_multiplier: 1.2
referral: {contacts_per_loyal_per_month: 0.35}
winback: {base_reactivation: 0.04, decay_months: 6.0}
operations:
  fulfilment_capacity_per_day: 40
  service_capacity_per_day: 3
  complaint_share: 0.3
  service_recovery: 0.4
  service_target_days: 2.0
simulation: {start_date: 2027-01-01, horizon_months: 24, seed: 7}
"""

# The same shop in a saturated market: four people in five have met the brand already and a large
# pile of former customers has built up over the past year (the market state changes, nothing else).
SATURATED_CHANGES: dict[str, Any] = {
    "name": "Learning D2C, saturated market",
    "market.initially_aware": 14000,
    "market.existing.customers": 1600,
    "market.existing.loyal": 500,
    "market.existing.lapsed": 16000,
    "market.existing.lapsed_months_ago_max": 12,
}

KINDS = ("d2c", "saturated")


@lru_cache(maxsize=1)
def _base() -> Scenario:
    return parse_scenario(yaml.safe_load(LEARNING_D2C_YAML), "<learning scenario>")


def learning_scenario(kind: str = "d2c", changes: dict[str, Any] | None = None) -> Scenario:
    """A learning scenario ("d2c" or "saturated") with optional dotted-path changes."""
    if kind not in KINDS:
        raise ValueError(f'"kind" must be one of {", ".join(KINDS)}, found {kind!r}')
    merged = dict(SATURATED_CHANGES) if kind == "saturated" else {}
    merged.update(changes or {})
    return _base().with_changes(merged) if merged else _base()


def _key(changes: dict[str, Any] | None) -> str:
    return json.dumps(changes or {}, sort_keys=True)


@lru_cache(maxsize=512)
def _run(kind: str, key: str, engine: str, seed: int | None) -> SimulationResult:
    from sim.engines import simulate

    scenario = learning_scenario(kind, json.loads(key))
    return simulate(scenario, engine=engine, seed=seed)


def run(
    kind: str = "d2c", changes: dict[str, Any] | None = None, engine: str = ENGINE, seed: int | None = None
) -> SimulationResult:
    """A (cached) run of a learning scenario: by default the fast engine's expectations (deterministic,
    no noise between two plans); `engine="agent"` for one seeded run with an order log."""
    return _run(kind, _key(changes), engine, seed)


def kpis(kind: str = "d2c", changes: dict[str, Any] | None = None, engine: str = ENGINE) -> dict[str, float | None]:
    """KPIs of a (cached) run of a learning scenario."""
    return compute_kpis(run(kind, changes, engine))


@lru_cache(maxsize=64)
def _marginal(kind: str, key: str, share: float) -> dict[str, float | None]:
    scenario = learning_scenario(kind, json.loads(key))
    return marginal_rois(scenario, engine=ENGINE, step=MarginalStep(share))


def marginal(
    kind: str = "d2c", changes: dict[str, Any] | None = None, share: float = MarginalStep().share_of_spend
) -> dict[str, float | None]:
    """Marginal ROI by purpose: extra contribution per extra unit of spend when one purpose gets `share` of
    its own spend more, every month (`sim.analysis.marginal.marginal_rois`)."""
    return _marginal(kind, _key(changes), share)


def sweep_results(kind: str = "d2c", changes_list: list[dict[str, Any]] | tuple = ()) -> list[SimulationResult]:
    """Runs of several variants of a learning scenario (fast engine: one batch, speed trick)."""
    return list(_sweep(kind, tuple(_key(c) for c in changes_list)))


@lru_cache(maxsize=128)
def _sweep(kind: str, keys: tuple[str, ...]) -> tuple[SimulationResult, ...]:
    scenarios = [learning_scenario(kind, json.loads(k)) for k in keys]
    if ENGINE != "fast":
        return tuple(run(kind, json.loads(k)) for k in keys)
    from sim.engines.fast import simulate_batch

    batch = simulate_batch(scenarios, keep_daily=True)
    return tuple(batch.result(i) for i in range(len(scenarios)))


def sweep(kind: str = "d2c", changes_list: list[dict[str, Any]] | tuple = ()) -> list[dict[str, float | None]]:
    """KPIs of several variants of a learning scenario."""
    return [compute_kpis(r) for r in sweep_results(kind, changes_list)]


def marginal_many(scenarios: list[Scenario], share: float = MarginalStep().share_of_spend) -> list[dict[str, float]]:
    """Marginal ROIs of several scenarios (same channels and horizon) in one fast-engine batch: the same
    numbers as `sim.analysis.marginal.marginal_rois(..., engine="fast")`, computed together (speed trick)."""
    from sim.analysis.marginal import marginal_amounts, stepped_spend
    from sim.engines.fast import simulate_batch

    rows, spends, extras = [], [], []
    for s in scenarios:
        base = budget.spend_by_month(s)
        amounts = marginal_amounts(base, MarginalStep(share))
        extras.append(amounts * s.simulation.horizon_months)
        rows.append(s)
        spends.append(base)
        for purpose in PURPOSES:
            rows.append(s)
            spends.append(stepped_spend(s, purpose, share, base, MarginalStep(share)))
    contribution = simulate_batch(rows, np.stack(spends), mode="expected").kpi_vectors()["cumulative_contribution"]
    out = []
    for i, extra in enumerate(extras):
        c = contribution[4 * i : 4 * i + 4]
        out.append({p: float((c[j + 1] - c[0]) / extra[j]) for j, p in enumerate(PURPOSES)})
    return out


def split(front: float, back: float, winback: float = 0.0) -> dict[str, Any]:
    """Changes that set the purpose split (the channels stay the same)."""
    return {"budget.purpose_split": {"front": front, "back": back, "winback": winback}}


# -- figures an order log gives (chapter 3) ------------------------------------------------------------


def order_log_kpis(orders: pd.DataFrame, horizon_end: str | None = None) -> dict[str, float]:
    """Figures a consultant reads from an order export: customer_id, order_date, amount, order_number.

    `order_number` counts a customer's orders including those before the export started, so an order
    with number 1 is a first purchase and every other order is a repeat order.
    """
    o = orders.copy()
    o["order_date"] = pd.to_datetime(o["order_date"])
    first = o[o["order_number"] == 1]
    new_ids = set(first["customer_id"])
    repeaters = o[o["customer_id"].isin(new_ids) & (o["order_number"] == 2)]["customer_id"].nunique()
    returning = o["order_number"] > 1
    end = pd.Timestamp(horizon_end) if horizon_end else o["order_date"].max()
    last = o.groupby("customer_id")["order_date"].max()
    return {
        "customers": float(o["customer_id"].nunique()),
        "orders": float(len(o)),
        "revenue": float(o["amount"].sum()),
        "average_order_value": float(o["amount"].mean()),
        "orders_per_customer": float(len(o) / max(o["customer_id"].nunique(), 1)),
        "new_customers": float(len(new_ids)),
        "repeat_purchase_rate": float(repeaters / max(len(new_ids), 1)),
        "returning_revenue_share": float(o.loc[returning, "amount"].sum() / o["amount"].sum()),
        "dissatisfied_share": float((o["experience"] == "dissatisfied").mean()) if "experience" in o else float("nan"),
        "silent_90d_share": float(((end - last).dt.days > 90).mean()),
    }


def segments(orders: pd.DataFrame, horizon_end: str | None = None, quiet_days: int = 90) -> pd.Series:
    """CRM segments from an order log (chapter 6): who to treat how, by order count and recency.

    one-time (active): one order, seen within `quiet_days`; hesitating: one order, silent longer;
    repeat (active): two or more orders, seen recently; at risk: two or more orders, silent longer.
    """
    o = orders.copy()
    o["order_date"] = pd.to_datetime(o["order_date"])
    end = pd.Timestamp(horizon_end) if horizon_end else o["order_date"].max()
    g = o.groupby("customer_id").agg(
        n=("order_number", "size"), top=("order_number", "max"), last=("order_date", "max")
    )
    repeat = g["top"] >= 2
    quiet = (end - g["last"]).dt.days > quiet_days
    labels = np.select(
        [~repeat & ~quiet, ~repeat & quiet, repeat & ~quiet, repeat & quiet],
        ["one-time, recent", "one-time, hesitating", "repeat, active", "repeat, at risk"],
        default="",
    )
    order = ["one-time, recent", "one-time, hesitating", "repeat, active", "repeat, at risk"]
    return pd.Series(labels).value_counts().reindex(order, fill_value=0)


# -- formatting: one number, written per language --------------------------------------------------------

LANGS = ("en", "ko")


@dataclass(frozen=True)
class Value:
    """A figure: its number and how it is written. `text("en")` gives the English chapters' form
    ('24,800 KRW', '132.4 million KRW'), `text("ko")` the Korean chapters' ('2만 4,800원', '1억 3,240만 원');
    percentages, counts and decimals read the same in both ('76.5%', '2,090', '0.82')."""

    number: float
    unit: str  # "krw", "mkrw", "pct", "num" or "dec"
    digits: int = 0  # decimals of "pct" and "dec"
    step: int = 100  # rounding of "krw" [currency]

    def text(self, lang: str = "en") -> str:
        if lang not in LANGS:
            raise ValueError(f'"lang" must be one of {", ".join(LANGS)}, found {lang!r}')
        if self.unit not in _WRITERS:
            raise ValueError(f'"unit" must be one of {", ".join(_WRITERS)}, found {self.unit!r}')
        return _WRITERS[self.unit](self, lang)


def won_ko(amount: int) -> str:
    """Won the way Korean text writes them, in groups of 만 and 억: 2400000 -> '240만 원',
    24800 -> '2만 4,800원', 132400000 -> '1억 3,240만 원' (원 is spaced after a unit word, not after digits)."""
    sign, rest = ("-" if amount < 0 else ""), abs(int(amount))
    parts = []
    for unit, size in (("조", 10**12), ("억", 10**8), ("만", 10**4)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count:,}{unit}")
    if rest or not parts:
        parts.append(f"{rest:,}")
        return sign + " ".join(parts) + "원"
    return sign + " ".join(parts) + " 원"


def _money(v: Value, lang: str) -> str:
    amount = int(round(v.number / v.step) * v.step)
    return f"{amount:,} KRW" if lang == "en" else won_ko(amount)


def _millions(v: Value, lang: str) -> str:
    english = f"{v.number / 1e6:,.1f}"
    if lang == "en":
        return f"{english} million KRW"
    return won_ko(int(english.replace(",", "").replace(".", "")) * 100_000)  # the same rounded number


_WRITERS: dict[str, Callable[[Value, str], str]] = {
    "krw": _money,
    "mkrw": _millions,
    "pct": lambda v, lang: f"{100 * v.number:.{v.digits}f}%",
    "num": lambda v, lang: f"{int(round(v.number)):,}",
    "dec": lambda v, lang: f"{v.number:.{v.digits}f}",
}


def krw(x: float, step: int = 100) -> Value:
    """Money rounded to `step`: '31,200 KRW' / '3만 1,200원'."""
    return Value(float(x), "krw", step=step)


def mkrw(x: float) -> Value:
    """Money in tenths of a million: '145.9 million KRW' / '1억 4,590만 원'."""
    return Value(float(x), "mkrw")


def pct(x: float, digits: int = 1) -> Value:
    return Value(float(x), "pct", digits=digits)


def num(x: float) -> Value:
    return Value(float(x), "num")


def dec(x: float, digits: int = 2) -> Value:
    return Value(float(x), "dec", digits=digits)


# -- the registry -----------------------------------------------------------------------------------------

FIGURES: dict[str, Callable[[], Value]] = {}


def figure(name: str) -> Callable[[Callable[[], Value]], Callable[[], Value]]:
    """Register a figure function under `name` (the name used in the chapter's marker)."""

    def register(fn: Callable[[], Value]) -> Callable[[], Value]:
        if name in FIGURES:
            raise ValueError(f"figure {name!r} is registered twice")
        FIGURES[name] = fn
        return fn

    return register


def _k(name: str, kind: str = "d2c", changes: dict[str, Any] | None = None) -> float:
    value = kpis(kind, changes)[name]
    if value is None:
        raise ValueError(f"KPI {name!r} is undefined for this run")
    return float(value)


# chapter 1: the same channels, two purpose splits
FRONT_HEAVY = split(0.9, 0.1)
BALANCED = split(0.6, 0.4)
BASE_SPLIT = {"front": 0.75, "back": 0.2, "winback": 0.05}


@figure("ch1_budget")
def _ch1_budget() -> Value:
    return krw(float(budget.monthly_budget(learning_scenario())[0]))


for _label, _changes in (("front_heavy", FRONT_HEAVY), ("balanced", BALANCED)):
    figure(f"ch1_new_{_label}")(lambda c=_changes: num(_k("new_customers", changes=c)))
    figure(f"ch1_cac_{_label}")(lambda c=_changes: krw(_k("cac", changes=c)))
    figure(f"ch1_clv_{_label}")(lambda c=_changes: krw(_k("clv", changes=c)))
    figure(f"ch1_returning_{_label}")(lambda c=_changes: pct(_k("returning_revenue_share", changes=c)))
    figure(f"ch1_contribution_{_label}")(lambda c=_changes: mkrw(_k("cumulative_contribution", changes=c)))


@figure("ch1_new_difference")
def _ch1_new_difference() -> Value:
    return num(_k("new_customers", changes=FRONT_HEAVY) - _k("new_customers", changes=BALANCED))


for _label, _changes in (("front_heavy", FRONT_HEAVY), ("balanced", BALANCED)):
    figure(f"ch1_contribution_{_label}_saturated")(
        lambda c=_changes: mkrw(_k("cumulative_contribution", "saturated", changes=c))
    )

BACKEND_EFFECTS = ("purchase_rate_uplift_max", "dropout_reduction_max", "order_value_uplift_max")


def _schema_limit(block: str, field: str) -> float:
    """The largest value the scenario schema allows for `block.field` (its `le` bound)."""
    info = type(getattr(_base(), block)).model_fields[field]
    bounds = [m.le for m in info.metadata if getattr(m, "le", None) is not None]
    if not bounds:
        raise ValueError(f"{block}.{field} has no upper bound in the scenario schema")
    return float(min(bounds))


def stronger_backend(factor: float) -> dict[str, float]:
    """Changes that multiply the three back-end effects by `factor` (each capped at the schema's limit)."""
    r = _base().retention
    return {f"retention.{f}": min(_schema_limit("retention", f), getattr(r, f) * factor) for f in BACKEND_EFFECTS}


def strongest_backend() -> dict[str, float]:
    """Changes that set the three back-end effects to the largest values the schema allows."""
    return {f"retention.{f}": _schema_limit("retention", f) for f in BACKEND_EFFECTS}


@lru_cache(maxsize=1)
def backend_factor_breakeven(step: float = 0.05, most: float = 4.0) -> float:
    """The factor on every back-end effect at which the balanced plan (60/40) earns as much contribution as
    the front-heavy one (90/10) in the d2c market: a grid of factors in one batch, then linear
    interpolation between the last grid point below break-even and the first above (chapter 1)."""
    factors = np.arange(1.0, most + step / 2, step)
    plans = [{**stronger_backend(f), **plan} for f in factors for plan in (FRONT_HEAVY, BALANCED)]
    contribution = np.array([k["cumulative_contribution"] for k in sweep("d2c", plans)])
    gap = contribution[1::2] - contribution[0::2]  # balanced minus front-heavy
    above = np.nonzero(gap >= 0)[0]
    if len(above) == 0:
        raise ValueError(f"the balanced plan does not catch up with back-end effects up to {most:g} times")
    i = int(above[0])
    if i == 0:
        return float(factors[0])
    return float(factors[i - 1] + step * (-gap[i - 1]) / (gap[i] - gap[i - 1]))


figure("ch1_backend_factor_breakeven")(lambda: dec(backend_factor_breakeven(), 1))


# chapter 2: the lifecycle of the base run
def base_run() -> SimulationResult:
    """The learning scenario as given, one seeded run of the agent engine (with its order log)."""
    return run(engine=ORDER_LOG_ENGINE)


def _stage_at(month: int, stage: str) -> float:
    daily = base_run().daily
    return float(daily[stage].resample("MS").last().iloc[month - 1])


for _stage in ("unaware", "aware", "customer", "loyal", "lapsed"):
    figure(f"ch2_{_stage}_m24")(lambda st=_stage: num(_stage_at(24, st)))


@figure("ch2_ever_bought_m24")
def _ch2_ever_bought() -> Value:
    last = base_run().daily.iloc[-1]
    return num(last["customer"] + last["loyal"] + last["lapsed"])


@figure("ch2_fpc")
def _ch2_fpc() -> Value:
    return pct(compute_kpis(base_run())["first_purchase_conversion"])


@figure("ch2_repeat")
def _ch2_repeat() -> Value:
    return pct(compute_kpis(base_run())["repeat_purchase_rate"])


@figure("ch2_retention")
def _ch2_retention() -> Value:
    return pct(compute_kpis(base_run())["retention_12m"])


def _referral_share(result: SimulationResult | None = None) -> float:
    """Share of first orders placed by people a loyal customer had told about the brand (order log)."""
    o = (result or base_run()).orders
    first = o[o["order_number"] == 1]
    return float((first["acquisition_channel"] == "referral").mean())


@figure("ch2_referral_share")
def _ch2_referral() -> Value:
    return pct(_referral_share())


@figure("ch2_referral_share_c2")
def _ch2_referral_c2() -> Value:
    """The same share if every loyal customer told two people a month (chapter 2's exercise 3)."""
    return pct(_referral_share(run("d2c", {"referral.contacts_per_loyal_per_month": 2.0}, engine=ORDER_LOG_ENGINE)))


# chapter 3: the order log
def _log(name: str) -> float:
    return order_log_kpis(base_run().orders)[name]


for _name, _fmt in (
    ("customers", num),
    ("orders", num),
    ("average_order_value", krw),
    ("orders_per_customer", dec),
    ("new_customers", num),
    ("repeat_purchase_rate", pct),
    ("returning_revenue_share", pct),
    ("dissatisfied_share", pct),
    ("silent_90d_share", pct),
):
    figure(f"ch3_log_{_name}")(lambda n=_name, f=_fmt: f(_log(n)))


def orders_per_new_customer() -> float:
    """Orders per customer won during the run, read from the seeded order log (exercise ch3_q1)."""
    o = base_run().orders
    new_ids = set(o.loc[o["order_number"] == 1, "customer_id"])
    return round(float(o["customer_id"].isin(new_ids).sum() / len(new_ids)), 2)


@figure("ch3_orders_per_new")
def _ch3_orders_per_new() -> Value:
    return dec(orders_per_new_customer())


def returning_share_by_channel(orders: pd.DataFrame) -> pd.Series:
    """Returning revenue share of the customers each acquisition channel brought (chapter 3's exercise 3).
    `existing` customers bought before the log began, so all their orders are repeat orders: 100% by
    construction."""
    repeat = orders["amount"].where(orders["order_number"] > 1, 0.0)
    grouped = orders.assign(repeat=repeat).groupby("acquisition_channel")
    return grouped["repeat"].sum() / grouped["amount"].sum()


@figure("ch3_existing_returning_share")
def _ch3_existing_returning_share() -> Value:
    return pct(returning_share_by_channel(base_run().orders)["existing"], 0)


@figure("ch3_kpi_returning")
def _ch3_kpi_returning() -> Value:
    return pct(compute_kpis(base_run())["returning_revenue_share"])


@figure("ch3_kpi_repeat")
def _ch3_kpi_repeat() -> Value:
    return pct(compute_kpis(base_run())["repeat_purchase_rate"])


@figure("ch3_cac")
def _ch3_cac() -> Value:
    return krw(compute_kpis(base_run())["cac"])


@figure("ch3_clv")
def _ch3_clv() -> Value:
    return krw(compute_kpis(base_run())["clv"])


@figure("ch3_ltv_cac")
def _ch3_ltv_cac() -> Value:
    return dec(compute_kpis(base_run())["ltv_cac"], 1)


@figure("ch3_payback")
def _ch3_payback() -> Value:
    return num(compute_kpis(base_run())["payback_months"])


# chapter 4: landing page quality
LANDING = (0.8, 1.0, 1.3)
for _q in LANDING:
    _tag = f"{int(round(_q * 10)):02d}"
    figure(f"ch4_fpc_lpq{_tag}")(
        lambda q=_q: pct(_k("first_purchase_conversion", changes={"first_purchase.landing_page_quality": q}))
    )
    figure(f"ch4_cac_lpq{_tag}")(lambda q=_q: krw(_k("cac", changes={"first_purchase.landing_page_quality": q})))
    figure(f"ch4_new_lpq{_tag}")(
        lambda q=_q: num(_k("new_customers", changes={"first_purchase.landing_page_quality": q}))
    )


FORGET_LESS = {"first_purchase.forgetting_per_month": 0.04}  # half the learning scenario's 8%
figure("ch4_fpc_forget04")(lambda: pct(_k("first_purchase_conversion", changes=FORGET_LESS)))
figure("ch4_new_forget04")(lambda: num(_k("new_customers", changes=FORGET_LESS)))


@figure("ch4_hazard_ratio")
def _ch4_hazard_ratio() -> Value:
    """Monthly first-purchase chance at quality 1.3 (the model's arithmetic, no simulation)."""
    fp = learning_scenario().first_purchase
    return pct(fp.monthly_conversion * fp.offer_strength * 1.3, 2)


# chapter 5: reliability and delight
RELIABILITY = (0.85, 0.95, 0.99)
for _r in RELIABILITY:
    _tag = f"{int(round(_r * 100))}"
    _c = {"experience.reliability": _r}
    figure(f"ch5_retention_rel{_tag}")(lambda c=_c: pct(_k("retention_12m", changes=c)))
    figure(f"ch5_dissatisfied_rel{_tag}")(lambda c=_c: pct(_k("dissatisfied_share", changes=c)))
    figure(f"ch5_contribution_rel{_tag}")(lambda c=_c: mkrw(_k("cumulative_contribution", changes=c)))
figure("ch5_new_rel85")(lambda: num(_k("new_customers", changes={"experience.reliability": 0.85})))
figure("ch5_new_rel85_no_wom")(
    lambda: num(
        _k("new_customers", changes={"experience.reliability": 0.85, "first_purchase.negative_wom_impact": 0.0})
    )
)
DELIGHT = (0.0, 0.2, 0.6)
for _d in DELIGHT:
    _tag = f"{int(round(_d * 100))}"
    _c = {"experience.delight_coverage": _d}
    figure(f"ch5_retention_del{_tag}")(lambda c=_c: pct(_k("retention_12m", changes=c)))
    figure(f"ch5_delighted_del{_tag}")(lambda c=_c: pct(_k("delighted_share", changes=c)))
    figure(f"ch5_loyal_del{_tag}")(lambda c=_c: num(_k("loyal_customers_end", changes=c)))
    figure(f"ch5_contribution_del{_tag}")(lambda c=_c: mkrw(_k("cumulative_contribution", changes=c)))
    figure(f"ch5_cost_per_order_del{_tag}")(
        lambda c=_c: krw(money.experience_cost_per_order(learning_scenario(changes=c)), step=10)
    )


@figure("ch5_orders_per_day_last_month")
def _ch5_orders_per_day() -> Value:
    daily = base_run().daily
    return num(daily["orders"].iloc[-30:].mean())


CAPACITIES = (25, 20, 17, 15, 10)  # fulfilment capacity per day, as in the notebook's table
for _cap in CAPACITIES:
    figure(f"ch5_dissatisfied_cap{_cap}")(
        lambda c=_cap: pct(_k("dissatisfied_share", changes={"operations.fulfilment_capacity_per_day": c}))
    )


def months_over_capacity(capacity: float) -> int:
    """Months of the base plan (fast engine) whose expected orders a day exceed `capacity`: the months in
    which a team shipping `capacity` a day falls behind."""
    per_day = run("d2c").daily["orders"].resample("MS").mean()
    return int((per_day > capacity).sum())


for _cap in (17, 15):
    figure(f"ch5_months_over_cap{_cap}")(lambda c=_cap: num(months_over_capacity(c)))


@figure("ch5_orders_per_day_peak")
def _ch5_orders_peak() -> Value:
    return num(base_run().daily["orders"].max())


# chapter 6: first-party data and targeting precision
DATA_CASES = {
    "marketplace": {"retention.first_party_data_share": 0.1},
    "own_store": {"retention.first_party_data_share": 0.9},
    "own_store_privacy": {"retention.first_party_data_share": 0.9, "retention.targeting_precision": 0.5},
}
for _label, _c in DATA_CASES.items():
    figure(f"ch6_effectiveness_{_label}")(
        lambda c=_c: pct(
            float(
                retention.backend_effectiveness(
                    learning_scenario(changes=c).retention.first_party_data_share,
                    learning_scenario(changes=c).retention.marketplace_effectiveness,
                    learning_scenario(changes=c).retention.targeting_precision,
                )
            ),
            0,
        )
    )
    figure(f"ch6_repeat_{_label}")(lambda c=_c: pct(_k("repeat_purchase_rate", changes=c)))
    figure(f"ch6_clv_{_label}")(lambda c=_c: krw(_k("clv", changes=c)))
    figure(f"ch6_contribution_{_label}")(lambda c=_c: mkrw(_k("cumulative_contribution", changes=c)))


def revenue_gain(to: dict[str, Any], extra: dict[str, Any] | None = None) -> float:
    """Relative revenue change from the marketplace case (10% data) to `to`, both with `extra` changes."""
    extra = extra or {}
    base, other = sweep("d2c", [{**extra, **DATA_CASES["marketplace"]}, {**extra, **to}])
    return float(other["revenue"] / base["revenue"] - 1.0)


PERFECT_DATA = {"retention.first_party_data_share": 1.0, "retention.targeting_precision": 1.0}
figure("ch6_revenue_gain_own_store")(lambda: pct(revenue_gain(DATA_CASES["own_store"])))
figure("ch6_revenue_gain_perfect")(lambda: pct(revenue_gain(PERFECT_DATA)))
figure("ch6_revenue_gain_strongest")(lambda: pct(revenue_gain(DATA_CASES["own_store"], strongest_backend())))


def _segment(label: str) -> Value:
    return num(segments(base_run().orders, str(base_run().daily.index[-1].date()))[label])


for _seg, _tag in (
    ("one-time, recent", "one_recent"),
    ("one-time, hesitating", "one_hesitating"),
    ("repeat, active", "repeat_active"),
    ("repeat, at risk", "repeat_at_risk"),
):
    figure(f"ch6_segment_{_tag}")(lambda s=_seg: _segment(s))


# chapter 7: marginal ROI by purpose, unsaturated vs saturated market, and a lower comeback chance
MROI_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "d2c": ("d2c", {}),
    "saturated": ("saturated", {}),
    "saturated_r01": ("saturated", {"winback.base_reactivation": 0.01}),
}


def mroi_case(case: str) -> dict[str, float | None]:
    """Marginal ROIs of one chapter-7 case."""
    kind, changes = MROI_CASES[case]
    return marginal(kind, changes)


for _case in MROI_CASES:
    for _purpose in ("front", "back", "winback") if _case != "saturated_r01" else ("back", "winback"):
        figure(f"ch7_mroi_{_purpose}_{_case}")(lambda c=_case, p=_purpose: dec(mroi_case(c)[p]))
for _kind in KINDS:
    figure(f"ch7_unaware_{_kind}")(lambda k=_kind: pct(unaware_share(learning_scenario(k)), 0))
    figure(f"ch7_lapsed_start_{_kind}")(lambda k=_kind: num(learning_scenario(k).market.existing.lapsed))
    figure(f"ch7_reactivations_{_kind}")(lambda k=_kind: num(run(k).daily["reactivations"].sum()))


def market_state(level: float, reactivation: float = 0.04, cost_per_contact: float = 250.0) -> dict[str, Any]:
    """Changes that move the d2c scenario's starting market towards the saturated one: level 0 is the
    early shop, 1 the saturated shop; awareness, the base and the lapsed pile grow together."""
    base = _base().market
    start = {
        "market.initially_aware": base.initially_aware,
        "market.existing.customers": base.existing.customers,
        "market.existing.loyal": base.existing.loyal,
        "market.existing.lapsed": base.existing.lapsed,
    }
    out: dict[str, Any] = {k: int(round(v + level * (SATURATED_CHANGES[k] - v))) for k, v in start.items()}
    out["winback.base_reactivation"] = reactivation
    out["channels.kakao_crm.winback_cost_per_contact"] = cost_per_contact
    return out


def unaware_share(scenario: Scenario) -> float:
    """Share of the market that has never met the brand at the start."""
    m = scenario.market
    used = m.initially_aware + m.existing.customers + m.existing.loyal + m.existing.lapsed
    return (m.size - used) / m.size


SATURATION_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


@lru_cache(maxsize=8)
def saturation_rois(levels: tuple[float, ...] = SATURATION_LEVELS) -> pd.DataFrame:
    """Marginal ROI by purpose as the d2c market moves towards saturation, with the unaware share."""
    scenarios = [learning_scenario("d2c", market_state(x)) for x in levels]
    table = pd.DataFrame(marginal_many(scenarios), index=list(levels))
    table["unaware"] = [unaware_share(s) for s in scenarios]
    table["lapsed"] = [s.market.existing.lapsed for s in scenarios]
    return table


figure("ch7_l25_unaware")(lambda: pct(saturation_rois().loc[0.25, "unaware"], 0))
figure("ch7_l25_lapsed")(lambda: num(saturation_rois().loc[0.25, "lapsed"]))
figure("ch7_l25_front")(lambda: dec(saturation_rois().loc[0.25, "front"]))
figure("ch7_l25_winback")(lambda: dec(saturation_rois().loc[0.25, "winback"]))


@figure("ch7_winback_cost_per_comeback")
def _ch7_cost_per_comeback() -> Value:
    s = learning_scenario()
    return krw(s.channels["kakao_crm"].winback_cost_per_contact / s.winback.base_reactivation)


# chapter 8: one channel or several, same front-end budget
ONE_CHANNEL = {"budget.channel_split.front": {"search_ads": 1.0}}


@figure("ch8_new_one_channel")
def _ch8_new_one() -> Value:
    return num(_k("new_customers", changes=ONE_CHANNEL))


@figure("ch8_new_three_channels")
def _ch8_new_three() -> Value:
    return num(_k("new_customers"))


@figure("ch8_cac_one_channel")
def _ch8_cac_one() -> Value:
    return krw(_k("cac", changes=ONE_CHANNEL))


@figure("ch8_cac_three_channels")
def _ch8_cac_three() -> Value:
    return krw(_k("cac"))


def monthly_reach(split_front: dict[str, float], scenario: Scenario | None = None) -> float:
    """People reached a month by the front-end budget split over channels (the model's response curves)."""
    s = scenario or learning_scenario()
    front_budget = budget.monthly_budget(s)[0] * s.budget.purpose_split["front"]
    total = 0.0
    for name, share in split_front.items():
        r = s.channels[name].reach
        total += float(
            acquisition.reach_per_month(front_budget * share, r.max_reach, r.half_saturation, r.shape, r.kind)
        )
    return total


@figure("ch8_reach_one_channel")
def _ch8_reach_one() -> Value:
    return num(monthly_reach({"search_ads": 1.0}))


@figure("ch8_reach_three_channels")
def _ch8_reach_three() -> Value:
    return num(monthly_reach(learning_scenario().budget.channel_split["front"]))


# chapter 9: one split for the whole horizon (a fine sweep and its flat top), then the optimizer's plan over
# time, where its gain comes from, both plans side by side, the budget advice and what one must believe; the
# analyses live in sim.learn.splitting (imported when a figure is first computed: it imports this module)


def _ch9():
    from sim.learn import splitting

    return splitting


def times(x: float, digits: int = 2) -> Value:
    """A multiple of a scenario's value, to `digits` significant digits: '1.5×' / '1.5배'; NaN: '—'."""
    return Value(float(x), "times", digits=digits)


_WRITERS["times"] = lambda v, lang: (
    "—" if not np.isfinite(v.number) else f"{v.number:.{v.digits}g}" + ("×" if lang == "en" else "배")
)

CH9_KPIS = {  # KPI -> how the chapter writes it, in the table of both plans
    "new_customers": num,
    "cac": krw,
    "clv": krw,
    "ltv_cac": dec,
    "retention_12m": pct,
    "returning_revenue_share": pct,
    "customers_at_horizon": num,
}
CH9_BELIEFS = {  # short name -> the optimizer's input (sim.analysis.breakeven.beliefs)
    "effect": "retention.effect",
    "half_saturation": "retention.half_saturation_per_customer",
    "reactivation": "winback.base_reactivation",
    "conversion": "first_purchase.monthly_conversion",
    "alpha": "repeat_purchase.alpha",
    "dropout_b": "repeat_purchase.b",
    "reach": "channels.reach.max_reach",
    "order_value": "economics.order_value_mean",
    "margin": "economics.gross_margin",
}
CH9_PURPOSES = ("front", "back", "winback")


def _kpi_of(kind: str, plan: str, name: str) -> float:
    value = _ch9().optimized(kind).kpis[plan][name]
    if value is None:
        raise ValueError(f"KPI {name!r} is undefined under the {plan} plan of {kind}")
    return float(value)


for _kind in KINDS:
    # one split for 24 months: the best, its flat top, the current plan and a back-end-heavy split
    figure(f"ch9_best_front_{_kind}")(lambda k=_kind: pct(_ch9().best_front(k), 0))
    figure(f"ch9_best_npv_{_kind}")(lambda k=_kind: mkrw(_ch9().best_of(_ch9().split_sweep(k))["npv"]))
    figure(f"ch9_flat_lo_{_kind}")(lambda k=_kind: pct(_ch9().flat_front(k)[0], 0))
    figure(f"ch9_flat_hi_{_kind}")(lambda k=_kind: pct(_ch9().flat_front(k)[1], 0))
    figure(f"ch9_npv_front30_{_kind}")(lambda k=_kind: mkrw(_ch9().npv_at(k, 0.3)))
    # the optimizer: values, the plan per quarter and on average, the gain in parts
    figure(f"ch9_npv_current_{_kind}")(lambda k=_kind: mkrw(_ch9().optimized(k).current_value))
    figure(f"ch9_opt_npv_{_kind}")(lambda k=_kind: mkrw(_ch9().optimized(k).recommended_value))
    figure(f"ch9_opt_gain_{_kind}")(
        lambda k=_kind: mkrw(_ch9().optimized(k).recommended_value - _ch9().optimized(k).current_value)
    )
    for _purpose in CH9_PURPOSES:
        figure(f"ch9_opt_{_purpose}_{_kind}")(lambda k=_kind, p=_purpose: pct(_ch9().optimized(k).recommended_split[p]))
        for _q in range(1, 9):
            figure(f"ch9_path_{_kind}_q{_q}_{_purpose}")(
                lambda k=_kind, p=_purpose, q=_q: pct(_ch9().path_shares(_ch9().optimized(k)).loc[q, p], 0)
            )
        # both plans' marginal ROIs; the recommended plan's spend a month and the advice
        for _plan in ("current", "recommended"):
            figure(f"ch9_mroi_{_purpose}_{_plan}_{_kind}")(
                lambda k=_kind, p=_purpose, plan=_plan: dec(_ch9().optimized(k).marginal_roi[plan][p])
            )
        figure(f"ch9_spend_{_purpose}_{_kind}")(
            lambda k=_kind, p=_purpose: krw(_ch9().advice(_ch9().optimized(k), p)["spend_per_month"], step=10000)
        )
        figure(f"ch9_advice_{_purpose}_{_kind}")(
            lambda k=_kind, p=_purpose: krw(_ch9().advised_change(_ch9().optimized(k), p), step=10000)
        )
    for _part in ("budget_level", "purpose_split", "timing", "channel_mix"):
        figure(f"ch9_gain_{_part}_{_kind}")(lambda k=_kind, p=_part: mkrw(_ch9().gain_parts(_ch9().optimized(k))[p]))
    for _name, _writer in CH9_KPIS.items():
        for _plan in ("current", "recommended"):
            figure(f"ch9_kpi_{_name}_{_plan}_{_kind}")(
                lambda k=_kind, n=_name, plan=_plan, w=_writer: w(_kpi_of(k, plan, n))
            )
    # what one must believe: each input's break-evens, as multiples of the scenario's value
    for _short, _parameter in CH9_BELIEFS.items():
        for _side in ("low", "high"):
            figure(f"ch9_be_{_short}_{_side}_{_kind}")(
                lambda k=_kind, p=_parameter, s=_side: times(_ch9().breakeven_multiple(_ch9().optimized(k), p, s))
            )

# the horizon: one split for 12 months, and the optimizer's plan for 12 months
figure("ch9_best_front_d2c_12m")(lambda: pct(_ch9().best_front("d2c", 12), 0))
figure("ch9_flat_lo_d2c_12m")(lambda: pct(_ch9().flat_front("d2c", 12)[0], 0))
figure("ch9_flat_hi_d2c_12m")(lambda: pct(_ch9().flat_front("d2c", 12)[1], 0))
for _purpose in ("front", "back"):  # the 12-month plan, beside the 24-month one
    for _q in range(1, 5):
        figure(f"ch9_path_d2c_12m_q{_q}_{_purpose}")(
            lambda p=_purpose, q=_q: pct(_ch9().path_shares(_ch9().optimized("d2c", 12, breakevens=False)).loc[q, p], 0)
        )


@figure("ch9_be_effect_back_d2c")
def _ch9_be_effect_back() -> Value:
    """The back-end share of the best split at the first back-end effect tried where the plan changes."""
    row = _ch9().optimized("d2c").breakevens.set_index("parameter").loc["retention.effect"]
    return pct(row["high_split"]["back"], 0)


# the channel mix the optimizer changes in the early shop (its part of the gain)
figure("ch9_mix_front_search_ads_current_d2c")(
    lambda: pct(_ch9().optimized("d2c").current_channel_split["front"].get("search_ads", 0.0), 0)
)
figure("ch9_mix_front_search_ads_recommended_d2c")(
    lambda: pct(_ch9().optimized("d2c").recommended_channel_split["front"].get("search_ads", 0.0), 0)
)
figure("ch9_mix_back_kakao_crm_recommended_d2c")(
    lambda: pct(_ch9().optimized("d2c").recommended_channel_split["back"].get("kakao_crm", 0.0), 0)
)


# the saturated shop's path is flat too: one front-end share for its first quarters instead of the ups and downs
figure("ch9_steady_front_saturated")(lambda: pct(_ch9().steady_front("saturated")[0], 0))
figure("ch9_steady_loss_saturated")(lambda: pct(-_ch9().steady_front("saturated")[1], 1))
# LTV:CAC from CLV and CAC as quoted (to 100 KRW), as a trainee computes it (exercise 2)
figure("ch9_ltv_cac_rounded_d2c")(
    lambda: dec(round(_kpi_of("d2c", "recommended", "clv"), -2) / round(_kpi_of("d2c", "recommended", "cac"), -2))
)


# what one must believe for back-end to deserve the larger share (source text A1), in the early shop
for _factor in (1.0, 2.0, 3.0, 4.0):
    figure(f"ch9_belief_front_x{_factor:g}_d2c")(
        lambda f=_factor: pct(_ch9().backend_belief("d2c").set_index("factor").loc[f, "front_share"], 0)
    )
figure("ch9_belief_majority_d2c")(lambda: times(_ch9().backend_majority_factor("d2c")))


# -- finding and checking marks --------------------------------------------------------------------------

MARK = re.compile(r"<!--fig:([A-Za-z0-9_]+)-->(.*?)<!--/fig-->", re.S)


def chapters(folder: Path | None = None) -> list[Path]:
    """The playbook's Markdown files that may hold figure marks: of one folder, or of every language."""
    folders = [folder] if folder is not None else list(FOLDERS.values())
    return [p for f in folders for p in sorted(f.glob("*.md"))]


def language_of(path: Path) -> str:
    """The language a page's figures are written in: "ko" for pages in a `ko` folder, else "en"."""
    return "ko" if path.parent.name == "ko" else "en"


def marks(text: str) -> list[tuple[str, str]]:
    """(name, quoted text) of every figure mark in a Markdown text."""
    return MARK.findall(text)


@cache
def value(name: str) -> Value:
    """The current value of one registered figure (computed once, written in either language)."""
    if name not in FIGURES:
        raise KeyError(f"figure {name!r} is not registered in sim.learn.figures")
    return FIGURES[name]()


def compute(name: str, lang: str = "en") -> str:
    """The current value of one registered figure, as a chapter in `lang` ("en" or "ko") writes it."""
    return value(name).text(lang)


def _page(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if language_of(path) == "ko" else path.name


def check(paths: list[Path] | None = None) -> list[str]:
    """Problems with the quoted figures: unknown names and values that drifted (empty when all agree)."""
    problems = []
    for path in paths or chapters():
        lang = language_of(path)
        for name, quoted in marks(path.read_text(encoding="utf-8")):
            if name not in FIGURES:
                problems.append(f"{_page(path)}: figure {name!r} is not registered")
                continue
            current = compute(name, lang)
            if current != quoted:
                problems.append(f"{_page(path)}: figure {name!r} quotes {quoted!r}, the simulator gives {current!r}")
    return problems


def write(paths: list[Path] | None = None) -> int:
    """Rewrite every marked figure with its current value, in its page's language; return how many changed."""
    changed = 0
    for path in paths or chapters():
        text, lang = path.read_text(encoding="utf-8"), language_of(path)

        def fill(match: re.Match[str], lang: str = lang) -> str:
            nonlocal changed
            current = compute(match.group(1), lang)
            changed += current != match.group(2)
            return f"<!--fig:{match.group(1)}-->{current}<!--/fig-->"

        new = MARK.sub(fill, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.learn.figures", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--check", action="store_true", help="recompute every marked figure (both languages); exit 1 if any drifted"
    )
    group.add_argument("--write", action="store_true", help="rewrite every marked figure with its current value")
    group.add_argument("--list", action="store_true", help="print every registered figure, in English and Korean")
    args = parser.parse_args(argv)
    if args.list:
        for name in FIGURES:
            print(f"{name}\t{compute(name, 'en')}\t{compute(name, 'ko')}")
        return 0
    if args.write:
        print(f"{write()} figure(s) rewritten")
        return 0
    problems = check()
    for p in problems:
        print(p)
    print("all quoted figures agree with the simulator" if not problems else f"{len(problems)} figure(s) drifted")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
