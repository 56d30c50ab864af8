"""The fast engine: the agent engine's model as daily NumPy steps over a batch of scenarios at once.

Instead of following each person, the engine keeps counts of people: how many are unaware, aware,
customer, loyal or lapsed, in each scenario of the batch (the first array axis). Customers differ in how
often they buy and how easily they drop out (the MBG/NBD Gamma and Beta); that heterogeneity is kept by
splitting the customers into latent classes placed at Gauss quadrature nodes of the two distributions
(Gauss-generalized-Laguerre for the Gamma purchase rate, Gauss-Jacobi for the Beta dropout chance,
tensor product: 8 x 4 = 32 classes by default). Each class follows the model exactly; only the
integral over customers is replaced by a weighted sum, so selection effects (the quick droppers leave
first, the heavy buyers stay) happen as they do in the agent engine.

A day runs in the agent engine's order: the back-end multipliers from spend per active customer;
awareness from ads and referrals; aware people buy for the first time or forget; win-back contacts
reactivate lapsed people; customers order at their class's rate; every order is judged (its delay
comes from a fluid fulfilment queue, its complaint from a fluid customer-service queue); after each
order a customer may drop out, step up to loyal or fall back.

Two modes share one code path:
- "expected": every flow is its expectation (no draws, deterministic, fastest), for sweeps and the
  optimizer; without the acquired-customer detail (`detail=False`, the optimizer's sweeps) a day runs
  in a loop of its own (`_lean_days`): the same arithmetic, regrouped, in place on preallocated buffers;
- "sampled": flows are binomial, Poisson and multinomial draws from one seeded Generator, for Monte
  Carlo bands.

Lapsed people are remembered by class and by their "decayed weight": the win-back response fades
exponentially with calendar months since lapsing (`winback.reactivation_probability`), so the sum over a
class's lapsed people of exp(-months/decay) and of its square are all the engine needs to reproduce
the agent's month-by-month lapse buckets without a cap on how old a lapse can be.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import ndtr, roots_genlaguerre, roots_jacobi
from tqdm.auto import tqdm

from sim.model import acquisition, budget, calendar, experience, money, retention, winback
from sim.model.base import existing_customers
from sim.model.result import COUNTED_FLOWS, EXTRA_COLUMNS, FLOW_COLUMNS, STAGES, SimulationResult, finish_money
from sim.model.scenario import PURPOSES, Scenario

MODES = ("expected", "sampled")
DEFAULT_RATE_CLASSES = 8
DEFAULT_DROPOUT_CLASSES = 4
CHUNK_ROWS = 50  # rows of a batch that share one random stream (fixed, so results do not depend on --workers)

# raw daily columns the loop writes (the money columns are derived later by `finish_money`)
RAW_COLUMNS = [*STAGES, *COUNTED_FLOWS]  # fulfilment_delay_days: total delay in the loop; per order in the result
_COL = {name: i for i, name in enumerate(RAW_COLUMNS)}

# groups of active and lapsed people, for the order accounting the KPIs need
_EXISTING, _ONE_ORDER, _REPEAT = 0, 1, 2  # existing base; acquired with one order; acquired with two or more
_CUSTOMER, _LOYAL = 0, 1


# -- latent classes ------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def latent_classes(
    r: float,
    alpha: float,
    a: float,
    b: float,
    n_rate: int = DEFAULT_RATE_CLASSES,
    n_dropout: int = DEFAULT_DROPOUT_CLASSES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(purchase rate per day, dropout chance, weight) of each latent class, flattened (K,).

    lambda ~ Gamma(r, scale 1/alpha): Gauss-generalized-Laguerre nodes x_i with weight x^(r-1) e^-x give
    lambda_i = x_i / alpha. p ~ Beta(a, b): Gauss-Jacobi nodes on [-1, 1] with weight
    (1-x)^(b-1) (1+x)^(a-1) give p_j = (1 + x_j) / 2. The weights are normalised to add up to 1, so the
    classes reproduce the first 2n-1 moments of each distribution exactly.
    """
    x, wx = roots_genlaguerre(n_rate, r - 1.0)
    y, wy = roots_jacobi(n_dropout, b - 1.0, a - 1.0)
    lam = np.asarray(x, dtype=float) / alpha
    p = np.clip((1.0 + np.asarray(y, dtype=float)) / 2.0, 0.0, 1.0)
    w_lam = np.asarray(wx, dtype=float) / np.sum(wx)
    w_p = np.asarray(wy, dtype=float) / np.sum(wy)
    lam_k = np.repeat(lam, n_dropout)
    p_k = np.tile(p, n_rate)
    w_k = np.outer(w_lam, w_p).ravel()
    for arr in (lam_k, p_k, w_k):
        arr.setflags(write=False)
    return lam_k, p_k, w_k


def class_weights(
    purchase_rate: np.ndarray, dropout: np.ndarray, lam_k: np.ndarray, p_k: np.ndarray, n_dropout: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each person spread over the (up to) four latent classes around them: (classes (n, 4), weights (n, 4)).

    Along each axis a person between two nodes goes to both, in proportion to closeness (linear
    interpolation), so the mean purchase rate and dropout chance of a group are kept exactly (a nearest
    node would bias them: the nodes are far apart); beyond the outermost nodes a person goes to the outermost.
    """
    lam_nodes = lam_k[::n_dropout]
    p_nodes = p_k[:n_dropout]

    def bracket(x: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(nodes) == 1:
            return np.zeros(len(x), dtype=np.int64), np.zeros(len(x))
        i = np.clip(np.searchsorted(nodes, x) - 1, 0, len(nodes) - 2)
        share = np.clip((x - nodes[i]) / (nodes[i + 1] - nodes[i]), 0.0, 1.0)
        return i, share

    i, a = bracket(np.asarray(purchase_rate, dtype=float), lam_nodes)
    j, b = bracket(np.asarray(dropout, dtype=float), p_nodes)
    j1 = np.minimum(j + 1, len(p_nodes) - 1)
    i1 = np.minimum(i + 1, len(lam_nodes) - 1)
    classes = np.stack([i * n_dropout + j, i1 * n_dropout + j, i * n_dropout + j1, i1 * n_dropout + j1], axis=1)
    weights = np.stack([(1 - a) * (1 - b), a * (1 - b), (1 - a) * b, a * b], axis=1)
    return classes, weights


# -- draws: one code path, two modes ---------------------------------------------------------------


class _Expected:
    """Flows as expectations: a binomial is n * p, a Poisson its mean (deterministic)."""

    draws = 0

    @staticmethod
    def binomial(n, p):
        return n * np.minimum(np.maximum(p, 0.0), 1.0)  # np.clip, without its Python-level overhead (speed)

    @staticmethod
    def poisson(lam):
        return lam

    @staticmethod
    def multinomial(n, pvals):
        return n[..., None] * pvals

    @staticmethod
    def gamma_sum(count, shape, unit):
        """Sum of `count` order values with mean `unit`."""
        return count * unit

    @staticmethod
    def orders(people, rate):
        """Orders placed today by `people` buying at `rate` a day (Euler step: at most one each)."""
        return people * np.minimum(rate, 1.0)

    @staticmethod
    def fates(orderers, drop, step_up, fall_back):
        """(dropped out, customers stepping up to loyal, loyal falling back) among (G, 2, S, K) orderers.

        The chances are per order and joint (drop, or stay and step): expectations need no division.
        """
        return orderers * drop[None], orderers[:, _CUSTOMER] * step_up[None], orderers[:, _LOYAL] * fall_back[None]

    @staticmethod
    def comebacks(lapsed, weight1, weight2, chance):
        """(reactivated, weights left) of lapsed people contacted with per-weight `chance` (S,).

        A lapsed person with weight w = exp(-months since lapse / decay) comes back with chance * w, so a
        class comes back in expectation chance * sum(w) = chance * W1 and takes away chance * W2 of W1;
        W2 loses chance * sum(w^3), closed as W2^2 / W1 (exact when a class's lapses have one age).
        """
        c = chance[None, :, None]
        react = c * weight1
        w2_left = weight2 - c * _safe_div(weight2 * weight2, weight1)
        return react, np.maximum(weight1 - c * weight2, 0.0), np.maximum(w2_left, 0.0)

    @staticmethod
    def zeros(shape):
        return np.zeros(shape)

    @staticmethod
    def to_count(x):
        return np.asarray(x, dtype=float)

    @staticmethod
    def sd(expected_count):
        """Spread of a Poisson count with this mean (the queues' expected overflow needs it)."""
        return np.sqrt(np.maximum(expected_count, 0.0))


class _Sampled:
    """Flows as draws from one seeded Generator; counts stay whole numbers."""

    def __init__(self, rng: np.random.Generator, trace_days: Sequence[int] | None = None):
        self.rng = rng
        self.draws = 0  # how many scalar draws were made (the benchmark compares with a bare loop)
        self.day = -1
        self.trace_days = set(trace_days or ())  # the benchmark records these days' (n, p) and Poisson means
        self.trace: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        self._pvals: np.ndarray | None = None  # the last multinomial's chances, and them normalised
        self._p: np.ndarray | None = None

    def binomial(self, n, p):
        n = np.asarray(n)
        self.draws += n.size
        p = np.minimum(np.maximum(p, 0.0), 1.0)  # np.clip, without its Python-level overhead (speed)
        if self.day in self.trace_days:
            shape = np.broadcast(n, p).shape
            self.trace.append(
                ("binomial", np.broadcast_to(n, shape).ravel().copy(), np.broadcast_to(p, shape).ravel().copy())
            )
        return self.rng.binomial(n, p)

    def poisson(self, lam):
        lam = np.asarray(lam)
        self.draws += lam.size
        if self.day in self.trace_days:
            self.trace.append(("poisson", lam.ravel().copy(), None))
        return self.rng.poisson(lam)

    def multinomial(self, n, pvals):
        self.draws += np.asarray(n).size * pvals.shape[-1]
        if pvals is not self._pvals:  # speed: the class weights are the same every day, normalise once
            self._pvals, self._p = pvals, pvals / pvals.sum(axis=-1, keepdims=True)
        return self.rng.multinomial(n, self._p)

    def gamma_sum(self, count, shape, unit):
        """Sum of `count` Gamma(shape) order values of mean `unit`: one Gamma(count * shape) draw."""
        count = np.asarray(count)
        self.draws += count.size
        k = np.maximum(count * shape, 1e-300)
        return np.where(count > 0, self.rng.gamma(k, unit / shape), 0.0)

    def orders(self, people, rate):
        """Orders placed today: Poisson at the people's rate, at most one each (the daily step)."""
        return np.minimum(self.poisson(people * rate), people)

    def fates(self, orderers, drop, step_up, fall_back):
        """Drop out with `drop`; of those who stay, customers step up with step_up / (1 - drop) and loyal
        customers fall back with fall_back / (1 - drop) (chained binomials)."""
        dropped = self.binomial(orderers, drop[None])
        stay = orderers - dropped
        up = self.binomial(stay[:, _CUSTOMER], _safe_div(step_up, 1.0 - drop[_CUSTOMER])[None])
        down = self.binomial(stay[:, _LOYAL], _safe_div(fall_back, 1.0 - drop[_LOYAL])[None])
        return dropped, up, down

    def comebacks(self, lapsed, weight1, weight2, chance):
        """Reactivations drawn per class with chance * (mean weight); the people who come back take away
        their expected weights (they are drawn in proportion to weight)."""
        react = self.binomial(lapsed, chance[None, :, None] * _safe_div(weight1, lapsed))
        mean_w = _safe_div(weight2, weight1)
        w1 = np.maximum(weight1 - react * mean_w, 0.0)
        w2 = np.maximum(weight2 - react * mean_w * mean_w, 0.0)
        return react, w1, w2

    @staticmethod
    def zeros(shape):
        return np.zeros(shape, dtype=np.int64)

    @staticmethod
    def to_count(x):
        return np.rint(np.asarray(x, dtype=float)).astype(np.int64)

    @staticmethod
    def sd(count):
        """Drawn counts are already random: no smoothing."""
        return None


def _safe_div(num, den):
    """num / den where den > 0, else 0 (shares of empty groups)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


class QueueDay(NamedTuple):
    """One day of a team's queue: how long the day's arrivals wait and what is left for tomorrow (a named
    tuple: the lean loop makes two a busy day, speed)."""

    mean_wait: np.ndarray  # days, averaged over the day's arrivals
    mean_decay: np.ndarray | None  # average of exp(-wait / tolerance): the share of satisfaction that survives
    in_time: np.ndarray | None  # share of the day's arrivals waiting at most `target` days
    backlog: np.ndarray  # arrivals still waiting at the end of the day
    # (mean_decay or in_time is None when the caller did not ask for it: `_capacity_queue`'s flags)


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
            seg_wait = count * (1.0 + j) - safe_a * (u2 * u2 - u1 * u1) / 2.0
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


def _capacity_queue(
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


# -- the batch's parameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Params:
    """Each scenario's levers as arrays over the batch (S,) or (S, K), read once before the loop."""

    N: np.ndarray
    conv: np.ndarray
    page: np.ndarray
    offer: np.ndarray
    forget: np.ndarray
    wom_impact: np.ndarray
    per_loyal_day: np.ndarray
    eff: np.ndarray
    rate_up: np.ndarray
    drop_red: np.ndarray
    value_up: np.ndarray
    half_sat: np.ndarray
    value_mean: np.ndarray
    value_shape: np.ndarray
    experience: tuple[np.ndarray, ...]  # reliability, tolerance, proactive cov, rescue, delight cov/prob, baseline
    exp_mult: np.ndarray  # (3, S): dropout multiplier by outcome
    step: np.ndarray  # (3, S): chance to become loyal by outcome
    demote: np.ndarray
    loyal_rate: np.ndarray
    loyal_drop: np.ndarray
    loyal_value: np.ndarray
    cap_fulfil: np.ndarray
    cap_service: np.ndarray
    complaint_share: np.ndarray
    recovery: np.ndarray
    target_days: np.ndarray
    react0: np.ndarray  # reactivation chance of a contacted person who lapsed this month
    react_decay: np.ndarray  # factor on that chance per calendar month since lapsing
    lam: np.ndarray  # (S, K)
    p: np.ndarray  # (S, K)
    w: np.ndarray  # (S, K)
    margin: np.ndarray
    cost_per_order: np.ndarray
    discount_rate: np.ndarray


def _stack(scenarios: Sequence[Scenario], get) -> np.ndarray:
    return np.array([float(get(s)) for s in scenarios], dtype=float)


def _params(scenarios: Sequence[Scenario], n_rate: int, n_dropout: int) -> _Params:
    """The batch's parameters; a scenario repeated over many rows is read once (speed)."""
    index: dict[int, int] = {}
    unique: list[Scenario] = []
    rows = np.empty(len(scenarios), dtype=np.int64)
    for i, s in enumerate(scenarios):
        if id(s) not in index:
            index[id(s)] = len(unique)
            unique.append(s)
        rows[i] = index[id(s)]
    P = _read_params(unique, n_rate, n_dropout)
    if len(unique) == len(scenarios) and np.array_equal(rows, np.arange(len(rows))):
        return P
    taken = {}
    for name in P.__dataclass_fields__:
        value = getattr(P, name)
        if isinstance(value, tuple):
            taken[name] = tuple(v[rows] for v in value)
        elif name in ("exp_mult", "step"):
            taken[name] = value[:, rows]
        else:
            taken[name] = value[rows]
    return _Params(**taken)


def _read_params(scenarios: Sequence[Scenario], n_rate: int, n_dropout: int) -> _Params:
    S = scenarios
    ret = [s.retention for s in S]
    eff = np.array(
        [
            retention.backend_effectiveness(
                r.first_party_data_share, r.marketplace_effectiveness, r.targeting_precision
            )
            for r in ret
        ]
    )
    shapes = _stack(S, lambda s: money.gamma_order_value(1.0, s.economics.order_value_cv)[0])
    react0 = _stack(
        S,
        lambda s: winback.reactivation_probability(
            s.winback.base_reactivation, 0.0, s.winback.decay_months, s.retention.targeting_precision
        ),
    )
    react1 = _stack(
        S,
        lambda s: winback.reactivation_probability(
            s.winback.base_reactivation, 1.0, s.winback.decay_months, s.retention.targeting_precision
        ),
    )
    react2 = _stack(
        S,
        lambda s: winback.reactivation_probability(
            s.winback.base_reactivation, 2.0, s.winback.decay_months, s.retention.targeting_precision
        ),
    )
    decay = _safe_div(react1, react0)
    if np.any(np.abs(react2 - react1 * decay) > 1e-9 * np.maximum(react0, 1e-300)):
        raise ValueError("the fast engine needs a win-back response that fades exponentially with months since lapse")
    classes = [
        latent_classes(
            s.repeat_purchase.r, s.repeat_purchase.alpha, s.repeat_purchase.a, s.repeat_purchase.b, n_rate, n_dropout
        )
        for s in S
    ]
    e = [s.experience for s in S]
    return _Params(
        N=_stack(S, lambda s: s.market.size),
        conv=_stack(S, lambda s: s.first_purchase.monthly_conversion),
        page=_stack(S, lambda s: s.first_purchase.landing_page_quality),
        offer=_stack(S, lambda s: s.first_purchase.offer_strength),
        forget=_stack(S, lambda s: s.first_purchase.forgetting_per_month),
        wom_impact=_stack(S, lambda s: s.first_purchase.negative_wom_impact),
        per_loyal_day=_stack(S, lambda s: s.referral.contacts_per_loyal_per_month / calendar.DAYS_PER_MONTH),
        eff=eff,
        rate_up=_stack(S, lambda s: s.retention.purchase_rate_uplift_max),
        drop_red=_stack(S, lambda s: s.retention.dropout_reduction_max),
        value_up=_stack(S, lambda s: s.retention.order_value_uplift_max),
        half_sat=_stack(S, lambda s: s.retention.half_saturation_per_customer),
        value_mean=_stack(S, lambda s: s.economics.order_value_mean),
        value_shape=shapes,
        experience=tuple(
            np.array([getattr(x, f) for x in e], dtype=float)
            for f in (
                "reliability",
                "delay_tolerance_days",
                "proactive_coverage",
                "proactive_rescue",
                "delight_coverage",
                "delight_probability",
                "baseline_delight",
            )
        ),
        exp_mult=np.array(
            [
                [x.dissatisfied_dropout_multiplier for x in e],
                [1.0] * len(e),
                [x.delighted_dropout_multiplier for x in e],
            ]
        ),
        step=np.array(
            [
                [0.0] * len(S),
                [s.loyalty.step_probability_satisfied for s in S],
                [s.loyalty.step_probability_delighted for s in S],
            ]
        ),
        demote=_stack(S, lambda s: s.loyalty.demote_on_dissatisfied),
        loyal_rate=_stack(S, lambda s: s.loyalty.purchase_rate_multiplier),
        loyal_drop=_stack(S, lambda s: s.loyalty.dropout_multiplier),
        loyal_value=_stack(S, lambda s: s.loyalty.order_value_multiplier),
        # the agent's SimPy resources have a whole number of slots
        cap_fulfil=_stack(S, lambda s: max(1, int(round(s.operations.fulfilment_capacity_per_day)))),
        cap_service=_stack(S, lambda s: max(1, int(round(s.operations.service_capacity_per_day)))),
        complaint_share=_stack(S, lambda s: s.operations.complaint_share),
        recovery=_stack(S, lambda s: s.operations.service_recovery),
        target_days=_stack(S, lambda s: s.operations.service_target_days),
        react0=react0,
        react_decay=decay,
        lam=np.stack([c[0] for c in classes]),
        p=np.stack([c[1] for c in classes]),
        w=np.stack([c[2] for c in classes]),
        margin=_stack(S, lambda s: s.economics.gross_margin),
        cost_per_order=_stack(S, lambda s: s.economics.fulfilment_cost_per_order + money.experience_cost_per_order(s)),
        discount_rate=_stack(S, lambda s: s.economics.annual_discount_rate),
    )


@dataclass(frozen=True)
class _MonthlyPlan:
    """The batch's spend turned into monthly per-day drivers (S, M)."""

    front_contacts_day: np.ndarray  # people reached per day, all channels
    winback_contacts_day: np.ndarray  # win-back contacts per day
    backend_effective: np.ndarray  # back-end spend per month weighted by channel efficiency
    spend_day: np.ndarray  # (S, M, 3) spend per day by purpose


def _monthly_plan(scenarios: Sequence[Scenario], spend: np.ndarray, days_in_month: np.ndarray) -> _MonthlyPlan:
    """Reach, win-back contacts and back-end weight of each month (as `budget.build_plan`, batched)."""
    channels = list(scenarios[0].channels)
    S, M, C, _ = spend.shape
    reach = np.zeros((S, M))
    cost = np.zeros((S, C))
    eff = np.zeros((S, C))
    for c, name in enumerate(channels):
        chans = [s.channels[name] for s in scenarios]
        cost[:, c] = [ch.winback_cost_per_contact for ch in chans]
        eff[:, c] = [ch.backend_efficiency for ch in chans]
        kinds = np.array([ch.reach.kind for ch in chans])
        for kind in np.unique(kinds):
            rows = kinds == kind
            sel = [ch for ch, k in zip(chans, rows, strict=True) if k]
            reach[rows] += acquisition.reach_per_month(
                spend[rows, :, c, 0],
                np.array([ch.reach.max_reach for ch in sel])[:, None],
                np.array([ch.reach.half_saturation for ch in sel])[:, None],
                np.array([ch.reach.shape for ch in sel])[:, None],
                str(kind),
            )
    per_day = 1.0 / days_in_month
    return _MonthlyPlan(
        front_contacts_day=reach * per_day,
        winback_contacts_day=(spend[:, :, :, 2] / cost[:, None, :]).sum(axis=2) * per_day,
        backend_effective=(spend[:, :, :, 1] * eff[:, None, :]).sum(axis=2),
        spend_day=spend.sum(axis=2) * per_day[None, :, None],
    )


# -- the batch result ---------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What a batch run produced, per scenario (first axis).

    `monthly` (S, M, len(RAW_COLUMNS)) holds flows summed by month and stage counts at month end
    (`fulfilment_delay_days` summed over orders); `daily` (S, D, ...) is kept when asked for.
    """

    scenarios: list[Scenario]
    spend: np.ndarray  # (S, M, C, 3)
    mode: str
    dates: pd.DatetimeIndex
    month_of_day: np.ndarray
    monthly: np.ndarray
    npv: np.ndarray  # (S,) discounted contribution
    cohort: np.ndarray  # (S, 2): active 365 days before the end, still active at the end
    daily: np.ndarray | None = None
    seeds: list[int] = field(default_factory=list)
    draws: int = 0
    trace: list = field(default_factory=list, repr=False)

    @property
    def n(self) -> int:
        return len(self.scenarios)

    def column(self, name: str) -> np.ndarray:
        """(S, M) monthly values of a raw column."""
        return self.monthly[:, :, _COL[name]]

    def money(self) -> dict[str, np.ndarray]:
        """(S, M) monthly money columns, by the same formulas as `finish_money`."""
        margin = np.array([s.economics.gross_margin for s in self.scenarios])[:, None]
        per_order = np.array(
            [s.economics.fulfilment_cost_per_order + money.experience_cost_per_order(s) for s in self.scenarios]
        )[:, None]
        revenue, orders = self.column("revenue"), self.column("orders")
        gross_profit = revenue * margin - orders * per_order
        spend = self.column("spend_front") + self.column("spend_back") + self.column("spend_winback")
        gpa = self.column("revenue_acquired") * margin - self.column("orders_acquired") * per_order
        return {"gross_profit": gross_profit, "contribution": gross_profit - spend, "gross_profit_acquired": gpa}

    def kpi_vectors(self) -> dict[str, np.ndarray]:
        """Headline figures of every scenario, as (S,) arrays (the optimizer's objectives among them)."""
        money = self.money()
        last = self.monthly[:, -1]
        front = self.column("spend_front")
        gap = np.cumsum(money["gross_profit_acquired"] - front, axis=1)
        paid = (gap >= 0) & (np.cumsum(front, axis=1) > 0)
        payback = np.where(paid.any(axis=1), paid.argmax(axis=1) + 1.0, np.nan)
        new = self.column("new_customers").sum(axis=1)
        return {
            "cumulative_contribution": money["contribution"].sum(axis=1),
            "npv": self.npv.copy(),
            "revenue": self.column("revenue").sum(axis=1),
            "gross_profit": money["gross_profit"].sum(axis=1),
            "customers_at_horizon": last[:, _COL["customer"]] + last[:, _COL["loyal"]],
            "new_customers": new,
            "orders": self.column("orders").sum(axis=1),
            "payback_months": payback,
            "cac": _safe_div(front.sum(axis=1), new),
            "marketing_spend": self.spend.sum(axis=(1, 2, 3)),
        }

    def result(self, i: int = 0, seed: int | None = None) -> SimulationResult:
        """The `SimulationResult` of scenario i (needs `keep_daily=True`)."""
        if self.daily is None:
            raise ValueError("this batch was run without keep_daily=True; no daily table to return")
        s = self.scenarios[i]
        daily = pd.DataFrame(self.daily[i], index=self.dates, columns=RAW_COLUMNS)
        orders = daily["orders"].to_numpy()
        daily["fulfilment_delay_days"] = daily["fulfilment_delay_days"].to_numpy() / np.maximum(orders, 1.0)
        finish_money(daily, s, money.experience_cost_per_order(s))
        daily = daily[STAGES + FLOW_COLUMNS + EXTRA_COLUMNS]
        start, kept = self.cohort[i]
        return SimulationResult(
            scenario=s,
            engine="fast",
            seed=seed,
            daily=daily,
            orders=None,
            spend_by_channel=_spend_frame(self.spend[i], self.dates[0], list(s.channels)),
            cohort={"start": float(start), "retained": float(kept)},
            meta={"mode": self.mode, "draws": self.draws},
        )


def _spend_frame(spend: np.ndarray, start: pd.Timestamp, channels: list[str]) -> pd.DataFrame:
    """Monthly spend by purpose and channel (the agent engine's layout)."""
    M = spend.shape[0]
    months = pd.date_range(start, periods=M, freq="MS")
    cols = pd.MultiIndex.from_product([list(PURPOSES), channels], names=["purpose", "channel"])
    return pd.DataFrame(spend.transpose(0, 2, 1).reshape(M, -1), index=months, columns=cols)


# -- the engine ---------------------------------------------------------------------------------------


_CALENDARS: dict[tuple, tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]] = {}


def _calendar(scenario: Scenario) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """(dates, month of each day, days in each month) of the scenario's horizon."""
    key = (str(scenario.simulation.start_date), scenario.simulation.horizon_months, len(scenario.channels))
    if key not in _CALENDARS:  # speed: the calendar depends on start and horizon only, worked out once
        plan = budget.build_plan(scenario, np.zeros((scenario.simulation.horizon_months, len(scenario.channels), 3)))
        if len(_CALENDARS) > 64:
            _CALENDARS.clear()
        _CALENDARS[key] = (plan.dates, np.array(plan.month_of_day), np.array(plan.days_in_month))
    dates, month_of_day, days_in_month = _CALENDARS[key]
    return dates, month_of_day.copy(), days_in_month.copy()


def _initial_base(scenario: Scenario, P: _Params, i: int, draw, rng: np.random.Generator, n_dropout: int):
    """Existing customers of scenario i by class: (customers (K,), loyal (K,), lapsed (K,), weight1, weight2).

    Without a customer snapshot the base is spread over the classes by their weights (the agent draws
    each person from the same priors); with one, each person of `sim.model.base.existing_customers` is put
    in the nearest class.
    """
    ex = scenario.market.existing
    lam, p, w = P.lam[i], P.p[i], P.w[i]
    g = P.react_decay[i]
    if ex.snapshot is None:
        months = np.arange(1, ex.lapsed_months_ago_max + 1)
        cust = draw.multinomial(np.asarray(ex.customers), w)
        loyal = draw.multinomial(np.asarray(ex.loyal), w)
        by_month = draw.multinomial(np.asarray(ex.lapsed), np.outer(w, np.full(len(months), 1.0 / len(months))).ravel())
        by_month = by_month.reshape(len(w), len(months))
        return cust, loyal, by_month.sum(axis=1), by_month @ g**months, by_month @ g ** (2 * months)
    base = existing_customers(scenario, rng)
    classes, weights = class_weights(base.purchase_rate, base.dropout, lam, p, n_dropout)
    if isinstance(draw, _Sampled):  # whole people: each goes to one of its classes, chosen by the weights
        pick = (rng.random(len(weights))[:, None] > np.cumsum(weights, axis=1)).sum(axis=1)
        pick = np.minimum(pick, 3)
        classes = classes[np.arange(len(classes)), pick][:, None]
        weights = np.ones_like(classes, dtype=float)
    stage = np.asarray(base.stage)
    K = len(w)
    months = np.asarray(base.lapsed_months_ago, dtype=float)

    def count(mask: np.ndarray, value: np.ndarray | float = 1.0) -> np.ndarray:
        v = np.broadcast_to(np.asarray(value, dtype=float)[..., None] if np.ndim(value) else value, weights.shape)
        return np.bincount(classes[mask].ravel(), weights=(weights * v)[mask].ravel(), minlength=K)

    lapsed = stage == 2
    return (
        draw.to_count(count(stage == 0)),
        draw.to_count(count(stage == 1)),
        draw.to_count(count(lapsed)),
        count(lapsed, g**months),
        count(lapsed, g ** (2 * months)),
    )


def _run_chunk(
    scenarios: Sequence[Scenario],
    spend: np.ndarray,
    mode: str,
    seed: int | None,
    keep_daily: bool,
    n_rate: int,
    n_dropout: int,
    progress: bool,
    detail: bool = True,
    trace_days: Sequence[int] | None = None,
) -> BatchResult:
    """Simulate rows of a batch that share one random stream (the core daily loop). `trace_days`: sampled
    mode records those days' draws in `trace` (for the benchmark's bare-loop comparison)."""
    S = len(scenarios)
    P = _params(scenarios, n_rate, n_dropout)
    dates, month_of_day, days_in_month = _calendar(scenarios[0])
    D, M = len(dates), len(days_in_month)
    K = P.lam.shape[1]
    plan = _monthly_plan(scenarios, spend, days_in_month)
    rng = np.random.default_rng(seed)
    draw = _Sampled(rng, trace_days) if mode == "sampled" else _Expected()

    # state: U, A (S,); active (group, stage, S, K); lapsed count and decayed weights (group, S, K)
    U = draw.zeros(S)
    A = draw.zeros(S)
    # groups for the order accounting: existing base, one-order and repeat acquired customers; a lean run
    # (detail=False: no acquired-customer columns) keeps everybody in one group, three times less work
    G = 3 if detail else 1
    act = draw.zeros((G, 2, S, K))
    lap = draw.zeros((G, S, K))
    W1 = np.zeros((G, S, K))
    W2 = np.zeros((G, S, K))
    bases: dict[int, tuple] = {}
    for i, s in enumerate(scenarios):
        if mode == "expected" and s.market.existing.snapshot is None:
            # speed: a scenario repeated over rows has one deterministic base (no draws, no snapshot)
            if id(s) not in bases:
                base = _initial_base(s, P, i, draw, rng, n_dropout)
                c, lo, x = base[:3]
                bases[id(s)] = (*base, s.market.size - s.market.initially_aware - c.sum() - lo.sum() - x.sum())
            c, lo, x, w1, w2, u0 = bases[id(s)]
        else:
            c, lo, x, w1, w2 = _initial_base(s, P, i, draw, rng, n_dropout)
            u0 = s.market.size - s.market.initially_aware - c.sum() - lo.sum() - x.sum()
        act[_EXISTING, _CUSTOMER, i] = c
        act[_EXISTING, _LOYAL, i] = lo
        lap[_EXISTING, i] = x
        W1[_EXISTING, i] = w1
        W2[_EXISTING, i] = w2
        A[i] = s.market.initially_aware
        U[i] = u0

    e = P.experience
    dis_nodelay = experience.experience_probabilities(e[0], 0.0, *e[1:])[0]
    negative = np.asarray(dis_nodelay, dtype=float).copy()  # word of mouth starts at its steady level
    backlog_f = np.zeros(S)
    backlog_s = np.zeros(S)
    cohort_day = D - 365 if D > 365 else None
    cohort = np.full((S, 2), np.nan)
    coh = None
    npv = np.zeros(S)
    # speed: every day's discount factor at once (D, S), not one np.power a day, and once per distinct
    # rate ((D, 1) when every row has the same, broadcast over the rows)
    rates, which = np.unique(P.discount_rate, return_inverse=True)
    discount = np.power(1.0 + rates[None, :], -(np.arange(D) / 365.25)[:, None])
    discount = discount if len(rates) == 1 else np.ascontiguousarray(discount[:, which])
    n_col = len(RAW_COLUMNS)
    # speed: column-major day record (n_col, S) and month-major totals, so every write is contiguous
    monthly_t = np.zeros((M, n_col, S))
    daily = np.zeros((S, D, n_col)) if keep_daily else None
    buf = np.zeros((n_col, S))
    acquired = slice(_COL["orders_acquired"], _COL["second_orders"] + 1)
    if not detail:
        buf[acquired] = np.nan  # lean: acquired-customer columns unknown
    prev_orders = np.zeros(S)
    blocked_days = np.zeros(S)
    prev_dissatisfied = np.zeros(S)

    lam = P.lam[None]  # (1, S, K)
    loyal_rate = np.stack([np.ones(S), P.loyal_rate])[:, :, None]  # (2, S, 1)
    # dropout chance of a satisfied order before today's back-end multiplier, by stage (2, S, K)
    p_stage = P.p[None] * np.stack([np.ones(S), P.loyal_drop])[:, :, None]
    dis_mult = P.exp_mult[0][:, None]
    del_mult = P.exp_mult[2][:, None]
    step_sat = P.step[1][:, None]
    step_del = P.step[2][:, None]
    demote = P.demote[:, None]
    value_unit = np.stack([P.value_mean, P.value_mean * P.loyal_value])  # (2, S) before cross-sell
    decay1 = P.react_decay[None, :, None]
    decay2 = decay1**2
    # speed: per-month drivers month-major (M, S) so a day reads one contiguous row
    drivers_front = np.ascontiguousarray(plan.front_contacts_day.T)
    drivers_wb = np.ascontiguousarray(plan.winback_contacts_day.T)
    backend_eff = np.ascontiguousarray(plan.backend_effective.T)
    spend_day = np.ascontiguousarray(plan.spend_day.transpose(1, 2, 0))  # (M, 3, S)
    spend_total = spend_day.sum(axis=1)  # (M, S)
    # speed: scenario constants of the daily hazards, computed once (acquisition.first_purchase_hazard and
    # acquisition.forgetting_hazard are these times a factor of the day)
    first_base = acquisition.monthly_to_daily_hazard(P.conv * P.page * P.offer)
    forget_base = acquisition.monthly_to_daily_hazard(P.forget)

    # stage totals of the active people (2, S), carried from one day's end to the next morning
    stage_tot = act.sum(axis=(0, 3))
    # speed: a lean expected-mode run (the optimizer's sweeps) has a loop of its own, the same arithmetic
    # regrouped over the latent classes' tensor product (see `_lean_days`)
    if mode == "expected" and not detail:
        # speed: a lean sweep keeps no retention cohort (retention_12m is not a sweep's objective): its
        # cohort is unknown (NaN), like the acquired-customer columns; a fifth fewer passes a day in the last year
        cohort_day = None
    if mode == "expected" and not detail and _tensor_product(P, n_dropout):
        monthly_t, npv, cohort, daily = _lean_days(
            P,
            plan,
            month_of_day,
            discount,
            U,
            A,
            act,
            lap,
            W1,
            W2,
            negative,
            cohort_day,
            n_dropout,
            keep_daily,
            progress,
        )
        return BatchResult(
            scenarios=list(scenarios),
            spend=spend,
            mode=mode,
            dates=dates,
            month_of_day=month_of_day,
            monthly=np.ascontiguousarray(monthly_t.transpose(2, 0, 1)),
            npv=npv,
            cohort=cohort,
            daily=daily,
            seeds=[seed] if seed is not None else [],
        )

    bar = tqdm(total=D, desc=f"fast x{S}", unit="day", disable=None if progress else True, leave=False)
    month = -1
    for d in range(D):
        draw.day = d
        m = int(month_of_day[d])
        if m != month:
            if month >= 0:  # a new calendar month: every lapse is a month older
                W1 *= decay1
                W2 *= decay2
            month = m
        if d > 0:  # word of mouth: EWMA of the dissatisfied share of yesterday's orders
            share = _safe_div(prev_dissatisfied, prev_orders)
            negative = np.where(
                prev_orders > 0, negative + (share - negative) / acquisition.NEGATIVE_WOM_MEMORY_DAYS, negative
            )
        if d == cohort_day:
            coh = act.sum(axis=0)
            cohort[:, 0] = coh.sum(axis=(0, 2))

        # back-end effect today: spend per active customer
        n_loyal = stage_tot[1]
        per_customer = backend_eff[m] / np.maximum(stage_tot[0] + n_loyal, 1.0)
        sat = retention.backend_saturation(per_customer, P.half_sat)
        lever = retention.retention_effect(sat, P.eff, P.rate_up, P.drop_red, P.value_up)

        # awareness: contacts land on random people of the market, only the unaware count
        contacts = drivers_front[m] + P.per_loyal_day * n_loyal
        p_contact = acquisition.contact_probability(contacts, P.N)
        newly = draw.binomial(U, p_contact)
        U = U - newly
        A = A + newly
        # acquisition.first_purchase_hazard, acquisition.forgetting_hazard and acquisition.aware_outcome_probabilities,
        # inlined with their constant parts hoisted
        h_first = first_base * (1.0 - P.wom_impact * np.minimum(np.maximum(negative, 0.0), 1.0))
        h_forget = forget_base * (1.0 - p_contact)
        total = h_first + h_forget
        happened = -np.expm1(-total)
        first_share = np.zeros(S)
        np.divide(h_first, total, out=first_share, where=total > 0)
        p_buy, p_forget = happened * first_share, happened * (1.0 - first_share)
        buyers = draw.binomial(A, p_buy)
        forgot = draw.binomial(A - buyers, _safe_div(p_forget, 1.0 - p_buy))
        A = A - buyers - forgot
        U = U + forgot

        wb = drivers_wb[m]
        new_by_class = draw.multinomial(buyers, P.w)  # (S, K)

        # win-back: contacts land on random lapsed people; response fades with months since lapsing
        n_lapsed = lap.sum(axis=(0, 2))
        q = np.where(n_lapsed > 0, winback.winback_contact_probability(wb, n_lapsed), 0.0)
        react, W1, W2 = draw.comebacks(lap, W1, W2, q * P.react0)
        lap = lap - react

        # orders: active customers buy at their class's rate; new and returning people order at once
        rate = lam * (lever.purchase_rate[None, :, None] * loyal_rate)  # (2, S, K)
        # a customer whose order waits in a queue places no other order meanwhile (the agent's process
        # is blocked): over a cycle of 1/rate + wait days the rate falls to rate / (1 + rate * wait)
        if blocked_days.any():
            rate = rate / (1.0 + rate * blocked_days[None, :, None])
        ordering = draw.orders(act, rate)  # (3, 2, S, K)
        by_group = ordering.sum(axis=3)  # (3, 2, S)
        react_by_group = react.sum(axis=2)  # (3, S)
        first_orders = new_by_class.sum(axis=1)
        react_sum = react_by_group.sum(axis=0)
        n_orders = by_group.sum(axis=(0, 1)) + react_sum + first_orders

        # experience: fulfilment delay (the team's daily slots), then complaints and their recovery
        shipping = _capacity_queue(backlog_f, n_orders, P.cap_fulfil, e[1], 0.0, draw.sd(n_orders))
        backlog_f = shipping.backlog
        # experience_probabilities is linear in exp(-delay / tolerance): use the delay with the day's mean decay
        delay_eff = -e[1] * np.log(np.maximum(shipping.mean_decay, 1e-300))
        dis0, _, del0 = experience.experience_probabilities(e[0], delay_eff, *e[1:])
        dis_orders = draw.binomial(n_orders, dis0)
        complaints = draw.binomial(dis_orders, P.complaint_share)
        service = _capacity_queue(backlog_s, complaints, P.cap_service, 1.0, P.target_days, draw.sd(complaints))
        backlog_s = service.backlog
        in_time = service.in_time
        recovered = draw.binomial(complaints, P.recovery * in_time)
        delighted = draw.binomial(n_orders - dis_orders, _safe_div(del0, 1.0 - dis0))
        dissatisfied = dis_orders - recovered
        satisfied = n_orders - dissatisfied - delighted
        # days an order keeps its customer waiting: shipping, and for complaints the answer (at most the target)
        blocked_days = shipping.mean_wait + dis0 * P.complaint_share * np.minimum(service.mean_wait, P.target_days)
        rescue = experience.complaint_recovery_probability(P.complaint_share, P.recovery, in_time)
        pi_dis_s = dis0 * (1.0 - rescue)  # (S,) final outcome of an order
        pi_del_s = del0
        pi_sat_s = 1.0 - pi_dis_s - pi_del_s

        # after each order: drop out, step up to loyal, or (loyal, dissatisfied) fall back.
        # lifecycle.dropout_probability = min(1, p x levers); only the dissatisfied multiplier (>= 1) can reach the cap
        ldrop = lever.dropout
        pi_dis, pi_del, pi_sat = pi_dis_s[:, None], pi_del_s[:, None], pi_sat_s[:, None]
        p_sat = p_stage * ldrop[None, :, None]  # (2, S, K)
        p_dis = np.minimum(1.0, p_sat * dis_mult)
        p_del = p_sat * del_mult
        drop = pi_dis * p_dis + pi_sat * p_sat + pi_del * p_del  # (2, S, K) per order
        step_up = pi_sat * (1.0 - p_sat[_CUSTOMER]) * step_sat + pi_del * (1.0 - p_del[_CUSTOMER]) * step_del
        fall_back = pi_dis * (1.0 - p_dis[_LOYAL]) * demote  # (S, K)

        # orderers by the group they belong to after the order (a sum of binomials with one chance is a
        # binomial of the sum, so merging before the draws changes nothing): the existing base stays
        # existing, first orders make one-order customers, any other acquired order makes repeat buyers
        dest = ordering.copy()
        if detail:
            dest[_REPEAT] += dest[_ONE_ORDER]
            dest[_ONE_ORDER] = 0
            dest[_ONE_ORDER, _CUSTOMER] = new_by_class
            dest[_EXISTING, _CUSTOMER] += react[_EXISTING]
            dest[_REPEAT, _CUSTOMER] += react[_ONE_ORDER] + react[_REPEAT]
        else:
            dest[0, _CUSTOMER] += react[0] + new_by_class
        dropped, up_g, down_g = draw.fates(dest, drop, step_up, fall_back)  # (G, 2, S, K), (G, S, K) x 2
        stay = dest - dropped
        act = act - ordering
        act[:, _CUSTOMER] += stay[:, _CUSTOMER] - up_g + down_g
        act[:, _LOYAL] += stay[:, _LOYAL] - down_g + up_g
        lapsing_g = dropped.sum(axis=1)  # (3, S, K)
        lap = lap + lapsing_g
        W1 = W1 + lapsing_g
        W2 = W2 + lapsing_g
        lapsing_sum = lapsing_g.sum(axis=(0, 2))
        lapsed_now = lap.sum(axis=(0, 2))

        if coh is not None:  # the retention cohort follows the same per-person chances, without newcomers
            c_orders = draw.orders(coh, rate)[None]
            c_drop, c_up, c_down = (x[0] for x in draw.fates(c_orders, drop, step_up, fall_back))
            coh = coh - c_drop
            coh[_CUSTOMER] += c_down - c_up
            coh[_LOYAL] += c_up - c_down

        # money: order values by kind (non-loyal/loyal x new/existing/acquired repeat)
        unit = value_unit * lever.order_value  # (2, S)
        existing_orders = by_group[_EXISTING].copy()
        existing_orders[_CUSTOMER] += react_by_group[_EXISTING]
        if detail:
            acquired_repeat = by_group[_ONE_ORDER] + by_group[_REPEAT]
            acquired_repeat[_CUSTOMER] += react_by_group[_ONE_ORDER] + react_by_group[_REPEAT]
        else:  # lean: every repeat order counted as the existing base's, acquired columns unknown
            acquired_repeat = np.zeros_like(existing_orders)
        rev_new = draw.gamma_sum(first_orders, P.value_shape, unit[0])
        rev_existing = draw.gamma_sum(existing_orders, P.value_shape, unit)
        rev_acq_repeat = draw.gamma_sum(acquired_repeat, P.value_shape, unit)
        revenue_returning = rev_existing.sum(axis=0) + rev_acq_repeat.sum(axis=0)
        revenue = rev_new + revenue_returning
        if detail:
            buf[acquired] = (
                first_orders + acquired_repeat.sum(axis=0),
                rev_new + rev_acq_repeat.sum(axis=0),
                by_group[_ONE_ORDER].sum(axis=0) + react_by_group[_ONE_ORDER],
            )

        # record the day (stages at the end of the day), also tomorrow morning's active customers
        stage_tot = act.sum(axis=(0, 3))
        buf[0] = U
        buf[1] = A
        buf[2:4] = stage_tot
        buf[4] = lapsed_now
        buf[5] = buyers
        buf[6] = n_orders
        buf[7] = n_orders - first_orders
        buf[8] = revenue
        buf[9] = rev_new
        buf[10] = revenue_returning
        buf[11:14] = spend_day[m]
        buf[14] = newly
        buf[15] = forgot
        buf[16] = lapsing_sum
        buf[17] = react_sum
        buf[18] = wb
        buf[19] = dissatisfied
        buf[20] = satisfied
        buf[21] = delighted
        buf[22] = complaints
        buf[23] = recovered
        buf[24] = n_orders * shipping.mean_wait
        month_rec = monthly_t[m]
        month_rec += buf
        month_rec[:5] = buf[:5]
        if daily is not None:
            daily[:, d] = buf.T
        contribution = revenue * P.margin - n_orders * P.cost_per_order - spend_total[m]
        npv += contribution * discount[d]
        prev_orders = n_orders
        prev_dissatisfied = dissatisfied
        bar.update(1)
    bar.close()
    if coh is not None:
        cohort[:, 1] = coh.sum(axis=(0, 2))
    monthly = np.ascontiguousarray(monthly_t.transpose(2, 0, 1))  # (S, M, n_col)
    return BatchResult(
        scenarios=list(scenarios),
        spend=spend,
        mode=mode,
        dates=dates,
        month_of_day=month_of_day,
        monthly=monthly,
        npv=npv,
        cohort=cohort,
        daily=daily,
        seeds=[seed] if seed is not None else [],
        draws=int(draw.draws),
        trace=getattr(draw, "trace", []),
    )


def _class_major(x: np.ndarray, n_dropout: int) -> np.ndarray:
    """(..., S, K) -> (..., n_rate, n_dropout, S), contiguous: class k = rate node k // n_dropout, dropout
    node k % n_dropout (the layout of `latent_classes`)."""
    *lead, S, K = x.shape
    y = x.reshape(*lead, S, K // n_dropout, n_dropout)
    return np.ascontiguousarray(np.moveaxis(y, -3, -1))


def _lean_days(
    P: _Params,
    plan: _MonthlyPlan,
    month_of_day,
    discount,
    U,
    A,
    act,
    lap,
    W1,
    W2,
    negative,
    cohort_day,
    n_dropout: int,
    keep_daily: bool,
    progress: bool,
):
    """The daily loop of a lean expected-mode run (`detail=False`: one group of people, every flow its
    expectation), the optimizer's sweeps: the arithmetic of `_run_chunk`'s loop, regrouped for speed.

    Returns the month-major totals (M, n_col, S), NPV (S,), retention cohort (S, 2) and, if kept, the
    daily record (S, D, n_col).

    speed, throughout:
    - class-level state class-major, (stage, rate node, dropout node, S): the rows are the last and
      contiguous axis, so a per-row factor broadcasts over whole rows;
    - the classes are a tensor product, so a purchase rate depends on the class only through its rate node
      and a dropout chance through its dropout node: both are worked out on (2, n_rate, S) and
      (2, n_dropout, S) arrays, 4 to 8 times smaller, and broadcast into the class-level products;
    - per-row arithmetic in place, written straight into the day's record (`rec`) where it is a recorded
      flow or stage (U, A and the stage totals live there); what changes only monthly is set at the
      month's start; queues, delays and blocked-customer rates are only worked out on days near capacity;
    - clamps to [0, 1] left out where the value is a chance already (contacts, shares and spend >= 0).
    """
    S, K = P.lam.shape
    D, M = len(month_of_day), plan.spend_day.shape[1]
    n_rate = K // n_dropout
    n_col = len(RAW_COLUMNS)
    rec = np.zeros((n_col, S))  # today's record, column-major
    rec[_COL["orders_acquired"] : _COL["second_orders"] + 1] = np.nan  # lean: acquired columns unknown
    monthly_t = np.zeros((M, n_col, S))
    daily = np.zeros((S, D, n_col)) if keep_daily else None
    npv = np.zeros(S)
    cohort = np.full((S, 2), np.nan)
    rec[0], rec[1], rec[4] = U, A, lap.sum(axis=(0, 2))
    U, A, lapsed = rec[0], rec[1], rec[4]  # views, updated in place
    (
        buyers,
        n_orders,
        repeat,
        revenue,
        rev_new,
        rev_ret,
        newly,
        forgot,
        dropouts,
        reactivated,
        dissatisfied,
        satisfied,
        delighted,
        complaints,
        recovered,
        delay,
    ) = (
        rec[_COL[c]]
        for c in (
            "new_customers",
            "orders",
            "repeat_orders",
            "revenue",
            "revenue_new",
            "revenue_returning",
            "newly_aware",
            "forgotten",
            "dropouts",
            "reactivations",
            "dissatisfied",
            "satisfied",
            "delighted",
            "complaints",
            "recovered",
            "fulfilment_delay_days",
        )
    )
    stage_tot = rec[2:4]  # (2, S): active customers and loyal at the end of the day

    # class-level state (2, n_rate, n_dropout, S) and (n_rate, n_dropout, S); sums over the classes are
    # matrix-vector products over the flattened (K, S) views (BLAS)
    X = _class_major(act[0], n_dropout)
    X_c, X_l = X[0], X[1]
    # speed: both decayed weights in one array, so a day scales and adds to them in one call each
    W = np.stack([_class_major(W1[0], n_dropout), _class_major(W2[0], n_dropout)])
    W1c, W2c = W
    ones_k = np.ones(K)

    def class_sum(x: np.ndarray, out=None) -> np.ndarray:
        return np.matmul(ones_k, x.reshape(*x.shape[:-3], K, S), out=out)

    class_sum(X, out=stage_tot)
    lam_n = np.ascontiguousarray(P.lam[:, ::n_dropout].T)  # (n_rate, S) purchase rate per day of a node
    p_n = P.p[:, :n_dropout].T
    p_stage = np.stack([p_n * 1.0, p_n * P.loyal_drop])  # (2, n_dropout, S) satisfied dropout chance
    # class weights of new customers (n_rate, n_dropout, S), or (n_rate, n_dropout, 1) when every row has
    # the same (speed: no (K, S) array to read)
    w_c = _class_major(P.w[:1] if (P.w == P.w[0]).all() else P.w, n_dropout)
    w_sum = P.w.sum(axis=1)
    # speed: the same weights for every row as a (K, 1) column (a 2-d broadcast product is quicker)
    w_col = np.ascontiguousarray(w_c.reshape(K, 1)) if w_c.shape[-1] == 1 else None
    loyal_rate = np.stack([np.ones(S), P.loyal_rate])  # (2, S)
    value_unit = np.stack([P.value_mean, P.value_mean * P.loyal_value])  # (2, S) before cross-sell
    # retention_effect: 1 + coef x eff x saturation, saturation = 1 - exp(y): (1 + coef eff) - coef eff exp(y)
    # (speed: two calls on (3, S) a day instead of four)
    lever_slope = np.stack([P.rate_up, -P.drop_red, P.value_up]) * P.eff
    lever_top = 1.0 + lever_slope
    lever_slope = -lever_slope
    lever = np.empty((3, S))
    rate_mult, ldrop, value_mult = lever
    neg_ln2_hs = -acquisition.LN2 / P.half_sat  # backend_saturation's exponent per spend and customer
    neg_inv_n = -1.0 / np.maximum(P.N, 1e-12)  # contact_probability's exponent per contact
    first_base = acquisition.monthly_to_daily_hazard(P.conv * P.page * P.offer)
    first_wom = first_base * P.wom_impact
    forget_base = acquisition.monthly_to_daily_hazard(P.forget)
    react_day = P.react0 / calendar.DAYS_PER_MONTH
    decays = np.stack([P.react_decay, P.react_decay**2])[:, None, None, :]  # (2, 1, 1, S): W1, W2 a month
    e = P.experience
    dis_q, _, del_q = (np.asarray(x, dtype=float) for x in experience.experience_probabilities(e[0], 0.0, *e[1:]))
    cshare, recovery, target = P.complaint_share, P.recovery, P.target_days
    rescue_q = experience.complaint_recovery_probability(cshare, recovery, 1.0)
    dm, dl, ss, sdl = P.exp_mult[0], P.exp_mult[2], P.step[1], P.step[2]
    front_day = np.ascontiguousarray(plan.front_contacts_day.T)  # (M, S), month-major
    wb_day = np.ascontiguousarray(plan.winback_contacts_day.T)
    backend_pos = np.maximum(plan.backend_effective.T, 0.0)
    spend_day = np.ascontiguousarray(plan.spend_day.transpose(1, 2, 0))  # (M, 3, S)
    spend_total = spend_day.sum(axis=1)  # (M, S)
    margin, cpo = P.margin, P.cost_per_order

    def outcomes(dis0, del0, rescue):
        """Per-row coefficients of the dropout and loyalty chances from an order's outcome chances: with
        p the satisfied dropout chance and p_dis = min(1, p x dissatisfied multiplier),
        drop = pi_dis p_dis + (pi_sat + pi_del x delighted multiplier) p,
        step up = pi_sat ss + pi_del sdl - p (pi_sat ss + pi_del sdl x delighted multiplier),
        fall back = pi_dis demote (1 - p_dis)."""
        pi_dis = dis0 * (1.0 - rescue)
        pi_sat = 1.0 - pi_dis - del0
        sat_step, del_step = pi_sat * ss, del0 * sdl
        return pi_dis, pi_sat + del0 * dl, sat_step + del_step, sat_step + del_step * dl, pi_dis * P.demote

    quiet = outcomes(dis_q, del_q, rescue_q)  # speed: the coefficients of a day without queues, once
    # speed: purchase rates that cannot reach 1 a day need no cap (blocking only lowers them; the back-end
    # multiplier moves between 1 at no spend and lever_top at saturation)
    rate_max = lam_n.max(axis=0) * np.maximum(P.loyal_rate, 1.0) * np.maximum(lever_top[0], 1.0)
    rate_capped = bool((rate_max >= 1.0 - 1e-9).any())

    def near_capacity(backlog, busy, arrivals, capacity):
        """`_capacity_queue`'s test: backlog + arrivals + 8 sd > capacity, sd = sqrt(arrivals)."""
        x = backlog + arrivals if busy else arrivals.copy()
        x += 8.0 * np.sqrt(arrivals)
        return x > capacity

    # speed: without a backlog, arrivals a + 8 sqrt(a) > capacity c only when a > (sqrt(16 + c) - 4)^2;
    # a day whose arrivals are all below that (less a margin for rounding) has no queue, without the test
    quiet_f, quiet_s = ((np.sqrt(16.0 + c) - 4.0) ** 2 * (1.0 - 1e-9) for c in (P.cap_fulfil, P.cap_service))
    p_sat, p_dis, p_tmp, drop = (np.empty((2, n_dropout, S)) for _ in range(4))
    drop4 = drop[:, None]  # (2, 1, n_dropout, S): broadcast over the rate nodes
    switch = np.empty((2, n_dropout, S))  # per order: customers stepping up, loyal falling back
    step_up, fall_back = switch
    switch4 = switch[:, None]

    rate = np.empty((2, n_rate, S))
    rate4 = rate[:, :, None, :]  # (2, n_rate, 1, S): broadcast over the dropout nodes
    orders = np.empty_like(X)
    o_c, o_l = orders[0], orders[1]
    leaving = np.empty_like(X)  # orderers dropping out, by stage
    scaled_w = np.empty_like(W)  # (comebacks by class, chance x W2): W x chance, in one call
    inflow, t1 = scaled_w
    lapsing = np.empty_like(W1c)
    t1_2d = t1.reshape(K, S)
    w1_positive = False  # whether every class of every row has lapsed people (W1 > 0)
    lapsed_positive = False  # whether every row has lapsed people
    zeros_s = np.zeros(S)
    backlog_f = backlog_s = zeros_s
    busy_f = busy_s = False  # a queue left from yesterday
    blocked = zeros_s  # days an order keeps its customer waiting (yesterday's, when a queue was busy)
    coh = c_orders = None

    months = month_of_day.tolist()
    month = -1
    bar = tqdm(total=D, desc=f"fast x{S}", unit="day", disable=None if progress else True, leave=False)
    for d in range(D):
        m = months[d]
        if m != month:
            if month >= 0:  # a new calendar month: every lapse is a month older
                W *= decays
            month = m
            front, wb, backend = front_day[m], wb_day[m], backend_pos[m]
            wb_any = bool(wb.any())
            wb_month = -(wb * calendar.DAYS_PER_MONTH)
            rec[11:14] = spend_day[m]
            rec[_COL["winback_contacts"]] = wb
            spend_m = spend_total[m]
        if d > 0:  # word of mouth: EWMA of the dissatisfied share of yesterday's orders (still in `rec`)
            if n_orders.min() > 0:
                x = dissatisfied / n_orders
                x -= negative
                x /= acquisition.NEGATIVE_WOM_MEMORY_DAYS
                negative += x
            else:
                share = _safe_div(dissatisfied, n_orders)
                negative = np.where(
                    n_orders > 0, negative + (share - negative) / acquisition.NEGATIVE_WOM_MEMORY_DAYS, negative
                )
        if d == cohort_day:
            coh = X.copy()
            c_orders = np.empty_like(X)
            cohort[:, 0] = np.ones(2 * K) @ coh.reshape(2 * K, S)

        # back-end effect today: spend per active customer (retention.backend_saturation, retention_effect)
        n_loyal = stage_tot[1]
        x = stage_tot[0] + n_loyal
        np.maximum(x, 1.0, out=x)
        np.divide(backend, x, out=x)
        x *= neg_ln2_hs
        np.exp(x, out=x)
        np.multiply(lever_slope, x, out=lever)
        lever += lever_top

        # awareness (acquisition.contact_probability, first_purchase_hazard, forgetting_hazard and
        # aware_outcome_probabilities; buy and forget chances as hazard x happened / total)
        no_contact = P.per_loyal_day * n_loyal
        no_contact += front
        no_contact *= neg_inv_n
        np.exp(no_contact, out=no_contact)
        np.multiply(U, 1.0 - no_contact, out=newly)
        U -= newly
        A += newly
        h_first = first_wom * negative
        np.subtract(first_base, h_first, out=h_first)
        h_forget = forget_base * no_contact
        neg_total = -(h_first + h_forget)
        x = np.expm1(neg_total)
        np.minimum(neg_total, -1e-300, out=neg_total)
        x /= neg_total
        x *= A
        np.multiply(x, h_first, out=buyers)
        np.multiply(x, h_forget, out=forgot)
        A -= buyers
        A -= forgot
        U += forgot
        first_orders = buyers * w_sum

        # win-back (winback.winback_contact_probability x reactivation chance), then comebacks in place
        # (_Expected.comebacks; its clamps at 0 are dropped: with W2 <= W1 and chance <= 1 / DAYS_PER_MONTH
        # both weights stay positive, W1 - c W2 >= (1 - c) W1, W2 (1 - c W2 / W1) >= (1 - c) W2)
        # (speed: with win-back contacts this month the comebacks run even where every chance is 0, which
        # changes nothing; once every row has lapsed people it stays so: a day takes back less than a
        # DAYS_PER_MONTH-th of them)
        if wb_any:
            chance = np.maximum(lapsed, 1e-12)
            np.divide(wb_month, chance, out=chance)
            np.exp(chance, out=chance)
            np.subtract(1.0, chance, out=chance)
            chance *= react_day
            if not lapsed_positive and not (lapsed_positive := bool(lapsed.min() > 0.0)):
                chance[lapsed <= 0.0] = 0.0
        if wb_any:
            np.multiply(W, chance, out=scaled_w)  # comebacks by class, and c W2
            class_sum(inflow, out=reactivated)
            w1_old = W1c
            if not w1_positive:  # where W1 = 0, W2 = 0 too; once W1 > 0 everywhere it stays so (speed)
                w1_positive = bool(W1c.min() > 0.0)
                w1_old = W1c if w1_positive else np.maximum(W1c, 1e-300, out=lapsing)
            if w1_old is W1c:
                np.multiply(t1, W2c, out=lapsing)  # c W2^2 / W1, before W1 changes
                lapsing /= W1c
                W1c -= t1
            else:
                W1c -= t1
                t1 *= W2c
                np.divide(t1, w1_old, out=lapsing)
            W2c -= lapsing
            if w_col is not None:  # first orders by class (_Expected.multinomial)
                np.multiply(w_col, buyers, out=t1_2d)
            else:
                np.multiply(w_c, buyers, out=t1)
            inflow += t1
        else:
            reactivated[...] = 0.0
            np.multiply(w_c, buyers, out=inflow)

        # orders: active customers buy at their class's rate (blocked while an order waits), capped at one
        np.multiply(lam_n, (loyal_rate * rate_mult)[:, None, :], out=rate)
        if busy_f or busy_s:
            x = rate * blocked
            x += 1.0
            np.divide(rate, x, out=rate)
        if rate_capped:
            np.minimum(rate, 1.0, out=rate)
        np.multiply(X, rate4, out=orders)
        by_stage = class_sum(orders)  # (2, S)
        np.add(by_stage[0], by_stage[1], out=n_orders)
        n_orders += reactivated
        n_orders += first_orders

        # experience: fulfilment delay, complaints and their recovery (the queues only near capacity)
        wait_f = wait_s = None
        if (busy_f or (n_orders > quiet_f).any()) and (
            near := near_capacity(backlog_f, busy_f, n_orders, P.cap_fulfil)
        ).any():
            q = _capacity_queue(backlog_f, n_orders, P.cap_fulfil, e[1], 0.0, np.sqrt(n_orders), near, in_time=False)
            backlog_f, wait_f, decay_f = q.backlog, q.mean_wait, q.mean_decay
            busy_f = True
            delay_eff = -e[1] * np.log(np.maximum(decay_f, 1e-300))
            dis0, _, del0 = experience.experience_probabilities(e[0], delay_eff, *e[1:])
        else:
            backlog_f, busy_f, dis0, del0 = zeros_s, False, dis_q, del_q
        dis_orders = n_orders * dis0
        np.multiply(dis_orders, cshare, out=complaints)
        if (busy_s or (complaints > quiet_s).any()) and (
            near := near_capacity(backlog_s, busy_s, complaints, P.cap_service)
        ).any():
            q = _capacity_queue(
                backlog_s, complaints, P.cap_service, 1.0, target, np.sqrt(complaints), near, decay=False
            )
            backlog_s, wait_s, in_time = q.backlog, q.mean_wait, q.in_time
            busy_s = True
            np.multiply(complaints, np.minimum(np.maximum(recovery * in_time, 0.0), 1.0), out=recovered)
            rescue = experience.complaint_recovery_probability(cshare, recovery, in_time)
        else:
            backlog_s, busy_s, rescue = zeros_s, False, rescue_q
            np.multiply(complaints, recovery, out=recovered)
        np.multiply(n_orders, del0, out=delighted)  # (orders - dis_orders) x del0 / (1 - dis0)
        np.subtract(dis_orders, recovered, out=dissatisfied)
        np.subtract(n_orders, dissatisfied, out=satisfied)
        satisfied -= delighted
        if wait_f is None and wait_s is None:
            delay[...] = 0.0
        else:
            wait_f = zeros_s if wait_f is None else wait_f
            wait_s = zeros_s if wait_s is None else wait_s
            blocked = wait_f + dis0 * cshare * np.minimum(wait_s, target)
            np.multiply(n_orders, wait_f, out=delay)
        pi_dis, c_sat, c_step, c_step_p, c_fall = (
            quiet if wait_f is None and wait_s is None else outcomes(dis0, del0, rescue)
        )

        # after each order: drop out, step up to loyal, or (loyal, dissatisfied) fall back, by dropout node
        # (lifecycle.dropout_probability = min(1, p x levers)), regrouped by the coefficients of `outcomes`
        np.multiply(p_stage, ldrop, out=p_sat)
        np.multiply(p_sat, dm, out=p_dis)
        np.minimum(p_dis, 1.0, out=p_dis)
        np.multiply(p_sat, c_sat, out=drop)  # (2, n_dropout, S)
        np.multiply(p_dis, pi_dis, out=p_tmp)
        drop += p_tmp
        np.multiply(p_sat[_CUSTOMER], c_step_p, out=step_up)
        np.subtract(c_step, step_up, out=step_up)
        np.subtract(1.0, p_dis[_LOYAL], out=fall_back)
        fall_back *= c_fall

        # the flows in place: orderers after the order (today's orders plus the first orders and
        # comebacks, as customers) drop out, step up or fall back
        # (speed: both stages in one call each; `orders` becomes the stage switches once done with)
        o_c += inflow
        X_c += inflow
        np.multiply(orders, drop4, out=leaving)
        X -= leaving
        np.add(leaving[_CUSTOMER], leaving[_LOYAL], out=lapsing)
        orders *= switch4  # (stepping up, falling back)
        np.subtract(o_l, o_c, out=t1)  # net flow from loyal back to customer
        X_c += t1
        X_l -= t1
        W += lapsing
        class_sum(lapsing, out=dropouts)
        lapsed -= reactivated
        lapsed += dropouts
        class_sum(X, out=stage_tot)

        if coh is not None:  # the retention cohort follows the same per-person chances, without newcomers
            np.multiply(coh, rate4, out=c_orders)
            np.multiply(c_orders[_CUSTOMER], step_up, out=t1)
            np.multiply(c_orders[_LOYAL], fall_back, out=lapsing)
            c_orders *= drop[:, None]
            coh -= c_orders
            lapsing -= t1  # falling back minus stepping up
            coh[_CUSTOMER] += lapsing
            coh[_LOYAL] -= lapsing

        # money and the day's record
        unit = value_unit * value_mult
        np.multiply(first_orders, unit[0], out=rev_new)
        x = by_stage[0] + reactivated
        x *= unit[0]
        np.add(x, by_stage[1] * unit[1], out=rev_ret)
        np.add(rev_new, rev_ret, out=revenue)
        np.subtract(n_orders, first_orders, out=repeat)
        month_rec = monthly_t[m]
        month_rec[5:] += rec[5:]  # flows add up over the month, stages (the first 5) are the day's
        month_rec[:5] = rec[:5]
        if daily is not None:
            daily[:, d] = rec.T
        x = revenue * margin
        x -= n_orders * cpo
        x -= spend_m
        x *= discount[d]
        npv += x
        bar.update(1)
    bar.close()
    if coh is not None:
        cohort[:, 1] = np.ones(2 * K) @ coh.reshape(2 * K, S)
    return monthly_t, npv, cohort, daily


def _tensor_product(P: _Params, n_dropout: int) -> bool:
    """Whether every row's classes are the tensor product of `latent_classes` (the purchase rate a function
    of k // n_dropout, the dropout chance of k % n_dropout): what `_lean_days` relies on."""
    K = P.lam.shape[1]
    return K % n_dropout == 0 and (
        np.array_equal(P.lam, np.repeat(P.lam[:, ::n_dropout], n_dropout, axis=1))
        and np.array_equal(P.p, np.tile(P.p[:, :n_dropout], (1, K // n_dropout)))
    )


def _run_chunk_remote(args: tuple) -> BatchResult:
    """`_run_chunk` in a pool worker, its result without the rows' scenarios and spend (speed: the parent
    has them; they are put back by `_reattach`, so a few MB less are pickled back)."""
    part = _run_chunk(*args)
    part.scenarios, part.spend = [], part.spend[:0]
    return part


def _reattach(part: BatchResult, job: tuple) -> BatchResult:
    """A part from `_run_chunk_remote` with its job's scenarios and spend back."""
    part.scenarios, part.spend = list(job[0]), job[1]
    return part


# speed: worker pools kept for the process's life, one per worker count, so repeated batches (the
# optimizer's sweeps) do not pay for starting processes each time; made lazily, shut down at exit
_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_PID = os.getpid()  # the process that owns `_POOLS` (a forked child inherits the dict, not the pools)


def _shared_pool(workers: int) -> ProcessPoolExecutor | None:
    """The kept pool of `workers` processes, or None where one must not be kept: inside a pool worker or
    any other child process (its pools would outlive their use) and in a daemon process (no children)."""
    global _POOLS_PID
    if multiprocessing.current_process().daemon or multiprocessing.parent_process() is not None:
        return None
    if os.getpid() != _POOLS_PID:  # forked some other way: the inherited pools are not ours
        _POOLS.clear()
        _POOLS_PID = os.getpid()
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers)
    return pool


def _drop_pool(workers: int) -> None:
    """Forget a kept pool (broken: a worker died) after shutting it down."""
    pool = _POOLS.pop(workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown_pools() -> None:
    if os.getpid() == _POOLS_PID:
        for workers in list(_POOLS):
            _drop_pool(workers)


def _in_pool(workers: int, run) -> list[BatchResult]:
    """`run(pool)` on the kept pool of `workers` processes (made again once if a worker had died), or on a
    pool of this call's own where none may be kept."""
    pool = _shared_pool(workers)
    if pool is None:
        if multiprocessing.current_process().daemon:  # a daemon process may not start processes
            raise _NoPool
        with ProcessPoolExecutor(max_workers=workers) as own:
            return run(own)
    try:
        return run(pool)
    except BrokenProcessPool:
        _drop_pool(workers)
        return run(_shared_pool(workers))


class _NoPool(Exception):
    """No worker processes can be started here (a daemon process): run in this process."""


def simulate_batch(
    scenarios: Scenario | Sequence[Scenario],
    spend: np.ndarray | None = None,
    *,
    mode: str = "expected",
    seed: int | None = None,
    keep_daily: bool = False,
    workers: int = 1,
    n_rate_classes: int = DEFAULT_RATE_CLASSES,
    n_dropout_classes: int = DEFAULT_DROPOUT_CLASSES,
    progress: bool = False,
    detail: bool = True,
) -> BatchResult:
    """Simulate a batch of S scenario rows at once.

    `scenarios`: one scenario (repeated over the rows of `spend`) or S scenarios that share horizon,
    start date and channels (for instance variants with one parameter moved, for sensitivity).
    `spend`: (S, M, C, 3) spend by row, month, channel and purpose (front, back, winback), or (M, C, 3)
    for every row; default each scenario's own plan. In sampled mode the rows are cut into fixed chunks
    of `CHUNK_ROWS`, each with its own stream from `SeedSequence(seed).spawn`, so results do not depend on
    `workers` (the processes the chunks are spread over). `detail=False` (for sweeps) skips the
    acquired-customer accounting (orders_acquired, revenue_acquired, second_orders and so payback become
    NaN), in expected mode also the retention cohort (`cohort` NaN, so retention_12m of a lean result is
    unknown), and in expected mode runs a fused in-place daily step several times faster; every other
    column is the same (to ~1e-5 of a column's scale for comebacks, closer for the rest: the win-back
    weights of lapsed people are then pooled over groups; contribution and NPV agree within 1e-6).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, found {mode!r}")
    rows = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
    if not rows:
        raise ValueError("simulate_batch needs at least one scenario")
    first = rows[0]
    M, C = first.simulation.horizon_months, len(first.channels)
    if spend is None:
        spend_arr = np.stack([budget.spend_by_month(s) for s in rows])
    else:
        spend_arr = np.asarray(spend, dtype=float)
        if spend_arr.ndim == 3:
            spend_arr = np.broadcast_to(spend_arr, (len(rows), *spend_arr.shape)).copy()
        if spend_arr.ndim != 4 or spend_arr.shape[1:] != (M, C, 3):
            raise ValueError(f"spend must have shape (S, {M}, {C}, 3), found {spend_arr.shape}")
    if len(rows) == 1 and spend_arr.shape[0] > 1:
        rows = rows * spend_arr.shape[0]
    if len(rows) != spend_arr.shape[0]:
        raise ValueError(f"{len(rows)} scenarios but {spend_arr.shape[0]} spend plans")
    for s in rows[1:]:
        if (
            s.simulation.horizon_months != M
            or s.simulation.start_date != first.simulation.start_date
            or list(s.channels) != list(first.channels)
        ):
            raise ValueError("scenarios in one batch must share horizon, start date and channels")
    base_seed = first.simulation.seed if seed is None else seed
    bounds = list(range(0, len(rows), CHUNK_ROWS)) + [len(rows)]
    n_chunks = len(bounds) - 1
    seeds = [int(c.generate_state(1, dtype=np.uint32)[0]) for c in np.random.SeedSequence(base_seed).spawn(n_chunks)]
    if n_chunks == 1:
        seeds = [base_seed]  # a single row or small batch uses the seed itself, like the agent engine
    jobs = [
        (
            rows[lo:hi],
            spend_arr[lo:hi],
            mode,
            seeds[j],
            keep_daily,
            n_rate_classes,
            n_dropout_classes,
            progress and workers <= 1,
            detail,
        )
        for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    ]
    if mode == "expected":  # no random stream: one big chunk is fastest
        jobs = [(rows, spend_arr, mode, base_seed, keep_daily, n_rate_classes, n_dropout_classes, progress, detail)]
        if workers > 1 and len(rows) >= 128:  # a process pool only pays for itself on a big batch
            cut = np.linspace(0, len(rows), workers + 1).astype(int)
            jobs = [
                (
                    rows[lo:hi],
                    spend_arr[lo:hi],
                    mode,
                    base_seed,
                    keep_daily,
                    n_rate_classes,
                    n_dropout_classes,
                    False,
                    detail,
                )
                for lo, hi in zip(cut[:-1], cut[1:], strict=True)
            ]
    parts = None
    try:
        if mode == "expected" and workers > 1 and len(jobs) > 1:
            # speed: one chunk a worker, and this process is one of the workers (one pickled result fewer);
            # expected-mode rows are independent, so the parts are the same wherever they run
            def run(pool: ProcessPoolExecutor) -> list[BatchResult]:
                futures = [pool.submit(_run_chunk_remote, job) for job in jobs[1:]]
                own = _run_chunk(*jobs[0])
                return [own] + [_reattach(f.result(), job) for f, job in zip(futures, jobs[1:], strict=True)]

            parts = _in_pool(len(jobs) - 1, run)
        elif workers > 1 and len(jobs) > 1:

            def run(pool: ProcessPoolExecutor) -> list[BatchResult]:
                done = tqdm(
                    pool.map(_run_chunk_remote, jobs),
                    total=len(jobs),
                    desc="fast batch",
                    disable=None if progress else True,
                    leave=False,
                )
                return [_reattach(part, job) for part, job in zip(done, jobs, strict=True)]

            parts = _in_pool(workers, run)
    except _NoPool:  # run here instead, expected mode as one chunk (as with workers=1)
        if mode == "expected":
            jobs = [(rows, spend_arr, mode, base_seed, keep_daily, n_rate_classes, n_dropout_classes, progress, detail)]
    if parts is None:
        parts = [_run_chunk(*job) for job in jobs]
    return _concat(parts, seeds if mode == "sampled" else [base_seed])


def _concat(parts: list[BatchResult], seeds: list[int]) -> BatchResult:
    if len(parts) == 1:
        parts[0].seeds = seeds
        return parts[0]
    first = parts[0]
    return BatchResult(
        scenarios=[s for p in parts for s in p.scenarios],
        spend=np.concatenate([p.spend for p in parts]),
        mode=first.mode,
        dates=first.dates,
        month_of_day=first.month_of_day,
        monthly=np.concatenate([p.monthly for p in parts]),
        npv=np.concatenate([p.npv for p in parts]),
        cohort=np.concatenate([p.cohort for p in parts]),
        daily=None if first.daily is None else np.concatenate([p.daily for p in parts]),
        seeds=seeds,
        draws=sum(p.draws for p in parts),
    )


def run_fast(
    scenario: Scenario,
    seed: int | None = None,
    *,
    spend_month: np.ndarray | None = None,
    sampled: bool | None = None,
    progress: bool = False,
    keep_orders: bool = True,
) -> SimulationResult:
    """Run the fast engine on one scenario; same result type, KPIs and CSV columns as the agent engine.

    `sampled`: seeded draws (True) or expected values (False or None, the default: deterministic).
    `spend_month` (M, C, 3) overrides the scenario's budget plan. `keep_orders` has no effect: the fast
    engine counts people, it keeps no order log (the registry says so: `writes_orders=False`).
    """
    seed = scenario.simulation.seed if seed is None else seed
    spend = None if spend_month is None else np.asarray(spend_month, dtype=float)[None]
    mode = "sampled" if sampled else "expected"
    batch = simulate_batch(scenario, spend, mode=mode, seed=seed, keep_daily=True, progress=progress)
    return batch.result(0, seed=seed)


def horizon_value(batch: BatchResult, objective: str) -> np.ndarray:
    """(S,) objective values of a batch: contribution, npv, revenue or customers (at the horizon)."""
    k = batch.kpi_vectors()
    key = {
        "contribution": "cumulative_contribution",
        "npv": "npv",
        "revenue": "revenue",
        "customers": "customers_at_horizon",
    }[objective]
    return k[key]


__all__ = [
    "BatchResult",
    "MODES",
    "RAW_COLUMNS",
    "daily_capacity_queue",
    "horizon_value",
    "class_weights",
    "latent_classes",
    "run_fast",
    "simulate_batch",
]
