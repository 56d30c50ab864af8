"""Every figure the playbook quotes, computed by the simulator: a registry of name -> function.

A chapter never quotes a number from memory. It marks each figure inline,
``<!--fig:ch1_new_front_heavy-->1,234<!--/fig-->``, and this module knows how to compute it: each
registered function runs the model on a small, seeded learning scenario and returns the formatted text.
``python -m sim.learn.figures --check`` recomputes every marked figure and lists those that drifted;
``--write`` rewrites them in place. The learning notebooks import the same helpers, so a trainee who
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
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.analysis.marginal import MarginalStep, marginal_rois
from sim.model import acquisition, budget, money, retention
from sim.model.kpis import compute_kpis
from sim.model.result import SimulationResult
from sim.model.scenario import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbook"
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
    kind: str = "d2c", changes: dict[str, Any] | None = None, share: float = MarginalStep().share_of_budget
) -> dict[str, float | None]:
    """Marginal ROI by purpose: extra contribution per extra unit of spend when one purpose gets
    `share` of the average monthly budget more, every month (`sim.model.kpis.marginal_rois`)."""
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


def marginal_many(scenarios: list[Scenario], share: float = MarginalStep().share_of_budget) -> list[dict[str, float]]:
    """Marginal ROIs of several scenarios (same channels and horizon) in one fast-engine batch: the same
    numbers as `sim.model.kpis.marginal_rois(..., engine="fast")`, computed together (speed trick)."""
    from sim.analysis.marginal import bumped_spend
    from sim.engines.fast import simulate_batch

    rows, spends, extras = [], [], []
    for s in scenarios:
        base = budget.spend_by_month(s)
        amount = share * max(float(budget.monthly_budget(s).mean()), 1.0)
        extras.append(amount * s.simulation.horizon_months)
        rows.append(s)
        spends.append(base)
        for purpose in ("front", "back", "winback"):
            rows.append(s)
            spends.append(bumped_spend(s, purpose, amount, base))
    contribution = simulate_batch(rows, np.stack(spends)).kpi_vectors()["cumulative_contribution"]
    out = []
    for i, extra in enumerate(extras):
        c = contribution[4 * i : 4 * i + 4]
        out.append({p: float((c[j + 1] - c[0]) / extra) for j, p in enumerate(("front", "back", "winback"))})
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


# -- formatting -----------------------------------------------------------------------------------------


def krw(x: float, step: int = 100) -> str:
    """Money in KRW rounded to `step`: '31,200 KRW'."""
    return f"{int(round(x / step) * step):,} KRW"


def mkrw(x: float) -> str:
    """Money in millions of KRW with one decimal: '145.9 million KRW'."""
    return f"{x / 1e6:,.1f} million KRW"


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def num(x: float) -> str:
    return f"{int(round(x)):,}"


def dec(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


# -- the registry -----------------------------------------------------------------------------------------

FIGURES: dict[str, Callable[[], str]] = {}


def figure(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register a figure function under `name` (the name used in the chapter's marker)."""

    def register(fn: Callable[[], str]) -> Callable[[], str]:
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
def _ch1_budget() -> str:
    return krw(float(budget.monthly_budget(learning_scenario())[0]))


for _label, _changes in (("front_heavy", FRONT_HEAVY), ("balanced", BALANCED)):
    figure(f"ch1_new_{_label}")(lambda c=_changes: num(_k("new_customers", changes=c)))
    figure(f"ch1_cac_{_label}")(lambda c=_changes: krw(_k("cac", changes=c)))
    figure(f"ch1_clv_{_label}")(lambda c=_changes: krw(_k("clv", changes=c)))
    figure(f"ch1_returning_{_label}")(lambda c=_changes: pct(_k("returning_revenue_share", changes=c)))
    figure(f"ch1_contribution_{_label}")(lambda c=_changes: mkrw(_k("cumulative_contribution", changes=c)))


@figure("ch1_new_difference")
def _ch1_new_difference() -> str:
    return num(_k("new_customers", changes=FRONT_HEAVY) - _k("new_customers", changes=BALANCED))


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
def _ch2_ever_bought() -> str:
    last = base_run().daily.iloc[-1]
    return num(last["customer"] + last["loyal"] + last["lapsed"])


@figure("ch2_fpc")
def _ch2_fpc() -> str:
    return pct(compute_kpis(base_run())["first_purchase_conversion"])


@figure("ch2_repeat")
def _ch2_repeat() -> str:
    return pct(compute_kpis(base_run())["repeat_purchase_rate"])


@figure("ch2_retention")
def _ch2_retention() -> str:
    return pct(compute_kpis(base_run())["retention_12m"])


def _referral_share() -> float:
    o = base_run().orders
    first = o[o["order_number"] == 1]
    return float((first["acquisition_channel"] == "referral").mean())


@figure("ch2_referral_share")
def _ch2_referral() -> str:
    return pct(_referral_share())


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
def _ch3_orders_per_new() -> str:
    return dec(orders_per_new_customer())


@figure("ch3_kpi_returning")
def _ch3_kpi_returning() -> str:
    return pct(compute_kpis(base_run())["returning_revenue_share"])


@figure("ch3_kpi_repeat")
def _ch3_kpi_repeat() -> str:
    return pct(compute_kpis(base_run())["repeat_purchase_rate"])


@figure("ch3_cac")
def _ch3_cac() -> str:
    return krw(compute_kpis(base_run())["cac"])


@figure("ch3_clv")
def _ch3_clv() -> str:
    return krw(compute_kpis(base_run())["clv"])


@figure("ch3_ltv_cac")
def _ch3_ltv_cac() -> str:
    return dec(compute_kpis(base_run())["ltv_cac"], 1)


@figure("ch3_payback")
def _ch3_payback() -> str:
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


@figure("ch4_hazard_ratio")
def _ch4_hazard_ratio() -> str:
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
def _ch5_orders_per_day() -> str:
    daily = base_run().daily
    return num(daily["orders"].iloc[-30:].mean())


for _cap in (20, 15):
    figure(f"ch5_dissatisfied_cap{_cap}")(
        lambda c=_cap: pct(_k("dissatisfied_share", changes={"operations.fulfilment_capacity_per_day": c}))
    )


@figure("ch5_orders_per_day_peak")
def _ch5_orders_peak() -> str:
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


def _segment(label: str) -> str:
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
def _ch7_cost_per_comeback() -> str:
    s = learning_scenario()
    return krw(s.channels["kakao_crm"].winback_cost_per_contact / s.winback.base_reactivation)


# chapter 8: one channel or several, same front-end budget
ONE_CHANNEL = {"budget.channel_split.front": {"search_ads": 1.0}}


@figure("ch8_new_one_channel")
def _ch8_new_one() -> str:
    return num(_k("new_customers", changes=ONE_CHANNEL))


@figure("ch8_new_three_channels")
def _ch8_new_three() -> str:
    return num(_k("new_customers"))


@figure("ch8_cac_one_channel")
def _ch8_cac_one() -> str:
    return krw(_k("cac", changes=ONE_CHANNEL))


@figure("ch8_cac_three_channels")
def _ch8_cac_three() -> str:
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
def _ch8_reach_one() -> str:
    return num(monthly_reach({"search_ads": 1.0}))


@figure("ch8_reach_three_channels")
def _ch8_reach_three() -> str:
    return num(monthly_reach(learning_scenario().budget.channel_split["front"]))


# chapter 9: the split that pays best
FRONT_SHARES = (0.3, 0.45, 0.6, 0.75, 0.9)


def split_sweep(
    kind: str = "d2c",
    shares: tuple[float, ...] = FRONT_SHARES,
    winback: float = 0.05,
    horizon_months: int | None = None,
) -> pd.DataFrame:
    """NPV and other KPIs for front-end shares of the budget (back-end gets the rest but `winback`)."""
    extra = {} if horizon_months is None else {"simulation.horizon_months": horizon_months}
    plans = [{**extra, **split(f, round(1.0 - winback - f, 6), winback)} for f in shares]
    rows = []
    for f, k in zip(shares, sweep(kind, plans), strict=True):
        rows.append({"front_share": f, **{n: k[n] for n in ("npv", "new_customers", "clv", "cac", "retention_12m")}})
    return pd.DataFrame(rows)


def _best_of(table: pd.DataFrame) -> pd.Series:
    return table.loc[table["npv"].idxmax()]


def _best(kind: str) -> pd.Series:
    return _best_of(split_sweep(kind))


figure("ch9_best_front_d2c_12m")(lambda: pct(_best_of(split_sweep("d2c", horizon_months=12))["front_share"], 0))

for _kind in KINDS:
    figure(f"ch9_best_front_{_kind}")(lambda k=_kind: pct(_best(k)["front_share"], 0))
    figure(f"ch9_best_npv_{_kind}")(lambda k=_kind: mkrw(_best(k)["npv"]))
    figure(f"ch9_npv_front30_{_kind}")(lambda k=_kind: mkrw(split_sweep(k).iloc[0]["npv"]))
    figure(f"ch9_npv_front90_{_kind}")(lambda k=_kind: mkrw(split_sweep(k).iloc[-1]["npv"]))


# -- finding and checking marks --------------------------------------------------------------------------

MARK = re.compile(r"<!--fig:([A-Za-z0-9_]+)-->(.*?)<!--/fig-->", re.S)


def chapters(folder: Path = PLAYBOOK) -> list[Path]:
    """The playbook's Markdown files that may hold figure marks."""
    return sorted(folder.glob("*.md"))


def marks(text: str) -> list[tuple[str, str]]:
    """(name, quoted text) of every figure mark in a Markdown text."""
    return MARK.findall(text)


def compute(name: str) -> str:
    """The current value of one registered figure."""
    if name not in FIGURES:
        raise KeyError(f"figure {name!r} is not registered in sim.learn.figures")
    return FIGURES[name]()


def check(paths: list[Path] | None = None) -> list[str]:
    """Problems with the quoted figures: unknown names and values that drifted (empty when all agree)."""
    problems = []
    for path in paths or chapters():
        for name, quoted in marks(path.read_text(encoding="utf-8")):
            if name not in FIGURES:
                problems.append(f"{path.name}: figure {name!r} is not registered")
                continue
            value = compute(name)
            if value != quoted:
                problems.append(f"{path.name}: figure {name!r} quotes {quoted!r}, the simulator gives {value!r}")
    return problems


def write(paths: list[Path] | None = None) -> int:
    """Rewrite every marked figure with its current value; return how many changed."""
    changed = 0
    for path in paths or chapters():
        text = path.read_text(encoding="utf-8")

        def fill(match: re.Match[str]) -> str:
            nonlocal changed
            value = compute(match.group(1))
            changed += value != match.group(2)
            return f"<!--fig:{match.group(1)}-->{value}<!--/fig-->"

        new = MARK.sub(fill, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.learn.figures", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true", help="recompute every marked figure; exit 1 if any drifted")
    group.add_argument("--write", action="store_true", help="rewrite every marked figure with its current value")
    group.add_argument("--list", action="store_true", help="print every registered figure and its value")
    args = parser.parse_args(argv)
    if args.list:
        for name in FIGURES:
            print(f"{name}\t{compute(name)}")
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
