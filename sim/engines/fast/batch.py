"""A batch: S plans of one scenario (or S scenarios that share horizon, start date and channels) simulated
at once, their monthly totals, present values and KPIs, and each row's `SimulationResult` when asked for."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sim.engines.fast.classes import initial_base
from sim.engines.fast.draws import Expected, Sampled
from sim.engines.fast.loop import COL, RAW_COLUMNS, initial_state, run_days
from sim.engines.fast.params import batch_params
from sim.engines.fast.pool import NoPool, in_pool
from sim.model import budget, money
from sim.model.calendar import calendar
from sim.model.kpis import KPI_DISCOUNTED, KPI_FLOWS, KPI_STOCKS, KpiInputs, kpi_arrays
from sim.model.repeat import DEFAULT_DROPOUT_CLASSES, DEFAULT_RATE_CLASSES
from sim.model.result import (
    EXTRA_COLUMNS,
    FLOW_COLUMNS,
    MARKETING_SPEND,
    STAGES,
    SimulationResult,
    finish_money,
    spend_frame,
)
from sim.model.scenario import Scenario

MODES = ("expected", "sampled")
CHUNK_ROWS = 50  # replications that share one random stream (fixed, so results do not depend on --workers)


@dataclass
class BatchResult:
    """What a batch run produced, per row (first axis).

    `monthly` (S, M, len(RAW_COLUMNS)) holds flows summed by plan month and stocks at month end
    (`fulfilment_delay_days` summed over orders); `daily` (S, D, ...) is kept when asked for.
    """

    scenarios: list[Scenario]
    spend: np.ndarray  # (S, M, C, 3) the plans (fixed spend; per-customer back-end spend in `spend_back_month`)
    mode: str
    monthly: np.ndarray
    npv: np.ndarray  # (S,) discounted contribution
    discounted_gpa: np.ndarray  # (S,) discounted gross profit of acquired customers
    discounted_new: np.ndarray  # (S,) discounted new customers
    cohort: np.ndarray  # (S, 2): active 365 days before the end, still active at the end
    spend_back_month: np.ndarray  # (S, M) back-end spend made each month
    daily: np.ndarray | None = None
    seeds: list[int] = field(default_factory=list)
    draws: int = 0
    trace: list = field(default_factory=list, repr=False)

    @property
    def n(self) -> int:
        return len(self.scenarios)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return calendar(self.scenarios[0]).dates

    def column(self, name: str) -> np.ndarray:
        """(S, M) monthly values of a raw column."""
        return self.monthly[:, :, COL[name]]

    def daily_column(self, name: str) -> np.ndarray:
        """(S, D) daily values of a raw column (needs `keep_daily=True`): what a reader of many rows' days
        takes instead of a `SimulationResult` per row (speed: no pandas table per row)."""
        if self.daily is None:
            raise ValueError("this batch was run without keep_daily=True; no daily values to read")
        return self.daily[:, :, COL[name]]

    def money(self) -> dict[str, np.ndarray]:
        """(S, M) monthly gross profit, contribution and acquired customers' gross profit, by the model's
        money identity (`sim.model.money`, as `finish_money` for a daily table)."""
        margin = np.array([s.economics.gross_margin for s in self.scenarios])[:, None]
        per_order = np.array(
            [s.economics.fulfilment_cost_per_order + money.experience_cost_per_order(s) for s in self.scenarios]
        )[:, None]
        c = self.column
        gross = money.gross_profit(c("revenue"), c("orders"), margin, per_order, c("discounts"))
        spend = sum(c(name) for name in MARKETING_SPEND)
        gpa = money.gross_profit(
            c("revenue_acquired"), c("orders_acquired"), margin, per_order, c("discounts_acquired")
        )
        return {"gross_profit": gross, "contribution": money.contribution(gross, spend), "gross_profit_acquired": gpa}

    def kpi_vectors(self) -> dict[str, np.ndarray]:
        """Every KPI of every row, as (S,) arrays, by the one KPI function (`sim.model.kpis.kpi_arrays`)."""
        derived = self.money()
        monthly = {name: derived[name] if name in derived else self.column(name) for name in KPI_FLOWS}
        last = self.monthly[:, -1]
        inputs = KpiInputs(
            monthly=monthly,
            end={name: last[:, COL[name]] for name in KPI_STOCKS},
            discounted=dict(zip(KPI_DISCOUNTED, (self.npv, self.discounted_gpa, self.discounted_new), strict=True)),
            cohort=self.cohort,
            initially_aware=np.array([float(s.market.initially_aware) for s in self.scenarios]),
            market_size=np.array([float(s.market.size) for s in self.scenarios]),
        )
        return kpi_arrays(inputs)

    def result(self, i: int = 0, seed: int | None = None) -> SimulationResult:
        """The `SimulationResult` of row i (needs `keep_daily=True`)."""
        if self.daily is None:
            raise ValueError("this batch was run without keep_daily=True; no daily table to return")
        s = self.scenarios[i]
        daily = pd.DataFrame(self.daily[i], index=self.dates, columns=RAW_COLUMNS)
        orders = daily["orders"].to_numpy()
        daily["fulfilment_delay_days"] = daily["fulfilment_delay_days"].to_numpy() / np.maximum(orders, 1.0)
        finish_money(daily, s)
        daily = daily[STAGES + FLOW_COLUMNS + EXTRA_COLUMNS]
        start, kept = self.cohort[i]
        return SimulationResult(
            scenario=s,
            engine="fast",
            seed=seed,
            daily=daily,
            orders=None,
            spend_by_channel=spend_frame(s, self.spend[i], self.spend_back_month[i]),
            cohort={"start": float(start), "retained": float(kept)},
            meta={"mode": self.mode, "draws": self.draws},
        )


def run_chunk(
    scenarios: Sequence[Scenario],
    spend: np.ndarray,
    mode: str,
    seed: int | None,
    keep_daily: bool,
    n_rate: int,
    n_dropout: int,
    progress: bool,
    detail: bool = True,
    trace_days: Sequence[int] | None = None,
    plans: int = 1,
) -> BatchResult:
    """Simulate rows of a batch that share one random stream. `trace_days`: sampled mode records those days'
    draws in `trace` (for the benchmark's bare-loop comparison). `plans` (sampled mode): the rows are that
    many plans' replications, plan by plan, of one scenario; each plan's r-th row gets replication r's
    base and uniforms (common random numbers)."""
    P = batch_params(scenarios, n_rate, n_dropout)
    cal = calendar(scenarios[0])
    drivers = budget.monthly_drivers(scenarios, spend, cal.days_in_month)
    rng = np.random.default_rng(seed)
    draw = Sampled(rng, trace_days, plans) if mode == "sampled" else Expected()
    replications = len(scenarios) // plans
    bases: dict[int, tuple] = {}
    rows = []
    for i, s in enumerate(scenarios):
        # expected mode: every row of a scenario starts from the same base, whatever its place in the batch. A
        # snapshot's base is one draw from its customers' posteriors, made from a stream of its own seeded by the
        # batch's seed, so a plan's value never depends on the rows beside it (the optimizer compares rows) and
        # `run_fast` of a plan equals its row in any batch; also speed: a repeated scenario's base is made once
        if mode == "expected" and id(s) in bases:
            rows.append(bases[id(s)])
            continue
        if i >= replications:  # another plan's r-th replication: replication r's base (the same people)
            if s is not scenarios[i % replications]:
                raise ValueError("the plans of one chunk of replications must share their scenario")
            rows.append(rows[i % replications])
            continue
        lam_k = np.repeat(P.lam[:, i], P.n_dropout)
        drop_k = np.tile(P.drop[:, i], P.n_rate)
        w_k = P.weights[:, :, min(i, P.weights.shape[-1] - 1)].ravel()
        base_rng = np.random.default_rng(seed) if mode == "expected" else rng
        base = initial_base(s, lam_k, drop_k, w_k, float(P.react_decay[i]), P.n_dropout, base_rng, mode == "sampled")
        if mode == "expected":
            bases[id(s)] = base
        rows.append(base)
    state = initial_state(P, rows, 3 if detail else 1, draw)
    out = run_days(P, cal, drivers, state, draw, detail=detail, keep_daily=keep_daily, progress=progress)
    return BatchResult(
        scenarios=list(scenarios),
        spend=spend,
        mode=mode,
        monthly=np.ascontiguousarray(out.monthly.transpose(2, 0, 1)),
        npv=out.npv,
        discounted_gpa=out.discounted_gpa,
        discounted_new=out.discounted_new,
        cohort=out.cohort,
        spend_back_month=np.ascontiguousarray(out.spend_back_month.T),
        daily=out.daily,
        seeds=[seed] if seed is not None else [],
        draws=int(draw.draws),
        trace=getattr(draw, "trace", []),
    )


def _run_chunk_remote(args: tuple) -> BatchResult:
    """`run_chunk` in a pool worker, its result without the rows' scenarios and spend (speed: the parent has
    them; they are put back by `_reattach`, so a few MB less are pickled back)."""
    part = run_chunk(*args)
    part.scenarios, part.spend = [], part.spend[:0]
    return part


def _reattach(part: BatchResult, job: tuple) -> BatchResult:
    """A part from `_run_chunk_remote` with its job's scenarios and spend back."""
    part.scenarios, part.spend = list(job[0]), job[1]
    return part


def _spend_rows(rows: list[Scenario], spend: np.ndarray | None) -> tuple[list[Scenario], np.ndarray]:
    """The batch's rows and their (S, M, C, 3) plans, checked."""
    first = rows[0]
    M, C = first.simulation.horizon_months, len(first.channels)
    if spend is None:
        spend_arr = np.stack([budget.spend_by_month(s) for s in rows])
    else:
        spend_arr = np.asarray(spend, dtype=float)
        if spend_arr.ndim == 3:
            spend_arr = np.broadcast_to(spend_arr, (len(rows), *spend_arr.shape)).copy()
        if spend_arr.ndim != 4 or spend_arr.shape[1:] != (M, C, 3):
            raise ValueError(f"spend must have shape (S, {M}, {C}, 3), found {spend_arr.shape}")
    if len(rows) == 1 and spend_arr.shape[0] > 1:
        rows = rows * spend_arr.shape[0]
    if len(rows) != spend_arr.shape[0]:
        raise ValueError(f"{len(rows)} scenarios but {spend_arr.shape[0]} spend plans")
    for s in rows[1:]:
        if (
            s.simulation.horizon_months != M
            or s.simulation.start_date != first.simulation.start_date
            or list(s.channels) != list(first.channels)
        ):
            raise ValueError("scenarios in one batch must share horizon, start date and channels")
    return rows, spend_arr


def simulate_batch(
    scenarios: Scenario | Sequence[Scenario],
    spend: np.ndarray | None = None,
    *,
    mode: str = "expected",
    seed: int | None = None,
    keep_daily: bool = False,
    workers: int = 1,
    n_rate_classes: int = DEFAULT_RATE_CLASSES,
    n_dropout_classes: int = DEFAULT_DROPOUT_CLASSES,
    progress: bool = False,
    detail: bool = True,
    replication_block: int | None = None,
) -> BatchResult:
    """Simulate a batch of S scenario rows at once.

    `scenarios`: one scenario (repeated over the rows of `spend`) or S scenarios that share horizon, start
    date and channels (for instance variants with one parameter moved, for sensitivity). `spend`: (S, M, C, 3)
    spend by row, month, channel and purpose (front, back, winback), or (M, C, 3) for every row; default
    each scenario's own plan (per-customer back-end spend comes from each scenario's budget). In sampled mode
    the rows are cut into fixed chunks of `CHUNK_ROWS`, each with its own stream from `SeedSequence(seed).spawn`,
    so results do not depend on `workers` (the processes the chunks are spread over). `detail=False` (for
    sweeps) skips the acquired-customer accounting (orders_acquired, revenue_acquired, second_orders and so
    payback and CLV become NaN) and the retention cohort (retention_12m NaN); every other column is the same.
    `replication_block` (sampled mode): the rows are blocks of this many replications of different plans of
    one scenario, and replication r of every block gets the same base and the same uniform in every cell of
    every count (`inversion`): common random numbers for comparing plans. The chunks then cut the
    replications, each chunk holding every plan's (and, with fewer chunks than workers, the plans too).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, found {mode!r}")
    rows = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
    if not rows:
        raise ValueError("simulate_batch needs at least one scenario")
    rows, spend_arr = _spend_rows(rows, spend)
    base_seed = rows[0].simulation.seed if seed is None else seed
    args = (keep_daily, n_rate_classes, n_dropout_classes)

    def job(lo: int, hi: int, job_seed: int, show: bool) -> tuple:
        return (rows[lo:hi], spend_arr[lo:hi], mode, job_seed, *args, show, detail)

    def replications_job(index: np.ndarray, plans: int, job_seed: int, show: bool) -> tuple:
        return ([rows[i] for i in index], spend_arr[index], mode, job_seed, *args, show, detail, None, plans)

    if mode == "expected":  # no random stream: one big chunk is fastest, or one a worker on a big batch
        cuts = [0, len(rows)]
        if workers > 1 and len(rows) >= 128:  # a process pool only pays for itself on a big batch
            cuts = list(np.linspace(0, len(rows), workers + 1).astype(int))
        jobs = [job(lo, hi, base_seed, progress and len(cuts) == 2) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]
        seeds = [base_seed]
        order = None
    else:
        block = replication_block or len(rows)
        if len(rows) % block:
            raise ValueError(f"{len(rows)} rows are not whole blocks of {block} replications")
        bounds = list(range(0, block, CHUNK_ROWS)) + [block]
        n_chunks = len(bounds) - 1
        spawned = np.random.SeedSequence(base_seed).spawn(n_chunks)
        seeds = [int(c.generate_state(1, dtype=np.uint32)[0]) for c in spawned]
        if n_chunks == 1:
            seeds = [base_seed]  # a single row or small batch uses the seed itself, like the agent engine
        # a chunk of replications holds every plan's: the plans share its uniforms, each plan's r-th row the
        # same ones (common random numbers), and the per-day cost is paid once for all plans (speed)
        plans = len(rows) // block
        # with fewer chunks than workers, each chunk's plans are cut too (a plan's draws are the same whatever
        # plans run beside it, so the results still do not depend on `workers`)
        groups = np.array_split(np.arange(plans), max(1, min(plans, workers // n_chunks)))
        chunks, jobs = [], []
        for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            for group in groups:
                index = np.array([p * block + r for p in group for r in range(lo, hi)], dtype=int)
                chunks.append(index)
                jobs.append(replications_job(index, len(group), seeds[j], progress and workers <= 1))
        order = np.concatenate(chunks) if plans > 1 else None  # the chunks' rows, when not the caller's order
    parts = None
    if workers > 1 and len(jobs) > 1:
        try:
            parts = in_pool(
                len(jobs) - 1 if mode == "expected" else workers, lambda pool: _in(pool, jobs, mode, progress)
            )
        except NoPool:  # a daemon process may not start processes: run here, as with one worker
            if mode == "expected":
                jobs = [job(0, len(rows), base_seed, progress)]
    if parts is None:
        parts = [run_chunk(*j) for j in jobs]
    out = _concat(parts, seeds)
    if order is not None:
        out = _take(out, np.argsort(order))  # the rows back in the caller's order
    return out


def _in(pool: ProcessPoolExecutor, jobs: list[tuple], mode: str, progress: bool) -> list[BatchResult]:
    """Run the jobs on a pool: in expected mode this process is one of the workers (one pickled result
    fewer; the rows are independent, so the parts are the same wherever they run)."""
    if mode == "expected":
        futures = [pool.submit(_run_chunk_remote, j) for j in jobs[1:]]
        own = run_chunk(*jobs[0])
        return [own] + [_reattach(f.result(), j) for f, j in zip(futures, jobs[1:], strict=True)]
    done = tqdm(
        pool.map(_run_chunk_remote, jobs),
        total=len(jobs),
        desc="fast batch",
        disable=None if progress else True,
        leave=False,
    )
    return [_reattach(part, j) for part, j in zip(done, jobs, strict=True)]


# the fields of a BatchResult that hold one entry per row (`daily` too, when kept)
ROW_ARRAYS = ("spend", "monthly", "npv", "discounted_gpa", "discounted_new", "cohort", "spend_back_month")


def _take(batch: BatchResult, index: np.ndarray) -> BatchResult:
    """The batch's rows in the order of `index`."""
    rows = {name: getattr(batch, name)[index] for name in ROW_ARRAYS}
    daily = None if batch.daily is None else batch.daily[index]
    return replace(batch, scenarios=[batch.scenarios[i] for i in index], daily=daily, **rows)


def _concat(parts: list[BatchResult], seeds: list[int]) -> BatchResult:
    if len(parts) == 1:
        parts[0].seeds = seeds
        return parts[0]
    first = parts[0]
    return BatchResult(
        scenarios=[s for p in parts for s in p.scenarios],
        mode=first.mode,
        daily=None if first.daily is None else np.concatenate([p.daily for p in parts]),
        seeds=seeds,
        draws=sum(p.draws for p in parts),
        **{name: np.concatenate([getattr(p, name) for p in parts]) for name in ROW_ARRAYS},
    )


def run_fast(
    scenario: Scenario,
    seed: int | None = None,
    *,
    spend_month: np.ndarray | None = None,
    sampled: bool | None = None,
    progress: bool = False,
    keep_orders: bool = True,
) -> SimulationResult:
    """Run the fast engine on one scenario; same result type, KPIs and CSV columns as the agent engine.

    `sampled`: seeded draws (True) or expected values (False or None, the default: deterministic).
    `spend_month` (M, C, 3) overrides the scenario's budget plan. `keep_orders` has no effect: the fast
    engine counts people, it keeps no order log (the registry says so: `writes_orders=False`).
    """
    seed = scenario.simulation.seed if seed is None else seed
    spend = None if spend_month is None else np.asarray(spend_month, dtype=float)[None]
    mode = "sampled" if sampled else "expected"
    batch = simulate_batch(scenario, spend, mode=mode, seed=seed, keep_daily=True, progress=progress)
    return batch.result(0, seed=seed)


def horizon_value(batch: BatchResult, objective: str) -> np.ndarray:
    """(S,) objective values of a batch: contribution, npv, revenue or customers (at the horizon)."""
    key = {
        "contribution": "cumulative_contribution",
        "npv": "npv",
        "revenue": "revenue",
        "customers": "customers_at_horizon",
    }[objective]
    return batch.kpi_vectors()[key]
