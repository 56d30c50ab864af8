"""The budget optimizer: a plan over time (purpose split per quarter, channel mix, optionally the budget
level), where its gain comes from, both plans side by side, and what one must believe for it to hold.

The search (`sim.analysis.search`) runs on the fast engine's expected values through an evaluator
(`sim.analysis.evaluate`), inside the constraints (`sim.analysis.constraints`). Around the recommendation:

- its value and the current plan's, with 90% bands from sampled runs with common random numbers;
- the gain in parts, one change at a time from the current plan (budget level, then the purpose split on
  average, then its timing, then the channel mix), each part with its band;
- KPIs and marginal ROIs under both plans, and budget advice: where a unit of spend still earns more than
  the hurdle, how much more it can take; where it earns less, how much to cut;
- the contribution against the back-end share (the curve), and the break-evens of the uncertain inputs
  (`sim.analysis.breakeven`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sim.analysis import breakeven as breakeven_mod
from sim.analysis.constraints import (
    Constraints,
    PlanSpace,
    constraints_from_mapping,
    feasible_point,
    load_constraints,
    parse_assignments,
    plan_space,
    planning_error,
)
from sim.analysis.evaluate import OBJECTIVES, FastEvaluator
from sim.analysis.marginal import (
    MarginalStep,
    expected_contributions,
    marginal_amounts,
    marginal_rois,
    purpose_channel_weights,
    spend_units,
    stepped_spend,
)
from sim.analysis.plans import PERIOD_MONTHS, PlanPath, from_scenario, scenario_with_path, spends
from sim.analysis.search import Search, best_constant, best_levels, best_path, feasible
from sim.engines.fast import run_fast, simulate_batch
from sim.errors import UserInputError
from sim.io import ensure_output_dir, plain, write_csv, write_json
from sim.io import finite_or_none as _num
from sim.model import budget
from sim.model.kpis import compute_kpis
from sim.model.scenario import PURPOSES, Scenario

__all__ = [
    "OBJECTIVES",
    "Constraints",
    "OptimizationResult",
    "load_constraints",
    "optimize_budget",
    "parse_assignments",
]

DECOMPOSITION_PARTS = ("budget_level", "purpose_split", "timing", "channel_mix")
# changes tried in a purpose's monthly spend, as shares of it (`spend_units`); the first is the marginal-ROI step,
# so the first step's return is the purpose's marginal ROI
ADVICE_STEPS = (MarginalStep().share_of_spend, 0.25, 0.5, 1.0, 2.0)


@dataclass
class OptimizationResult:
    """The recommended plan over time, the current one, and what separates them (with uncertainty)."""

    objective: str
    hurdle_rate: float
    period: str
    periods: pd.DataFrame  # one row per period: start, end, level, front/back/winback shares, spend a month
    current_split: dict[str, float]  # purpose -> share of the horizon's budget (current plan)
    recommended_split: dict[str, float]  # the same, recommended plan (averaged over the periods)
    current_channel_split: dict[str, dict[str, float]]
    recommended_channel_split: dict[str, dict[str, float]]
    current_value: float  # expected value (fast engine), the objective before any hurdle
    recommended_value: float
    current_band: tuple[float, float]  # 5% and 95% of sampled runs
    recommended_band: tuple[float, float]
    uplift_mean: float
    uplift_p05: float
    uplift_p95: float
    decomposition: pd.DataFrame  # part, value, p05, p95 (the parts add up to the uplift)
    kpis: dict[str, dict[str, float | None]]  # "current" / "recommended" -> KPI dict (fast engine, expected)
    marginal_roi: dict[str, dict[str, float | None]]  # "current" / "recommended" -> purpose -> marginal ROI
    advice: list[dict[str, Any]]  # per purpose: direction, amount a month, marginal ROI now, hurdle
    curve: pd.DataFrame  # retention_share, value_mean, value_p05, value_p95, feasible
    breakevens: pd.DataFrame  # see sim.analysis.breakeven.BREAKEVEN_COLUMNS
    # "current" / "recommended" -> purpose -> the spend a month its marginal-ROI run added (`marginal_amounts`)
    marginal_step: dict[str, dict[str, float]] = field(default_factory=dict)
    constraints: Constraints = field(default_factory=Constraints)
    recommended_path: PlanPath | None = None
    monthly_totals: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def budget_per_month(self, plan: str) -> float | None:
        """The plan's budget a month, averaged over the horizon ("current" or "recommended"): with a budget cap
        the recommended level may differ from today's, down to nothing where every unit loses money."""
        if plan == "current":
            return None if self.monthly_totals is None else float(np.mean(self.monthly_totals))
        start, end = pd.to_datetime(self.periods["start"]), pd.to_datetime(self.periods["end"])
        months = (end.dt.year - start.dt.year) * 12 + end.dt.month - start.dt.month + 1
        total = float((self.periods["budget_per_month"] * months).sum())
        return total / float(months.sum()) if months.sum() else None

    def recommendation(self) -> dict[str, Any]:
        """The JSON-ready summary written to recommendation.json (every figure labelled with its plan)."""
        return {
            "objective": self.objective,
            "objective_label": OBJECTIVES[self.objective],
            "hurdle_rate": self.hurdle_rate,
            "period": self.period,
            "current_split": self.current_split,
            "recommended_split": self.recommended_split,
            "current_channel_split": self.current_channel_split,
            "recommended_channel_split": self.recommended_channel_split,
            "current_budget_per_month": self.budget_per_month("current"),
            "recommended_budget_per_month": self.budget_per_month("recommended"),
            "recommended_path": _records(self.periods),
            "current_value": self.current_value,
            "current_value_p05": self.current_band[0],
            "current_value_p95": self.current_band[1],
            "recommended_value": self.recommended_value,
            "recommended_value_p05": self.recommended_band[0],
            "recommended_value_p95": self.recommended_band[1],
            "uplift_mean": self.uplift_mean,
            "uplift_p05": self.uplift_p05,
            "uplift_p95": self.uplift_p95,
            "decomposition": _records(self.decomposition),
            "kpis": self.kpis,
            "marginal_roi": self.marginal_roi,
            "marginal_step_per_month": self.marginal_step,
            "advice": self.advice,
            "constraints": self.constraints.as_dict(),
            "monthly_totals": None if self.monthly_totals is None else [float(t) for t in self.monthly_totals],
            **{k: v for k, v in self.meta.items() if isinstance(v, int | float | str | dict | list)},
        }

    def to_files(self, out_dir: str | Path) -> list[Path]:
        """recommendation.json, path.csv, decomposition.csv, curve.csv, breakevens.csv and marginal_roi.json."""
        folder = ensure_output_dir(out_dir)
        return [
            write_json(folder / "recommendation.json", self.recommendation()),
            write_csv(folder / "path.csv", self.periods),
            write_csv(folder / "decomposition.csv", self.decomposition),
            write_csv(folder / "curve.csv", self.curve),
            write_csv(folder / "breakevens.csv", self.breakevens),
            write_json(folder / "marginal_roi.json", self.marginal_roi),
        ]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return plain(frame.to_dict(orient="records"))


# -- the optimizer ---------------------------------------------------------------------------------------


def optimize_budget(
    scenario: Scenario,
    objective: str = "contribution",
    constraints: Constraints | Mapping[str, Any] | None = None,
    replications: int = 100,
    seed: int | None = None,
    workers: int = 1,
    progress: bool = False,
    period: str | None = None,
    find_breakevens: bool = True,
) -> OptimizationResult:
    """Find the plan over time that maximizes `objective` (less the hurdle rate x spend), inside `constraints`.

    `constraints` None: the scenario's `planning` section's (none when it has none); given, exactly these (build
    on `Constraints.of_scenario(scenario)` to keep the scenario's). `period`: how often the purpose split may
    change (month, quarter, half or year); None: the scenario's `planning -> period`. `replications`: sampled
    runs for the bands (at least 2), seeded from `seed` (default the scenario's). Bad input (objective,
    constraints nobody can meet, a zero budget) raises `UserInputError`; one the scenario's planning section
    caused names it (`planning -> budget_cap` in the scenario file).
    """
    if objective not in OBJECTIVES:
        raise UserInputError(
            "unknown objective", location="--objective", found=objective, allowed=", ".join(OBJECTIVES)
        )
    period = scenario.planning.period if period is None else period
    if period not in PERIOD_MONTHS:
        raise UserInputError("unknown period", location="--period", found=period, allowed=", ".join(PERIOD_MONTHS))
    if replications < 2:
        raise UserInputError(
            "at least 2 replications are needed for bands", location="--replications", found=str(replications)
        )
    planned = constraints is None  # the scenario's own planning section: its errors name it
    if constraints is None:
        constraints = Constraints.of_scenario(scenario)
    elif not isinstance(constraints, Constraints):
        constraints = constraints_from_mapping(constraints)
    try:
        return _optimize(
            scenario, objective, constraints, replications, seed, workers, progress, period, find_breakevens
        )
    except UserInputError as exc:
        raise (planning_error(exc, scenario) if planned else exc) from None


def _optimize(
    scenario: Scenario,
    objective: str,
    constraints: Constraints,
    replications: int,
    seed: int | None,
    workers: int,
    progress: bool,
    period: str,
    find_breakevens: bool,
) -> OptimizationResult:
    """`optimize_budget` once its inputs are checked.

    Long on purpose: the orchestrator, calling the stages in order (search, bands and parts, both plans,
    curve, break-evens), each stage its own module or helper; it only passes their results along.
    """
    seed = scenario.simulation.seed if seed is None else seed
    original, (scenario, space) = scenario, checked_space(scenario, constraints)
    totals = space.totals
    evaluator = FastEvaluator(scenario, objective, constraints.hurdle_rate, constraints.payback_within_months, workers)
    search = Search(evaluator, space)
    steps = tqdm(total=6, desc="optimize", unit="step", disable=None if progress else True, leave=False)
    clock = _Clock()

    # 1. the current plan, and the search from it: constant split, then over time, then (capped) the level
    fallback = np.stack([purpose_channel_weights(scenario, p) for p in PURPOSES])
    current = from_scenario(scenario, PERIOD_MONTHS[period], fallback)
    starts = [current, _feasible_path(space, current)]
    best = best_constant(search, current, starts)
    if not math.isfinite(best[1]):
        raise UserInputError(
            f"no plan pays back within {constraints.payback_within_months:g} months"
            if constraints.payback_within_months is not None
            else "no plan meets the constraints",
            location="payback_within_months" if constraints.payback_within_months is not None else "constraints",
        )
    if current.n_periods > 1:
        best = best_path(search, best)
    if constraints.budget_cap is not None:
        best = best_levels(search, best, constraints.budget_cap / max(float(totals.max()), 1e-12))
    recommended = best[0]
    clock.lap("search")
    steps.update(1)

    # 2. values with bands, and the gain in parts (common random numbers for every plan); the first rung is
    # the current plan exactly as the scenario states it (the search starts from it read by period)
    ladder = spends(_ladder(current, recommended, totals), totals)
    own = budget.spend_by_month(original)[None]
    # one batch when the scenario needed no fixing (speed: a sampled run's cost per day is paid once)
    together = [(scenario, np.concatenate([own, ladder[1:]]))]
    groups = [(original, own), (scenario, ladder[1:])] if scenario is not original else together
    expected = np.concatenate([_expected(s, objective, x, workers) for s, x in groups])
    draws = np.concatenate([_raw(s, objective, x, replications, seed, workers) for s, x in groups])
    uplift = draws[-1] - draws[0]
    decomposition = pd.DataFrame(
        {
            "part": list(DECOMPOSITION_PARTS),
            "value": np.diff(expected),
            "p05": np.percentile(np.diff(draws, axis=0), 5, axis=1),
            "p95": np.percentile(np.diff(draws, axis=0), 95, axis=1),
        }
    )
    clock.lap("bands")
    steps.update(1)

    # 3. both plans side by side: KPIs and marginal ROIs; budget advice at the recommended plan
    plans = {"current": original, "recommended": scenario_with_path(scenario, recommended)}
    rois = {name: {p: _num(v) for p, v in marginal_rois(s, engine="fast").items()} for name, s in plans.items()}
    roi_steps = {
        name: dict(zip(PURPOSES, map(float, marginal_amounts(budget.spend_by_month(s))), strict=True))
        for name, s in plans.items()
    }
    kpis = {name: compute_kpis(run_fast(s), rois[name]) for name, s in plans.items()}  # ROIs in the KPIs too
    advice = budget_advice(plans["recommended"], evaluator, rois["recommended"], constraints.hurdle_rate)
    clock.lap("both plans")
    steps.update(1)

    # 4. the value against the back-end share; 5. what one must believe
    curve = _curve(scenario, space, recommended, objective, workers)
    clock.lap("curve")
    steps.update(1)
    beliefs = (
        breakeven_mod.breakevens(scenario, recommended, totals, evaluator.score, workers)
        if find_breakevens
        else pd.DataFrame(columns=breakeven_mod.BREAKEVEN_COLUMNS)
    )
    clock.lap("break-evens")
    steps.update(2)
    steps.close()

    channels = list(scenario.channels)
    return OptimizationResult(
        objective=objective,
        hurdle_rate=constraints.hurdle_rate,
        period=period,
        periods=_periods_table(scenario, recommended, totals),
        current_split=_split(current.average_shares(totals)),
        recommended_split=_split(recommended.average_shares(totals)),
        current_channel_split=_mix(current, channels),
        recommended_channel_split=_mix(recommended, channels),
        current_value=float(expected[0]),
        recommended_value=float(expected[-1]),
        current_band=(float(np.percentile(draws[0], 5)), float(np.percentile(draws[0], 95))),
        recommended_band=(float(np.percentile(draws[-1], 5)), float(np.percentile(draws[-1], 95))),
        uplift_mean=float(expected[-1] - expected[0]),
        uplift_p05=float(np.percentile(uplift, 5)),
        uplift_p95=float(np.percentile(uplift, 95)),
        decomposition=decomposition,
        kpis=kpis,
        marginal_roi=rois,
        marginal_step=roi_steps,
        advice=advice,
        curve=curve,
        breakevens=beliefs,
        constraints=constraints,
        recommended_path=recommended,
        monthly_totals=totals,
        meta={
            "replications": replications,
            "seed": seed,
            "evaluations": evaluator.evaluations,
            "scenario": scenario.name,
            "currency": scenario.economics.currency,
            "engine": "fast (expected values; bands from sampled runs with common random numbers)",
            "timings": clock.laps,
        },
    )


class _Clock:
    """Seconds each stage took (the report benchmark says where the optimizer's time goes)."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._last = self._now()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = self._now()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def checked_space(scenario: Scenario, constraints: Constraints) -> tuple[Scenario, PlanSpace]:
    """(the scenario with its spend fixed (`fixed_spend`), the plans the search may take), refusing constraints
    no plan can meet before any search: a zero budget, limits that contradict each other, a budget cap below
    the plan the search starts from."""
    constraints.check(scenario)
    scenario = fixed_spend(scenario)
    space = plan_space(scenario, constraints)
    totals = space.totals
    if constraints.budget_cap is not None and constraints.budget_cap < float(totals.max()) * (1 - 1e-9):
        # the search starts from the scenario's levels and moves them from there: it would keep a plan over the cap
        raise UserInputError(
            f"is below the scenario's largest monthly budget of {float(totals.max()):,.0f}, which the plan the search"
            " starts from spends (lower budget -> totals in the scenario to plan with less)",
            location="budget_cap",
            found=f"{constraints.budget_cap:g}",
            allowed=f">= {float(totals.max()):,.0f}",
        )
    return scenario, space


def check_planning(scenario: Scenario) -> None:
    """Refuse a scenario whose planning section no plan can meet, naming the key in its file (the report asks
    before it starts any run)."""
    try:
        checked_space(scenario, Constraints.of_scenario(scenario))
    except UserInputError as exc:
        raise planning_error(exc, scenario) from None


def fixed_spend(scenario: Scenario) -> Scenario:
    """The scenario with back-end spend set per active customer turned into the fixed monthly amounts it
    comes to (the fast engine's expected base): the plans the optimizer compares are spend tables."""
    if scenario.budget.back_per_customer is None:
        return scenario
    spent = run_fast(scenario).spend_by_channel
    table = np.stack([spent[p].to_numpy() for p in PURPOSES], axis=2)  # (M, C, 3)
    totals = table.sum(axis=(1, 2))
    months = len(totals)
    purpose = [dict(zip(PURPOSES, table[m].sum(axis=0) / max(totals[m], 1e-300), strict=True)) for m in range(months)]
    channels = list(scenario.channels)
    channel_split = []
    for m in range(months):
        split = {}
        for j, p in enumerate(PURPOSES):
            col = table[m, :, j]
            if col.sum() > 0:
                split[p] = dict(zip(channels, col / col.sum(), strict=True))
        channel_split.append(split)
    return scenario.with_changes(
        {
            "budget.period": "month",
            "budget.totals": [float(t) for t in totals],
            "budget.purpose_split": [_exact(s) for s in purpose],
            "budget.channel_split": [{p: _exact(v) for p, v in s.items()} for s in channel_split],
            "budget.split_period": "month",
            "budget.back_per_customer": None,
        }
    )


def _exact(split: dict[str, float]) -> dict[str, float]:
    out = {k: round(float(v), 12) for k, v in split.items() if v > 1e-12}
    top = max(out, key=out.get)
    out[top] += 1.0 - sum(out.values())
    return out


def _feasible_path(space, like: PlanPath) -> PlanPath:
    """A plan meeting every linear limit (the constraints' linear programme), constant over time."""
    y = feasible_point(space)  # (3, C) shares of the budget
    shares = y.sum(axis=1)
    mix = np.where(shares[:, None] > 1e-12, y / np.maximum(shares[:, None], 1e-12), like.mix)
    return PlanPath(like.period_months, np.ones(like.n_periods), np.tile(shares, (like.n_periods, 1)), mix)


def _ladder(current: PlanPath, recommended: PlanPath, totals: np.ndarray) -> list[PlanPath]:
    """The current plan changed one part at a time into the recommended one: budget level, purpose split
    (its average over the horizon), timing (the split per period), channel mix."""
    level = current.with_levels(recommended.levels)
    average = recommended.average_shares(totals)
    split = level.with_shares(np.tile(average, (current.n_periods, 1)))
    timing = split.with_shares(recommended.shares)
    return [current, level, split, timing, timing.with_mix(recommended.mix)]


def _expected(scenario: Scenario, objective: str, spend: np.ndarray, workers: int) -> np.ndarray:
    """The plans' expected objective values (no hurdle: the value a client sees), from the detailed run, so they
    are the very figures of the plans' KPI tables (`run_fast` of a plan equals its batch row; the search's lean
    sweeps agree to ~1e-7)."""
    batch = simulate_batch(scenario, np.asarray(spend, dtype=float), mode="expected", workers=workers, detail=True)
    return FastEvaluator(scenario, objective).score(batch)


def _raw(
    scenario: Scenario, objective: str, spend: np.ndarray, replications: int, seed: int, workers: int
) -> np.ndarray:
    """Sampled objective values (no hurdle), (plans, replications), common random numbers."""
    return FastEvaluator(scenario, objective, 0.0, None, workers).draws(spend, replications, seed)


def budget_advice(
    scenario: Scenario, evaluator: FastEvaluator, rois: dict[str, float | None], hurdle: float
) -> list[dict[str, Any]]:
    """For each purpose of the recommended plan: where a unit of spend still earns more than the hurdle, how
    much more a month it can take while its marginal ROI stays above the hurdle; where it earns less, how much
    to cut. Amounts come from the plan with the purpose's spend raised (or cut) by steps, all in one batch;
    each step's return is read as a marginal ROI is (contribution per unit, expected values), so the first
    step's is the purpose's marginal ROI, whatever the optimizer's objective."""
    base = budget.spend_by_month(scenario)
    months = base.shape[0]
    per_month = base.sum(axis=(0, 1)) / months  # (3,) spend a month by purpose
    units = spend_units(base)  # the purpose's spend, or a twentieth of the budget for an empty one
    rows, plans = [], []
    for j, p in enumerate(PURPOSES):
        roi = rois.get(p)
        if roi is None:
            continue
        direction = "raise" if roi > hurdle else "cut"
        # the purpose's spend scaled in every month (`stepped_spend`, as the marginal ROI); an empty one can't be cut
        shares = (
            [s if direction == "raise" else -min(s, 1.0) for s in ADVICE_STEPS]
            if per_month[j] > 0 or direction == "raise"
            else []
        )
        plans += [stepped_spend(scenario, p, s, base) for s in shares]
        rows.append((p, j, roi, direction, [s * units[j] for s in shares]))
    # contribution, as the marginal ROI (whatever the objective, no hurdle inside: the steps are compared with it)
    values = expected_contributions(scenario, np.stack([base] + plans), evaluator.workers) if plans else np.zeros(1)
    out, k = [], 1
    for p, _j, roi, direction, amounts in rows:
        chain = values[k : k + len(amounts)]
        k += len(amounts)
        previous_value, previous_amount, amount, first_step = values[0], 0.0, 0.0, None
        for a, v in zip(amounts, chain, strict=True):
            step_roi = (v - previous_value) / ((a - previous_amount) * months) if a != previous_amount else 0.0
            first_step = step_roi if first_step is None else first_step
            keeps = step_roi > hurdle if direction == "raise" else step_roi < hurdle
            if not keeps:
                break
            amount, previous_value, previous_amount = a, v, a
        out.append(
            {
                "purpose": p,
                "direction": direction if amount else "hold",
                "tried": direction,  # the way the marginal ROI pointed
                "first_step_roi": _num(first_step),  # what the first step (a tenth of its spend) returns a unit
                "amount_per_month": float(abs(amount)),
                "marginal_roi": roi,
                "hurdle_rate": hurdle,
                "spend_per_month": float(per_month[PURPOSES.index(p)]),
                "whole_range": bool(amount) and amount == amounts[-1],  # it kept paying as far as was tried
            }
        )
    return out


def _curve(scenario: Scenario, space, path: PlanPath, objective: str, workers: int, points: int = 11) -> pd.DataFrame:
    """The objective against the back-end share of the budget (0 to 100%, constant over time), front and
    win-back keeping their recommended proportion and every purpose its recommended channel mix; the band
    from a few sampled runs at each point (common random numbers)."""
    totals = space.totals
    avg = path.average_shares(totals)
    rest = avg[[0, 2]] / avg[[0, 2]].sum() if avg[[0, 2]].sum() > 1e-12 else np.array([1.0, 0.0])
    back = np.linspace(0.0, 1.0, points)
    shares = np.stack([(1 - back) * rest[0], back, (1 - back) * rest[1]], axis=1)
    paths = [
        PlanPath(path.period_months, np.ones(path.n_periods), np.tile(s, (path.n_periods, 1)), path.mix) for s in shares
    ]
    spend = spends(paths, totals)
    expected = _expected(scenario, objective, spend, workers)
    draws = _raw(scenario, objective, spend, 10, int(scenario.simulation.seed), workers)

    return pd.DataFrame(
        {
            "retention_share": back,
            "value_mean": expected,
            "value_p05": np.percentile(draws, 5, axis=1),
            "value_p95": np.percentile(draws, 95, axis=1),
            "feasible": [feasible(space, p) for p in paths],
        }
    )


def _periods_table(scenario: Scenario, path: PlanPath, totals: np.ndarray) -> pd.DataFrame:
    """One row per period of the recommended plan: dates, level, purpose shares and spend a month by purpose. A
    period the plan leaves without budget (a budget cap where every unit loses money) has no split: its shares
    are blank (NaN), not the search's leftover split of nothing."""
    from sim.model.calendar import calendar

    cal = calendar(scenario)
    k = path.period_of_month(len(totals))
    rows = []
    for p in range(path.n_periods):
        months = np.flatnonzero(k == p)
        if not len(months):
            continue
        first, last = months[0], months[-1]
        end = cal.month_starts[last] + pd.DateOffset(months=1) - pd.Timedelta(days=1)
        monthly = float((totals[months] * path.levels[p]).mean())
        row = {"period": p + 1, "start": cal.month_starts[first].date().isoformat(), "end": end.date().isoformat()}
        row["level"] = float(path.levels[p])
        row["budget_per_month"] = monthly
        for j, name in enumerate(PURPOSES):
            row[f"{name}_share"] = float(path.shares[p, j]) if monthly > 0 else float("nan")
            row[f"{name}_per_month"] = monthly * float(path.shares[p, j])
        rows.append(row)
    return pd.DataFrame(rows)


def _split(shares: np.ndarray) -> dict[str, float]:
    return {p: float(shares[j]) for j, p in enumerate(PURPOSES)}


def _mix(path: PlanPath, channels: list[str]) -> dict[str, dict[str, float]]:
    return {
        p: {c: float(path.mix[j, i]) for i, c in enumerate(channels) if path.mix[j, i] > 1e-12}
        for j, p in enumerate(PURPOSES)
        if path.shares[:, j].max() > 1e-12
    }


def batch_values(scenario: Scenario, paths: list[PlanPath], objective: str = "contribution") -> np.ndarray:
    """Expected objective values of several paths of a scenario (for notebooks and tests)."""
    totals = budget.monthly_budget(scenario)
    return FastEvaluator(scenario, objective).values(spends(paths, totals))
