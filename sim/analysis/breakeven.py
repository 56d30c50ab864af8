"""What one must believe: for each uncertain input, the values at which the recommended plan would change.

A recommendation rests on inputs of two kinds: fitted ones (repeat purchasing, order value, the spend
response, effects measured by a lift test), known within their standard errors, and assumed ones (the
back-end effect sizes without a lift test, win-back response, conversion, margin). For each input the
recommendation is searched again over a range of values (fitted: up to 3 standard errors either side;
assumed: an eighth to 8 times), all values of all inputs in one batch; the plan "changes" when the best
purpose split moves by more than `CHANGE` (10 points) in any purpose. The break-even is where that first
happens on each side, interpolated between the values tried: "this plan holds unless the back-end effect is
below X or above Y".
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
    the plan holds over the whole range tried) and the best split at the first value where the plan changes.

    `objective_of(batch)`: the optimizer's objective of each row of a batch (`FastEvaluator.score`)."""
    grid = purpose_grid(grid_step)
    mix = recommended.mix
    spend = np.stack([PlanPath(recommended.period_months, np.ones(1), g[None], mix).spend(totals) for g in grid])
    cases: list[tuple[int, float, Scenario]] = [(-1, float("nan"), scenario)]  # the base, searched alike
    rows = []
    for i, b in enumerate(beliefs(scenario)):
        base = float(b.get(scenario))
        se = standard_error(scenario, b.parameter)
        for value in tried_values(b, base, se):
            cases.append((i, value, _set(b, scenario, value)))
        rows.append((b, base, se))
    batch = simulate_batch(
        [c[2] for c in cases for _ in grid], np.tile(spend, (len(cases), 1, 1, 1)), workers=workers, detail=False
    )
    values = objective_of(batch).reshape(len(cases), len(grid))
    best = grid[values.argmax(axis=1)]  # (cases, 3)
    # the plan of reference: the base scenario's best split found the same way (a plan over time is compared
    # with its own kind: a constant split on the same grid)
    target = best[0]
    out = []
    for i, (b, base, se) in enumerate(rows):
        tried = [(v, best[k]) for k, (j, v, _) in enumerate(cases) if j == i]
        record = {"parameter": b.parameter, "label": b.label, "kind": "fitted" if se else "assumed"}
        record.update({"base_value": base, "standard_error": se})
        for side, pts in (("low", [t for t in tried if t[0] < base]), ("high", [t for t in tried if t[0] > base])):
            pts = sorted(pts, key=lambda t: abs(t[0] - base))
            edge, split = _first_change(base, pts, target)
            record[f"{side}_breakeven"] = edge
            record[f"{side}_tried"] = pts[-1][0] if pts else base
            record[f"{side}_split"] = None if split is None else {p: float(split[j]) for j, p in enumerate(PURPOSES)}
        out.append(record)
    return pd.DataFrame(out, columns=BREAKEVEN_COLUMNS)


def _first_change(base: float, pts: list[tuple[float, np.ndarray]], target: np.ndarray):
    """(break-even value, split there) walking away from the base: midway between the last value tried where
    the best split stays within CHANGE of the recommendation and the first where it does not (the values
    tried are a factor of 2, or a standard error, apart: that is the break-even's precision)."""
    last = base
    for value, split in pts:
        if np.abs(split - target).max() > CHANGE + 1e-9:
            return (last + value) / 2.0, split
        last = value
    return float("nan"), None
