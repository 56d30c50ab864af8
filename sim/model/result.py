"""The one result type every engine returns: daily stage counts, daily money flows, and the order log.

Column names are a released contract (DESIGN.md): they never change; more may be appended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.model import budget, money
from sim.model.calendar import calendar
from sim.model.scenario import PURPOSES, Scenario

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
    "never_met",
    "discounts",
    "discounts_acquired",
    "event_cost",
]
# stocks beside the stages: people at the end of the day (`never_met`: unaware people who have never met the
# brand, as opposed to those who met it and forgot)
STOCK_COLUMNS = [*STAGES, "never_met"]
# money columns `finish_money` derives; every other flow column is what an engine counts day by day
DERIVED_COLUMNS = ("gross_profit", "contribution", "gross_profit_acquired", "fulfilment_cost", "experience_cost")
COUNTED_FLOWS = [c for c in FLOW_COLUMNS + EXTRA_COLUMNS if c not in DERIVED_COLUMNS and c not in STOCK_COLUMNS]
MARKETING_SPEND = ("spend_front", "spend_back", "spend_winback", "event_cost")  # what contribution subtracts
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
        """Flows summed and stocks taken at the end of each plan month (`sim.model.calendar`), indexed by the
        months' first days; `fulfilment_delay_days` as the month's mean delay per order."""
        cal = calendar(self.scenario)
        d = self.daily
        stocks = [c for c in STOCK_COLUMNS if c in d.columns]
        flows = [c for c in d.columns if c not in stocks and c != "fulfilment_delay_days"]
        out = pd.DataFrame(cal.month_ends(d[stocks].to_numpy()), index=cal.month_starts, columns=stocks)
        sums = pd.DataFrame(cal.month_sums(d[flows].to_numpy()), index=cal.month_starts, columns=flows)
        out = pd.concat([out, sums], axis=1)
        if "fulfilment_delay_days" in d.columns:
            delay = cal.month_sums((d["fulfilment_delay_days"] * d["orders"]).to_numpy())
            out["fulfilment_delay_days"] = np.divide(
                delay, out["orders"], out=np.zeros(len(out)), where=out["orders"] > 0
            )
        return out

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


def finish_money(daily: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Fill gross profit, contribution and the cost columns from revenue, discounts, orders and spend (in place),
    by the model's money identity (`sim.model.money`)."""
    econ = scenario.economics
    per_order = econ.fulfilment_cost_per_order + money.experience_cost_per_order(scenario)
    daily["fulfilment_cost"] = daily["orders"] * econ.fulfilment_cost_per_order
    daily["experience_cost"] = daily["orders"] * money.experience_cost_per_order(scenario)
    daily["gross_profit"] = money.gross_profit(
        daily["revenue"], daily["orders"], econ.gross_margin, per_order, daily["discounts"]
    )
    daily["contribution"] = money.contribution(daily["gross_profit"], daily[list(MARKETING_SPEND)].sum(axis=1))
    daily["gross_profit_acquired"] = money.gross_profit(
        daily["revenue_acquired"], daily["orders_acquired"], econ.gross_margin, per_order, daily["discounts_acquired"]
    )
    return daily


def spend_frame(scenario: Scenario, spend: np.ndarray, spend_back_month: np.ndarray | None = None) -> pd.DataFrame:
    """Monthly spend by purpose and channel, indexed by the plan months' first days: the plan's spend table
    (M, C, 3), with the back-end spend actually made (M,) in months that set it per active customer, shared
    out by the plan's back-end channel split."""
    cal = calendar(scenario)
    table = np.array(spend, dtype=float)
    if spend_back_month is not None:
        per_customer = np.isfinite(budget.back_per_customer(scenario))
        if per_customer.any():
            shares = budget.back_shares(scenario)
            table[per_customer, :, 1] = spend_back_month[per_customer, None] * shares[per_customer]
    cols = pd.MultiIndex.from_product([list(PURPOSES), list(scenario.channels)], names=["purpose", "channel"])
    data = table.transpose(0, 2, 1).reshape(cal.n_months, -1)
    return pd.DataFrame(data, index=cal.month_starts, columns=cols)


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
