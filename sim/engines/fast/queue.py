"""The fast engine's shop teams: fulfilment and customer service as fluid queues with daily slots.

The agent engine's team is a SimPy container refilled to its capacity each morning (unused slots do not
carry over); here the same team is worked out in closed form for a day's arrivals spread evenly over the
day, with the expected overflow when the arrivals are an expectation of a random count.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
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
