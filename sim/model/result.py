"""The one result type every engine returns: daily stage counts, daily money flows, and the order log.

Column names are a released contract (DESIGN.md): they never change; more may be appended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.model.scenario import Scenario

STAGES = ["unaware", "aware", "customer", "loyal", "lapsed"]
FLOW_COLUMNS = [
    "new_customers",
    "orders",
    "repeat_orders",
    "revenue",
    "revenue_new",
    "revenue_returning",
    "spend_front",
    "spend_back",
    "spend_winback",
    "gross_profit",
    "contribution",
]
TIMESERIES_COLUMNS = ["date", *STAGES, *FLOW_COLUMNS]
EXTRA_COLUMNS = [
    "newly_aware",
    "forgotten",
    "dropouts",
    "reactivations",
    "winback_contacts",
    "dissatisfied",
    "satisfied",
    "delighted",
    "complaints",
    "recovered",
    "fulfilment_delay_days",
    "orders_acquired",
    "revenue_acquired",
    "second_orders",
    "gross_profit_acquired",
    "fulfilment_cost",
    "experience_cost",
]
# money columns `finish_money` derives; every other flow column is what an engine counts day by day
DERIVED_COLUMNS = ("gross_profit", "contribution", "gross_profit_acquired", "fulfilment_cost", "experience_cost")
COUNTED_FLOWS = [c for c in FLOW_COLUMNS + EXTRA_COLUMNS if c not in DERIVED_COLUMNS]
ORDER_COLUMNS = ["customer_id", "order_date", "amount", "order_number", "acquisition_channel", "experience"]
EXPERIENCES = ["dissatisfied", "satisfied", "delighted"]


@dataclass
class SimulationResult:
    """What a run produced. `daily` has one row per simulated day, indexed by date.

    `cohort` holds the retention cohort: people active 12 months before the horizon (`start`) and how
    many of them stayed active without a break until the end (`retained`).
    """

    scenario: Scenario
    engine: str
    seed: int | None
    daily: pd.DataFrame
    orders: pd.DataFrame | None = None
    spend_by_channel: pd.DataFrame | None = None
    cohort: dict[str, float] = field(default_factory=dict)
    replications: int = 1
    bands: dict[str, pd.DataFrame] = field(default_factory=dict)  # "p05"/"p95" -> daily frame
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def market_size(self) -> int:
        return self.scenario.market.size

    def monthly(self) -> pd.DataFrame:
        """Flows summed and stage counts taken at month end."""
        d = self.daily
        flows = d[[c for c in d.columns if c not in STAGES and c != "fulfilment_delay_days"]].resample("MS").sum()
        stages = d[STAGES].resample("MS").last()
        return pd.concat([stages, flows], axis=1)

    def timeseries_frame(self) -> pd.DataFrame:
        """The `timeseries.csv` table: contract columns first, then extras, then bands if replicated."""
        d = self.daily.copy()
        d.insert(0, "date", d.index.strftime("%Y-%m-%d"))
        cols = TIMESERIES_COLUMNS + [c for c in EXTRA_COLUMNS if c in d.columns]
        out = d[cols].reset_index(drop=True)
        if self.bands:
            for col in cols[1:]:
                for name in ("p05", "p95"):
                    out[f"{col}_{name}"] = self.bands[name][col].to_numpy()
        return out


def finish_money(daily: pd.DataFrame, scenario: Scenario, experience_cost_per_order: float) -> pd.DataFrame:
    """Fill gross profit, contribution and the cost columns from revenue, orders and spend (in place)."""
    econ = scenario.economics
    daily["fulfilment_cost"] = daily["orders"] * econ.fulfilment_cost_per_order
    daily["experience_cost"] = daily["orders"] * experience_cost_per_order
    daily["gross_profit"] = daily["revenue"] * econ.gross_margin - daily["fulfilment_cost"] - daily["experience_cost"]
    daily["contribution"] = daily["gross_profit"] - daily["spend_front"] - daily["spend_back"] - daily["spend_winback"]
    per_order = econ.fulfilment_cost_per_order + experience_cost_per_order
    daily["gross_profit_acquired"] = (
        daily["revenue_acquired"] * econ.gross_margin - daily["orders_acquired"] * per_order
    )
    return daily


def combine_replications(results: list[SimulationResult]) -> SimulationResult:
    """Mean of the daily tables across replications, with 5% and 95% bands; KPIs come from the mean."""
    first = results[0]
    stack = np.stack([r.daily.to_numpy(dtype=float) for r in results])
    cols = first.daily.columns
    idx = first.daily.index
    mean = pd.DataFrame(stack.mean(axis=0), index=idx, columns=cols)
    bands = {
        "p05": pd.DataFrame(np.percentile(stack, 5, axis=0), index=idx, columns=cols),
        "p95": pd.DataFrame(np.percentile(stack, 95, axis=0), index=idx, columns=cols),
    }
    cohort = {k: float(np.mean([r.cohort.get(k, np.nan) for r in results])) for k in first.cohort}
    orders = first.orders
    return SimulationResult(
        scenario=first.scenario,
        engine=first.engine,
        seed=first.seed,
        daily=mean,
        orders=orders,
        spend_by_channel=first.spend_by_channel,
        cohort=cohort,
        replications=len(results),
        bands=bands,
        meta={**first.meta, "replication_results": results},
    )
