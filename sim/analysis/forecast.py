"""Forecasts: the weeks after a calibrated cut-off, in closed form where the model has one, else simulated.

The customers who existed at the cut-off (the snapshot) keep buying as the MBG/NBD says; their expected
repeat orders in each coming week have a closed form (Batislam, Denizel & Filiztekin 2007; Fader, Hardie &
Lee 2005 eq. 10 adapted; the Gauss hypergeometric function 2F1 from scipy). New customers depend on
reach, awareness and conversion, which have no closed form: their expectation is the mean of seeded
engine replications. The 5%/95% bands of every column come from the same replications (weekly sums of
each replication, then percentiles), so they carry the Monte Carlo spread of single futures, not the uncertainty of the mean.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.calibration import mbgnbd
from sim.errors import UserInputError
from sim.model.scenario import Scenario

FORECAST_COLUMNS = ["week_start", "base_repeat_orders", "new_customers", "orders", "revenue"]
MAX_WEEKS = 500


def closed_form_applies(scenario: Scenario) -> bool:
    """True when the levers leave the MBG/NBD untouched, so its closed forms describe the engines.

    That needs no back-end or win-back spend, loyalty that changes nothing, and no experience effect on
    dropout (a calibrated scenario is built this way).
    """
    b = scenario.budget
    loy, e = scenario.loyalty, scenario.experience
    no_backend = b.purpose_split.get("back", 0.0) == 0.0 and b.purpose_split.get("winback", 0.0) == 0.0
    neutral_loyalty = (loy.purchase_rate_multiplier == 1.0 and loy.dropout_multiplier == 1.0) or (
        loy.step_probability_satisfied == 0.0
        and loy.step_probability_delighted == 0.0
        and scenario.market.existing.loyal == 0
    )
    neutral_experience = e.dissatisfied_dropout_multiplier == 1.0 and e.delighted_dropout_multiplier == 1.0
    return no_backend and neutral_loyalty and neutral_experience and scenario.market.existing.loyal == 0


def expected_base_repeat(scenario: Scenario, days: np.ndarray) -> np.ndarray:
    """Expected cumulative repeat orders of the customers existing at the start, at each of `days`.

    With a snapshot: the sum over customers of the MBG/NBD conditional expectation
    (`sim.calibration.mbgnbd.conditional_expected_purchases`). Without one, every active existing customer is a
    fresh draw from the priors who is active now, so the BG/NBD expectation of an active customer
    applies (Fader, Hardie & Lee 2005, eq. 9):
    E[X(t)] = (a+b-1)/(a-1) * (1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t))).
    Customers grouped by identical (x, t_x, T) are computed once (a speed trick).
    """
    rp = scenario.repeat_purchase
    days = np.asarray(days, dtype=float)
    if scenario.market.existing.snapshot is not None:
        from sim.model.base import load_snapshot

        snap = load_snapshot(scenario)
        triples = snap[["frequency", "recency", "age"]].to_numpy(dtype=float)
        uniq, counts = np.unique(triples, axis=0, return_counts=True)
        x, t_x, T = uniq[:, 0:1], uniq[:, 1:2], uniq[:, 2:3]
        per = mbgnbd.conditional_expected_purchases(days[None, :], x, t_x, T, rp.r, rp.alpha, rp.a, rp.b)
        return counts @ per
    a = rp.a if abs(rp.a - 1.0) > 1e-7 else 1.0 + 1e-7
    from scipy.special import hyp2f1

    z = days / (rp.alpha + days)
    each = (
        (a + rp.b - 1.0)
        / (a - 1.0)
        * (1.0 - np.power(rp.alpha / (rp.alpha + days), rp.r) * hyp2f1(rp.r, rp.b, a + rp.b - 1.0, z))
    )
    return scenario.market.existing.customers * each


def default_engine() -> str:
    """The engine for bands: the agent engine (the reference).

    The fast engine (`--engine fast`, run in its "sampled" mode) is much quicker, but on 2026-11-24 it
    put snapshot customers on a grid of rate classes and overstated their repeat orders by ~10% against
    both the closed form and the agent engine (tests/test_forecast.py checks the agent); switch the
    default here once it agrees.
    """
    return "agent"


def _engine_ready(scenario: Scenario, weeks: int) -> tuple[Scenario, int]:
    """A copy that covers `weeks` and starts on the first of a month, and the day offset of the start.

    A speed-free workaround: `model.build_plan` counts calendar months from the start date and needs the
    start on the 1st; the calibrated start (the day after the cut-off) may not be. The copy starts on the
    1st of that month; the days before the real start are simulated and dropped (the base is the
    snapshot at the real start; only the calendar of monthly spend moves).
    """
    start = pd.Timestamp(scenario.simulation.start_date)
    offset = start.day - 1
    days = 7 * weeks + offset
    months = min(120, math.ceil(days / 28.0) + 1)
    changes: dict[str, object] = {"simulation.horizon_months": months}
    if offset:
        changes["simulation.start_date"] = start.replace(day=1).date()
    return scenario.with_changes(changes), offset


def forecast(
    scenario: Scenario,
    weeks: int,
    *,
    replications: int = 20,
    engine: str | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """One row a week from the scenario's start: expected values and 5%/95% bands.

    Columns: week_start, base_repeat_orders, new_customers, orders, revenue, each followed by `_p05`
    and `_p95`, then `base_repeat_orders_engine` (the engine mean, to compare with the closed form) and
    `base_repeat_method` ("closed form" or "engine"). `orders` = base repeat orders + orders of new
    customers (first and repeat); `revenue` = expected orders x mean order value when the closed form
    applies, else the engine mean.
    """
    from sim.engines import engine_names, simulate

    if not 1 <= weeks <= MAX_WEEKS:
        raise UserInputError("out of range", location="--weeks", found=str(weeks), allowed=f"1 to {MAX_WEEKS}")
    if replications < 2:
        raise UserInputError("must be at least 2 for bands", location="--replications", found=str(replications))
    engine = engine or default_engine()
    if engine not in engine_names():
        raise UserInputError("unknown engine", location="--engine", found=engine, allowed=", ".join(engine_names()))
    run_scenario, offset = _engine_ready(scenario, weeks)
    result = simulate(
        run_scenario, engine=engine, seed=seed, replications=replications, workers=workers, keep_orders=False
    )
    runs = result.meta.get("replication_results", [result])
    n_days = 7 * weeks
    week_of_day = np.arange(n_days) // 7
    per_run = []
    for r in runs:
        d = r.daily.iloc[offset : offset + n_days]
        base = d["orders"].to_numpy() - d["orders_acquired"].to_numpy() - d["reactivations"].to_numpy()
        cols = {
            "base_repeat_orders": base,
            "new_customers": d["new_customers"].to_numpy(),
            "orders": d["orders"].to_numpy(),
            "revenue": d["revenue"].to_numpy(),
            "new_orders": d["orders_acquired"].to_numpy() + d["reactivations"].to_numpy(),
        }
        per_run.append({k: np.bincount(week_of_day, weights=v, minlength=weeks) for k, v in cols.items()})
    stack = {k: np.stack([pr[k] for pr in per_run]) for k in per_run[0]}
    mean = {k: v.mean(axis=0) for k, v in stack.items()}
    start = pd.Timestamp(scenario.simulation.start_date)
    out = pd.DataFrame({"week_start": [(start + pd.Timedelta(days=7 * w)).date().isoformat() for w in range(weeks)]})
    closed = closed_form_applies(scenario)
    if closed:
        cum = expected_base_repeat(scenario, 7.0 * np.arange(weeks + 1))
        base_mean = np.diff(cum)
        orders_mean = base_mean + mean["new_orders"]
        revenue_mean = orders_mean * scenario.economics.order_value_mean
    else:
        base_mean, orders_mean, revenue_mean = mean["base_repeat_orders"], mean["orders"], mean["revenue"]
    values = {
        "base_repeat_orders": base_mean,
        "new_customers": mean["new_customers"],
        "orders": orders_mean,
        "revenue": revenue_mean,
    }
    for col, v in values.items():
        out[col] = v
        out[f"{col}_p05"] = np.percentile(stack[col], 5, axis=0)
        out[f"{col}_p95"] = np.percentile(stack[col], 95, axis=0)
    out["base_repeat_orders_engine"] = mean["base_repeat_orders"]
    out["base_repeat_method"] = "closed form" if closed else "engine"
    out.attrs["engine"] = engine
    out.attrs["replications"] = len(runs)
    out.attrs["base_repeat_orders_engine_se"] = float(
        stack["base_repeat_orders"].sum(axis=1).std(ddof=1) / math.sqrt(len(runs))
    )
    return out
