"""What one must believe: for each uncertain input, the values at which the recommended plan would change.

A recommendation rests on inputs of two kinds: fitted ones (repeat purchasing, order value, the spend
response, effects measured by a lift test), known within their standard errors, and assumed ones (the
back-end effect sizes without a lift test, win-back response, conversion, margin). For each input the
recommendation is searched again over a range of values (fitted: up to 3 standard errors either side;
assumed: an eighth to 8 times), all values of all inputs in one batch; the plan "changes" when the best
purpose split moves by more than `CHANGE` (10 points) in any purpose. The break-even is where that first
happens on each side: "this plan holds unless the back-end effect is below X or above Y". Where it changes
between two values tried, `REFINE_POINTS` values between them are tried in a second batch, so the break-even
(midway between the last value where the plan holds and the first where it changes) is located to a quarter
of the step between the values first tried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.plans import PlanPath
from sim.analysis.search import purpose_grid
from sim.calibration.lifttest import effect_multiplier_se
from sim.engines.fast import simulate_batch
from sim.model.scenario import PURPOSES, Scenario

CHANGE = 0.10  # a plan "changes" when the best purpose split moves by more than this in some purpose
MULTIPLIERS = (0.125, 0.25, 0.5, 2.0, 4.0, 8.0)  # assumed inputs: values tried, times the scenario's
SE_STEPS = (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0)  # fitted inputs: values tried, in standard errors
REFINE_POINTS = 3  # values tried again between the last value where the plan holds and the first where it changes
BREAKEVEN_COLUMNS = [
    "parameter",
    "label",
    "kind",
    "base_value",
    "standard_error",
    "low_breakeven",
    "high_breakeven",
    "low_tried",
    "high_tried",
    "low_split",
    "high_split",
    "low_holds_at",
    "low_changes_at",
    "high_holds_at",
    "high_changes_at",
]


@dataclass(frozen=True)
class Belief:
    """An uncertain input: how to read it, how to set it, and whether it was fitted (with its error)."""

    parameter: str
    label: str
    get: Callable[[Scenario], float]
    set: Callable[[Scenario, float], dict[str, Any]]  # changes for `Scenario.with_changes`
    low: float = 0.0  # the range the schema allows
    high: float = float("inf")


def _all_channels(field: str) -> Callable[[Scenario, float], dict[str, Any]]:
    def changes(s: Scenario, factor: float) -> dict[str, Any]:
        return {f"channels.{c}.reach.{field}": getattr(ch.reach, field) * factor for c, ch in s.channels.items()}

    return changes


def _backend_effect(s: Scenario, factor: float) -> dict[str, Any]:
    r = s.retention
    return {
        "retention.purchase_rate_uplift_max": min(3.0, r.purchase_rate_uplift_max * factor),
        "retention.dropout_reduction_max": min(1.0, r.dropout_reduction_max * factor),
        "retention.order_value_uplift_max": min(1.0, r.order_value_uplift_max * factor),
    }


def beliefs(scenario: Scenario) -> list[Belief]:
    """The inputs a recommendation hinges on, for this scenario's repeat-purchase family."""
    rp = scenario.repeat_purchase
    dropout_field = "beta" if rp.model == "pareto" else "b"
    out = [
        Belief(
            "retention.effect",
            "Back-end effect sizes (purchase rate, dropout, order value), times the scenario's",
            lambda s: 1.0,
            _backend_effect,
            0.0,
            50.0,
        ),
        Belief(
            "retention.half_saturation_per_customer",
            "Back-end spend per customer for half the effect",
            lambda s: s.retention.half_saturation_per_customer,
            lambda s, v: {"retention.half_saturation_per_customer": v},
            1e-9,
        ),
        Belief(
            "winback.base_reactivation",
            "Win-back reactivation chance",
            lambda s: s.winback.base_reactivation,
            lambda s, v: {"winback.base_reactivation": v},
            0.0,
            1.0,
        ),
        Belief(
            "first_purchase.monthly_conversion",
            "Monthly first-purchase chance of aware people",
            lambda s: s.first_purchase.monthly_conversion,
            lambda s, v: {"first_purchase.monthly_conversion": v},
            0.0,
            1.0,
        ),
        Belief(
            "repeat_purchase.alpha",
            "Repeat purchase rate (Gamma rate alpha; higher = fewer orders)",
            lambda s: s.repeat_purchase.alpha,
            lambda s, v: {"repeat_purchase.alpha": v},
            1e-9,
        ),
        Belief(
            f"repeat_purchase.{dropout_field}",
            "Dropout (higher = customers stay longer)" if rp.model != "pareto" else "Dropout hazard (beta)",
            lambda s: getattr(s.repeat_purchase, dropout_field),
            lambda s, v: {f"repeat_purchase.{dropout_field}": v},
            1e-9,
        ),
        Belief(
            "channels.reach.max_reach",
            "Reach of ads (all channels), times the scenario's",
            lambda s: 1.0,
            _all_channels("max_reach"),
            1e-9,
        ),
        Belief(
            "economics.order_value_mean",
            "Mean order value",
            lambda s: s.economics.order_value_mean,
            lambda s, v: {"economics.order_value_mean": v},
            1e-9,
        ),
        Belief(
            "economics.gross_margin",
            "Gross margin",
            lambda s: s.economics.gross_margin,
            lambda s, v: {"economics.gross_margin": v},
            0.0,
            1.0,
        ),
    ]
    return out


def standard_error(scenario: Scenario, parameter: str) -> float | None:
    """The fitted standard error of an input, from the scenario's calibration block, if it has one."""
    cal = scenario.calibration or {}
    section, _, name = parameter.partition(".")
    if section == "repeat_purchase":
        return _se(cal.get("repeat_purchase", {}), name)
    if section == "economics" and name == "order_value_mean":
        return _se(cal.get("order_value", {}), "mean")
    if parameter == "retention.effect":
        lift = cal.get("lift_test")
        if not isinstance(lift, dict):
            return None
        return _se(lift, "effect_multiplier") or effect_multiplier_se(lift.get("at_tested_spend") or {})
    return None


def _se(block: Any, name: str) -> float | None:
    if not isinstance(block, dict):
        return None
    value = (block.get("standard_errors") or {}).get(name)
    return float(value) if isinstance(value, int | float) and value > 0 else None


def tried_values(belief: Belief, base: float, se: float | None) -> list[float]:
    """The values tried for an input: standard-error steps when fitted, multiples when assumed."""
    if se is not None:
        values = [base + k * se for k in SE_STEPS]
    else:
        values = [base * m for m in MULTIPLIERS] if base > 0 else [0.01, 0.05, 0.1, 0.2, 0.4, 0.8]
    return [float(np.clip(v, belief.low, belief.high)) for v in values]


def _set(belief: Belief, scenario: Scenario, value: float) -> Scenario:
    """The scenario with the input at `value` (multipliers for inputs read as a factor)."""
    base = belief.get(scenario)
    factor_input = belief.parameter in ("retention.effect", "channels.reach.max_reach")
    return scenario.with_changes(belief.set(scenario, value / base if factor_input and base else value))


def breakevens(
    scenario: Scenario,
    recommended: PlanPath,
    totals: np.ndarray,
    objective_of,
    workers: int = 1,
    grid_step: float = 0.1,
) -> pd.DataFrame:
    """One row per input: base value, standard error (fitted inputs), the break-even value on each side (NaN:
    the plan holds over the whole range tried), the values either side of it (the last where the plan holds,
    the first where it changes) and the best split at the first value where the plan changes.

    `objective_of(batch)`: the optimizer's objective of each row of a batch (`FastEvaluator.score`)."""
    grid = purpose_grid(grid_step)
    mix = recommended.mix
    spend = np.stack([PlanPath(recommended.period_months, np.ones(1), g[None], mix).spend(totals) for g in grid])

    def best_splits(cases: list[Scenario]) -> np.ndarray:
        """(cases, 3): the best constant split on the grid of each scenario, all in one batch."""
        batch = simulate_batch(
            [c for c in cases for _ in grid], np.tile(spend, (len(cases), 1, 1, 1)), workers=workers, detail=False
        )
        return grid[objective_of(batch).reshape(len(cases), len(grid)).argmax(axis=1)]

    rows = [(b, float(b.get(scenario)), standard_error(scenario, b.parameter)) for b in beliefs(scenario)]
    tried = [[(v, _set(b, scenario, v)) for v in tried_values(b, base, se)] for b, base, se in rows]
    found = best_splits([scenario] + [c for values in tried for _, c in values])
    # the plan of reference: the base scenario's best split found the same way (a plan over time is compared
    # with its own kind: a constant split on the same grid)
    target, found = found[0], iter(found[1:])
    walks = [{"low": [], "high": []} for _ in rows]  # (value, split) walking away from the base, each side
    for walk, (_, base, _), values in zip(walks, rows, tried, strict=True):
        for value, _ in values:
            split = next(found)
            if value != base:
                walk["low" if value < base else "high"].append((value, split))
        for side in walk:
            walk[side].sort(key=lambda t: abs(t[0] - base))
    _refine(walks, rows, scenario, target, best_splits)
    out = []
    for walk, (b, base, se) in zip(walks, rows, strict=True):
        record = {"parameter": b.parameter, "label": b.label, "kind": "fitted" if se else "assumed"}
        record.update({"base_value": base, "standard_error": se})
        for side, pts in walk.items():
            held, changed, split = _first_change(base, pts, target)
            record[f"{side}_breakeven"] = (held + changed) / 2.0 if split is not None else float("nan")
            record[f"{side}_tried"] = max((v for v, _ in pts), key=lambda v: abs(v - base), default=base)
            record[f"{side}_split"] = None if split is None else {p: float(split[j]) for j, p in enumerate(PURPOSES)}
            record[f"{side}_holds_at"] = held if split is not None else float("nan")
            record[f"{side}_changes_at"] = changed if split is not None else float("nan")
        out.append(record)
    return pd.DataFrame(out, columns=BREAKEVEN_COLUMNS)


def _refine(walks: list[dict], rows: list[tuple], scenario: Scenario, target: np.ndarray, best_splits) -> None:
    """Where the plan changes between two values tried, try `REFINE_POINTS` values between them (evenly spaced,
    on a log scale for inputs tried as multiples), all in one batch, and put them into the walks."""
    cases = []
    for k, (walk, (_, base, se)) in enumerate(zip(walks, rows, strict=True)):
        for side, pts in walk.items():
            held, changed, split = _first_change(base, pts, target)
            if split is None:
                continue
            inner = np.linspace(0.0, 1.0, REFINE_POINTS + 2)[1:-1]
            if se is None and held > 0 and changed > 0:  # multiples: halfway is the geometric mean
                values = held * (changed / held) ** inner
            else:
                values = held + (changed - held) * inner
            cases += [(k, side, float(v)) for v in values]
    if not cases:
        return
    splits = best_splits([_set(rows[k][0], scenario, v) for k, _, v in cases])
    for (k, side, value), split in zip(cases, splits, strict=True):
        walks[k][side].append((value, split))
    for k, side in {(k, side) for k, side, _ in cases}:  # the walks that got values: in order again
        base = rows[k][1]
        walks[k][side].sort(key=lambda t: abs(t[0] - base))


def _first_change(base: float, pts: list[tuple[float, np.ndarray]], target: np.ndarray):
    """(last value where the plan holds, first where it changes, the split there) walking away from the base:
    the plan changes when the best split moves by more than CHANGE from the recommendation's. (base, base,
    None) when it holds at every value."""
    last = base
    for value, split in pts:
        if np.abs(split - target).max() > CHANGE + 1e-9:
            return last, value, split
        last = value
    return base, base, None
