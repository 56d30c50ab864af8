"""KPIs of a simulation result, with the same names everywhere (code, notebooks, reports, CSV, JSON).

Every KPI is computed from the result's daily table (and its retention cohort), so both engines give
them the same way. KPIs only compute: marginal ROIs need extra runs and live in `sim.analysis.marginal`;
they are passed in.
"""

from __future__ import annotations

import math

import numpy as np

from sim.model import money
from sim.model.result import SimulationResult
from sim.model.scenario import PURPOSES

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
    disc = money.daily_discount_factors(len(d), s.economics.annual_discount_rate)
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
