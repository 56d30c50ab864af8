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
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE_FILES, small

from sim.engines import replication_seeds
from sim.engines.agent import run_agent
from sim.engines.fast import run_fast, simulate_batch
from sim.model import budget, calendar, money
from sim.model.kpis import compute_kpis
from sim.model.result import EXTRA_COLUMNS, FLOW_COLUMNS, STAGES, SimulationResult

MONTHS = 24
CALIBRATED_MONTHS = 6  # the consultant's path's calibrated scenarios: half a year (snapshots of thousands)
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
# the scenarios under contract: the samples, and what the samples do not show (a calendar with a promotion that
# strains fulfilment, a plan whose split changes by quarter with back-end spend per customer, the other two
# repeat-purchase families, a start date that is not the 1st, a scenario calibrated from the sample export), and
# more calibrated scenarios of the consultant's path (tests/path_fixtures.py): the Korean export alone (budget 0,
# the default market many times the base), the export with a plan from the flags (back-end and win-back spend on
# a snapshot, no spend log) and a real public log (CDNOW's 1/10 sample, budget 0)
CALIBRATED_CASES = {
    "calibrated_ko_alone": "export_ko_alone",
    "calibrated_plan": "export_plan",
    "calibrated_cdnow": "cdnow",
}
# a never-dropout share: on the prior (MBG/NBD and Pareto/NBD) and calibrated (BG/NBD with stayers, a snapshot)
STAYERS_CASES = ["stayers", "pareto_stayers", "calibrated_stayers"]
CASES = [*SAMPLE_NAMES, "calendar", "bgnbd", "pareto", "start_17th", "calibrated", *CALIBRATED_CASES, *STAYERS_CASES]


@cache
def _scenario(name: str):
    if name in SAMPLE_NAMES:
        return small(name, factor=0.1, months=MONTHS)
    base = small("early_stage_d2c", factor=0.1, months=MONTHS)
    if name == "calendar":
        return contract_calendar(base)
    if name == "bgnbd":
        return base.with_changes({"repeat_purchase.model": "bgnbd"})
    if name == "pareto":
        return base.with_changes(
            {"repeat_purchase": {"model": "pareto", "r": 1.3, "alpha": 95.0, "s": 2.0, "beta": 500.0}}
        )
    if name == "stayers":
        return base.with_changes({"repeat_purchase.never_dropout_share": 0.3})
    if name == "pareto_stayers":
        return _scenario("pareto").with_changes({"repeat_purchase.never_dropout_share": 0.3})
    if name == "calibrated_stayers":
        from path_fixtures import stayers_calibration

        from sim.model.scenario import load_scenario

        return load_scenario(stayers_calibration()).with_changes({"simulation.horizon_months": CALIBRATED_MONTHS})
    if name == "start_17th":
        return base.with_changes({"simulation.start_date": date(2027, 1, 17)})
    if name == "calibrated":
        return calibrated_sample()
    if name in CALIBRATED_CASES:
        from path_fixtures import calibration

        from sim.model.scenario import load_scenario

        path, _ = calibration(CALIBRATED_CASES[name])
        return load_scenario(path).with_changes({"simulation.horizon_months": CALIBRATED_MONTHS})
    raise KeyError(name)


def contract_calendar(base):
    """The early-stage shop with a Korean shopping calendar, an 11.11 sale that overloads fulfilment, and a
    plan that starts acquisition-heavy and moves budget to retention (set per active customer) by quarter."""
    index = [1.15, 0.9, 0.95, 0.95, 1.0, 0.9, 0.9, 0.95, 1.1, 1.0, 1.2, 1.0]
    mean = sum(index) / 12
    return base.with_changes(
        {
            "seasonality": {"index": [x / mean for x in index], "first_purchases": True, "repeat_purchases": True},
            "events": [
                {
                    "name": "11.11",
                    "start": date(2027, 11, 11),
                    "end": date(2027, 11, 13),
                    "uplift_customers": 4.0,
                    "uplift_aware": 3.0,
                    "extra_reach": 600.0,
                    "discount": 0.2,
                    "fixed_cost": 200000.0,
                }
            ],
            "operations.fulfilment_capacity_per_day": 12.0,
            "budget.purpose_split": [
                {"front": 0.9, "winback": 0.1},
                {"front": 0.85, "winback": 0.15},
                {"front": 0.8, "winback": 0.2},
            ],
            "budget.split_period": "quarter",
            "budget.back_per_customer": [200.0, 400.0],
        }
    )


@cache
def calibrated_sample():
    """The scenario `sim calibrate` writes for the sample order export (with its spend log), 12 months."""
    import subprocess
    import sys
    import tempfile

    from sim.model.scenario import load_scenario

    folder = Path(tempfile.mkdtemp(prefix="contract-calibrated-"))
    export = ROOT / "data" / "samples" / "client_export"
    cmd = [sys.executable, "-m", "sim", "calibrate", str(export / "orders.csv"), "--spend", str(export / "spend.csv")]
    cmd += ["--currency", "KRW", "--out", str(folder / "scenario.yaml")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    s = load_scenario(folder / "scenario.yaml")
    return s.with_changes({"simulation.horizon_months": 12})


def _run(engine: str, scenario, seed: int) -> SimulationResult:
    if engine == "agent":
        return run_agent(scenario, seed, keep_orders=False)
    return run_fast(scenario, seed, sampled=engine == "fast-sampled")


def _monthly(result: SimulationResult) -> np.ndarray:
    """(months, metrics): month-end stage counts, then monthly flows."""
    m = result.monthly()
    return m[STAGE_METRICS + FLOW_METRICS].to_numpy(dtype=float)


def _agent_monthly(args: tuple) -> np.ndarray:
    scenario, seed = args
    return _monthly(run_agent(scenario, seed, keep_orders=False))


@cache
def agent_reference(name: str) -> np.ndarray:
    """(replications, months, metrics) of the agent engine, run once per sample over two processes."""
    seeds = replication_seeds(2024, REPLICATIONS)
    with ProcessPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(_agent_monthly, [(_scenario(name), s) for s in seeds]))
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
@pytest.mark.parametrize("name", CASES)
def test_stage_counts_add_up_to_the_market_every_day(engine, name):
    r = single_run(engine, name)
    totals = r.daily[STAGES].sum(axis=1).to_numpy()
    np.testing.assert_allclose(totals, r.scenario.market.size, rtol=1e-9)
    assert (r.daily[STAGES].to_numpy() >= -1e-9).all()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", CASES)
def test_stage_changes_equal_the_flows(engine, name):
    r = single_run(engine, name)
    d, s = r.daily, r.scenario
    ex = s.market.existing
    # the morning of day 0: the base as the scenario states it (a snapshot's customers split into active and
    # lapsed by their posterior, so for a snapshot the day-0 split is what the engine drew)
    if ex.snapshot is None:
        active0, lapsed0 = ex.customers + ex.loyal, ex.lapsed
    else:
        first = d.iloc[0]
        active0 = (
            first["customer"] + first["loyal"] - first["new_customers"] - first["reactivations"] + first["dropouts"]
        )
        lapsed0 = first["lapsed"] - first["dropouts"] + first["reactivations"]
        assert active0 + lapsed0 == pytest.approx(ex.customers + ex.loyal + ex.lapsed + _snapshot_size(s))
    active = active0 + (d["new_customers"] + d["reactivations"] - d["dropouts"]).cumsum()
    np.testing.assert_allclose(active, d["customer"] + d["loyal"], rtol=1e-9, atol=1e-6)
    lapsed = lapsed0 + (d["dropouts"] - d["reactivations"]).cumsum()
    np.testing.assert_allclose(lapsed, d["lapsed"], rtol=1e-9, atol=1e-6)
    unaware0 = s.market.size - s.market.initially_aware - active0 - lapsed0
    unaware = unaware0 + (d["forgotten"] - d["newly_aware"]).cumsum()
    np.testing.assert_allclose(unaware, d["unaware"], rtol=1e-9, atol=1e-6)
    assert (d["never_met"] <= d["unaware"] + 1e-9).all()  # never met the brand: part of the unaware
    assert (np.diff(d["never_met"].to_numpy()) <= 1e-9).all()  # nobody becomes a stranger again


def _snapshot_size(s) -> int:
    from sim.model.base import load_snapshot

    return len(load_snapshot(s)) - s.market.existing.customers if s.market.existing.snapshot else 0


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", CASES)
def test_money_and_order_identities(engine, name):
    r = single_run(engine, name)
    d, s = r.daily, r.scenario
    econ = s.economics
    per_order = econ.fulfilment_cost_per_order + money.experience_cost_per_order(s)
    close = dict(rtol=1e-9, atol=1e-6 * econ.order_value_mean)
    np.testing.assert_allclose(d["revenue"], d["revenue_new"] + d["revenue_returning"], **close)
    # gross profit: margin on the list value (paid revenue + discounts) less the discounts and the costs
    listed = d["revenue"] + d["discounts"]
    expected_gp = listed * econ.gross_margin - d["discounts"] - d["orders"] * per_order
    np.testing.assert_allclose(d["gross_profit"], expected_gp, **close)
    spend = d["spend_front"] + d["spend_back"] + d["spend_winback"] + d["event_cost"]
    np.testing.assert_allclose(d["contribution"], d["gross_profit"] - spend, **close)
    plan = budget.spend_by_month(s)
    np.testing.assert_allclose(d["spend_front"].sum(), plan[:, :, 0].sum(), rtol=1e-9)
    np.testing.assert_allclose(d["spend_winback"].sum(), plan[:, :, 2].sum(), rtol=1e-9)
    np.testing.assert_allclose(d["event_cost"], calendar.day_factors(s).event_cost, rtol=1e-9)  # promotions' cost
    np.testing.assert_allclose(d["spend_back"].sum(), r.spend_by_channel["back"].to_numpy().sum(), rtol=1e-9)
    if s.budget.back_per_customer is None:
        np.testing.assert_allclose(d["spend_back"].sum(), plan[:, :, 1].sum(), rtol=1e-9)
    # a discount is given on promotion days only, as the promotion's share of the list value
    price = calendar.day_factors(s).price
    np.testing.assert_allclose(d["discounts"], listed * (1.0 - price), **close)
    # no flow or stock is NaN or infinite
    assert np.isfinite(d.to_numpy(dtype=float)).all()
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


# disagreements found and not yet fixed (the test fails deterministically: fixed seeds); remove when fixed.
# (Fixed: a snapshot's customers below the lowest quadrature node were lifted onto it, which overstated CDNOW's
# orders and dropout; batches with a snapshot now carry a zero node on each axis, `fast.params._read`.)
KNOWN_GAPS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", CASES)
def test_monthly_means_agree_with_the_agent_engine(engine, name, request):
    """Month by month: new customers, orders, revenue and the five stage counts."""
    if (engine, name) in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[(engine, name)]))
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


# -- one calendar ----------------------------------------------------------------------------------------


def test_a_start_that_is_not_the_first_gives_the_same_months_and_kpis_on_every_path():
    """A start on the 17th: plan months run 17th to 16th for both engines, their monthly tables and spend by
    channel, and every KPI path (a result's `compute_kpis`, a batch's `kpi_vectors`) gives the same figures,
    payback months included."""
    s = _scenario("start_17th")
    cal = calendar.calendar(s)
    assert cal.month_starts[0].day == 17 and cal.month_starts[1] == cal.month_starts[0] + pd.DateOffset(months=1)
    agent, fast = single_run("agent", "start_17th"), single_run("fast-expected", "start_17th")
    for r in (agent, fast):
        assert (r.monthly().index == cal.month_starts).all()
        assert (r.spend_by_channel.index == cal.month_starts).all()
        np.testing.assert_allclose(r.monthly()["orders"].sum(), r.daily["orders"].sum(), rtol=1e-12)
    np.testing.assert_allclose(agent.spend_by_channel.to_numpy(), fast.spend_by_channel.to_numpy(), rtol=1e-12)
    batch = simulate_batch(s, keep_daily=True)
    np.testing.assert_allclose(batch.column("orders")[0], fast.monthly()["orders"].to_numpy(), rtol=1e-9)
    vectors, kpis = batch.kpi_vectors(), compute_kpis(batch.result(0))
    for name, value in kpis.items():
        if value is not None and name in vectors:
            assert vectors[name][0] == pytest.approx(value, rel=1e-9), name
    assert kpis["payback_months"] is not None and float(kpis["payback_months"]).is_integer()
