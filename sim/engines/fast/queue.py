"""The fast engine's shop teams: fulfilment and customer service as fluid queues with daily slots.

The agent engine's team is a SimPy container refilled to its capacity each morning (unused slots do not
carry over); here the same team is worked out in closed form for a day's arrivals spread evenly over the
day, with the expected overflow when the arrivals are an expectation of a random count.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from scipy.special import ndtr


class QueueDay(NamedTuple):
    """One day of a team's queue: how long the day's arrivals wait and what is left for tomorrow (a named
    tuple: the lean loop makes two a busy day, speed)."""

    mean_wait: np.ndarray  # days, averaged over the day's arrivals
    mean_decay: np.ndarray | None  # average of exp(-wait / tolerance): the share of satisfaction that survives
    in_time: np.ndarray | None  # share of the day's arrivals waiting at most `target` days
    backlog: np.ndarray  # arrivals still waiting at the end of the day
    # (mean_decay or in_time is None when the caller did not ask for it: `capacity_queue`'s flags)


def daily_capacity_queue(
    backlog, arrivals, capacity, tolerance=1.0, target=0.0, arrival_sd=None, max_segments: int = 6
) -> QueueDay:
    """One day of a team that gets `capacity` slots every morning, as in the agent engine.

    The agent's team is a SimPy container refilled to `capacity` each morning (unused slots do not carry
    over). Items still waiting from earlier days take the morning's slots first, in order; the day's
    arrivals, spread evenly over the day (a fluid), take what is left; the rest queue and are served on
    later mornings, `capacity` a morning. An arrival at time u of the day that is queued at position x
    waits 1 + floor(x / capacity) - u days. Averages over the day's arrivals are integrated in closed
    form, one whole-morning segment of the queue at a time (at most `max_segments`; a longer queue
    lumps its tail into the last segment).

    `arrival_sd`: when the arrivals are an expectation of a random count (expected mode), the overflow
    is the expected overflow E[(backlog + N - capacity)+] for N ~ Normal(arrivals, arrival_sd^2), so a
    queue starts to form, as in the agent engine, before the mean demand reaches the capacity.
    """
    backlog = np.asarray(backlog, dtype=float)
    A = np.asarray(arrivals, dtype=float)
    c = np.asarray(capacity, dtype=float)
    margin = 0.0 if arrival_sd is None else 8.0 * np.asarray(arrival_sd, dtype=float)
    if not np.any(backlog + A + margin > c):  # speed: no team near its capacity today
        zero = np.zeros(np.broadcast(backlog, A, c).shape)
        return QueueDay(mean_wait=zero, mean_decay=zero + 1.0, in_time=zero + 1.0, backlog=zero)
    return _queue_near_capacity(backlog, A, c, tolerance, target, arrival_sd, max_segments)


_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _queue_near_capacity(
    backlog, A, c, tolerance, target, arrival_sd, max_segments: int = 6, decay: bool = True, in_time: bool = True
) -> QueueDay:
    """`daily_capacity_queue` after its quick exit (float arrays in). `decay`, `in_time`: whether to work out
    those averages (speed: the lean loop reads one of them per team)."""
    left = np.maximum(backlog - c, 0.0)  # still waiting after this morning's slots
    free = np.maximum(c - backlog, 0.0)  # slots left for today's arrivals
    immediate = np.minimum(A, free)
    over = A - immediate
    if arrival_sd is not None:
        sd = np.maximum(np.asarray(arrival_sd, dtype=float), 1e-9)
        x = backlog + A - c
        expected_end = sd * np.exp(-0.5 * (x / sd) ** 2) / _SQRT_2PI + x * ndtr(x / sd)
        over = np.minimum(np.maximum(expected_end - left, over), A)  # np.clip without its overhead (speed)
        immediate = A - over
    end = left + over
    total_wait = None
    total_decay = immediate.copy() if decay else None
    total_in_time = immediate * (target >= 0.0) if in_time else None
    queued = over > 0
    if queued.any():
        safe_a = np.where(A > 0, A, 1.0)
        if not left.any() and (end < c).all():
            # speed: the usual busy day, no backlog from yesterday and the overflow within one morning's
            # slots: the loop below with its one segment (j = 0, x1 = 0, x2 = end = over), written out
            segments = [(0.0, np.where(queued, over, 0.0), immediate / safe_a)]
        else:
            j0 = np.floor(left / c)
            n_seg = int(min(max_segments, np.max(np.where(queued, np.floor(end / c) - j0 + 1, 0))))
            segments = []
            for t in range(max(n_seg, 1)):
                j = j0 + t
                x1 = np.maximum(left, j * c)
                x2 = end if t == n_seg - 1 else np.minimum(end, (j + 1) * c)
                segments.append((j, np.where(queued, np.maximum(x2 - x1, 0.0), 0.0), (immediate + x1 - left) / safe_a))
        for j, count, u1 in segments:
            u2 = u1 + count / safe_a
            # count x (1 + j) - A (u2^2 - u1^2) / 2 with u2 - u1 = count / A, written without the difference of
            # nearly equal terms (a tiny overflow gets an accurate tiny wait, not rounding noise)
            seg_wait = count * (1.0 + j - 0.5 * (u1 + u2))
            total_wait = seg_wait if total_wait is None else total_wait + seg_wait
            if decay:
                total_decay += (
                    np.exp(-(1.0 + j) / tolerance)
                    * safe_a
                    * tolerance
                    * (np.exp(u2 / tolerance) - np.exp(u1 / tolerance))
                )
            if in_time:
                u_ok = np.maximum(u1, 1.0 + j - target)
                total_in_time += safe_a * np.maximum(u2 - u_ok, 0.0) * (count > 0)
    has = A > 0
    per_arrival = np.where(has, A, 1.0)
    return QueueDay(
        mean_wait=np.zeros_like(A) if total_wait is None else np.where(has, total_wait / per_arrival, 0.0),
        mean_decay=np.where(has, total_decay / per_arrival, 1.0) if decay else None,
        in_time=np.where(has, total_in_time / per_arrival, 1.0) if in_time else None,
        backlog=end,
    )


def _as_rows(x, S: int) -> np.ndarray:
    """A per-row value (S,) or a scalar as an (S,) float array (no copy when it already is one)."""
    if type(x) is np.ndarray and x.shape == (S,) and x.dtype == np.float64:
        return x
    return np.full(S, x, dtype=float) if np.ndim(x) == 0 else np.ascontiguousarray(np.broadcast_to(x, (S,)), float)


def _within_a_morning(backlog, arrivals, capacity, tolerance, target, arrival_sd, decay: bool, in_time: bool):
    """`capacity_queue` with an `arrival_sd` (expected mode) on the usual day: no row's backlog left after the
    morning's slots and every overflow within one morning's slots (`_queue_near_capacity`'s one-segment
    case). The arithmetic runs compiled (`_morning_start`, `_morning_end`, `_morning_decay`: the same
    operations in the same order, on every row, the rows not near their capacity set as without a queue),
    the exponentials and the normal distribution in NumPy and SciPy, as in `_queue_near_capacity` (their
    last bits are the libraries'). None on another day: the caller then runs the NumPy lines.

    The passes share one work array (rows `W_...`, speed: no array is made and handed back by each pass); the
    day's results are rows of it."""
    S = len(arrivals)
    b, a, c = _as_rows(backlog, S), _as_rows(arrivals, S), _as_rows(capacity, S)
    tol, tgt, sd_in = _as_rows(tolerance, S), _as_rows(target, S), _as_rows(arrival_sd, S)
    w = np.empty((_N_WORK, S))
    if not _morning_start(b, a, c, sd_in, w):  # the function's quick exit
        return QueueDay(np.zeros(S), np.ones(S) if decay else None, np.ones(S) if in_time else None, np.zeros(S))
    np.exp(w[W_Q], out=w[W_G])  # exp(-0.5 z^2)
    ndtr(w[W_Z], out=w[W_ND])
    one, queued = _morning_end(a, c, tol, tgt, decay, in_time, w)
    if not one:
        return None
    mean_decay = None
    if decay:
        e1 = np.exp(-1.0 / tol)
        np.exp(w[W_V1 : W_V2 + 1], out=w[W_EV1 : W_EV2 + 1])
        mean_decay = _morning_decay(a, tol, e1, queued, w)
    return QueueDay(w[W_WAIT], mean_decay, w[W_IN_TIME] if in_time else None, w[W_END])


# the work array's rows (`_within_a_morning`; V1, V2 and EV1, EV2 adjacent: one exponential call a pair)
(W_NEAR, W_LEFT, W_X, W_SD, W_Z, W_OVER0, W_Q, W_G, W_ND, W_IMMEDIATE,
 W_END, W_SAFE_A, W_V1, W_V2, W_EV1, W_EV2, W_WAIT, W_IN_TIME, W_COUNT, W_DECAY) = range(20)  # fmt: skip
_N_WORK = 20


@njit(cache=True, error_model="numpy")
def _max(a, b):
    """np.maximum of two floats (NaN kept)."""
    return a if (a >= b or a != a) else b


@njit(cache=True, error_model="numpy")
def _min(a, b):
    """np.minimum of two floats (NaN kept)."""
    return a if (a <= b or a != a) else b


@njit(cache=True, error_model="numpy")
def _morning_start(backlog, A, c, arrival_sd, w):
    """`capacity_queue`'s test of the rows near their capacity and `_queue_near_capacity`'s lines up to the
    normal distribution's argument z = (backlog + A - c) / sd, into the work rows (z = 0 on rows not near:
    not used); whether any row is near."""
    S = A.shape[0]
    any_near = False
    for s in range(S):
        near = backlog[s] + A[s] + 8.0 * arrival_sd[s] > c[s]
        w[W_NEAR, s] = 1.0 if near else 0.0
        if not near:
            w[W_LEFT, s], w[W_X, s], w[W_SD, s], w[W_Z, s], w[W_OVER0, s], w[W_Q, s] = 0.0, 0.0, 1.0, 0.0, 0.0, 0.0
            continue
        any_near = True
        w[W_LEFT, s] = _max(backlog[s] - c[s], 0.0)
        free = _max(c[s] - backlog[s], 0.0)
        w[W_OVER0, s] = A[s] - _min(A[s], free)
        w[W_SD, s] = _max(arrival_sd[s], 1e-9)
        w[W_X, s] = backlog[s] + A[s] - c[s]
        z = w[W_X, s] / w[W_SD, s]
        w[W_Z, s] = z
        w[W_Q, s] = -0.5 * (z * z)  # -0.5 * z**2 (NumPy squares by z * z)
    return any_near


@njit(cache=True, error_model="numpy")
def _morning_end(A, c, tol, target, decay, in_time, w):
    """`_queue_near_capacity`'s lines after the normal distribution (row g: its density's exponential, nd: its
    distribution function at z), for its one-segment case, into the work rows: (whether that case applies,
    whether any row queues)."""
    S = A.shape[0]
    any_left, all_within, any_queued = False, True, False
    for s in range(S):
        w[W_IMMEDIATE, s], w[W_END, s], w[W_SAFE_A, s], w[W_COUNT, s] = 0.0, 0.0, 1.0, 0.0
        w[W_V1, s], w[W_V2, s], w[W_WAIT, s], w[W_IN_TIME, s] = 0.0, 0.0, 0.0, 1.0
        if w[W_NEAR, s] == 0.0:
            continue
        expected_end = w[W_SD, s] * w[W_G, s] / _SQRT_2PI + w[W_X, s] * w[W_ND, s]
        over = _min(_max(expected_end - w[W_LEFT, s], w[W_OVER0, s]), A[s])
        w[W_IMMEDIATE, s] = A[s] - over
        w[W_END, s] = w[W_LEFT, s] + over
        if w[W_LEFT, s] != 0.0:  # left.any() (NaN counts)
            any_left = True
        if not w[W_END, s] < c[s]:
            all_within = False
        if over > 0.0:
            any_queued = True
            w[W_COUNT, s] = over
    if any_left or not all_within:
        return False, any_queued
    for s in range(S):
        if w[W_NEAR, s] == 0.0:
            continue
        has = A[s] > 0.0
        per_arrival = A[s] if has else 1.0
        immediate, count = w[W_IMMEDIATE, s], w[W_COUNT, s]
        total_in_time = immediate * (1.0 if target[s] >= 0.0 else 0.0)
        if any_queued:  # the one segment: j = 0, from x1 = 0 to x2 = the overflow
            safe_a = A[s] if A[s] > 0.0 else 1.0
            u1 = immediate / safe_a
            u2 = u1 + count / safe_a
            w[W_SAFE_A, s] = safe_a
            total_wait = count * (1.0 + 0.0 - 0.5 * (u1 + u2))
            w[W_WAIT, s] = total_wait / per_arrival if has else 0.0
            if decay:
                w[W_V1, s], w[W_V2, s] = u1 / tol[s], u2 / tol[s]
            if in_time:
                u_ok = _max(u1, 1.0 + 0.0 - target[s])
                total_in_time += safe_a * _max(u2 - u_ok, 0.0) * (1.0 if count > 0.0 else 0.0)
        w[W_IN_TIME, s] = total_in_time / per_arrival if has else 1.0
    return True, any_queued


@njit(cache=True, error_model="numpy")
def _morning_decay(A, tol, e1, any_queued, w):
    """`_queue_near_capacity`'s mean decay for its one-segment case (row decay of the work array, returned),
    from e1 = exp(-1 / tolerance) and the work rows ev1 = exp(u1 / tolerance), ev2 = exp(u2 / tolerance)."""
    S = A.shape[0]
    out = w[W_DECAY]
    for s in range(S):
        out[s] = 1.0
        if w[W_NEAR, s] == 0.0:
            continue
        total = w[W_IMMEDIATE, s]
        if any_queued:
            total += e1[s] * w[W_SAFE_A, s] * tol[s] * (w[W_EV2, s] - w[W_EV1, s])
        out[s] = total / A[s] if A[s] > 0.0 else 1.0
    return out


def capacity_queue(
    backlog: np.ndarray,
    arrivals: np.ndarray,
    capacity: np.ndarray,
    tolerance: np.ndarray | float,
    target: np.ndarray | float,
    arrival_sd: np.ndarray | None,
    near: np.ndarray | None = None,
    decay: bool = True,
    in_time: bool = True,
) -> QueueDay:
    """`daily_capacity_queue` run on the rows near their capacity today only (speed: a big batch has a
    few busy rows on a day; the others have no queue, as in the function's own quick exit). `near`: the
    rows' test `backlog + arrivals + 8 arrival_sd > capacity`, when the caller has it. `decay`, `in_time`:
    as in `_queue_near_capacity` (an average not asked for is None)."""
    if arrival_sd is not None and near is None:  # speed: the usual day of expected mode, compiled
        day = _within_a_morning(backlog, arrivals, capacity, tolerance, target, arrival_sd, decay, in_time)
        if day is not None:
            return day
    if near is None:
        margin = 0.0 if arrival_sd is None else 8.0 * arrival_sd
        near = backlog + arrivals + margin > capacity
    S = len(near)
    if not near.any():  # the function's quick exit, without its checks
        ones = np.ones(S)
        return QueueDay(
            mean_wait=np.zeros(S),
            mean_decay=ones if decay else None,
            in_time=ones if in_time else None,
            backlog=np.zeros(S),
        )
    every = bool(near.all())
    idx = None if every else np.flatnonzero(near)

    def pick(x: np.ndarray | float | None) -> np.ndarray | float | None:
        # speed: an isinstance test, not np.ndim (a scalar or None passes as it is)
        return x[idx] if not every and isinstance(x, np.ndarray) and x.ndim else x

    # the rows picked are all near their capacity: the function's own test would pass (speed: skipped)
    sub = _queue_near_capacity(
        np.asarray(pick(backlog), dtype=float),
        np.asarray(pick(arrivals), dtype=float),
        np.asarray(pick(capacity), dtype=float),
        pick(tolerance),
        pick(target),
        pick(arrival_sd),
        decay=decay,
        in_time=in_time,
    )
    if every:
        return sub

    # every row back in place, the others as without a queue: no wait, all satisfaction kept, all in time
    out = np.zeros((4, S))
    out[1:3] = 1.0
    for row, x in enumerate(sub):
        if x is not None:
            out[row, idx] = x
    wait, decay_share, in_time_share, left = out
    return QueueDay(wait, decay_share if decay else None, in_time_share if in_time else None, left)
