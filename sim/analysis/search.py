"""How the optimizer looks for the best plan over time, in whole batches of candidate plans (the fast engine
simulates hundreds at once, so every step evaluates all its candidates together):

1. the best constant plan: a grid over the purpose shares with the planned channel mix, then a pattern
   search moving budget between two purposes or two channels of a purpose, halving the step when no move
   helps (`best_constant`);
2. from there, the plan over time: every period's purpose split moved on its own, all periods' moves in one
   batch; each period takes its best move, the combination is checked (periods interact through the
   customer base they build), the step halves when nothing helps (`best_path`);
3. with a budget cap, the budget level of each period the same way (`best_levels`).

Feasibility is checked on every candidate (`PlanSpace`): purpose shares per period, channel limits per
month at the period's level.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from sim.analysis.constraints import PlanSpace
from sim.analysis.evaluate import Evaluator
from sim.analysis.plans import PlanPath, spends


def purpose_grid(step: float) -> np.ndarray:
    """Every purpose split (front, back, winback) on a grid of `step`."""
    n = int(round(1.0 / step))
    pts = [(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)]
    return np.array(pts, dtype=float) / n


def feasible(space: PlanSpace, path: PlanPath) -> bool:
    """Whether every period of the plan meets the purpose and channel limits (channels at its level)."""
    y = path.shares[:, :, None] * path.mix[None]  # (P, 3, C) shares of each period's planned budget
    p = y.sum(axis=2)
    c = (y * path.levels[:, None, None]).sum(axis=1)
    ok = np.all((p >= space.share_lo - 1e-7) & (p <= space.share_hi + 1e-7))
    ok &= np.all((c >= space.channel_lo - 1e-7) & (c <= space.channel_hi + 1e-7))
    return bool(ok and np.all(y >= -1e-12) and np.all(path.levels >= -1e-12))


class Search:
    """Candidate plans evaluated in batches, infeasible ones skipped (-inf), with a count of evaluations."""

    def __init__(self, evaluator: Evaluator, space: PlanSpace):
        self.evaluator = evaluator
        self.space = space
        self.totals = space.totals

    def values(self, paths: list[PlanPath]) -> np.ndarray:
        ok = np.array([feasible(self.space, p) for p in paths], dtype=bool)
        out = np.full(len(paths), -np.inf)
        if ok.any():
            out[ok] = self.evaluator.values(spends([p for p, k in zip(paths, ok, strict=True) if k], self.totals))
        return out

    def best_of(self, paths: list[PlanPath], current: tuple[PlanPath, float]) -> tuple[PlanPath, float]:
        if not paths:
            return current
        values = self.values(paths)
        k = int(np.argmax(values))
        better = values[k] > current[1] + 1e-9 * max(abs(current[1]), 1.0)
        return (paths[k], float(values[k])) if better else current


def best_constant(search: Search, template: PlanPath, starts: list[PlanPath], grid_step: float = 0.05):
    """(plan, value): the best plan with one purpose split for every period and level 1."""
    P = template.n_periods
    grid = [template.with_shares(np.tile(s, (P, 1))) for s in purpose_grid(grid_step)]
    cands = grid + starts
    values = search.values(cands)
    if not np.isfinite(values).any():
        return cands[0], -math.inf
    k = int(np.argmax(values))
    best = (cands[k], float(values[k]))
    step = grid_step / 2
    for _ in range(60):  # pattern search: purposes and channels, constant over time
        moved = search.best_of(_constant_moves(best[0], step), best)
        if moved is best:
            step /= 2.0
            if step < 0.004:
                break
        best = moved
    return best


def _constant_moves(path: PlanPath, step: float) -> list[PlanPath]:
    """`step` of the budget moved between two purposes (all periods alike) or two channels of a purpose."""
    out = []
    shares, mix = path.shares, path.mix
    for a, b in itertools.permutations(range(3), 2):
        amount = np.minimum(step, shares[:, a])
        if amount.max() <= 1e-12:
            continue
        s = shares.copy()
        s[:, a] -= amount
        s[:, b] += amount
        out.append(path.with_shares(s))
    C = mix.shape[1]
    for j in range(3):
        if shares[:, j].max() <= 1e-12:
            continue
        for c1, c2 in itertools.permutations(range(C), 2):
            amount = min(step, mix[j, c1])
            if amount <= 1e-12:
                continue
            m = mix.copy()
            m[j, c1] -= amount
            m[j, c2] += amount
            out.append(path.with_mix(m))
    return out


def best_path(search: Search, start: tuple[PlanPath, float], step: float = 0.1, min_step: float = 0.0125):
    """(plan, value): the purpose split of each period, improved period by period (see the module docstring)."""
    return _by_period(search, start, _split_moves, _with_split_of, step, min_step)


def best_levels(search: Search, start: tuple[PlanPath, float], cap_level: float, step: float = 0.25):
    """(plan, value): the budget level of each period between 0 and `cap_level` (the cap over the plan's
    monthly budget), improved period by period as `best_path` does the splits."""

    def moves(path: PlanPath, step: float) -> list[tuple[int, PlanPath]]:
        out = []
        for k in range(path.n_periods):
            for sign in (-1.0, 1.0):
                level = float(np.clip(path.levels[k] + sign * step, 0.0, cap_level))
                if abs(level - path.levels[k]) > 1e-12:
                    levels = path.levels.copy()
                    levels[k] = level
                    out.append((k, path.with_levels(levels)))
        return out

    return _by_period(search, start, moves, _with_level_of, step, 0.02)


def _split_moves(path: PlanPath, step: float) -> list[tuple[int, PlanPath]]:
    """(period, plan): `step` of one period's budget moved between two purposes."""
    out = []
    for k in range(path.n_periods):
        for a, b in itertools.permutations(range(3), 2):
            amount = min(step, path.shares[k, a])
            if amount <= 1e-12:
                continue
            s = path.shares.copy()
            s[k, a] -= amount
            s[k, b] += amount
            out.append((k, path.with_shares(s)))
    return out


def _with_split_of(path: PlanPath, picks: dict[int, PlanPath]) -> PlanPath:
    shares = path.shares.copy()
    for k, moved in picks.items():
        shares[k] = moved.shares[k]
    return path.with_shares(shares)


def _with_level_of(path: PlanPath, picks: dict[int, PlanPath]) -> PlanPath:
    levels = path.levels.copy()
    for k, moved in picks.items():
        levels[k] = moved.levels[k]
    return path.with_levels(levels)


def _by_period(search: Search, start, moves_of, merge, step: float, min_step: float):
    """Every period's moves in one batch; each period takes its best improving move, and the combination is
    checked against the best single move (periods interact through the customer base they build); the
    step halves when nothing helps.

    Speed: the combination is evaluated together with the moves around it, the next round's batch if it
    wins (it usually does), so a round costs one batch, not two; the decisions are those of evaluating the
    two batches one after the other (a plan's value does not depend on the rows beside it)."""
    best = start
    ahead = None  # (moves, values) around best[0] at `step`, evaluated with it
    for _ in range(40):
        path = best[0]
        moves, values = ahead if ahead is not None else (moves_of(path, step), None)
        ahead = None
        if not moves:
            break
        if values is None:
            values = search.values([m[1] for m in moves])
        gain = values - best[1]
        tolerance = 1e-9 * max(abs(best[1]), 1.0)
        picks = {}
        for k in sorted({m[0] for m in moves}):
            i = max((i for i, m in enumerate(moves) if m[0] == k), key=lambda i: gain[i])
            if gain[i] > tolerance:
                picks[k] = moves[i][1]
        if not picks:
            step /= 2.0
            if step < min_step:
                break
            continue
        together = merge(path, picks)
        single = int(np.argmax(values))
        next_moves = moves_of(together, step)
        checked = search.values([together] + [m[1] for m in next_moves])
        pair = [checked[0], values[single]]
        k = int(np.argmax(pair))
        if pair[k] > tolerance + best[1]:
            if k == 0:
                best, ahead = (together, float(checked[0])), (next_moves, checked[1:])
            else:
                best = (moves[single][1], float(values[single]))
        else:
            step /= 2.0
            if step < min_step:
                break
    return best
