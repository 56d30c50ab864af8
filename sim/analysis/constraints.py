"""What every recommended plan must respect: limits per purpose, per channel and per month, a payback,
a hurdle rate, and (when the budget level may change) a cap on the monthly budget.

Constraints are checked once, at the boundary (`Constraints.check`), and turned into the linear limits
the search works in (`PlanSpace`); a constraint set nobody can meet is a `UserInputError` (exit 2) that
names the limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linprog

from sim.errors import UserInputError
from sim.model import budget
from sim.model.scenario import MAX_HURDLE, MAX_MONEY, PURPOSES, Scenario
from sim.model.scenario import MAX_PAYBACK_MONTHS as MAX_MONTHS

_TOL = 1e-9


@dataclass(frozen=True)
class Constraints:
    """Limits every recommended plan must respect.

    min_share / max_share: share of the total budget per purpose (front, back, winback).
    min_channel / max_channel: spend per month in a channel, all purposes together [currency per month].
    monthly_cap: most the plan may spend in any one month; months above it give their excess to the
        other months (the total budget stays fixed) [currency per month].
    payback_within_months: acquired customers' gross profit must repay front-end spend within this many
        months (the `payback_months` KPI) [months].
    hurdle_rate: a unit of spend must earn at least this much contribution to be worth spending (the search
        maximises the objective less hurdle x marketing spend) [share of spend].
    budget_cap: when given, the budget level of each period may change, up to this much a month [currency per month].
    """

    min_share: dict[str, float] = field(default_factory=dict)
    max_share: dict[str, float] = field(default_factory=dict)
    min_channel: dict[str, float] = field(default_factory=dict)
    max_channel: dict[str, float] = field(default_factory=dict)
    monthly_cap: float | None = None
    payback_within_months: float | None = None
    hurdle_rate: float = 0.0
    budget_cap: float | None = None

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
                if not 0.0 <= value <= MAX_MONEY:
                    raise UserInputError(
                        f"spend per month must be >= 0 and at most {MAX_MONEY:,.0f}",
                        file=source,
                        location=f"{key} -> {channel}",
                        found=f"{value:g}",
                    )
        if self.monthly_cap is not None and not (math.isfinite(self.monthly_cap) and 0 < self.monthly_cap <= MAX_MONEY):
            raise UserInputError(
                f"must be a finite amount > 0 and at most {MAX_MONEY:,.0f}",
                file=source,
                location="monthly_cap",
                found=f"{self.monthly_cap:g}",
            )
        if self.payback_within_months is not None and not (
            math.isfinite(self.payback_within_months) and 0 < self.payback_within_months <= MAX_MONTHS
        ):
            raise UserInputError(
                f"must be a finite number of months > 0 and at most {MAX_MONTHS}",
                file=source,
                location="payback_within_months",
                found=f"{self.payback_within_months:g}",
            )
        if not (math.isfinite(self.hurdle_rate) and -1.0 < self.hurdle_rate <= MAX_HURDLE):
            raise UserInputError(
                f"must be above -1 (a unit returning nothing at all) and at most {MAX_HURDLE:g}",
                file=source,
                location="hurdle_rate",
                found=f"{self.hurdle_rate:g}",
            )
        if self.budget_cap is not None and not (math.isfinite(self.budget_cap) and 0 < self.budget_cap <= MAX_MONEY):
            raise UserInputError(
                f"must be a finite amount > 0 and at most {MAX_MONEY:,.0f} a month",
                file=source,
                location="budget_cap",
                found=f"{self.budget_cap:g}",
            )
        return self

    @classmethod
    def of_scenario(cls, scenario: Scenario) -> Constraints:
        """The limits the scenario's `planning` section sets (validated with the scenario)."""
        return cls(**scenario.planning.limits)

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
            hurdle_rate=other.hurdle_rate if other.hurdle_rate else self.hurdle_rate,
            budget_cap=other.budget_cap if other.budget_cap is not None else self.budget_cap,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_share": dict(self.min_share),
            "max_share": dict(self.max_share),
            "min_channel": dict(self.min_channel),
            "max_channel": dict(self.max_channel),
            "monthly_cap": self.monthly_cap,
            "payback_within_months": self.payback_within_months,
            "hurdle_rate": self.hurdle_rate,
            "budget_cap": self.budget_cap,
        }


_CONSTRAINT_KEYS = (
    "min_share",
    "max_share",
    "min_channel",
    "max_channel",
    "monthly_cap",
    "payback_within_months",
    "hurdle_rate",
    "budget_cap",
)
_NUMBER_KEYS = ("monthly_cap", "payback_within_months", "hurdle_rate", "budget_cap")
_MONEY_KEYS = ("monthly_cap", "budget_cap", "min_channel", "max_channel")  # amounts a month


def constraints_from_mapping(data: Any, source: str = "constraints") -> Constraints:
    """Constraints from a mapping (a parsed YAML/JSON file), with errors that name the key."""
    if data is None:
        return Constraints()
    if not isinstance(data, Mapping):
        raise UserInputError("constraints must be a mapping of keys", file=source, allowed=", ".join(_CONSTRAINT_KEYS))
    from sim.model.scenario import grouped_number

    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _CONSTRAINT_KEYS:
            raise UserInputError("unknown key", file=source, location=str(key), allowed=", ".join(_CONSTRAINT_KEYS))
        if key in _MONEY_KEYS:  # an amount typed 5.000 may mean 5,000: refused, as in a scenario
            values = value.items() if isinstance(value, Mapping) else [("", value)]
            for name, v in values:
                problem = grouped_number(v)
                if problem:
                    where = f"{key} -> {name}" if name else key
                    raise UserInputError(problem, file=source, location=where)
        if key in _NUMBER_KEYS:
            kwargs[key] = None if value is None else _number(value, source, key)
        else:
            if not isinstance(value, Mapping):
                raise UserInputError("must be a mapping of name: value", file=source, location=key, found=repr(value))
            kwargs[key] = {str(k): _number(v, source, f"{key} -> {k}") for k, v in value.items()}
    return Constraints(**kwargs)


def planning_error(exc: UserInputError, scenario: Scenario) -> UserInputError:
    """A constraint nobody can meet (found while planning) named where the scenario sets it (`planning ->
    budget_cap` in its file), when the scenario's planning section set it; other errors unchanged."""
    key = (exc.location or "").partition(" -> ")[0]
    if exc.file is not None or key not in (*_CONSTRAINT_KEYS, "constraints"):
        return exc
    planning = scenario.planning
    default = type(planning)()
    if planning == default or (key != "constraints" and getattr(planning, key) == getattr(default, key)):
        return exc  # a limit the scenario does not set (the optimizer's own default)
    source = str(scenario.source_path) if scenario.source_path else None
    location = "planning" if key == "constraints" else f"planning -> {exc.location}"
    return UserInputError(exc.message, file=source, location=location, found=exc.found, allowed=exc.allowed)


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
class PlanSpace:
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


def plan_space(scenario: Scenario, constraints: Constraints) -> PlanSpace:
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
    space = PlanSpace(channels, totals, share_lo, share_hi, channel_lo, np.minimum(channel_hi, 1.0))
    feasible_point(space)  # raises when the purpose and channel limits cannot hold together
    return space


def feasible_point(space: PlanSpace) -> np.ndarray:
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
