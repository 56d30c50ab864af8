"""A plan over time, as the optimizer searches it: for each period (quarters by default) a budget level and a
purpose split, and one channel mix within each purpose.

A plan's spend in month m of period k is: the scenario's monthly total x level[k] x share[k, purpose] x
mix[purpose, channel]. `PlanPath.spend` turns it into the (M, C, 3) table both engines read; `from_scenario`
reads a scenario's own plan in the same terms (month by month, since its own split may change on other
dates); `scenario_with_path` writes a plan back into a scenario (phased splits, as a consultant would).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.model import budget
from sim.model.scenario import PURPOSES, SPLIT_PERIODS, Scenario

PERIOD_MONTHS = {"month": 1, "quarter": 3, "half": 6, "year": 12}


@dataclass(frozen=True)
class PlanPath:
    """A plan over periods of `period_months` months: levels (P,), purpose shares (P, 3), channel mix (3, C)."""

    period_months: int
    levels: np.ndarray
    shares: np.ndarray
    mix: np.ndarray

    @property
    def n_periods(self) -> int:
        return len(self.levels)

    def period_of_month(self, n_months: int) -> np.ndarray:
        """(M,) period index of each plan month."""
        return np.minimum(np.arange(n_months) // self.period_months, self.n_periods - 1)

    def spend(self, totals: np.ndarray) -> np.ndarray:
        """(M, C, 3) spend of the plan for the scenario's monthly totals (M,)."""
        k = self.period_of_month(len(totals))
        per_purpose = (totals * self.levels[k])[:, None] * self.shares[k]  # (M, 3)
        return np.einsum("mj,jc->mcj", per_purpose, self.mix)

    def with_shares(self, shares: np.ndarray) -> PlanPath:
        return replace(self, shares=np.asarray(shares, dtype=float))

    def with_mix(self, mix: np.ndarray) -> PlanPath:
        return replace(self, mix=np.asarray(mix, dtype=float))

    def with_levels(self, levels: np.ndarray) -> PlanPath:
        return replace(self, levels=np.asarray(levels, dtype=float))

    def average_shares(self, totals: np.ndarray) -> np.ndarray:
        """(3,) purpose shares of the whole horizon's budget."""
        k = self.period_of_month(len(totals))
        weights = totals * self.levels[k]
        return (weights[:, None] * self.shares[k]).sum(axis=0) / max(float(weights.sum()), 1e-12)

    def constant(self, totals: np.ndarray) -> PlanPath:
        """The same plan with one purpose split for every period (its average) and level 1."""
        avg = self.average_shares(totals)
        return replace(self, levels=np.ones(self.n_periods), shares=np.tile(avg, (self.n_periods, 1)))


def spends(paths: list[PlanPath], totals: np.ndarray) -> np.ndarray:
    """(n, M, C, 3) spend of many plans."""
    return np.stack([p.spend(totals) for p in paths])


def channel_mix_of(spend_month: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """(3, C) channel mix within each purpose of a (M, C, 3) spend table over the horizon; a purpose without
    spend takes `fallback`'s row."""
    per = spend_month.sum(axis=0).T  # (3, C)
    tot = per.sum(axis=1, keepdims=True)
    return np.where(tot > 0, per / np.maximum(tot, 1e-300), fallback)


def from_scenario(scenario: Scenario, period_months: int, mix_fallback: np.ndarray) -> PlanPath:
    """The scenario's own plan as a path: each period's level and purpose split from its spend table, the
    channel mix over the horizon (a plan whose mix changes over time is read at its average mix)."""
    totals = budget.monthly_budget(scenario)
    spend = budget.spend_by_month(scenario)
    M = len(totals)
    n_periods = -(-M // period_months)
    k = np.minimum(np.arange(M) // period_months, n_periods - 1)
    by_purpose = spend.sum(axis=1)  # (M, 3)
    levels, shares = np.ones(n_periods), np.zeros((n_periods, 3))
    for p in range(n_periods):
        months = k == p
        planned = float(totals[months].sum())
        spent = by_purpose[months].sum(axis=0)
        levels[p] = spent.sum() / planned if planned > 0 else 1.0
        shares[p] = spent / spent.sum() if spent.sum() > 0 else np.array([1.0, 0.0, 0.0])
    return PlanPath(period_months, levels, shares, channel_mix_of(spend, mix_fallback))


def scenario_with_path(scenario: Scenario, path: PlanPath) -> Scenario:
    """A copy of the scenario whose budget follows the path: monthly totals (level applied), the purpose split
    per period and the channel mix, written as the schema's phased lists."""
    totals = budget.monthly_budget(scenario)
    k = path.period_of_month(len(totals))
    split_period = next(name for name, months in SPLIT_PERIODS.items() if months == path.period_months)
    channels = list(scenario.channels)
    purpose_splits = [_exact({p: float(s[j]) for j, p in enumerate(PURPOSES) if s[j] > 1e-12}) for s in path.shares]
    channel_split: dict[str, Any] = {}
    for j, p in enumerate(PURPOSES):
        if any(p in split for split in purpose_splits):
            row = path.mix[j]
            channel_split[p] = _exact({c: float(row[i]) for i, c in enumerate(channels) if row[i] > 1e-12})
    changes: dict[str, Any] = {
        "budget.period": "month",
        "budget.totals": [float(t) for t in totals * path.levels[k]],
        "budget.purpose_split": purpose_splits if len(purpose_splits) > 1 else purpose_splits[0],
        "budget.channel_split": channel_split,
        "budget.split_period": split_period,
        "budget.back_per_customer": None,
    }
    return scenario.with_changes(changes)


def _exact(split: dict[str, float]) -> dict[str, float]:
    """Shares rounded to 12 digits that add up to exactly 1 (the schema checks the sum to 1e-6)."""
    out = {k: round(v, 12) for k, v in split.items()}
    if out:
        top = max(out, key=out.get)
        out[top] += 1.0 - sum(out.values())
    return out
