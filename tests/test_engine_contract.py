"""The contract every engine passes, written once and run against each engine.

An engine turns a scenario into a `SimulationResult` whose books balance (everybody is in exactly one
stage every day; stage changes equal the flows; money adds up), whose seeded runs reproduce to the
bit, and whose monthly means agree with the agent engine (the reference for what the model means)
within Monte Carlo error. The engines under contract: the agent engine itself, the fast engine in
expected-value mode and the fast engine in sampled mode.

Samples are scaled down to a tenth (same per-person dynamics, `sim.model.scaling.scaled`) and to 24 months,
so the agent engine's replications stay quick; consumables_subscription still reaches its fulfilment
capacity (month ~17), so the queueing regime is part of the contract.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from functools import cache

import numpy as np
import pytest
from conftest import SAMPLE_FILES, small

from sim.engines import replication_seeds
from sim.engines.agent import run_agent
from sim.engines.fast import run_fast, simulate_batch
from sim.model import budget, money
from sim.model.kpis import compute_kpis
from sim.model.result import EXTRA_COLUMNS, FLOW_COLUMNS, STAGES, SimulationResult

MONTHS = 24
REPLICATIONS = 16
# Many months x metrics x samples are compared (about 24 x 8 x 3 per engine), so a 2-sigma bound would
# fail by chance; z = 4 keeps the family-wise false-alarm rate of independent normal comparisons near
# 2%, and the seeds are fixed, so the outcome is deterministic. The relative tolerance covers the fast
# engine's stated approximations (daily steps, 8 x 4 quadrature classes, fluid queues): measured biases
# are below 1% (2% in the month a capacity starts to bind); the absolute one covers months with a
# handful of events, where the normal approximation of a count is poor.
Z = 4.0
REL_TOL = 0.02
ABS_TOL = 2.0
STAGE_METRICS = ["unaware", "aware", "customer", "loyal", "lapsed"]
FLOW_METRICS = ["new_customers", "orders", "revenue"]
ENGINES = ["agent", "fast-expected", "fast-sampled"]
SAMPLE_NAMES = [p.stem for p in SAMPLE_FILES]


def _scenario(name: str):
    return small(name, factor=0.1, months=MONTHS)


def _run(engine: str, scenario, seed: int) -> SimulationResult:
    if engine == "agent":
        return run_agent(scenario, seed, keep_orders=False)
    return run_fast(scenario, seed, sampled=engine == "fast-sampled")


def _monthly(result: SimulationResult) -> np.ndarray:
    """(months, metrics): month-end stage counts, then monthly flows."""
    m = result.monthly()
    return m[STAGE_METRICS + FLOW_METRICS].to_numpy(dtype=float)


def _agent_monthly(args: tuple[str, int]) -> np.ndarray:
    name, seed = args
    return _monthly(run_agent(_scenario(name), seed, keep_orders=False))


@cache
def agent_reference(name: str) -> np.ndarray:
    """(replications, months, metrics) of the agent engine, run once per sample over two processes."""
    seeds = replication_seeds(2024, REPLICATIONS)
    with ProcessPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(_agent_monthly, [(name, s) for s in seeds]))
    return np.stack(runs)


@cache
def single_run(engine: str, name: str) -> SimulationResult:
    return _run(engine, _scenario(name), 11)


def _tolerance(scale: np.ndarray, mean: np.ndarray, order_value: float) -> np.ndarray:
    """z-bound plus the stated relative and absolute tolerances (absolute in people/orders, or money)."""
    absolute = np.array([ABS_TOL] * (len(STAGE_METRICS) + 2) + [ABS_TOL * order_value])
    return Z * scale + REL_TOL * np.abs(mean) + absolute


# -- books balance ------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_stage_counts_add_up_to_the_market_every_day(engine, name):
    r = single_run(engine, name)
    totals = r.daily[STAGES].sum(axis=1).to_numpy()
    np.testing.assert_allclose(totals, r.scenario.market.size, rtol=1e-9)
    assert (r.daily[STAGES].to_numpy() >= -1e-9).all()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_stage_changes_equal_the_flows(engine, name):
    r = single_run(engine, name)
    d, s = r.daily, r.scenario
    ex = s.market.existing
    active = ex.customers + ex.loyal + (d["new_customers"] + d["reactivations"] - d["dropouts"]).cumsum()
    np.testing.assert_allclose(active, d["customer"] + d["loyal"], rtol=1e-9, atol=1e-6)
    lapsed = ex.lapsed + (d["dropouts"] - d["reactivations"]).cumsum()
    np.testing.assert_allclose(lapsed, d["lapsed"], rtol=1e-9, atol=1e-6)
    unaware0 = s.market.size - s.market.initially_aware - ex.customers - ex.loyal - ex.lapsed
    unaware = unaware0 + (d["forgotten"] - d["newly_aware"]).cumsum()
    np.testing.assert_allclose(unaware, d["unaware"], rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_money_and_order_identities(engine, name):
    r = single_run(engine, name)
    d, s = r.daily, r.scenario
    econ = s.economics
    per_order = econ.fulfilment_cost_per_order + money.experience_cost_per_order(s)
    close = dict(rtol=1e-9, atol=1e-6 * econ.order_value_mean)
    np.testing.assert_allclose(d["revenue"], d["revenue_new"] + d["revenue_returning"], **close)
    np.testing.assert_allclose(d["gross_profit"], d["revenue"] * econ.gross_margin - d["orders"] * per_order, **close)
    spend = d["spend_front"] + d["spend_back"] + d["spend_winback"]
    np.testing.assert_allclose(d["contribution"], d["gross_profit"] - spend, **close)
    np.testing.assert_allclose(spend.sum(), budget.spend_by_month(s).sum(), rtol=1e-9)
    # every new customer's first order is a non-repeat order; every order is judged once
    np.testing.assert_allclose(d["orders"] - d["repeat_orders"], d["new_customers"], atol=1e-6)
    np.testing.assert_allclose(d["dissatisfied"] + d["satisfied"] + d["delighted"], d["orders"], atol=1e-6)
    assert (d["orders_acquired"] <= d["orders"] + 1e-9).all()
    assert (d["second_orders"] <= d["repeat_orders"] + 1e-9).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_same_result_type_kpis_and_csv_columns(engine):
    r = single_run(engine, SAMPLE_NAMES[0])
    reference = single_run("agent", SAMPLE_NAMES[0])
    assert isinstance(r, SimulationResult)
    assert list(r.daily.columns) == STAGES + FLOW_COLUMNS + EXTRA_COLUMNS
    assert list(r.timeseries_frame().columns) == list(reference.timeseries_frame().columns)
    assert set(compute_kpis(r)) == set(compute_kpis(reference))
    assert (r.daily.index == reference.daily.index).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_seeded_runs_reproduce_to_the_bit(engine):
    name = SAMPLE_NAMES[0]
    first = single_run(engine, name)
    again = _run(engine, _scenario(name), 11)
    assert first.daily.equals(again.daily)
    assert first.cohort == again.cohort


# -- agreement with the agent engine --------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_monthly_means_agree_with_the_agent_engine(engine, name):
    """Month by month: new customers, orders, revenue and the five stage counts."""
    ref = agent_reference(name)
    value_mean = _scenario(name).economics.order_value_mean
    if engine == "agent":
        # leave-one-out: one replication against the mean of the others (a single draw: its spread is the sd)
        one, rest = ref[0], ref[1:]
        mean = rest.mean(axis=0)
        scale = rest.std(axis=0, ddof=1) * np.sqrt(1.0 + 1.0 / len(rest))
        value = one
    else:
        mean = ref.mean(axis=0)
        se = ref.std(axis=0, ddof=1) / np.sqrt(len(ref))
        if engine == "fast-expected":
            value, scale = _monthly(single_run(engine, name)), se
        else:
            batch = simulate_batch([_scenario(name)] * REPLICATIONS, mode="sampled", seed=99, keep_daily=True)
            runs = np.stack([_monthly(batch.result(i)) for i in range(batch.n)])
            value = runs.mean(axis=0)
            scale = np.sqrt(se**2 + runs.var(axis=0, ddof=1) / len(runs))
    limit = _tolerance(scale, mean, value_mean)
    gap = np.abs(value - mean)
    bad = np.argwhere(gap > limit)
    metrics = STAGE_METRICS + FLOW_METRICS
    detail = [
        f"month {m} {metrics[j]}: {value[m, j]:.1f} vs agent {mean[m, j]:.1f} (limit {limit[m, j]:.1f})"
        for m, j in bad[:8]
    ]
    assert not len(bad), f"{engine} disagrees with the agent engine on {name}:\n" + "\n".join(detail)
