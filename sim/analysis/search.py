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

Speed: the fast engine's cost is per simulated day, nearly whatever the number of plans in a batch, so a
round's batch also values the plans the next rounds will most likely ask for (`Search.values`' prefetch:
the moves at half the step, in case none helps; the moves around the plan a run of the same move leads
to). Every plan's value is kept, so a later round finds them without running the engine. The decisions
are those of evaluating the rounds one after the other: a plan's value does not depend on the rows beside
it (beyond rounding in the last digit, a million times below the 1e-9 a move must gain to be taken).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

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
    """Candidate plans evaluated in batches, infeasible ones skipped (-inf), every value kept (a plan asked for
    again, or prefetched, costs nothing), with a count of evaluations."""

    def __init__(self, evaluator: Evaluator, space: PlanSpace):
        self.evaluator = evaluator
        self.space = space
        self.totals = space.totals
        self.known: dict[bytes, float] = {}  # plan -> value (`_key`)
        self.batches = 0  # engine runs (each a batch of plans)

    def values(self, paths: list[PlanPath], prefetch: list[PlanPath] = ()) -> np.ndarray:
        """The values of `paths`. When some are not known yet, `prefetch` (plans a later round will likely
        ask for) is valued in the same batch; when all are, nothing runs."""
        keys = [_key(p) for p in paths]
        if any(k not in self.known for k in keys):
            todo: dict[bytes, PlanPath] = {}
            for p in [*paths, *prefetch]:
                k = _key(p)
                if k not in self.known:
                    todo.setdefault(k, p)
            plans = list(todo.values())
            ok = np.array([feasible(self.space, p) for p in plans], dtype=bool)
            out = np.full(len(plans), -np.inf)
            if ok.any():
                out[ok] = self.evaluator.values(spends([p for p, k in zip(plans, ok, strict=True) if k], self.totals))
            self.batches += 1
            self.known.update(zip(todo, out.tolist(), strict=True))
        return np.array([self.known[k] for k in keys], dtype=float)


def _key(path: PlanPath) -> bytes:
    """A plan's identity: its period length, levels, shares and mix, exactly."""
    arrays = (path.levels, path.shares, path.mix)
    return bytes([path.period_months]) + b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in arrays)


def _improves(value: float, best: float) -> bool:
    return value > best + 1e-9 * max(abs(best), 1.0)


CONSTANT_MIN_STEP = 0.004  # the pattern search of the constant plan stops below this step (0.4% of the budget)
RUN_AHEAD = 3  # moves of a run of the same move prefetched beyond the current plan


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
    step, last = grid_step / 2, None  # `last`: the move that made the current plan
    for _ in range(60):  # pattern search: purposes and channels, constant over time
        moves = _constant_moves(best[0], step)
        if not moves:
            break
        values = search.values([m for _, m in moves], _constant_ahead(best[0], moves, last, step))
        k = int(np.argmax(values))
        if _improves(values[k], best[1]):
            best, last = (moves[k][1], float(values[k])), moves[k][0]
        else:
            step, last = step / 2.0, None
            if step < CONSTANT_MIN_STEP:
                break
    return best


def _constant_ahead(path: PlanPath, moves: list, last, step: float) -> list[PlanPath]:
    """The plans the next rounds of `best_constant` will likely ask for: the moves at half the step (none
    may help), and along a run of the same move `last`, the moves around each plan it leads to."""
    out = [m for _, m in _constant_moves(path, step / 2.0)] if step / 2.0 >= CONSTANT_MIN_STEP else []
    for _ in range(RUN_AHEAD if last is not None else 0):
        path = next((m for key, m in moves if key == last), None)
        if path is None:
            break
        moves = _constant_moves(path, step)
        out += [m for _, m in moves]
    return out


def _constant_moves(path: PlanPath, step: float) -> list[tuple[tuple, PlanPath]]:
    """(move, plan): `step` of the budget moved between two purposes (all periods alike) or two channels of
    a purpose."""
    out = []
    shares, mix = path.shares, path.mix
    for a, b in itertools.permutations(range(3), 2):
        amount = np.minimum(step, shares[:, a])
        if amount.max() <= 1e-12:
            continue
        s = shares.copy()
        s[:, a] -= amount
        s[:, b] += amount
        out.append((("purpose", a, b), path.with_shares(s)))
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
            out.append((("channel", j, c1, c2), path.with_mix(m)))
    return out


PERIOD_MIN_STEP = 0.0125  # the period search stops below this step (1.25% of a period's budget)


def best_path(search: Search, start: tuple[PlanPath, float], step: float = 0.1, min_step: float = PERIOD_MIN_STEP):
    """(plan, value): the purpose split of each period, improved period by period (see the module docstring)."""
    return _by_period(search, start, _split_moves, _with_split_of, step, min_step)


def best_levels(search: Search, start: tuple[PlanPath, float], cap_level: float, step: float = 0.25):
    """(plan, value): the budget level of each period between 0 and `cap_level` (the cap over the plan's
    monthly budget), improved period by period as `best_path` does the splits."""

    def moves(path: PlanPath, step: float) -> list[tuple[int, Any, PlanPath]]:
        out = []
        for k in range(path.n_periods):
            for sign in (-1.0, 1.0):
                level = float(np.clip(path.levels[k] + sign * step, 0.0, cap_level))
                if abs(level - path.levels[k]) > 1e-12:
                    levels = path.levels.copy()
                    levels[k] = level
                    out.append((k, sign, path.with_levels(levels)))
        return out

    return _by_period(search, start, moves, _with_level_of, step, 0.02)


def _split_moves(path: PlanPath, step: float) -> list[tuple[int, Any, PlanPath]]:
    """(period, move, plan): `step` of one period's budget moved between two purposes."""
    out = []
    for k in range(path.n_periods):
        for a, b in itertools.permutations(range(3), 2):
            amount = min(step, path.shares[k, a])
            if amount <= 1e-12:
                continue
            s = path.shares.copy()
            s[k, a] -= amount
            s[k, b] += amount
            out.append((k, (a, b), path.with_shares(s)))
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

    Speed (see the module docstring): the combination is valued with the moves around it (the next round's
    batch if it wins, as it usually does), at this step and half of it, and with the combination the same
    picks lead to once more (a run) and the moves around that, so a round costs one batch or none."""
    best = start
    for _ in range(40):
        path = best[0]
        moves = moves_of(path, step)
        if not moves:
            break
        half = [m[2] for m in moves_of(path, step / 2.0)] if step / 2.0 >= min_step else []
        values = search.values([m[2] for m in moves], half)
        picks = _picks(moves, values, best[1])
        if not picks:
            step /= 2.0
            if step < min_step:
                break
            continue
        together = merge(path, {k: m[2] for k, m in picks.items()})
        single = int(np.argmax(values))
        checked = search.values([together], _period_ahead(together, picks, moves_of, merge, step, min_step))
        if checked[0] >= values[single] and _improves(checked[0], best[1]):
            best = (together, float(checked[0]))
        elif _improves(values[single], best[1]):
            best = (moves[single][2], float(values[single]))
        else:
            step /= 2.0
            if step < min_step:
                break
    return best


def _picks(moves: list, values: np.ndarray, best: float) -> dict[int, tuple]:
    """period -> its best move (period, move, plan) that improves on `best`, periods without one left out."""
    picks = {}
    for k in sorted({m[0] for m in moves}):
        i = max((i for i, m in enumerate(moves) if m[0] == k), key=lambda i: values[i])
        if _improves(values[i], best):
            picks[k] = moves[i]
    return picks


def _period_ahead(together: PlanPath, picks: dict, moves_of, merge, step: float, min_step: float) -> list[PlanPath]:
    """What the next round of `_by_period` will likely ask for, if the combination wins: the moves around it
    (at the step and half of it), and the combination of the same picks once more with the moves around it."""
    out = []
    for _ in range(2):
        moves = moves_of(together, step)
        out += [m[2] for m in moves]
        if step / 2.0 >= min_step:
            out += [m[2] for m in moves_of(together, step / 2.0)]
        again = {m[0]: m for m in moves if m[0] in picks and m[1] == picks[m[0]][1]}
        if len(again) < len(picks):
            break
        together = merge(together, {k: m[2] for k, m in again.items()})
        out.append(together)
    return out
