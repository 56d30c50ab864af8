"""The budget-split optimizer: how much of a fixed budget should go to acquisition, retention and
win-back, through which channels, and how sure are we?

The question is answered with the fast engine. Its expected-value mode is deterministic and simulates
hundreds of plans in one NumPy batch, so the search evaluates whole sets of candidate plans at once:

1. a grid over the purpose shares (front, back, win-back) with each purpose's channel mix as planned;
2. a pattern search from the best grid point: move a step of budget between two purposes, or between two
   channels of a purpose, keep the best move, halve the step when no move helps;
3. Monte Carlo bands from the sampled mode, with the same seeds for the current and the recommended plan
   (common random numbers), for the uplift; the profit-vs-retention-share curve; marginal ROIs at the
   optimum; and a sensitivity table (each uncertain parameter -20% / +20%, optimum re-found).

A plan is a table y[purpose, channel] of shares of the total budget (adding up to 1); each month spends
its total in those shares. Constraints (per purpose, per channel, per month, payback) are checked on every
candidate; a constraint set nobody can meet is a `UserInputError` (the CLI exits 2).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from tqdm.auto import tqdm

from sim.analysis.marginal import marginal_rois, purpose_channel_weights
from sim.engines.fast import horizon_value, simulate_batch
from sim.errors import UserInputError
from sim.io import ensure_output_dir, write_csv, write_json
from sim.model import budget
from sim.model.scenario import PURPOSES, Scenario

OBJECTIVES = {
    "contribution": "Cumulative contribution (gross profit minus marketing) over the horizon",
    "npv": "Net present value of contribution at the scenario's discount rate",
    "revenue": "Revenue over the horizon",
    "customers": "Active customers (customer + loyal) at the horizon",
}
SENSITIVITY_STEP = 0.20
_TOL = 1e-9


# -- constraints --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraints:
    """Limits every recommended plan must respect.

    min_share / max_share: share of the total budget per purpose (front, back, winback).
    min_channel / max_channel: spend per month in a channel, all purposes together [currency per month].
    monthly_cap: most the plan may spend in any one month; months above it give their excess to the
        other months (the total budget stays fixed) [currency per month].
    payback_within_months: acquired customers' gross profit must repay front-end spend within this many
        months (the `payback_months` KPI) [months].
    """

    min_share: dict[str, float] = field(default_factory=dict)
    max_share: dict[str, float] = field(default_factory=dict)
    min_channel: dict[str, float] = field(default_factory=dict)
    max_channel: dict[str, float] = field(default_factory=dict)
    monthly_cap: float | None = None
    payback_within_months: float | None = None

    def check(self, scenario: Scenario, source: str = "constraints") -> Constraints:
        """Raise a `UserInputError` naming the bad key if a purpose or channel is unknown or a value is out of range."""
        for key in ("min_share", "max_share"):
            for purpose, value in getattr(self, key).items():
                if purpose not in PURPOSES:
                    raise UserInputError(
                        "unknown purpose", file=source, location=key, found=purpose, allowed=", ".join(PURPOSES)
                    )
                if not 0.0 <= value <= 1.0:
                    raise UserInputError(
                        "a share must lie between 0 and 1",
                        file=source,
                        location=f"{key} -> {purpose}",
                        found=f"{value:g}",
                    )
        for key in ("min_channel", "max_channel"):
            for channel, value in getattr(self, key).items():
                if channel not in scenario.channels:
                    raise UserInputError(
                        "unknown channel",
                        file=source,
                        location=key,
                        found=channel,
                        allowed=", ".join(scenario.channels),
                    )
                if not value >= 0.0:
                    raise UserInputError(
                        "spend per month must be >= 0", file=source, location=f"{key} -> {channel}", found=f"{value:g}"
                    )
        if self.monthly_cap is not None and not self.monthly_cap > 0:
            raise UserInputError("must be > 0", file=source, location="monthly_cap", found=f"{self.monthly_cap:g}")
        if self.payback_within_months is not None and not self.payback_within_months > 0:
            raise UserInputError(
                "must be > 0", file=source, location="payback_within_months", found=f"{self.payback_within_months:g}"
            )
        return self

    def merged(self, other: Constraints) -> Constraints:
        """These constraints with `other`'s values taking precedence (CLI options over a file)."""
        return Constraints(
            min_share={**self.min_share, **other.min_share},
            max_share={**self.max_share, **other.max_share},
            min_channel={**self.min_channel, **other.min_channel},
            max_channel={**self.max_channel, **other.max_channel},
            monthly_cap=other.monthly_cap if other.monthly_cap is not None else self.monthly_cap,
            payback_within_months=(
                other.payback_within_months if other.payback_within_months is not None else self.payback_within_months
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_share": dict(self.min_share),
            "max_share": dict(self.max_share),
            "min_channel": dict(self.min_channel),
            "max_channel": dict(self.max_channel),
            "monthly_cap": self.monthly_cap,
            "payback_within_months": self.payback_within_months,
        }


_CONSTRAINT_KEYS = ("min_share", "max_share", "min_channel", "max_channel", "monthly_cap", "payback_within_months")


def constraints_from_mapping(data: Any, source: str = "constraints") -> Constraints:
    """Constraints from a mapping (a parsed YAML/JSON file), with errors that name the key."""
    if data is None:
        return Constraints()
    if not isinstance(data, Mapping):
        raise UserInputError("constraints must be a mapping of keys", file=source, allowed=", ".join(_CONSTRAINT_KEYS))
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _CONSTRAINT_KEYS:
            raise UserInputError("unknown key", file=source, location=str(key), allowed=", ".join(_CONSTRAINT_KEYS))
        if key in ("monthly_cap", "payback_within_months"):
            kwargs[key] = None if value is None else _number(value, source, key)
        else:
            if not isinstance(value, Mapping):
                raise UserInputError("must be a mapping of name: value", file=source, location=key, found=repr(value))
            kwargs[key] = {str(k): _number(v, source, f"{key} -> {k}") for k, v in value.items()}
    return Constraints(**kwargs)


def load_constraints(path: str | Path) -> Constraints:
    """Read constraints from a YAML or JSON file."""
    from sim.model.yamlfile import load_yaml_file

    # the scenario's YAML reader: regular files of a sane size, no duplicate keys, no alias bombs, no tags
    data = load_yaml_file(Path(path), "a YAML or JSON file of constraints", error=UserInputError)
    return constraints_from_mapping(data, str(path))


def parse_assignments(items: Iterable[str], option: str) -> dict[str, float]:
    """CLI values like `front=0.1` or `search_ads=5000000` as a dict."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserInputError("expected NAME=VALUE", location=option, found=item)
        out[name.strip()] = _number(value, None, option)
    return out


def _number(value: Any, source: str | None, where: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UserInputError("must be a number", file=source, location=where, found=repr(value)) from None
    if not math.isfinite(x):
        raise UserInputError("must be a finite number", file=source, location=where, found=repr(value))
    return x


# -- plans -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Space:
    """What the search works in: channels, monthly totals and the linear limits on a plan y[purpose, channel]."""

    channels: list[str]
    totals: np.ndarray  # (M,) budget of each month, after any monthly cap
    share_lo: np.ndarray  # (3,)
    share_hi: np.ndarray  # (3,)
    channel_lo: np.ndarray  # (C,) share of the total budget a channel must at least get
    channel_hi: np.ndarray  # (C,)

    def feasible(self, y: np.ndarray) -> np.ndarray:
        """Which plans (..., 3, C) meet the purpose and channel limits."""
        p = y.sum(axis=-1)
        c = y.sum(axis=-2)
        ok = np.all((p >= self.share_lo - 1e-7) & (p <= self.share_hi + 1e-7), axis=-1)
        ok &= np.all((c >= self.channel_lo - 1e-7) & (c <= self.channel_hi + 1e-7), axis=-1)
        return ok & np.all(y >= -1e-12, axis=(-2, -1))

    def spend(self, y: np.ndarray) -> np.ndarray:
        """(n, M, C, 3) spend of plans y (n, 3, C)."""
        return self.totals[None, :, None, None] * np.transpose(y, (0, 2, 1))[:, None, :, :]


def capped_totals(scenario: Scenario, cap: float | None) -> np.ndarray:
    """Monthly budget totals; with a cap, months above it pass their excess to months below it, in
    proportion to those months' own budgets, so that the total budget is spent in full."""
    totals = budget.monthly_budget(scenario).astype(float)
    if cap is None:
        return totals
    if totals.sum() > cap * len(totals) * (1 + 1e-9):
        raise UserInputError(
            f"the total budget {totals.sum():,.0f} cannot be spent in {len(totals)} months with at most "
            f"{cap:,.0f} a month",
            location="monthly_cap",
            found=f"{cap:g}",
            allowed=f">= {totals.sum() / len(totals):,.0f}",
        )
    for _ in range(100):
        excess = np.maximum(totals - cap, 0.0).sum()
        if excess <= 1e-9 * max(cap, 1.0):
            break
        totals = np.minimum(totals, cap)
        room = totals < cap
        weight = np.where(room, np.maximum(totals, 1e-9), 0.0)
        totals = totals + excess * weight / weight.sum()
    return np.minimum(totals, cap)


def _space(scenario: Scenario, constraints: Constraints) -> _Space:
    channels = list(scenario.channels)
    totals = capped_totals(scenario, constraints.monthly_cap)
    total = float(totals.sum())
    if total <= 0:
        raise UserInputError("the scenario's budget is zero: there is nothing to split", location="budget -> totals")
    share_lo = np.array([constraints.min_share.get(p, 0.0) for p in PURPOSES])
    share_hi = np.array([constraints.max_share.get(p, 1.0) for p in PURPOSES])
    for j, purpose in enumerate(PURPOSES):
        if share_lo[j] > share_hi[j] + _TOL:
            raise UserInputError(
                f"min_share {share_lo[j]:g} is above max_share {share_hi[j]:g}", location=f"min_share -> {purpose}"
            )
    if share_lo.sum() > 1 + 1e-9:
        raise UserInputError(
            f"the minimum shares add up to {share_lo.sum():g}, more than the whole budget", location="min_share"
        )
    if share_hi.sum() < 1 - 1e-9:
        raise UserInputError(
            f"the maximum shares add up to {share_hi.sum():g}: part of the budget could not be spent",
            location="max_share",
        )
    # per-month channel limits hold in every month when they hold in the largest (max) and smallest (min) month
    big, small = float(totals.max()), float(totals.min())
    channel_lo = np.array([constraints.min_channel.get(c, 0.0) for c in channels]) / max(small, 1e-12)
    channel_hi = np.array([constraints.max_channel.get(c, math.inf) for c in channels]) / max(big, 1e-12)
    for c, name in enumerate(channels):
        if channel_lo[c] > channel_hi[c] + _TOL:
            raise UserInputError(
                "min_channel cannot be met in the smallest month without breaking max_channel in the largest",
                location=f"min_channel -> {name}",
            )
    if channel_lo.sum() > 1 + 1e-9:
        raise UserInputError(
            f"the channel minimums need {channel_lo.sum() * small:,.0f} a month but the smallest month's budget "
            f"is {small:,.0f}",
            location="min_channel",
        )
    if np.minimum(channel_hi, 1.0).sum() < 1 - 1e-9:
        raise UserInputError(
            f"the channel maximums allow {np.minimum(channel_hi, 1.0).sum() * big:,.0f} a month but the largest "
            f"month's budget is {big:,.0f}",
            location="max_channel",
        )
    space = _Space(channels, totals, share_lo, share_hi, channel_lo, np.minimum(channel_hi, 1.0))
    _feasible_point(space)  # raises when the purpose and channel limits cannot hold together
    return space


def _feasible_point(space: _Space) -> np.ndarray:
    """A plan meeting every linear limit (linear programme), or a clear error."""
    C = len(space.channels)
    n = 3 * C
    a_ub, b_ub = [], []
    for j in range(3):
        row = np.zeros(n)
        row[j * C : (j + 1) * C] = 1.0
        a_ub += [row, -row]
        b_ub += [space.share_hi[j], -space.share_lo[j]]
    for c in range(C):
        row = np.zeros(n)
        row[c::C] = 1.0
        a_ub += [row, -row]
        b_ub += [space.channel_hi[c], -space.channel_lo[c]]
    res = linprog(
        np.zeros(n), A_ub=np.array(a_ub), b_ub=np.array(b_ub), A_eq=np.ones((1, n)), b_eq=[1.0], bounds=(0, 1)
    )
    if res.status != 0:
        raise UserInputError(
            "the purpose shares and channel limits cannot all hold at once; loosen min/max shares or channel limits",
            location="constraints",
        )
    return res.x.reshape(3, C)


def plan_of(scenario: Scenario) -> np.ndarray:
    """The scenario's own plan as y[purpose, channel] (shares of the total budget)."""
    channels = list(scenario.channels)
    y = np.zeros((3, len(channels)))
    for j, purpose in enumerate(PURPOSES):
        share = scenario.budget.purpose_split.get(purpose, 0.0)
        for name, cshare in scenario.budget.channel_split.get(purpose, {}).items():
            y[j, channels.index(name)] = share * cshare
    return y / max(y.sum(), 1e-12)


def _channel_mix(scenario: Scenario) -> np.ndarray:
    """(3, C) channel mix inside each purpose: the plan's own, or the natural channel when it has none."""
    return np.stack([purpose_channel_weights(scenario, p) for p in PURPOSES])


def _splits(y: np.ndarray, channels: list[str]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    shares = y.sum(axis=1)
    purpose = {p: float(shares[j]) for j, p in enumerate(PURPOSES)}
    channel = {
        p: {c: float(y[j, k] / shares[j]) for k, c in enumerate(channels) if y[j, k] > 1e-12}
        for j, p in enumerate(PURPOSES)
        if shares[j] > 1e-12
    }
    return purpose, channel


def scenario_with_plan(scenario: Scenario, y: np.ndarray, totals: np.ndarray | None = None) -> Scenario:
    """A copy of the scenario whose budget follows plan y (and, if given, these monthly totals)."""
    channels = list(scenario.channels)
    purpose, channel = _splits(np.maximum(y, 0.0), channels)
    # pydantic wants the splits to add up to 1 within 1e-6: renormalise after rounding
    purpose = {p: round(v, 12) for p, v in purpose.items() if v > 0}
    top = max(purpose, key=purpose.get)
    purpose[top] += 1.0 - sum(purpose.values())
    channel = {p: {c: round(v, 12) for c, v in split.items()} for p, split in channel.items() if p in purpose}
    for split in channel.values():
        best = max(split, key=split.get)
        split[best] += 1.0 - sum(split.values())
    changes: dict[str, Any] = {"budget.purpose_split": purpose, "budget.channel_split": channel}
    if totals is not None:
        changes["budget.period"] = "month"
        changes["budget.totals"] = [float(t) for t in totals]
    return scenario.with_changes(changes)


# -- evaluation ---------------------------------------------------------------------------------------


@dataclass
class _Evaluator:
    """Objective values of many plans at once (fast engine, expected mode), with the payback check."""

    scenario: Scenario | list[Scenario]
    space: _Space
    objective: str
    payback_within: float | None
    workers: int = 1
    evaluations: int = 0

    def __call__(self, ys: np.ndarray, scenarios: list[Scenario] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(values, feasible) of plans ys (n, 3, C); infeasible plans get -inf."""
        ys = np.asarray(ys, dtype=float)
        ok = self.space.feasible(ys)
        values = np.full(len(ys), -np.inf)
        payback = np.full(len(ys), np.nan)
        if ok.any():
            rows = scenarios if scenarios is not None else self.scenario
            if isinstance(rows, list):
                rows = [r for r, k in zip(rows, ok, strict=True) if k]
            # lean runs unless the payback constraint needs the acquired customers' books (speed)
            batch = simulate_batch(
                rows,
                self.space.spend(ys[ok]),
                mode="expected",
                workers=self.workers,
                detail=self.payback_within is not None,
            )
            values[ok] = horizon_value(batch, self.objective)
            payback[ok] = batch.kpi_vectors()["payback_months"]
            self.evaluations += int(ok.sum())
        if self.payback_within is not None:
            late = ~(payback <= self.payback_within + 1e-9)
            values[late] = -np.inf
            ok = ok & ~late
        return values, ok


def _purpose_grid(step: float) -> np.ndarray:
    n = int(round(1.0 / step))
    pts = [(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)]
    return np.array(pts, dtype=float) / n


def _plans_from_shares(shares: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """Plans (n, 3, C) from purpose shares (n, 3) and a channel mix (3, C)."""
    return shares[:, :, None] * mix[None]


def _moves(y: np.ndarray, step: float, mix: np.ndarray) -> np.ndarray:
    """Neighbour plans: `step` of the budget moved between two purposes (each keeping its channel mix) or
    between two channels of one purpose."""
    out = []
    shares = y.sum(axis=1)
    for a, b in itertools.permutations(range(3), 2):
        amount = min(step, shares[a])
        if amount <= 1e-12:
            continue
        z = y.copy()
        z[a] -= amount * (y[a] / shares[a])
        inside_b = y[b] / shares[b] if shares[b] > 1e-12 else mix[b]
        z[b] += amount * inside_b
        out.append(z)
    C = y.shape[1]
    for j in range(3):
        for c1, c2 in itertools.permutations(range(C), 2):
            amount = min(step, y[j, c1])
            if amount <= 1e-12:
                continue
            z = y.copy()
            z[j, c1] -= amount
            z[j, c2] += amount
            out.append(z)
    return np.array(out) if out else np.zeros((0, 3, C))


def _pattern_search(
    evaluate: _Evaluator, y0: np.ndarray, v0: float, mix: np.ndarray, step: float = 0.05, min_step: float = 0.004
) -> tuple[np.ndarray, float]:
    """Greedy moves of budget between purposes and channels, halving the step when none helps."""
    y, v = y0.copy(), v0
    for _ in range(60):
        cand = _moves(y, step, mix)
        if len(cand):
            values, _ = evaluate(cand)
            k = int(np.argmax(values))
            if values[k] > v + 1e-9 * max(abs(v), 1.0):
                y, v = cand[k], float(values[k])
                continue
        step /= 2.0
        if step < min_step:
            break
    return y, v


def _search(
    evaluate: _Evaluator,
    space: _Space,
    mix: np.ndarray,
    extra_starts: list[np.ndarray],
    grid_step: float = 0.05,
    refine: bool = True,
    scenarios: list[Scenario] | None = None,
) -> tuple[np.ndarray, float]:
    """Best plan: a purpose grid (plus any extra starting plans), then pattern search from the best."""
    grid = _plans_from_shares(_purpose_grid(grid_step), mix)
    cands = np.concatenate([grid, np.array(extra_starts)]) if extra_starts else grid
    values, ok = evaluate(cands)
    if not ok.any():
        return cands[0], -math.inf
    k = int(np.argmax(values))
    y, v = cands[k], float(values[k])
    if refine:
        y, v = _pattern_search(evaluate, y, v, mix, step=grid_step / 2)
    return y, v


# -- the result -------------------------------------------------------------------------------------


@dataclass
class OptimizationResult:
    """The recommended budget split, the current one, and what separates them (with uncertainty)."""

    objective: str
    current_split: dict[str, float]  # purpose -> share of total budget
    recommended_split: dict[str, float]
    current_channel_split: dict[str, dict[str, float]]
    recommended_channel_split: dict[str, dict[str, float]]
    current_value: float
    recommended_value: float
    uplift_mean: float
    uplift_p05: float
    uplift_p95: float
    curve: pd.DataFrame  # retention_share, value_mean, value_p05, value_p95
    marginal_roi: dict[str, float | None]  # front/back/winback at the optimum
    sensitivity: pd.DataFrame  # parameter, label, base_value, low_value, high_value, low/high_optimum_back_share
    constraints: Constraints = field(default_factory=Constraints)
    recommended_plan: np.ndarray | None = None  # (3, C) shares of the total budget
    monthly_totals: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def recommendation(self) -> dict[str, Any]:
        """The JSON-ready summary written to recommendation.json."""
        return {
            "objective": self.objective,
            "objective_label": OBJECTIVES[self.objective],
            "current_split": self.current_split,
            "recommended_split": self.recommended_split,
            "current_channel_split": self.current_channel_split,
            "recommended_channel_split": self.recommended_channel_split,
            "current_value": self.current_value,
            "recommended_value": self.recommended_value,
            "uplift_mean": self.uplift_mean,
            "uplift_p05": self.uplift_p05,
            "uplift_p95": self.uplift_p95,
            "constraints": self.constraints.as_dict(),
            "monthly_totals": None if self.monthly_totals is None else [float(t) for t in self.monthly_totals],
            **{k: v for k, v in self.meta.items() if isinstance(v, int | float | str | dict | list)},
        }

    def to_files(self, out_dir: str | Path) -> list[Path]:
        """recommendation.json, curve.csv, sensitivity.csv and marginal_roi.json in out_dir (atomic writes)."""
        folder = ensure_output_dir(out_dir)
        return [
            write_json(folder / "recommendation.json", self.recommendation()),
            write_csv(folder / "curve.csv", self.curve, float_format="%.6g"),
            write_csv(folder / "sensitivity.csv", self.sensitivity, float_format="%.6g"),
            write_json(folder / "marginal_roi.json", self.marginal_roi),
        ]


# -- sensitivity --------------------------------------------------------------------------------------


def _dropout_mean_b(scenario: Scenario, factor: float) -> float:
    """Beta b giving a mean dropout chance `factor` times the scenario's (a kept)."""
    rp = scenario.repeat_purchase
    mean = min(0.99, rp.a / (rp.a + rp.b) * factor)
    return rp.a / mean - rp.a


# (parameter id, label, function scenario, factor -> changes); values are clipped to what the schema allows
SENSITIVITY_PARAMETERS: list[tuple[str, str, Any]] = [
    (
        "first_purchase.monthly_conversion",
        "First-purchase conversion",
        lambda s, f: {"first_purchase.monthly_conversion": min(1.0, s.first_purchase.monthly_conversion * f)},
    ),
    (
        "channels.reach.max_reach",
        "Reach of ads (all channels)",
        lambda s, f: {f"channels.{c}.reach.max_reach": ch.reach.max_reach * f for c, ch in s.channels.items()},
    ),
    (
        "first_purchase.forgetting_per_month",
        "Forgetting of aware people",
        lambda s, f: {"first_purchase.forgetting_per_month": min(1.0, s.first_purchase.forgetting_per_month * f)},
    ),
    (
        "repeat_purchase.rate",
        "Repeat purchase rate (r / alpha)",
        lambda s, f: {"repeat_purchase.alpha": s.repeat_purchase.alpha / f},
    ),
    (
        "repeat_purchase.dropout",
        "Dropout chance after an order (a / (a + b))",
        lambda s, f: {"repeat_purchase.b": _dropout_mean_b(s, f)},
    ),
    (
        "retention.purchase_rate_uplift_max",
        "Back-end uplift of purchase rate",
        lambda s, f: {"retention.purchase_rate_uplift_max": min(3.0, s.retention.purchase_rate_uplift_max * f)},
    ),
    (
        "retention.dropout_reduction_max",
        "Back-end cut in dropout",
        lambda s, f: {"retention.dropout_reduction_max": min(1.0, s.retention.dropout_reduction_max * f)},
    ),
    (
        "retention.half_saturation_per_customer",
        "Back-end spend per customer for half effect",
        lambda s, f: {"retention.half_saturation_per_customer": s.retention.half_saturation_per_customer * f},
    ),
    (
        "winback.base_reactivation",
        "Win-back reactivation chance",
        lambda s, f: {"winback.base_reactivation": min(1.0, s.winback.base_reactivation * f)},
    ),
    (
        "economics.order_value_mean",
        "Order value",
        lambda s, f: {"economics.order_value_mean": s.economics.order_value_mean * f},
    ),
    (
        "economics.gross_margin",
        "Gross margin",
        lambda s, f: {"economics.gross_margin": min(1.0, s.economics.gross_margin * f)},
    ),
    (
        "referral.contacts_per_loyal_per_month",
        "Word of mouth (referrals per loyal customer)",
        lambda s, f: {"referral.contacts_per_loyal_per_month": s.referral.contacts_per_loyal_per_month * f},
    ),
]


SENSITIVITY_COLUMNS = [
    "parameter",
    "label",
    "base_value",
    "low_value",
    "high_value",
    "low_optimum_back_share",
    "high_optimum_back_share",
]


def _sensitivity(
    scenario: Scenario,
    space: _Space,
    objective: str,
    constraints: Constraints,
    mix: np.ndarray,
    base_value: float,
    workers: int,
    progress: bool,
) -> pd.DataFrame:
    """For each uncertain parameter at -20% and +20%: the re-found optimum's value and back-end share.

    All variants are searched together in one batch per stage (speed): a purpose grid with the
    recommended channel mix (step 0.1), then the best grid point's neighbours at step 0.025.
    """
    variants: list[tuple[int, int, Scenario]] = []
    for i, (_, _, change) in enumerate(SENSITIVITY_PARAMETERS):
        for side, factor in ((0, 1.0 - SENSITIVITY_STEP), (1, 1.0 + SENSITIVITY_STEP)):
            variants.append((i, side, scenario.with_changes(change(scenario, factor))))
    grid = _plans_from_shares(_purpose_grid(0.2), mix)
    grid = grid[space.feasible(grid)]
    if len(grid) == 0:
        grid = np.array([_feasible_point(space)])
    rows_s = [v[2] for v in variants for _ in range(len(grid))]
    evaluate = _Evaluator(rows_s, space, objective, constraints.payback_within_months, workers)
    values, _ = evaluate(np.concatenate([grid] * len(variants)), rows_s)
    values = values.reshape(len(variants), len(grid))
    best_y = grid[values.argmax(axis=1)]  # (V, 3, C)
    best_v = values.max(axis=1)
    # refine every variant at once: moves of budget between purposes, step 0.1, 0.05, 0.025
    for step in (0.1, 0.05, 0.025):
        local = [_moves(best_y[k], step, mix)[:6] for k in range(len(variants))]
        n_local = max(len(x) for x in local)
        if n_local == 0:
            continue
        local = [np.concatenate([x, np.repeat(best_y[k][None], n_local - len(x), axis=0)]) for k, x in enumerate(local)]
        rows_l = [v[2] for v in variants for _ in range(n_local)]
        lv, _ = evaluate(np.concatenate(local), rows_l)
        lv = lv.reshape(len(variants), n_local)
        for k in range(len(variants)):
            j = int(np.argmax(lv[k]))
            if lv[k, j] > best_v[k]:
                best_y[k], best_v[k] = local[k][j], lv[k, j]
    out = []
    for i, (pid, label, _) in enumerate(SENSITIVITY_PARAMETERS):
        rec = {"parameter": pid, "label": label, "base_value": base_value}
        for side, name in ((0, "low"), (1, "high")):
            k = 2 * i + side
            rec[f"{name}_value"] = float(best_v[k]) if np.isfinite(best_v[k]) else math.nan
            rec[f"{name}_optimum_back_share"] = float(best_y[k][1].sum())
        out.append(rec)
    frame = pd.DataFrame(out)
    frame["swing"] = (frame["high_value"] - frame["low_value"]).abs()
    frame = frame.sort_values("swing", ascending=False).drop(columns="swing").reset_index(drop=True)
    return frame[SENSITIVITY_COLUMNS]


# -- the optimizer -----------------------------------------------------------------------------------


def optimize_budget(
    scenario: Scenario,
    objective: str = "contribution",
    constraints: Constraints | Mapping[str, Any] | None = None,
    replications: int = 100,
    seed: int | None = None,
    workers: int = 1,
    progress: bool = False,
) -> OptimizationResult:
    """Find the split of the scenario's total budget (purposes and channels) that maximizes `objective`.

    `objective`: contribution (default), npv, revenue or customers (active at the horizon).
    `constraints`: a `Constraints`, or a mapping as in a constraints file. `replications`: sampled-mode
    runs for the Monte Carlo bands (uplift and curve), seeded from `seed` (default the scenario's) with
    `SeedSequence.spawn`, spread over `workers` processes.
    """
    if objective not in OBJECTIVES:
        raise UserInputError(
            "unknown objective", location="--objective", found=objective, allowed=", ".join(OBJECTIVES)
        )
    if replications < 2:
        raise UserInputError(
            "at least 2 replications are needed for bands", location="--replications", found=str(replications)
        )
    if not isinstance(constraints, Constraints):
        constraints = constraints_from_mapping(constraints)
    constraints.check(scenario)
    seed = scenario.simulation.seed if seed is None else seed
    space = _space(scenario, constraints)
    channels = space.channels
    evaluate = _Evaluator(scenario, space, objective, constraints.payback_within_months, workers)
    steps = tqdm(total=5, desc="optimize", unit="step", disable=None if progress else True, leave=False)

    # 1-2: search (grid over purposes, then pattern search over purposes and channels)
    current = plan_of(scenario)
    mix = _channel_mix(scenario)
    starts = [current] if space.feasible(current[None])[0] else []
    starts.append(_feasible_point(space))
    y, value = _search(evaluate, space, mix, starts)
    if not math.isfinite(value):
        raise UserInputError(
            f"no budget split pays back within {constraints.payback_within_months:g} months",
            location="payback_within_months",
            found=f"{constraints.payback_within_months:g}",
        )
    steps.update(1)

    # 3: uplift with Monte Carlo bands (same seeds for both plans: common random numbers)
    current_spend = budget.spend_by_month(scenario)[None]
    cur_det = float(horizon_value(simulate_batch(scenario, current_spend, mode="expected"), objective)[0])
    reps_cur = simulate_batch(
        [scenario] * replications,
        np.repeat(current_spend, replications, axis=0),
        mode="sampled",
        seed=seed,
        workers=workers,
    )
    reps_rec = simulate_batch(
        [scenario] * replications,
        np.repeat(space.spend(y[None]), replications, axis=0),
        mode="sampled",
        seed=seed,
        workers=workers,
    )
    uplift = horizon_value(reps_rec, objective) - horizon_value(reps_cur, objective)
    steps.update(1)

    # 4: the value against the back-end (retention) share, front and win-back in proportion
    curve = _curve(scenario, space, y, mix, objective, replications, seed, workers, progress=progress)
    steps.update(1)

    # 5: marginal ROIs at the optimum; sensitivity of the optimum
    recommended = scenario_with_plan(scenario, y, space.totals)
    rois = marginal_rois(recommended, engine="fast")
    steps.update(1)
    rec_mix = np.where(y.sum(axis=1, keepdims=True) > 1e-12, y / np.maximum(y.sum(axis=1, keepdims=True), 1e-12), mix)
    sensitivity = _sensitivity(scenario, space, objective, constraints, rec_mix, value, workers, progress)
    steps.update(1)
    steps.close()

    cur_split, cur_channels = _splits(current, channels)
    rec_split, rec_channels = _splits(y, channels)
    return OptimizationResult(
        objective=objective,
        current_split=cur_split,
        recommended_split=rec_split,
        current_channel_split=cur_channels,
        recommended_channel_split=rec_channels,
        current_value=cur_det,
        recommended_value=float(value),
        uplift_mean=float(np.mean(uplift)),
        uplift_p05=float(np.percentile(uplift, 5)),
        uplift_p95=float(np.percentile(uplift, 95)),
        curve=curve,
        marginal_roi={p: (None if v is None or not math.isfinite(v) else float(v)) for p, v in rois.items()},
        sensitivity=sensitivity,
        constraints=constraints,
        recommended_plan=y,
        monthly_totals=space.totals,
        meta={
            "replications": replications,
            "seed": seed,
            "evaluations": evaluate.evaluations,
            "scenario": scenario.name,
            "currency": scenario.economics.currency,
        },
    )


def _curve(
    scenario: Scenario,
    space: _Space,
    y: np.ndarray,
    mix: np.ndarray,
    objective: str,
    replications: int,
    seed: int,
    workers: int,
    points: int = 11,
    progress: bool = False,
) -> pd.DataFrame:
    """Objective against the back-end share of the budget (0 to 100%), front and win-back keeping their
    recommended proportion and every purpose its recommended channel mix. value_mean is the expected
    value; the band comes from sampled replications (a fifth of `replications`, at least 10, same seeds
    at every point so the band is smooth)."""
    shares = y.sum(axis=1)
    rest = shares[[0, 2]]
    rest = rest / rest.sum() if rest.sum() > 1e-12 else np.array([1.0, 0.0])
    inside = np.where(shares[:, None] > 1e-12, y / np.maximum(shares[:, None], 1e-12), mix)
    back = np.linspace(0.0, 1.0, points)
    purpose = np.stack([(1 - back) * rest[0], back, (1 - back) * rest[1]], axis=1)
    plans = _plans_from_shares(purpose, np.zeros_like(mix)) + purpose[:, :, None] * inside[None]
    spend = space.spend(plans)
    expected = horizon_value(simulate_batch(scenario, spend, mode="expected", workers=workers), objective)
    reps = max(10, replications // 5)
    sampled = simulate_batch(
        [scenario] * (points * reps),
        np.repeat(spend, reps, axis=0),
        mode="sampled",
        seed=seed,
        workers=workers,
        progress=progress,
    )
    values = horizon_value(sampled, objective).reshape(points, reps)
    return pd.DataFrame(
        {
            "retention_share": back,
            "value_mean": expected,
            "value_p05": np.percentile(values, 5, axis=1),
            "value_p95": np.percentile(values, 95, axis=1),
            "feasible": space.feasible(plans),
        }
    )
