"""The customers a shop already has, as its order log tells them: their forecast, their value, their segments.

A calibrated scenario carries a snapshot of every customer's history (orders, first and last order) and the
fitted repeat-purchase model. From those alone, in closed form and with no assumption about marketing,
`sim.analysis.forecast` gives the existing customers' expected repeat orders and revenue week by week (with
bands from the fitted parameters' uncertainty) and `sim.analysis.score` gives each customer's chance of
still being active, expected orders, CLV, segment and the playbook's action. This module sums them up for
the report: one weekly forecast, one row per segment and a few totals, the same figures `sim forecast`
and `sim score` write (the forecast's totals equal the sum of the customers' scores).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from sim.model.scenario import Scenario

SEGMENT_COLUMNS = [
    "segment",
    "key",
    "customers",
    "share",
    "p_alive_mean",
    "expected_orders",
    "expected_revenue",
    "clv_total",
    "clv_mean",
]
FORECAST_COLUMNS = ["week_start", "base_repeat_orders", "base_repeat_orders_p05", "base_repeat_orders_p95"]
FORECAST_COLUMNS += ["revenue", "revenue_p05", "revenue_p95"]


def segment_key(segment: str) -> str:
    """The catalog key of a segment name: 'one-time, hesitating' -> 'one_time_hesitating'."""
    return re.sub(r"[^a-z0-9]+", "_", segment.lower()).strip("_")


def has_snapshot(scenario: Scenario) -> bool:
    """Whether the scenario knows its customers one by one (a scenario written by `sim calibrate`)."""
    return scenario.market.existing.snapshot is not None


def forecast_weeks(scenario: Scenario) -> int:
    """Whole weeks in the scenario's horizon: the period of the base's forecast and scores."""
    from sim.report.data import horizon_end

    days = (horizon_end(scenario) - scenario.simulation.start_date).days + 1
    return max(1, days // 7)


def segments_table(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per segment (in `sim.analysis.score.SEGMENTS` order): customers, share, mean P(alive), expected
    orders and revenue over the forecast weeks, CLV in total and per customer."""
    from sim.analysis.score import SEGMENTS

    rows = []
    total = len(scores)
    for name in SEGMENTS:
        part = scores[scores["segment"] == name]
        n = len(part)
        rows.append(
            {
                "segment": name,
                "key": segment_key(name),
                "customers": n,
                "share": n / total if total else None,
                "p_alive_mean": float(part["p_alive"].mean()) if n else None,
                "expected_orders": float(part["expected_orders"].sum()),
                "expected_revenue": float(part["expected_revenue"].sum()),
                "clv_total": float(part["clv"].sum()),
                "clv_mean": float(part["clv"].mean()) if n else None,
            }
        )
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def customer_base(
    scenario: Scenario, seed: int, *, forecast: bool
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(weekly forecast, segments, totals) of the scenario's existing customers over the horizon's weeks.

    `forecast`: also the weekly forecast with its bands (the report of an order log alone shows it; a report
    with a plan shows the plan's own figures instead, which include what marketing does to these customers).
    Without a snapshot: empty tables and no totals.
    """
    if not has_snapshot(scenario):
        return pd.DataFrame(columns=FORECAST_COLUMNS), pd.DataFrame(columns=SEGMENT_COLUMNS), {}
    from sim.analysis.forecast import forecast as weekly_forecast
    from sim.analysis.score import score_customers

    weeks = forecast_weeks(scenario)
    scores = score_customers(scenario, weeks)
    segments = segments_table(scores)
    totals: dict[str, Any] = {
        "weeks": weeks,
        "customers": len(scores),
        "expected_active": float(scores["p_alive"].sum()),
        "expected_orders": float(scores["expected_orders"].sum()),
        "expected_revenue": float(scores["expected_revenue"].sum()),
        "clv_total": float(scores["clv"].sum()),
        "clv_mean": float(scores["clv"].mean()) if len(scores) else None,
        "family": scenario.repeat_purchase.model,
        "never_dropout_share": scenario.repeat_purchase.never_dropout_share,
    }
    table = pd.DataFrame(columns=FORECAST_COLUMNS)
    if forecast:
        frame = weekly_forecast(scenario, weeks, seed=seed)
        table = frame[FORECAST_COLUMNS].copy()
        table["week_start"] = pd.to_datetime(table["week_start"])
        draws = np.asarray(frame.attrs.get("base_total_draws", []), dtype=float)
        if draws.size:
            totals["expected_orders_p05"] = float(np.percentile(draws, 5))
            totals["expected_orders_p95"] = float(np.percentile(draws, 95))
        totals["forecast_method"] = str(frame.attrs.get("method", ""))
    return table, segments, totals
