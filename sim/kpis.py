"""KPIs of a simulation result, with the same names everywhere (code, notebooks, reports, CSV, JSON).

Every KPI is computed from the result's daily table (and its retention cohort), so both engines give
them the same way. Marginal ROIs need extra runs: `marginal_rois` re-simulates with a little more
budget in one purpose and reads the change in contribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim import model
from sim.result import SimulationResult
from sim.scenario import PURPOSES, Scenario

KPI_NAMES = [
    "cac",
    "first_purchase_conversion",
    "repeat_purchase_rate",
    "retention_12m",
    "returning_revenue_share",
    "clv",
    "ltv_cac",
    "payback_months",
    "marginal_roi_front",
    "marginal_roi_back",
    "marginal_roi_winback",
    "cumulative_contribution",
    "npv",
]

KPI_DESCRIPTIONS = {
    "cac": "Front-end spend per new customer [currency per customer].",
    "first_purchase_conversion": "Share of people who were or became aware that bought for the first time [share].",
    "repeat_purchase_rate": "Share of new customers who ordered a second time within the horizon [share].",
    "retention_12m": "Share of customers active 12 months before the horizon still active at the end [share].",
    "returning_revenue_share": "Share of revenue from repeat orders [share].",
    "clv": "Discounted gross profit per new customer within the horizon (horizon-truncated) [currency].",
    "ltv_cac": "CLV divided by CAC [ratio].",
    "payback_months": "Months until acquired customers' gross profit has repaid front-end spend [months].",
    "marginal_roi_front": "Extra contribution per extra unit of front-end spend: 0 = break-even [ratio].",
    "marginal_roi_back": "Extra contribution per extra unit of back-end spend: 0 = break-even [ratio].",
    "marginal_roi_winback": "Extra contribution per extra unit of win-back spend: 0 = break-even [ratio].",
    "cumulative_contribution": "Gross profit minus marketing spend over the horizon [currency].",
    "npv": "Net present value of contribution at the annual discount rate [currency].",
}


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def compute_kpis(result: SimulationResult, marginal: dict[str, float | None] | None = None) -> dict[str, float | None]:
    """The KPI dictionary of a result; `marginal` supplies the three marginal ROIs if computed."""
    d = result.daily
    s = result.scenario
    disc = model.daily_discount_factors(len(d), s.economics.annual_discount_rate)
    new = float(d["new_customers"].sum())
    cac = _ratio(float(d["spend_front"].sum()), new)
    aware_total = s.market.initially_aware + float(d["newly_aware"].sum())
    clv = _ratio(
        float((disc * d["gross_profit_acquired"].to_numpy()).sum()), float((disc * d["new_customers"].to_numpy()).sum())
    )
    start, kept = result.cohort.get("start", math.nan), result.cohort.get("retained", math.nan)
    retention = float(kept / start) if start and start > 0 and not math.isnan(start) else None
    monthly = d[["gross_profit_acquired", "spend_front"]].resample("MS").sum()
    gap = (monthly["gross_profit_acquired"] - monthly["spend_front"]).cumsum().to_numpy()
    spent = monthly["spend_front"].cumsum().to_numpy() > 0
    paid = np.flatnonzero((gap >= 0) & spent)
    kpis: dict[str, float | None] = {
        "cac": cac,
        "first_purchase_conversion": _ratio(new, aware_total),
        "repeat_purchase_rate": _ratio(float(d["second_orders"].sum()), new) if "second_orders" in d else None,
        "retention_12m": retention,
        "returning_revenue_share": _ratio(float(d["revenue_returning"].sum()), float(d["revenue"].sum())),
        "clv": clv,
        "ltv_cac": _ratio(clv, cac) if clv is not None and cac else None,
        "payback_months": float(paid[0] + 1) if len(paid) else None,
        "marginal_roi_front": None,
        "marginal_roi_back": None,
        "marginal_roi_winback": None,
        "cumulative_contribution": float(d["contribution"].sum()),
        "npv": float((disc * d["contribution"].to_numpy()).sum()),
    }
    if marginal:
        for purpose in PURPOSES:
            kpis[f"marginal_roi_{purpose}"] = marginal.get(purpose)
    # more figures a report needs (names beyond the contract, never renamed once released)
    last = d.iloc[-1]
    kpis.update(
        {
            "revenue": float(d["revenue"].sum()),
            "gross_profit": float(d["gross_profit"].sum()),
            "marketing_spend": float(d[["spend_front", "spend_back", "spend_winback"]].to_numpy().sum()),
            "new_customers": new,
            "orders": float(d["orders"].sum()),
            "active_customers_end": float(last["customer"] + last["loyal"]),
            "loyal_customers_end": float(last["loyal"]),
            "lapsed_customers_end": float(last["lapsed"]),
            "unaware_share_end": float(last["unaware"] / s.market.size),
            "dissatisfied_share": _ratio(float(d["dissatisfied"].sum()), float(d["orders"].sum())),
            "delighted_share": _ratio(float(d["delighted"].sum()), float(d["orders"].sum())),
        }
    )
    return {k: _clean(v) for k, v in kpis.items()}


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


# -- marginal ROI -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarginalStep:
    """How much budget a marginal-ROI run adds: a share of the average monthly total, every month."""

    share_of_budget: float = 0.10


def purpose_channel_weights(scenario: Scenario, purpose: str) -> np.ndarray:
    """Channel weights for extra spend in a purpose: the plan's own split, or the natural channel when
    the plan has none (most efficient back-end channel; cheapest win-back contact; widest reach)."""
    channels = list(scenario.channels)
    split = scenario.budget.channel_split.get(purpose) or {}
    w = np.zeros(len(channels))
    if split:
        for name, share in split.items():
            w[channels.index(name)] = share
        if w.sum() > 0:
            return w / w.sum()
    if purpose == "back":
        best = max(channels, key=lambda c: scenario.channels[c].backend_efficiency)
    elif purpose == "winback":
        best = min(channels, key=lambda c: scenario.channels[c].winback_cost_per_contact)
    else:
        best = max(
            channels, key=lambda c: scenario.channels[c].reach.max_reach / scenario.channels[c].reach.half_saturation
        )
    w[channels.index(best)] = 1.0
    return w


def bumped_spend(
    scenario: Scenario, purpose: str, amount_per_month: float, base: np.ndarray | None = None
) -> np.ndarray:
    """The (M, C, 3) spend plan with `amount_per_month` more in `purpose`."""
    spend = model.spend_by_month(scenario) if base is None else base.copy()
    j = PURPOSES.index(purpose)
    spend[:, :, j] += amount_per_month * purpose_channel_weights(scenario, purpose)[None, :]
    return spend


def marginal_rois(
    scenario: Scenario,
    engine: str = "fast",
    seed: int | None = None,
    replications: int = 1,
    step: MarginalStep = MarginalStep(),
    purposes: tuple[str, ...] = PURPOSES,
) -> dict[str, float | None]:
    """Extra contribution per extra unit of spend in each purpose (0 = the extra spend just pays back).

    Runs the plan and, for each purpose, the plan with `step.share_of_budget` of the average monthly
    budget added to that purpose, with the same seeds (common random numbers keep the noise down).
    The default fast engine uses expected values (deterministic: no noise, one batch).
    """
    from sim.engines import get_engine, replication_seeds

    base_spend = model.spend_by_month(scenario)
    amount = step.share_of_budget * max(float(model.monthly_budget(scenario).mean()), 1.0)
    extra = amount * scenario.simulation.horizon_months
    if engine == "fast":  # expected values, deterministic: the plan and its bumps in one batch
        from sim.engines.fast import simulate_batch

        spends = np.stack([base_spend] + [bumped_spend(scenario, p, amount, base_spend) for p in purposes])
        value = simulate_batch(scenario, spends, mode="expected").kpi_vectors()["cumulative_contribution"]
        return {p: float((value[i + 1] - value[0]) / extra) for i, p in enumerate(purposes)}
    run = get_engine(engine)
    base_seed = scenario.simulation.seed if seed is None else seed
    seeds = [base_seed] if replications <= 1 else replication_seeds(base_seed, replications)
    kwargs = {"record_orders": False} if engine == "agent" else {}

    def contribution(spend: np.ndarray) -> float:
        return float(
            np.mean([run(scenario, sd, spend_month=spend, **kwargs).daily["contribution"].sum() for sd in seeds])
        )

    base = contribution(base_spend)
    out: dict[str, float | None] = {}
    for purpose in purposes:
        bumped = contribution(bumped_spend(scenario, purpose, amount, base_spend))
        out[purpose] = (bumped - base) / extra
    return out
