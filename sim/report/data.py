"""Everything a strategy report shows, computed once by the library and written as CSV/JSON files.

The report notebook only assembles and explains; the numbers come from here. `build_report_data` runs
the engines: the budget optimizer (fast engine, many replications) for the recommended split, its gain
with a 90% band, the contribution curve, marginal ROIs and the break-evens of its inputs; the fast engine for
the experience levers (and for marginal ROIs while no optimizer is installed); and one agent-engine run
for the views that need single orders (funnel, cohort retention) and for the KPI table.

`ReportData.write(folder)` puts each figure's data beside the report (so that batch runs can collect
them) and `load_report_data(folder)` reads them back; `prepare_report_data` reuses a folder whose
manifest matches the scenario, seed and replications, so a report rendered by `sim.report.render` never
simulates twice (the heavy work runs outside the notebook kernel, see papermill issue 511).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim
from sim.io import finite_or_none as _num
from sim.io import plain, write_csv, write_json
from sim.model.kpis import KPI_NAMES, compute_kpis
from sim.model.scenario import PURPOSES, Scenario, scenario_slug
from sim.report import events as events_mod
from sim.report import plans as plans_mod

DATA_FORMAT = 3  # bump when the files below change meaning; older folders are then rebuilt

FRAME_FILES = {
    "funnel": "funnel.csv",
    "stages": "stages_monthly.csv",
    "revenue": "revenue_monthly.csv",
    "cohorts": "cohort_retention.csv",
    "curve": "contribution_curve.csv",
    "marginal": "marginal_roi.csv",
    "levers": "experience_levers.csv",
    "breakevens": "breakevens.csv",
    "path": "plan_path.csv",
    "gain": "gain_parts.csv",
    "capacity": "capacity_monthly.csv",
    "events": "events.csv",
    "forecast": "base_forecast.csv",
    "segments": "segments.csv",
}
# each table's columns, so a table the report does not have (no plan, no snapshot, no promotion) is still written
# as a header line a reader can load, never as an empty file
FUNNEL_COLUMNS = ["step", "count", "rate_from_previous", "share_of_aware", "source"]
REVENUE_COLUMNS = ["revenue_new", "revenue_returning", "new_customers", "orders"]
COHORT_COLUMNS = ["cohort", "age", "customers", "active", "retention"]
CURVE_COLUMNS = ["retention_share", "value_mean", "value_p05", "value_p95", "feasible"]
MARGINAL_COLUMNS = ["plan", "purpose", "roi"]
LEVER_COLUMNS = ["lever", "value", "current", "contribution", "retention_12m", "dissatisfied_share", "gain"]


def frame_columns(name: str) -> list[str]:
    """The columns of report table `name` (a key of `FRAME_FILES`)."""
    from sim.model.result import STOCK_COLUMNS
    from sim.report.customers import FORECAST_COLUMNS, SEGMENT_COLUMNS

    return {
        "funnel": FUNNEL_COLUMNS,
        "stages": ["month", *STOCK_COLUMNS],
        "revenue": ["month", *REVENUE_COLUMNS],
        "cohorts": COHORT_COLUMNS,
        "curve": CURVE_COLUMNS,
        "marginal": MARGINAL_COLUMNS,
        "levers": LEVER_COLUMNS,
        "breakevens": breakeven_columns(),
        "path": plans_mod.PATH_COLUMNS,
        "gain": plans_mod.GAIN_COLUMNS,
        "capacity": events_mod.MONTH_COLUMNS,
        "events": events_mod.EVENT_COLUMNS,
        "forecast": FORECAST_COLUMNS,
        "segments": SEGMENT_COLUMNS,
    }[name]


def empty_frame(name: str) -> pd.DataFrame:
    """Report table `name` with its columns and no rows."""
    return pd.DataFrame(columns=frame_columns(name))


JSON_FILES = {
    "meta": "meta.json",
    "kpis": "kpis.json",
    "plan": "plan.json",
    "base": "base.json",
    "summary": "summary.json",
    "plans": "plans.json",
}

# KPIs of the report's KPI table, in this order (names as in sim.model.kpis)
TABLE_KPIS = [
    "cac",
    "first_purchase_conversion",
    "repeat_purchase_rate",
    "retention_12m",
    "clv",
    "ltv_cac",
    "payback_months",
]

# experience levers and the values tried for each (the scenario's own value is always added)
LEVER_GRID: dict[str, tuple[float, ...]] = {
    "experience.reliability": (0.85, 0.90, 0.95, 0.98, 1.0),
    "experience.proactive_coverage": (0.0, 0.25, 0.5, 0.75, 1.0),
    "experience.delight_coverage": (0.0, 0.1, 0.2, 0.4, 0.6),
}
EVENT_AFTERMATH_DAYS = events_mod.AFTERMATH_DAYS  # days after a promotion its delays are counted over
COHORT_MAX_AGE = 24  # months since first purchase shown in the retention heatmap


@dataclass
class ReportData:
    """All figures' data of one report. Frames are tidy tables; `plan`, `kpis`, `meta` are JSON-able dicts."""

    meta: dict[str, Any]
    kpis: dict[str, float | None]
    plan: dict[str, Any]
    summary: dict[str, Any]
    funnel: pd.DataFrame
    stages: pd.DataFrame
    revenue: pd.DataFrame
    cohorts: pd.DataFrame
    curve: pd.DataFrame
    marginal: pd.DataFrame
    levers: pd.DataFrame
    breakevens: pd.DataFrame
    path: pd.DataFrame = field(default_factory=pd.DataFrame)  # both plans' spend a month by purpose and period
    gain: pd.DataFrame = field(default_factory=pd.DataFrame)  # the gain in parts with bands (sim.report.plans)
    capacity: pd.DataFrame = field(default_factory=pd.DataFrame)  # orders against capacity by month (events.py)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)  # each promotion's effects (sim.report.events)
    plans: dict[str, Any] = field(default_factory=dict)  # both plans' KPIs, marginal ROIs, cohorts, advice
    forecast: pd.DataFrame = field(default_factory=pd.DataFrame)  # the existing customers' weekly forecast
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)  # the existing customers by segment
    base: dict[str, Any] = field(default_factory=dict)  # the existing customers' totals (sim.report.customers)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.meta["currency"]

    def write(self, folder: str | Path) -> list[Path]:
        """Write every table and dict to `folder` (each file atomically); the manifest goes last."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, filename in FRAME_FILES.items():
            frame = getattr(self, name)
            written.append(write_csv(folder / filename, empty_frame(name) if frame.columns.empty else frame))
        for name in ("kpis", "plan", "base", "summary", "plans"):
            written.append(write_json(folder / JSON_FILES[name], getattr(self, name)))
        written.append(write_json(folder / JSON_FILES["meta"], {**self.meta, "timings": self.timings}))
        return written


def manifest_key(scenario: Scenario, replications: int, seed: int) -> dict[str, Any]:
    """What must match for a data folder to be reused: the scenario and its input files, the seed, the
    replications, and the code that computes (this package's source and the numerical libraries)."""
    return {
        "data_format": DATA_FORMAT,
        "scenario_hash": scenario.content_hash(),
        "inputs_hash": inputs_digest(scenario),
        "seed": int(seed),
        "replications": int(replications),
        "package_version": sim.__version__,
        "code_hash": code_digest(),
    }


def inputs_digest(scenario: Scenario) -> str | None:
    """Digest of the files the scenario reads (its customer snapshot), or None when it reads none."""
    snapshot = scenario.market.existing.snapshot
    if snapshot is None:
        return None
    path = scenario.resolve(snapshot)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None


@cache
def code_digest() -> str:
    """Digest of the `sim` package's Python source and the numerical libraries' versions: a data folder
    written by other code (a newer checkout with the same version number) is never reused."""
    import scipy

    digest = hashlib.sha256(f"{np.__version__} {pd.__version__} {scipy.__version__}".encode())
    root = Path(sim.__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def data_matches(folder: str | Path, key: dict[str, Any]) -> bool:
    """Whether `folder` holds a complete data folder written under `key` (its manifest, `meta.json`)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / JSON_FILES["meta"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    names = [*FRAME_FILES.values(), *JSON_FILES.values()]
    return (
        isinstance(meta, dict)
        and all(meta.get(k) == v for k, v in key.items())
        and all((folder / n).is_file() for n in names)
    )


def reuse_report_data(
    scenario: Scenario, target: Path, candidates: list[Path], *, replications: int, seed: int | None
) -> Path | None:
    """Copy the first of `candidates` whose manifest matches into `target` (a speed trick: a report in a
    second language needs the same figures); the folder copied, or None when none matches."""
    seed = scenario.simulation.seed if seed is None else int(seed)
    key = manifest_key(scenario, replications, seed)
    for folder in candidates:
        if data_matches(folder, key):
            shutil.copytree(folder, target)
            return folder
    return None


def load_report_data(folder: str | Path) -> ReportData:
    """Read a folder written by `ReportData.write`."""
    folder = Path(folder)
    meta = json.loads((folder / JSON_FILES["meta"]).read_text(encoding="utf-8"))
    timings = meta.pop("timings", {})
    dicts = {
        name: json.loads((folder / JSON_FILES[name]).read_text(encoding="utf-8"))
        for name in ("kpis", "plan", "base", "summary", "plans")
    }
    frames = {}
    for name, filename in FRAME_FILES.items():
        path = folder / filename
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        for column in ("month", "week_start"):
            if column in frame.columns:
                frame[column] = pd.to_datetime(frame[column])
        frames[name] = frame
    return ReportData(meta=meta, timings=timings, **dicts, **frames)


def prepare_report_data(
    scenario: Scenario, folder: str | Path, *, replications: int = 100, seed: int | None = None, progress: bool = False
) -> ReportData:
    """The report data of `scenario` in `folder`: read if the folder's manifest matches, else built and written."""
    folder = Path(folder)
    seed = scenario.simulation.seed if seed is None else int(seed)
    key = manifest_key(scenario, replications, seed)
    if data_matches(folder, key):
        try:
            return load_report_data(folder)
        except (OSError, ValueError, KeyError):
            pass  # unreadable: rebuild
    data = build_report_data(scenario, replications=replications, seed=seed, progress=progress)
    data.write(folder)
    return data


# -- building ---------------------------------------------------------------------------------------


def build_report_data(
    scenario: Scenario,
    *,
    replications: int = 100,
    seed: int | None = None,
    progress: bool = False,
    parallel: bool = True,
) -> ReportData:
    """Run the engines and the optimizer and collect every figure's data (nothing is written).

    One number per quantity: every figure of a plan (KPIs, stages, revenue, contribution, marginal ROIs,
    levers, the optimizer's values) is the fast engine's expected value, the same engine and mode the
    optimizer compares plans with; the agent engine's order log adds only what needs single customers'
    histories (the funnel's later steps, the cohort heatmap), and says so in `meta["sources"]`.

    A scenario without a plan to split (a zero budget: `sim calibrate` from an order log alone) gets what
    its data can tell: the existing customers' forecast, value and segments (`sim.report.customers`).
    """
    if replications < 1:
        raise ValueError(f'"replications" must be >= 1, found {replications}')
    seed = scenario.simulation.seed if seed is None else int(seed)
    timings: dict[str, float] = {}
    has_plan = plan_to_split(scenario)
    if has_plan:
        data = _plan_report_data(scenario, replications, seed, progress, parallel, timings)
    else:
        data = _base_report_data(scenario, seed, timings)
    data.meta = {**_meta(scenario, replications, seed), **data.meta}
    data.summary = summary_row(data)
    return data


def _plan_report_data(
    scenario: Scenario, replications: int, seed: int, progress: bool, parallel: bool, timings: dict[str, float]
) -> ReportData:
    """Every section of a report on a plan: the current plan's run, the optimizer, levers, marginal ROIs,
    one order log; and, for a calibrated scenario, its customers' segments."""
    from sim.report.customers import customer_base

    # The agent run (order level, one core) overlaps the fast-engine work when a second process can be
    # started (a speed trick: the two halves take similar time).
    pool, agent_job = _start_agent(scenario, seed, parallel)
    try:
        with _timed(timings, "plan"):
            plan_run = current_plan_run(scenario, seed)
        with _timed(timings, "optimize"):
            opt = _optimize(scenario, replications, seed, progress, parallel)
        with _timed(timings, "levers"):
            levers = lever_effects(scenario, seed)
        with _timed(timings, "plans_events"):
            rec_run, variants = _plan_and_event_runs(scenario, opt, plan_run, seed)
        with _timed(timings, "customers"):
            _, segments, base = customer_base(scenario, seed, forecast=False)
        with _timed(timings, "agent_wait" if agent_job is not None else "agent"):
            agent = agent_job.result() if agent_job is not None else _agent_run(scenario, seed)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    # marginal ROIs of the current plan (as `sim run` reports them), from the optimizer, which measures them at
    # both plans with the same function
    marginal_now = {p: _num(opt.marginal_roi.get("current", {}).get(p)) for p in PURPOSES}
    kpis = compute_kpis(plan_run, marginal_now)
    kpis = {k: kpis[k] for k in KPI_NAMES} | {k: v for k, v in kpis.items() if k not in KPI_NAMES}
    size = scenario.market.size
    kpis["unaware_share_start"] = _num((size - scenario.market.initially_aware - _existing(scenario)) / size)
    kpis = plans_mod.undefined_without_front(plans_mod.clean_kpis(kpis), plans_mod.front_spend(plan_run))
    monthly = plan_run.monthly()
    rec_scenario = rec_run.scenario
    return ReportData(
        meta={"sources": SOURCES, "engines": ENGINES, "optimizer_timings": dict(opt.meta.get("timings", {}))},
        kpis=kpis,
        plan=_plan(scenario, opt, kpis, plan_run),
        summary={},
        funnel=funnel_table(plan_run, agent, scenario),
        stages=stages_monthly(monthly),
        revenue=revenue_monthly(monthly),
        cohorts=cohort_retention(agent, scenario),
        curve=_curve(opt),
        marginal=pd.DataFrame(
            [
                {"plan": name, "purpose": p, "roi": opt.marginal_roi.get(name, {}).get(p)}
                for name in plans_mod.PLANS
                for p in PURPOSES
            ]
        ),
        levers=levers,
        breakevens=_breakevens(opt),
        path=plans_mod.plan_path(scenario, rec_scenario, opt.recommended_path.period_months),
        gain=plans_mod.gain_parts(opt),
        capacity=events_mod.capacity_months(plan_run),
        events=events_mod.event_effects(plan_run, variants),
        plans=plans_mod.plan_figures(plan_run, rec_run, opt, kpis),
        segments=segments,
        base=base,
        timings=timings,
    )


def _plan_and_event_runs(scenario: Scenario, opt, plan_run, seed: int):
    """The recommended plan's run and the promotions' counterfactual runs (`sim.report.events`), in one
    fast-engine batch in expected mode (a speed trick: one vectorized run instead of one per variant)."""
    from sim.engines.fast import simulate_batch

    rec = plans_mod.recommended_scenario(scenario, opt)
    variants = events_mod.counterfactual_scenarios(scenario, events_mod.overloaded_events(plan_run))
    batch = simulate_batch([rec, *variants], mode="expected", seed=seed, keep_daily=True)
    runs = [batch.result(i, seed=seed) for i in range(batch.n)]
    return runs[0], runs[1:]


def _base_report_data(scenario: Scenario, seed: int, timings: dict[str, float]) -> ReportData:
    """A report on the existing customers alone (no plan to split): forecast, segments, CLV, in closed
    form; no engine runs and no plan KPI (they would describe a plan that spends nothing)."""
    from sim.report.customers import customer_base

    with _timed(timings, "customers"):
        forecast, segments, base = customer_base(scenario, seed, forecast=True)
    kpis: dict[str, Any] = dict.fromkeys(KPI_NAMES)
    return ReportData(
        meta={"sources": {"forecast": "closed_form", "segments": "closed_form"}, "engines": {}},
        kpis=kpis,
        plan=_plan(scenario, None, kpis),
        summary={},
        funnel=empty_frame("funnel"),
        stages=empty_frame("stages"),
        revenue=empty_frame("revenue"),
        cohorts=empty_frame("cohorts"),
        curve=_curve(None),
        marginal=empty_frame("marginal"),
        levers=empty_frame("levers"),
        breakevens=_breakevens(None),
        forecast=forecast,
        segments=segments,
        base=base,
        timings=timings,
    )


def _meta(scenario: Scenario, replications: int, seed: int) -> dict[str, Any]:
    """What the report says about its inputs (and the manifest that lets a data folder be reused)."""
    return {
        **manifest_key(scenario, replications, seed),
        "scenario_name": scenario.name,
        "client": scenario.client,
        "slug": scenario_slug(scenario),
        "currency": scenario.economics.currency,
        "market_size": scenario.market.size,
        "horizon_months": scenario.simulation.horizon_months,
        "start_date": scenario.simulation.start_date.isoformat(),
        "end_date": horizon_end(scenario).isoformat(),
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "existing_customers": _existing(scenario),
        "first_party_data_share": scenario.retention.first_party_data_share,
        "retention_measured": retention_measured(scenario),
        "loyal_stage": has_loyal_stage(scenario),
        "experience_neutral": experience_is_neutral(scenario),
        "conversion_by_construction": conversion_by_construction(scenario),
        "scenario_file": scenario.source_path.name if scenario.source_path else None,
        "channels": {name: (ch.label or name) for name, ch in scenario.channels.items()},
    }


def horizon_end(scenario: Scenario) -> date:
    """The horizon's last day: the day before the start date's anniversary `horizon_months` later."""
    start = pd.Timestamp(scenario.simulation.start_date)
    return (start + pd.DateOffset(months=scenario.simulation.horizon_months) - pd.Timedelta(days=1)).date()


def has_loyal_stage(scenario: Scenario) -> bool:
    """Whether anyone can be a loyal customer (the lifecycle stage): someone starts loyal or an order can
    make a customer loyal. A calibrated scenario sets the step to 0, as its fitted model describes everyone."""
    step = scenario.loyalty.step_probability_satisfied + scenario.loyalty.step_probability_delighted
    return step > 0 or scenario.market.existing.loyal > 0


def conversion_by_construction(scenario: Scenario) -> bool:
    """Whether first-purchase conversion is calibration's convention rather than a measurement: `sim calibrate`
    fits acquisition as curves of new customers and sets reached people to buy within about a week."""
    from sim.calibration.acquisition import CONVERSION_MONTHLY

    return scenario.calibration is not None and scenario.first_purchase.monthly_conversion == CONVERSION_MONTHLY


def experience_is_neutral(scenario: Scenario) -> bool:
    """Whether an order's experience changes nothing a customer does: no dropout after a disappointed or a
    delighted order beyond the usual, no word of mouth, no step to or from loyal (a calibrated scenario's
    assumptions, as its fitted repeat-purchase model already contains today's experience)."""
    ex, loy = scenario.experience, scenario.loyalty
    return (
        ex.dissatisfied_dropout_multiplier == 1.0
        and ex.delighted_dropout_multiplier == 1.0
        and scenario.first_purchase.negative_wom_impact == 0.0
        and loy.step_probability_satisfied == 0.0
        and loy.step_probability_delighted == 0.0
        and loy.demote_on_dissatisfied == 0.0
    )


def retention_measured(scenario: Scenario) -> bool:
    """Whether the back-end effect sizes were fitted from a CRM lift test (`sim calibrate --lift-test`);
    otherwise they are assumptions, and so is any recommended back-end share."""
    return bool((scenario.calibration or {}).get("lift_test"))


ENGINES = {"order_level": "agent", "optimizer": "sim.analysis.optimize", "sweeps": "fast"}
# Where each figure of the report comes from (written to meta.json; the report's method note reads it)
SOURCES = {
    "kpis": "plan",
    "stages": "plan",
    "revenue": "plan",
    "funnel": "plan+order_log",
    "cohorts": "order_log",
    "curve": "optimizer",
    "marginal": "plan",
    "levers": "plan",
    "breakevens": "optimizer",
    "path": "optimizer",
    "gain": "optimizer",
    "capacity": "plan",
    "events": "plan",
}


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = time.perf_counter() - start


def plan_to_split(scenario: Scenario) -> bool:
    """Whether the scenario has a marketing budget to split (a calibrated scenario without a spend log or
    a `--budget` has none: its monthly totals are zero)."""
    from sim.model import budget

    return bool(np.sum(budget.monthly_budget(scenario)) > 0)


def current_plan_run(scenario: Scenario, seed: int):
    """The current plan's expected flows (fast engine, expected values): the figures of the current plan
    everywhere in the report, and what the optimizer calls the current plan's value."""
    from sim.engines import get_engine

    return get_engine("fast").run(scenario, seed, sampled=False, keep_orders=False)


def _existing(scenario: Scenario) -> int:
    ex = scenario.market.existing
    return ex.customers + ex.loyal + ex.lapsed


def _agent_run(scenario: Scenario, seed: int):
    """One agent-engine run with its order log (the funnel, the cohorts and the KPI table read it)."""
    from sim.engines.agent import run_agent

    return run_agent(scenario, seed)


def _start_agent(scenario: Scenario, seed: int, parallel: bool):
    """(pool, future) of the agent run in a second process, or (None, None) to run it in this one.

    Daemon processes (some batch workers) may not start children, and a machine with one core gains
    nothing, so those run sequentially; so does any failure to start the process.
    """
    import multiprocessing
    import os

    from sim.lifeline import WorkerPool

    if not parallel or (os.cpu_count() or 1) < 2 or multiprocessing.current_process().daemon:
        return None, None
    try:
        pool = WorkerPool(max_workers=1)
        return pool, pool.submit(_agent_run, scenario, seed)
    except (OSError, RuntimeError, ValueError):
        return None, None


def report_workers(parallel: bool = True) -> int:
    """Processes the report's Monte Carlo may use (results do not depend on it): SIM_REPORT_WORKERS when
    set (a batch sets 1, its reports already run side by side), else up to two cores; one inside daemon
    processes, which may not start children."""
    import multiprocessing

    if not parallel or multiprocessing.current_process().daemon:
        return 1
    env = os.environ.get("SIM_REPORT_WORKERS", "")
    if env.isdigit() and int(env) >= 1:
        return int(env)
    return max(1, min(2, os.cpu_count() or 1))


def _optimize(scenario: Scenario, replications: int, seed: int, progress: bool, parallel: bool = True):
    """The optimizer's result for the contribution objective (fast engine, `replications` for its bands)."""
    from sim.analysis.optimize import optimize_budget

    # the optimizer needs two replications at least for its bands
    reps = max(2, replications)
    return optimize_budget(
        scenario,
        objective="contribution",
        replications=reps,
        seed=seed,
        workers=report_workers(parallel),
        progress=progress,
    )


def lever_effects(scenario: Scenario, seed: int) -> pd.DataFrame:
    """Cumulative contribution and 12-month retention at each tried value of each experience lever.

    Costs are included: proactive messages and surprises cost money per order. All variants run as one
    fast-engine batch in expected mode (a speed trick: one vectorized run instead of one per variant).
    """
    from sim.engines.fast import simulate_batch

    variants: list[tuple[str, float, bool, Scenario]] = []
    for dotted, grid in LEVER_GRID.items():
        section, name = dotted.split(".")
        current = float(getattr(getattr(scenario, section), name))
        values = sorted(set(grid) | {current})
        for value in values:
            variant = scenario if value == current else scenario.with_changes({dotted: value})
            variants.append((name, value, value == current, variant))
    measures: list[tuple[float, float | None, float | None]] = []
    batch = simulate_batch([v[3] for v in variants], mode="expected", seed=seed)
    contribution = batch.kpi_vectors()["cumulative_contribution"]
    start, kept = batch.cohort[:, 0], batch.cohort[:, 1]
    orders = batch.column("orders").sum(axis=1)
    bad = batch.column("dissatisfied").sum(axis=1)
    for i in range(len(variants)):
        retention = _num(kept[i] / start[i]) if start[i] > 0 else None
        dissatisfied = _num(bad[i] / orders[i]) if orders[i] > 0 else None
        measures.append((float(contribution[i]), retention, dissatisfied))
    frame = pd.DataFrame(
        [
            {
                "lever": name,
                "value": value,
                "current": is_current,
                "contribution": m[0],
                "retention_12m": m[1],
                "dissatisfied_share": m[2],
            }
            for (name, value, is_current, _), m in zip(variants, measures, strict=True)
        ]
    )
    base = frame[frame["current"]].set_index("lever")["contribution"]
    frame["gain"] = frame["contribution"] - frame["lever"].map(base)
    return frame


def _plan(scenario: Scenario, opt, kpis: dict[str, Any], plan_run=None) -> dict[str, Any]:
    """The current plan and, with an optimizer result, the recommended one. The current plan's value is the
    KPI table's cumulative contribution and its split the shares of what it spends (the same fast-engine
    run, `plan_run`; None without a plan), so text, table and chart agree."""
    spent = _spent(plan_run)
    plan: dict[str, Any] = {
        "has_plan": plan_run is not None,
        "objective": "contribution",
        "current_split": {
            p: (v / spent.sum() if spent.sum() > 0 else 0.0) for p, v in zip(PURPOSES, spent, strict=True)
        },
        "current_channel_split": _channel_shares(scenario),
        "monthly_budget_mean": float(spent.sum() / scenario.simulation.horizon_months),
        "recommended_split": None,
        "recommended_channel_split": None,
        "current_value": _num(kpis.get("cumulative_contribution")),
        "recommended_value": None,
        "uplift_mean": None,
        "uplift_p05": None,
        "uplift_p95": None,
    }
    if opt is not None:
        plan.update(
            {
                "objective": getattr(opt, "objective", "contribution"),
                "recommended_split": {p: float(opt.recommended_split.get(p, 0.0)) for p in PURPOSES},
                "current_channel_split": plain(getattr(opt, "current_channel_split", None)),
                "recommended_channel_split": plain(getattr(opt, "recommended_channel_split", None)),
                "recommended_value": _num(opt.recommended_value),
                "uplift_mean": _num(opt.uplift_mean),
                "uplift_p05": _num(opt.uplift_p05),
                "uplift_p95": _num(opt.uplift_p95),
            }
        )
    return plan


def _spent(plan_run) -> np.ndarray:
    """(3,) what a run spends on each purpose over the horizon (zeros without a run)."""
    if plan_run is None:
        return np.zeros(len(PURPOSES))
    return np.array([float(plan_run.daily[f"spend_{p}"].sum()) for p in PURPOSES])


def spent_by_month(plan_run) -> np.ndarray:
    """(M,) what a run spends on marketing in each plan month."""
    monthly = plan_run.monthly()
    return sum(monthly[f"spend_{p}"].to_numpy() for p in PURPOSES)


def _channel_shares(scenario: Scenario) -> dict[str, dict[str, float]]:
    """Each purpose's channel mix over the horizon (a phased plan's periods weighted by their spend)."""
    from sim.model import budget

    spend = budget.spend_by_month(scenario).sum(axis=0)  # (C, 3)
    out = {}
    for j, purpose in enumerate(PURPOSES):
        total = float(spend[:, j].sum())
        if total > 0:
            out[purpose] = {c: float(v / total) for c, v in zip(scenario.channels, spend[:, j], strict=True) if v > 0}
    return out


def _curve(opt) -> pd.DataFrame:
    cols = CURVE_COLUMNS
    if opt is None or getattr(opt, "curve", None) is None:
        return pd.DataFrame(columns=cols)
    frame = opt.curve.copy()
    return frame[[c for c in cols if c in frame.columns] + [c for c in frame.columns if c not in cols]]


def breakeven_columns() -> list[str]:
    """The break-even table's columns: the optimizer's, with the best split where the plan changes flattened to
    one column per side and purpose (`low_split_front`, ...) so the CSV stays a plain table."""
    from sim.analysis.breakeven import BREAKEVEN_COLUMNS

    split_cols = [f"{side}_split_{p}" for side in ("low", "high") for p in PURPOSES]
    return [c for c in BREAKEVEN_COLUMNS if not c.endswith("_split")] + split_cols


def _breakevens(opt) -> pd.DataFrame:
    """The optimizer's break-evens, one row per uncertain input (columns: `breakeven_columns`)."""
    cols = breakeven_columns()
    if opt is None or getattr(opt, "breakevens", None) is None or opt.breakevens.empty:
        return pd.DataFrame(columns=cols)
    frame = opt.breakevens.reset_index(drop=True)
    out = frame[[c for c in cols if c in frame.columns]].copy()
    numbers = ("base_value", "standard_error", "low_breakeven", "high_breakeven", "low_tried", "high_tried")
    for c in (*numbers, "low_holds_at", "low_changes_at", "high_holds_at", "high_changes_at"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)  # an assumed input's missing error: NaN
    for side in ("low", "high"):
        for p in PURPOSES:
            out[f"{side}_split_{p}"] = [
                float(s[p]) if isinstance(s, dict) else float("nan") for s in frame[f"{side}_split"]
            ]
    return out[cols]


# -- order-level and stage views ------------------------------------------------------------------


def stages_monthly(monthly: pd.DataFrame) -> pd.DataFrame:
    """People in each stage at each plan month's end (from `SimulationResult.monthly()`); `never_met` (people
    who have never met the brand, a part of `unaware`) beside them."""
    from sim.model.result import STOCK_COLUMNS

    frame = monthly[STOCK_COLUMNS].copy()
    frame.index.name = "month"
    return frame.reset_index()


def revenue_monthly(monthly: pd.DataFrame) -> pd.DataFrame:
    """Revenue from first orders (new customers) and from repeat orders (returning customers) per plan month."""
    frame = monthly[REVENUE_COLUMNS].copy()
    frame.index.name = "month"
    return frame.reset_index()


FUNNEL_STEPS = ["aware", "first_purchase", "satisfied", "loyal"]


def order_log_rates(orders: pd.DataFrame | None) -> tuple[float | None, float | None]:
    """From an order log: the share of new customers whose first order did not disappoint, and the share
    of those who then ordered three times or more without ever being disappointed (the definition of loyal
    a client can check in their own export)."""
    if orders is None or not len(orders):
        return None, None
    acquired = orders[orders["acquisition_channel"] != "existing"]
    if not len(acquired):
        return None, None
    g = acquired.groupby("customer_id", sort=False)
    first_good = g["experience"].first() != "dissatisfied"
    any_bad = (acquired["experience"] == "dissatisfied").groupby(acquired["customer_id"], sort=False).any()
    loyal = first_good & (g.size() >= 3) & ~any_bad
    good = float(first_good.sum())
    return good / len(first_good), (float(loyal.sum()) / good if good > 0 else None)


def funnel_table(plan_run, agent, scenario: Scenario) -> pd.DataFrame:
    """The lifecycle funnel of the horizon: aware -> first purchase -> satisfied first order -> loyal.

    aware: people who knew the brand at the start (not yet buyers) or met it during the horizon; first
    purchase: those who bought for the first time. Both are the current plan's expected counts (the KPI
    table's first-purchase conversion is their ratio). The two later steps need each customer's order
    history: their rates come from the agent engine's order log (`order_log_rates`), applied to the
    expected first purchases (column `source` says which is which).
    """
    d = plan_run.daily
    aware = float(scenario.market.initially_aware + d["newly_aware"].sum())
    new = float(d["new_customers"].sum())
    good_rate, loyal_rate = order_log_rates(agent.orders)
    satisfied = new * good_rate if good_rate is not None else None
    loyal = satisfied * loyal_rate if satisfied is not None and loyal_rate is not None else None
    counts = [aware, new, satisfied, loyal]
    rate = [None, new / aware if aware > 0 else None, good_rate, loyal_rate]
    overall = [c / aware if aware > 0 and c is not None else None for c in counts]
    return pd.DataFrame(
        {
            "step": FUNNEL_STEPS,
            "count": counts,
            "rate_from_previous": rate,
            "share_of_aware": overall,
            "source": ["plan", "plan", "order_log", "order_log"],
        }
    )


def cohort_retention(result, scenario: Scenario, max_age: int = COHORT_MAX_AGE) -> pd.DataFrame:
    """Share of each plan month's new customers (by month of first order) who order in each later month.

    Built from the simulated order log the way an analyst would from a shop export: a customer is
    'retained' in a month if they placed at least one order in it. Month 0 is the first purchase (100%).
    Months are the plan's months (`SimulationResult.monthly()`), as everywhere in the report.
    """
    cols = COHORT_COLUMNS
    orders = result.orders
    if orders is None or not len(orders):
        return pd.DataFrame(columns=cols)
    acquired = orders.loc[orders["acquisition_channel"] != "existing", ["customer_id", "order_date"]]
    starts = result.monthly().index
    dates = pd.to_datetime(acquired["order_date"]).to_numpy()
    month = np.searchsorted(starts.to_numpy(), dates, side="right") - 1
    frame = pd.DataFrame({"customer_id": acquired["customer_id"].to_numpy(), "month": month})
    frame = frame.drop_duplicates()
    cohort = frame.groupby("customer_id")["month"].transform("min")
    frame["cohort"] = cohort.to_numpy()
    frame["age"] = frame["month"] - frame["cohort"]
    frame = frame[frame["age"] <= max_age]
    sizes = frame[frame["age"] == 0].groupby("cohort").size()
    active = frame.groupby(["cohort", "age"]).size().rename("active").reset_index()
    active["customers"] = active["cohort"].map(sizes)
    active["retention"] = active["active"] / active["customers"]
    label = "%Y-%m" if (starts.day == 1).all() else "%Y-%m-%d"  # plan months may start on another day
    active["cohort"] = starts[active["cohort"].to_numpy()].strftime(label)
    return active[cols].sort_values(["cohort", "age"]).reset_index(drop=True)


def cohort_average(cohorts: pd.DataFrame) -> pd.Series:
    """Customer-weighted mean retention by age over cohorts old enough to be observed at that age."""
    if cohorts.empty:
        return pd.Series(dtype=float)
    g = cohorts.groupby("age")
    return (g["active"].sum() / g["customers"].sum()).rename("retention")


# -- summary --------------------------------------------------------------------------------------


def summary_row(data: ReportData, client_name: str | None = None) -> dict[str, Any]:
    """One flat row for a batch `summary.csv`: names, the contract KPIs, the recommended split, the gain."""
    meta, plan = data.meta, data.plan
    row: dict[str, Any] = {
        "scenario": meta["scenario_name"],
        "client": client_name if client_name is not None else meta.get("client"),
        "slug": meta["slug"],
        "currency": meta["currency"],
    }
    row.update({k: data.kpis.get(k) for k in KPI_NAMES})
    rec = plan.get("recommended_split") or {}
    cur = plan.get("current_split") or {}
    for p in PURPOSES:
        row[f"current_share_{p}"] = cur.get(p)
        row[f"recommended_share_{p}"] = rec.get(p)
    for k in ("uplift_mean", "uplift_p05", "uplift_p95"):
        row[k] = plan.get(k)
    row["has_plan"] = bool(plan.get("has_plan", True))
    for k in ("customers", "expected_active", "expected_orders", "expected_revenue", "clv_total"):
        row[f"base_{k}"] = data.base.get(k)
    return row
