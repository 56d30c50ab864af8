"""KPIs, with the same names everywhere (code, notebooks, reports, CSV, JSON), computed by one function.

`kpi_arrays` takes what any run produced, as monthly sums over plan months (`sim.model.calendar`), the
discounted totals, the stocks at the end and the retention cohort, for one run or a batch of S runs at
once; `compute_kpis` feeds it a `SimulationResult`, and the fast engine's batches (`BatchResult.kpi_vectors`)
feed it their arrays, so a KPI cannot mean two things. KPIs only compute: marginal ROIs need extra runs and
live in `sim.analysis.marginal`; they are passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.model import money
from sim.model.calendar import calendar
from sim.model.result import MARKETING_SPEND, SimulationResult
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
    "cac": "Front-end spend per new customer; undefined without front-end spend or with under one new customer [currency per customer].",
    "first_purchase_conversion": "Share of people who were or became aware that bought for the first time [share].",
    "repeat_purchase_rate": "Share of new customers who ordered a second time within the horizon [share].",
    "retention_12m": "Share of customers active 12 months before the horizon still active at the end [share].",
    "returning_revenue_share": "Share of revenue from repeat orders [share].",
    "clv": "Discounted gross profit per new customer within the horizon (horizon-truncated) [currency].",
    "ltv_cac": "CLV divided by CAC [ratio].",
    "payback_months": "Plan months until acquired customers' gross profit has repaid front-end spend [months].",
    "marginal_roi_front": "Extra contribution per extra unit of front-end spend: 0 = break-even [ratio].",
    "marginal_roi_back": "Extra contribution per extra unit of back-end spend: 0 = break-even [ratio].",
    "marginal_roi_winback": "Extra contribution per extra unit of win-back spend: 0 = break-even [ratio].",
    "cumulative_contribution": "Gross profit minus marketing spend over the horizon [currency].",
    "npv": "Net present value of contribution at the annual discount rate [currency].",
}

# monthly flows `kpi_arrays` reads
KPI_FLOWS = (
    "new_customers",
    "newly_aware",
    "orders",
    "revenue",
    "revenue_returning",
    "second_orders",
    "spend_front",
    "spend_back",
    "spend_winback",
    "event_cost",
    "gross_profit",
    "gross_profit_acquired",
    "contribution",
    "dissatisfied",
    "delighted",
)
# stocks at the end of the horizon `kpi_arrays` reads
KPI_STOCKS = ("customer", "loyal", "lapsed", "unaware", "never_met")
# discounted totals: present values at day 0
KPI_DISCOUNTED = ("contribution", "gross_profit_acquired", "new_customers")


@dataclass(frozen=True)
class KpiInputs:
    """What the KPIs are computed from, for S runs: monthly flows (S, M), end stocks (S,), discounted totals
    (S,), the retention cohort (S, 2: active 12 months before the end, still active) and two constants."""

    monthly: dict[str, np.ndarray]
    end: dict[str, np.ndarray]
    discounted: dict[str, np.ndarray]
    cohort: np.ndarray
    initially_aware: np.ndarray
    market_size: np.ndarray


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den > 0, else NaN (a KPI that is not defined)."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=float), np.asarray(den, dtype=float))
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def payback_months(gross_profit_acquired: np.ndarray, spend_front: np.ndarray) -> np.ndarray:
    """(S,) plan months until the acquired customers' cumulative gross profit repays cumulative front-end
    spend (counting the month it happens as a whole month); NaN if it never does within the horizon."""
    gap = np.cumsum(gross_profit_acquired - spend_front, axis=1)
    paid = (gap >= 0) & (np.cumsum(spend_front, axis=1) > 0)
    return np.where(paid.any(axis=1), paid.argmax(axis=1) + 1.0, np.nan)


def kpi_arrays(x: KpiInputs) -> dict[str, np.ndarray]:
    """Every KPI as an (S,) array (NaN where undefined)."""
    total = {name: x.monthly[name].sum(axis=1) for name in KPI_FLOWS}
    new = total["new_customers"]
    # no front-end spend: customers came, but nothing was spent to acquire them, so CAC is not defined (not 0);
    # fewer than one customer acquired (a channel that reaches no one, e.g. a shop whose export shows no new
    # customers): money over a fraction of a person is no cost per customer, so not defined either
    cac = np.where((total["spend_front"] > 0) & (new >= 1.0), _ratio(total["spend_front"], new), np.nan)
    clv = _ratio(x.discounted["gross_profit_acquired"], x.discounted["new_customers"])
    active_end = x.end["customer"] + x.end["loyal"]
    return {
        "cac": cac,
        "first_purchase_conversion": _ratio(new, x.initially_aware + total["newly_aware"]),
        "repeat_purchase_rate": _ratio(total["second_orders"], new),
        "retention_12m": _ratio(x.cohort[:, 1], x.cohort[:, 0]),
        "returning_revenue_share": _ratio(total["revenue_returning"], total["revenue"]),
        "clv": clv,
        "ltv_cac": _ratio(clv, cac),
        "payback_months": payback_months(x.monthly["gross_profit_acquired"], x.monthly["spend_front"]),
        "cumulative_contribution": total["contribution"],
        "npv": x.discounted["contribution"],
        # more figures a report needs (names beyond the contract, never renamed once released)
        "revenue": total["revenue"],
        "gross_profit": total["gross_profit"],
        "marketing_spend": sum(total[c] for c in MARKETING_SPEND),
        "new_customers": new,
        "orders": total["orders"],
        "active_customers_end": active_end,
        "customers_at_horizon": active_end,
        "loyal_customers_end": x.end["loyal"],
        "lapsed_customers_end": x.end["lapsed"],
        "unaware_share_end": x.end["unaware"] / x.market_size,
        "never_met_share_end": x.end["never_met"] / x.market_size,
        "forgot_share_end": (x.end["unaware"] - x.end["never_met"]) / x.market_size,
        "dissatisfied_share": _ratio(total["dissatisfied"], total["orders"]),
        "delighted_share": _ratio(total["delighted"], total["orders"]),
    }


def kpi_inputs(result: SimulationResult) -> KpiInputs:
    """The KPI inputs of one result (S = 1), read from its daily table."""
    d, s = result.daily, result.scenario
    cal = calendar(s)
    disc = money.daily_discount_factors(len(d), s.economics.annual_discount_rate)
    cohort = np.array([[result.cohort.get("start", math.nan), result.cohort.get("retained", math.nan)]], dtype=float)
    return KpiInputs(
        monthly={name: cal.month_sums(d[name].to_numpy())[None] for name in KPI_FLOWS},
        end={name: np.array([float(d[name].iloc[-1])]) for name in KPI_STOCKS},
        discounted={name: np.array([float((disc * d[name].to_numpy()).sum())]) for name in KPI_DISCOUNTED},
        cohort=cohort,
        initially_aware=np.array([float(s.market.initially_aware)]),
        market_size=np.array([float(s.market.size)]),
    )


def compute_kpis(result: SimulationResult, marginal: dict[str, float | None] | None = None) -> dict[str, float | None]:
    """The KPI dictionary of a result (None where a KPI is undefined); `marginal` supplies the three marginal
    ROIs if computed (`sim.analysis.marginal.marginal_rois`)."""
    arrays = kpi_arrays(kpi_inputs(result))
    kpis: dict[str, float | None] = {name: None for name in KPI_NAMES}
    kpis.update({name: _clean(value[0]) for name, value in arrays.items()})
    for purpose in PURPOSES:
        kpis[f"marginal_roi_{purpose}"] = _clean(marginal.get(purpose)) if marginal else None
    return kpis


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None
