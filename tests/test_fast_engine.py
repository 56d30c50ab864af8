"""The fast engine's own promises: heterogeneity kept by quadrature, expected mode = mean of sampled
mode, batches that reproduce and do not depend on the worker count, levers that move the right way."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small
from scipy import stats

from sim.analysis.marginal import marginal_rois
from sim.engines.fast import (
    CHUNK_ROWS,
    RAW_COLUMNS,
    class_weights,
    daily_capacity_queue,
    run_fast,
    simulate_batch,
)
from sim.engines.fast.loop import ACQUIRED
from sim.io import write_run_outputs
from sim.model import budget
from sim.model.kpis import compute_kpis
from sim.model.repeat import latent_classes as family_classes
from sim.model.result import TIMESERIES_COLUMNS


@pytest.fixture(scope="module")
def d2c():
    return small("early_stage_d2c", factor=0.1, months=12)


def latent_classes(r, alpha, a, b):
    return family_classes("mbgnbd", r, alpha, a, b)


@pytest.mark.parametrize("r,alpha,a,b", [(1.3, 95.0, 1.0, 4.0), (0.9, 110.0, 1.5, 3.5), (2.5, 90.0, 1.0, 8.0)])
def test_latent_classes_keep_the_gamma_and_beta_moments(r, alpha, a, b):
    lam, p, w = latent_classes(r, alpha, a, b)
    assert w.sum() == pytest.approx(1.0)
    assert len(np.unique(lam)) == 8 and len(np.unique(p)) == 4  # heterogeneity kept, not an average
    gamma, beta = stats.gamma(r, scale=1 / alpha), stats.beta(a, b)
    for k in (1, 2, 3):
        assert (w * lam**k).sum() == pytest.approx(gamma.moment(k), rel=1e-8)
        assert (w * p**k).sum() == pytest.approx(beta.moment(k), rel=1e-8)


def test_existing_customers_are_spread_over_classes_keeping_their_means():
    lam, p, _ = latent_classes(1.3, 95.0, 1.0, 4.0)
    classes, weights = class_weights(lam, p, lam, p, 4)  # a node belongs to its own class
    assert np.array_equal(classes[np.arange(len(lam)), weights.argmax(axis=1)], np.arange(len(lam)))
    rng = np.random.default_rng(0)
    rate, drop = rng.uniform(lam[0], lam[-1], 500), rng.uniform(p[0], p[-1], 500)
    classes, weights = class_weights(rate, drop, lam, p, 4)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose((weights * lam[classes]).sum(axis=1), rate)
    np.testing.assert_allclose((weights * p[classes]).sum(axis=1), drop)


@pytest.fixture(scope="module")
def snapshot_shop(d2c, tmp_path_factory):
    """The shop with a snapshot of 400 customers instead of its counts (as `sim calibrate` writes one)."""
    import pandas as pd

    rng = np.random.default_rng(3)
    age = rng.uniform(60, 700, 400)
    frequency = rng.poisson(0.6, 400)
    recency = np.where(frequency > 0, age * rng.uniform(0, 1, 400), 0.0)
    snap = pd.DataFrame({"customer_id": [f"c{i}" for i in range(400)], "frequency": frequency, "recency": recency})
    path = tmp_path_factory.mktemp("snapshot") / "snapshot.csv"
    snap.assign(age=age).to_csv(path, index=False)
    return d2c.with_changes({"market.existing.snapshot": str(path)})


def test_a_snapshot_plan_has_one_value_wherever_it_sits_in_a_batch(snapshot_shop):
    """Expected mode: the snapshot's base is the same draw in every row, so the optimizer's rows (and the
    report's single run of a plan) give a plan one value; in sampled mode each row draws its own base."""
    more = snapshot_shop.with_changes({"budget.totals": [2 * t for t in snapshot_shop.budget.totals]})
    batch = simulate_batch([more, snapshot_shop, more, snapshot_shop], seed=4)
    single = simulate_batch([snapshot_shop], seed=4)
    np.testing.assert_array_equal(batch.monthly[1], batch.monthly[3])
    np.testing.assert_array_equal(batch.monthly[0], batch.monthly[2])
    np.testing.assert_allclose(batch.monthly[1], single.monthly[0], rtol=1e-12, atol=1e-9)
    sampled = simulate_batch([snapshot_shop] * 2, mode="sampled", seed=4)
    assert not np.array_equal(sampled.monthly[0], sampled.monthly[1])


def test_a_snapshot_base_keeps_its_mean_rate_and_dropout_down_to_zero(d2c, snapshot_shop):
    """Posterior rates and dropouts of a real base crowd near zero, below the lowest Gauss node: a batch with a
    snapshot has a zero node on each axis (no new customers in it), so the base's means survive the classes."""
    from sim.engines.fast.params import batch_params
    from sim.model.base import existing_customers

    s = snapshot_shop
    P = batch_params([s], 8, 4)
    assert (P.n_rate, P.n_dropout) == (9, 5) and batch_params([d2c], 8, 4).n_rate == 8
    assert P.lam[0, 0] == P.drop[0, 0] == 0.0
    assert P.weights[0].sum() == P.weights[:, 0].sum() == 0.0  # new customers keep the prior's classes
    people = existing_customers(s, np.random.default_rng(5))
    lam_k, drop_k = np.repeat(P.lam[:, 0], P.n_dropout), np.tile(P.drop[:, 0], P.n_rate)
    assert (people.purchase_rate < P.lam[1, 0]).mean() > 0.1  # the case the zero node is for
    inside = (people.purchase_rate <= lam_k.max()) & (people.dropout <= drop_k.max())
    classes, weights = class_weights(people.purchase_rate, people.dropout, lam_k, drop_k, P.n_dropout)
    for value, nodes in ((people.purchase_rate, lam_k), (people.dropout, drop_k)):
        spread = (weights * nodes[classes]).sum(axis=1)
        assert spread[inside].mean() == pytest.approx(value[inside].mean(), rel=1e-9)


def test_cac_is_not_defined_when_the_spend_acquires_no_one(d2c):
    """Front-end money that reaches no one (a calibrated shop without new customers) has no cost per customer:
    CAC and LTV/CAC are undefined, never a cost of billions for a fraction of a person."""
    mute = {f"channels.{name}.reach.max_reach": 1e-6 for name in d2c.channels}
    mute |= {"market.initially_aware": 0, "events": [], "referral.contacts_per_loyal_per_month": 0.0}
    k = compute_kpis(run_fast(d2c.with_changes(mute), 1))
    assert k["marketing_spend"] > 0 and k["new_customers"] < 1.0
    assert k["cac"] is None and k["ltv_cac"] is None
    assert compute_kpis(run_fast(d2c, 1))["cac"] > 0  # the same plan with reach: defined


def _brute_force_queue(backlog, arrivals, capacity, tolerance, target, n=100_000):
    """Arrivals spread evenly over the day, fine-grained; slots refill each morning; first come first served."""
    k = n / arrivals
    left, free = max(backlog * k - capacity * k, 0.0), max(capacity * k - backlog * k, 0.0)
    i = np.arange(n)
    u = (i + 0.5) / n
    wait = np.zeros(n)
    queued = i >= free
    x = left + (i[queued] - free)
    wait[queued] = 1.0 + np.floor(x / (capacity * k)) - u[queued]
    return wait.mean(), np.exp(-wait / tolerance).mean(), (wait <= target).mean()


@pytest.mark.parametrize("backlog,arrivals", [(0, 80), (0, 120), (50, 120), (250, 130), (130, 300)])
def test_daily_capacity_queue_matches_a_brute_force_queue(backlog, arrivals):
    q = daily_capacity_queue(np.array([backlog]), np.array([arrivals]), np.array([100.0]), 1.5, 2.0)
    wait, decay, in_time = _brute_force_queue(backlog, arrivals, 100.0, 1.5, 2.0)
    assert q.mean_wait[0] == pytest.approx(wait, abs=1e-3)
    assert q.mean_decay[0] == pytest.approx(decay, abs=1e-3)
    assert q.in_time[0] == pytest.approx(in_time, abs=1e-3)
    assert q.backlog[0] == pytest.approx(max(backlog + arrivals - 100.0, 0.0))


@pytest.mark.parametrize(
    "decay,in_time,scalars", [(True, False, "target"), (False, True, "tolerance"), (True, True, "")]
)
def test_the_compiled_queue_day_equals_the_numpy_lines(decay, in_time, scalars):
    """`capacity_queue`'s compiled usual day (expected mode: no backlog past the morning, the overflow within
    one morning's slots) gives the NumPy lines' figures to the last bit, rows near their capacity or not; on
    other days the NumPy lines run."""
    from sim.engines.fast.queue import _within_a_morning, capacity_queue

    rng = np.random.default_rng(5)
    S, compiled = 400, 0
    for trial in range(24):
        cap = rng.uniform(5.0, 50.0, S)
        arrivals = cap * rng.uniform(0.3, 1.3, S) * (rng.random(S) > 0.05)  # some rows without arrivals
        backlog = np.where(rng.random(S) < 0.3 * (trial % 2), cap * rng.uniform(0.0, 2.5, S), 0.0)
        tolerance = 1.0 if scalars == "tolerance" else rng.uniform(0.5, 3.0, S)
        target = 0.0 if scalars == "target" else rng.uniform(0.0, 3.0, S)
        sd = np.sqrt(arrivals)
        near = backlog + arrivals + 8.0 * sd > cap  # given: the NumPy lines
        got = capacity_queue(backlog, arrivals, cap, tolerance, target, sd, decay=decay, in_time=in_time)
        want = capacity_queue(backlog, arrivals, cap, tolerance, target, sd, near=near, decay=decay, in_time=in_time)
        compiled += _within_a_morning(backlog, arrivals, cap, tolerance, target, sd, decay, in_time) is not None
        for g, w in zip(got, want, strict=True):
            assert (g is None) == (w is None)
            if w is not None:
                np.testing.assert_array_equal(g, w)
    assert 0 < compiled < 24  # both kinds of day were met


@pytest.mark.parametrize("above_one", [False, True])
def test_per_order_fates_equal_every_outcomes_capped_chances(above_one):
    """`fates_per_order`'s regrouped compiled pass equals `expected_fates` with `dropout_probability` for every
    outcome (the dissatisfied chance capped at 1 on some nodes); with a satisfied multiplier above 1 in one row
    the regrouping does not hold and every outcome's capped chance is used."""
    from sim.engines.fast.counting import expected_fates, fates_per_order
    from sim.model import lifecycle

    rng = np.random.default_rng(3)
    S, Dn = 40, 4
    p = rng.uniform(0.05, 0.6, (2, Dn, S))
    raw = rng.dirichlet([1.0, 3.0, 1.0], size=S).T
    outcome = tuple(raw)
    mult = np.stack([rng.uniform(1.0, 3.0, S), rng.uniform(0.5, 1.0, S), rng.uniform(0.3, 1.0, S)])
    if above_one:
        mult[1, 7] = 1.4
    step = rng.uniform(0.0, 0.3, (3, S))
    demote = rng.uniform(0.0, 0.5, S)
    got = fates_per_order(outcome, p, mult, step, demote)
    drops = [lifecycle.dropout_probability(p, m)[:, None] for m in mult]
    want = expected_fates(outcome, drops, step, demote)
    assert (lifecycle.dropout_probability(p, mult[0]) == 1.0).any()  # the cap is reached somewhere
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(
            np.broadcast_to(g, np.broadcast(g, w).shape),
            np.broadcast_to(w, np.broadcast(g, w).shape),
            rtol=1e-12,
            atol=1e-15,
        )


def test_expected_mode_equals_the_mean_of_sampled_mode(d2c):
    """Over 64 sampled replications the mean lies within z = 4 standard errors (plus 1%) of the
    expected-value run, for the monthly flows and stage counts."""
    cols = ["customer", "loyal", "lapsed", "new_customers", "orders", "revenue", "dropouts", "reactivations"]
    expected = run_fast(d2c, sampled=False).monthly()[cols].to_numpy()
    batch = simulate_batch([d2c] * 64, mode="sampled", seed=5, keep_daily=True)
    runs = np.stack([batch.result(i).monthly()[cols].to_numpy() for i in range(batch.n)])
    mean, se = runs.mean(axis=0), runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    limit = 4.0 * se + 0.01 * np.abs(mean) + 1.0
    assert (np.abs(expected - mean) <= limit).all(), np.argwhere(np.abs(expected - mean) > limit)
    assert runs.std(axis=0).max() > 0  # sampled mode does draw


def test_sampled_mode_is_whole_people_and_reproducible(d2c):
    a = run_fast(d2c, 3, sampled=True)
    b = run_fast(d2c, 3, sampled=True)
    c = run_fast(d2c, 4, sampled=True)
    assert a.daily.equals(b.daily)
    assert not a.daily.equals(c.daily)
    stages = a.daily[["unaware", "aware", "customer", "loyal", "lapsed"]].to_numpy()
    assert np.array_equal(stages, np.round(stages))
    assert (stages.sum(axis=1) == d2c.market.size).all()


def test_batch_results_do_not_depend_on_the_worker_count(d2c):
    short = d2c.with_changes({"simulation.horizon_months": 4})
    rows = CHUNK_ROWS + 6  # two random streams
    one = simulate_batch([short] * rows, mode="sampled", seed=9, workers=1)
    two = simulate_batch([short] * rows, mode="sampled", seed=9, workers=2)
    assert np.array_equal(one.monthly, two.monthly)
    assert len(set(one.seeds)) == 2  # independent streams from SeedSequence.spawn


def test_replications_of_several_plans_cut_across_workers_give_the_same_draws(d2c):
    """Fewer replications than one random stream: the plans are cut across the workers instead, and every
    plan's draws are those of the one-process run (common random numbers hold across the cut)."""
    short = d2c.with_changes({"simulation.horizon_months": 4})
    spend = budget.spend_by_month(short)
    plans = np.repeat(np.stack([spend * f for f in (0.5, 1.0, 1.5)]), 4, axis=0)  # 3 plans x 4 replications
    one = simulate_batch(short, plans, mode="sampled", seed=9, workers=1, replication_block=4)
    two = simulate_batch(short, plans, mode="sampled", seed=9, workers=2, replication_block=4)
    assert np.array_equal(one.monthly, two.monthly)
    alone = simulate_batch(short, plans[4:8], mode="sampled", seed=9, workers=1, replication_block=4)
    assert np.array_equal(alone.monthly, one.monthly[4:8])  # a plan's draws whatever runs beside it
    assert not np.array_equal(one.monthly[4:8], one.monthly[8:])  # the plans do differ


def test_a_batch_row_equals_the_single_run(d2c):
    """Rows are independent in expected mode: row i of a batch equals the scenario run alone."""
    spend = budget.spend_by_month(d2c)
    variants = [d2c, d2c.with_changes({"first_purchase.monthly_conversion": 0.03})]
    batch = simulate_batch(variants, np.stack([spend, spend * 1.5]), keep_daily=True)
    alone = run_fast(variants[1], spend_month=spend * 1.5)
    np.testing.assert_allclose(batch.result(1).daily.to_numpy(), alone.daily.to_numpy(), rtol=1e-12)
    kv = batch.kpi_vectors()
    assert kv["cumulative_contribution"][1] == pytest.approx(compute_kpis(alone)["cumulative_contribution"])
    assert kv["npv"][1] == pytest.approx(compute_kpis(alone)["npv"])


def test_levers_move_the_right_way(d2c):
    """More acquisition buys more new customers, more retention fewer dropouts per order, more win-back
    more comebacks; a bigger market is not emptier."""
    base = budget.spend_by_month(d2c)
    plans = [base]
    for j in range(3):
        more = base.copy()
        more[:, :, j] *= 2.0
        more[:, :, j] += (more[:, :, j].sum() == 0) * 1e6
        plans.append(more)
    b = simulate_batch(d2c, np.stack(plans))
    new = b.column("new_customers").sum(axis=1)
    drop_rate = b.column("dropouts").sum(axis=1) / b.column("orders").sum(axis=1)
    react = b.column("reactivations").sum(axis=1)
    assert new[1] > new[0]
    assert drop_rate[2] < drop_rate[0]
    assert react[3] > react[0]


def test_capacity_limits_mean_delays_and_dissatisfaction(d2c):
    tight = d2c.with_changes({"operations.fulfilment_capacity_per_day": 5.0})
    loose, squeezed = run_fast(d2c), run_fast(tight)
    assert squeezed.daily["fulfilment_delay_days"].max() > 0.5
    assert loose.daily["fulfilment_delay_days"].max() < 0.01
    assert squeezed.daily["dissatisfied"].sum() > 2 * loose.daily["dissatisfied"].sum()


def test_run_outputs_have_the_agent_columns_and_no_order_log(d2c, tmp_path):
    r = run_fast(d2c, keep_orders=True)
    written = write_run_outputs(r, compute_kpis(r), tmp_path)
    assert {p.name for p in written} == {"timeseries.csv", "kpis.json"}
    header = (tmp_path / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert header[: len(TIMESERIES_COLUMNS)] == TIMESERIES_COLUMNS


def test_marginal_rois_default_to_the_fast_engine_and_are_deterministic(d2c):
    a = marginal_rois(d2c)
    b = marginal_rois(d2c)
    assert a == b
    assert set(a) == {"front", "back", "winback"}
    assert all(np.isfinite(v) for v in a.values())


FAMILIES = {
    "mbgnbd": None,
    "bgnbd": {"model": "bgnbd", "r": 1.2, "alpha": 90.0, "a": 0.8, "b": 4.0},
    "pareto": {"model": "pareto", "r": 1.2, "alpha": 90.0, "s": 1.0, "beta": 400.0},
}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_lean_sweep_equals_the_detailed_run(d2c, family):
    """detail=False (the optimizer's sweeps, a fused in-place step) changes no shared figure: contribution,
    NPV and every stage and flow agree with the detailed run within 1e-6 relative, for every repeat-purchase
    family, also with a fulfilment queue on some rows only, capped dropout chances and no win-back budget.
    Every flow is finite (a Pareto/NBD sweep once read its fate chances past their end: NaN)."""
    plain = d2c.with_changes({"events": [], "seasonality": None})  # no queue without the promotions
    if FAMILIES[family] is not None:
        plain = plain.with_changes({"repeat_purchase": FAMILIES[family]})
    base = budget.spend_by_month(plain)
    rng = np.random.default_rng(11)
    plans = [base * rng.uniform(0.3, 3.0, size=(1, 1, 3)) for _ in range(3)]
    plans.append(base * np.array([1.0, 1.0, 0.0]))  # no win-back spend: no comebacks at all
    tight = plain.with_changes(
        {"operations.fulfilment_capacity_per_day": 7.0, "events": d2c.events, "seasonality": d2c.seasonality}
    )  # queues on the busy days
    rows = [plain] * len(plans) + [tight] * len(plans)
    spend = np.stack(plans * 2)
    lean = simulate_batch(rows, spend, detail=False)
    full = simulate_batch(rows, spend, detail=True)
    assert (full.column("fulfilment_delay_days") > 0).any()  # the queue is exercised
    assert (full.column("fulfilment_delay_days")[: len(plans)] < 1e-6).all()  # ... on some rows only
    for key in ("cumulative_contribution", "npv", "revenue", "customers_at_horizon", "orders", "new_customers"):
        np.testing.assert_allclose(lean.kpi_vectors()[key], full.kpi_vectors()[key], rtol=1e-6, err_msg=key)
    shared = [i for i, c in enumerate(RAW_COLUMNS) if c not in ACQUIRED]
    scale = np.abs(full.monthly[:, :, shared]).max(axis=1, keepdims=True)
    # stages and flows: the lean run pools the lapsed people's win-back weights over the groups, which
    # moves comebacks by ~1e-5 of their scale (see `simulate_batch`)
    gap = np.abs(lean.monthly[:, :, shared] - full.monthly[:, :, shared])
    assert (gap <= 1e-4 * scale + 1e-9).all(), np.argwhere(gap > 1e-4 * scale + 1e-9)
    assert np.isnan(lean.column("orders_acquired")).all()
    assert np.isfinite(lean.monthly[:, :, shared]).all() and np.isfinite(full.monthly).all()
    assert np.isfinite(lean.npv).all()


def test_a_lean_sweep_keeps_no_retention_cohort():
    """The retention cohort (people active a year before the end) is the detailed run's; a lean sweep says
    it does not know it rather than report a number."""
    s = small("early_stage_d2c", factor=0.05, months=15)
    lean, full = simulate_batch(s, detail=False), simulate_batch(s, detail=True)
    assert np.isnan(lean.cohort).all()
    assert np.isfinite(full.cohort).all() and (full.cohort[:, 1] <= full.cohort[:, 0]).all()
    np.testing.assert_allclose(lean.npv, full.npv, rtol=1e-6)


def test_a_lean_day_records_every_column_once():
    """A lean day's compiled record (`kernels.lean_record`) writes every column but the acquired customers'
    (unknown in a lean run), each once: a column added to the record must be added to that pass too."""
    from sim.engines.fast.kernels import LEAN_RECORD

    assert len(set(LEAN_RECORD)) == len(LEAN_RECORD)
    assert sorted([*LEAN_RECORD, *ACQUIRED]) == sorted(RAW_COLUMNS)


def test_worker_pool_is_kept_across_batches_and_remade_when_a_worker_dies(d2c):
    """Expected-mode sweeps with workers reuse one kept pool; a killed worker costs a new pool, not a result."""
    import os
    import signal

    from sim.engines.fast import pool as fast

    spend = budget.spend_by_month(d2c)[None] * np.linspace(0.5, 1.5, 130)[:, None, None, None]
    serial = simulate_batch(d2c, spend, detail=False, workers=1)
    first = simulate_batch(d2c, spend, detail=False, workers=2)
    pool = fast._POOLS[1]
    again = simulate_batch(d2c, spend, detail=False, workers=2)
    assert fast._POOLS[1] is pool
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    for p in list(pool._processes.values()):
        p.join(5)
    after = simulate_batch(d2c, spend, detail=False, workers=2)
    assert fast._POOLS[1] is not pool
    for batch in (first, again, after):  # the same up to summation order (BLAS class sums over other row counts)
        np.testing.assert_allclose(batch.monthly, serial.monthly, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(batch.npv, serial.npv, rtol=1e-9)
        assert batch.scenarios == serial.scenarios and np.array_equal(batch.spend, serial.spend)


def test_no_pool_is_kept_in_a_daemon_process(d2c, monkeypatch):
    """A daemon process (no children allowed) runs the batch itself."""
    import multiprocessing
    from types import SimpleNamespace

    from sim.engines.fast import pool as fast

    spend = budget.spend_by_month(d2c)[None] * np.linspace(0.5, 1.5, 130)[:, None, None, None]
    serial = simulate_batch(d2c, spend, detail=False, workers=1)
    monkeypatch.setattr(multiprocessing, "current_process", lambda: SimpleNamespace(daemon=True, name="daemon"))
    monkeypatch.setattr(fast, "_POOLS", {})
    batch = simulate_batch(d2c, spend, detail=False, workers=2)
    assert fast._POOLS == {}
    np.testing.assert_array_equal(batch.monthly, serial.monthly)  # one chunk, run here, as with workers=1
