"""Customer scores for the CRM team: who is still active, what each customer will likely buy, and what to do.

For each customer of a calibrated scenario's snapshot, from the fitted repeat-purchase family in closed form:
P(alive) at the cut-off, expected orders and revenue in the next N weeks, CLV (discounted gross margin over
the scenario's horizon), a segment and the action the playbook suggests for it. The segments and actions
follow the source texts (seed 004: coupons for customers hesitating after their first purchase, re-engaging
formerly loyal customers at risk of leaving; seed 001: win-back rarely pays while the market is unreached).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.forecast import MAX_WEEKS, customer_pieces, family_of, snapshot_histories
from sim.calibration import families
from sim.errors import ScenarioError, UserInputError
from sim.model.calendar import DAYS_PER_MONTH
from sim.model.scenario import Scenario

ACTIVE_P = 0.7  # P(alive) from which a repeat buyer counts as active
LAPSED_P = 0.3  # P(alive) below which a customer counts as lapsed
SEGMENTS = ("active", "at risk", "lapsed", "one-time, hesitating")
ACTIONS = {
    "active": "back-end: keep them close (loyalty offers, cross-sell, personal recommendations); no discounts needed",
    "at risk": "back-end: re-engage now, before they lapse (a personal message or offer tied to what they bought)",
    "lapsed": "win-back only if the market is saturated: remarketing rarely pays while many people are unreached",
    "one-time, hesitating": "back-end: a second-purchase coupon or reminder soon after the first order",
}
SCORE_COLUMNS = [
    "customer_id",
    "frequency",
    "recency_days",
    "age_days",
    "p_alive",
    "expected_orders",
    "expected_revenue",
    "clv",
    "segment",
    "action",
]


def segment(x: np.ndarray, p_alive: np.ndarray) -> np.ndarray:
    """The CRM segment of each customer from repeat purchases x and P(alive)."""
    out = np.where(p_alive < LAPSED_P, "lapsed", np.where(p_alive >= ACTIVE_P, "active", "at risk"))
    return np.where((x == 0) & (p_alive >= LAPSED_P), "one-time, hesitating", out).astype(object)


def score_customers(scenario: Scenario, weeks: int) -> pd.DataFrame:
    """One row per snapshot customer (columns `SCORE_COLUMNS`); needs a calibrated scenario with a snapshot.

    Expected orders and revenue over the next `weeks` and the CLV follow the scenario's seasonal index and
    events (the forecast's seasonal clock, `sim.analysis.forecast.customer_pieces`); revenue is what the
    customers pay after the events' discounts."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise UserInputError("out of range", location="--weeks", found=str(weeks), allowed=f"1 to {MAX_WEEKS}")
    if scenario.market.existing.snapshot is None:
        raise ScenarioError(
            "has no customer snapshot to score",
            location="market -> existing -> snapshot",
            allowed="a scenario written by `sim calibrate`",
        )
    module = families.module(family_of(scenario))
    theta = families.params_of(scenario.repeat_purchase)
    x, t_x, T, values, snap = snapshot_histories(scenario)
    alive = module.p_alive(*theta, x, t_x, T)
    months = scenario.simulation.horizon_months
    month_ends = np.arange(1, months + 1) * DAYS_PER_MONTH
    horizon = 7.0 * weeks
    pieces, start, price = customer_pieces(scenario, x, t_x, T, np.concatenate([[horizon], month_ends]))
    soon = start < horizon
    orders = pieces[:, soon].sum(axis=1)
    revenue = (pieces[:, soon] * price[soon]).sum(axis=1) * values
    return pd.DataFrame(
        {
            "customer_id": snap["customer_id"].to_numpy(),
            "frequency": x.astype(int),
            "recency_days": snap["recency"].to_numpy().astype(int),
            "age_days": snap["age"].to_numpy().astype(int),
            "p_alive": alive,
            "expected_orders": orders,
            "expected_revenue": revenue,
            "clv": customer_clv(scenario, pieces, start, price, month_ends, values),
            "segment": (seg := segment(x, alive)),
            "action": [ACTIONS[s] for s in seg],
        }
    )


def customer_clv(scenario: Scenario, pieces, start, price, month_ends, values: np.ndarray) -> np.ndarray:
    """Discounted gross margin (after discounts and fulfilment cost) of each customer's expected orders over the
    horizon: each piece's orders (`customer_pieces`) times the margin of an order at its price share,
    value x (gross margin - discount share) - cost (`sim.model.money.gross_profit`), discounted at the
    scenario's annual rate to the middle of its month (a DERT over a finite horizon)."""
    econ = scenario.economics
    inside = start < month_ends[-1]
    month = np.searchsorted(month_ends, start[inside], side="right")
    discount = (1.0 + econ.annual_discount_rate) ** (-(month + 0.5) / 12.0)
    margin = values[:, None] * (econ.gross_margin - (1.0 - price[inside]))[None, :] - econ.fulfilment_cost_per_order
    return (pieces[:, inside] * margin) @ discount


def segment_counts(table: pd.DataFrame) -> dict[str, int]:
    """Customers in each segment, in the order of `SEGMENTS`."""
    counts = table["segment"].value_counts()
    return {s: int(counts.get(s, 0)) for s in SEGMENTS}
