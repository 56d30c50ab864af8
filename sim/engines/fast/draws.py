"""How the fast engine counts: every flow as its expectation (`Expected`), or as draws from one seeded
Generator (`Sampled`). The daily loop is written once against this interface.

Arrays are class-major: a count of people is (..., rate node, dropout node, S) with the batch's rows last,
so a per-row chance (S,) broadcasts over every class; stages (customer, loyal) and groups come first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim.engines.fast import inversion

CUSTOMER, LOYAL = 0, 1  # the stage axis of active people


def safe_div(num, den):
    """num / den where den > 0, else 0 (shares of empty groups)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


class Expected:
    """Flows as expectations: a binomial is n * p, a Poisson its mean (deterministic)."""

    draws = 0
    sampled = False

    @staticmethod
    def binomial(n, p):
        """n x p: the model's chances are already in [0, 1] (the sampled mode clips them for the Generator)."""
        return n * p

    @staticmethod
    def orders(people, rate):
        """Orders placed today by `people` buying at `rate` a day (a daily step: at most one each)."""
        return people * np.minimum(rate, 1.0)

    @staticmethod
    def split(n, weights):
        """`n` (S,) people spread over the classes by `weights` (R, Dn, S or 1)."""
        return weights * n

    @staticmethod
    def fates(orderers, drop, step_up, fall_back):
        """(dropped out, customers stepping up to loyal, loyal falling back) among (G, 2, ...) orderers.

        The chances are per order and joint (drop, or stay and step): expectations need no division.
        """
        return orderers * drop, orderers[:, CUSTOMER] * step_up, orderers[:, LOYAL] * fall_back

    @staticmethod
    def comebacks(lapsed, weight1, weight2, chance):
        """(reactivated, weights left) of lapsed people contacted with per-weight `chance` (S,).

        A lapsed person with weight w = decay^(months since lapse) comes back with chance * w, so a class comes
        back in expectation chance * sum(w) = chance * W1 and takes away chance * W2 of W1; W2 loses
        chance * sum(w^3), closed as W2^2 / W1 (exact when a class's lapses have one age).
        """
        react = chance * weight1
        w2_left = weight2 - chance * safe_div(weight2 * weight2, weight1)
        return react, np.maximum(weight1 - chance * weight2, 0.0), np.maximum(w2_left, 0.0)

    @staticmethod
    def gamma_sum(count, shape, unit):
        """Sum of `count` order values with mean `unit`."""
        return count * unit

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


class Sampled:
    """Flows as draws; counts stay whole numbers. Each day's draws come from a stream of that day's own
    (seeded by the chunk's key and the day), each count the quantile of its own uniform (`inversion`), so
    runs of two plans with the same seed draw coupled counts: common random numbers, cell by cell. With
    `plans`, the rows are several plans' replications and every plan's r-th row gets the same uniforms."""

    sampled = True

    def __init__(self, rng: np.random.Generator, trace_days: Sequence[int] | None = None, plans: int = 1):
        self.key = int(rng.integers(2**62))  # the days' streams: (key, day); `rng` then draws the starting base
        self.plans = plans  # the rows are this many plans' replications, plan by plan: each plan's r-th row
        self.draws = 0  # how many scalar draws were made (the benchmark compares with a bare loop)
        self.trace_days = set(trace_days or ())  # the benchmark records these days' (n, p) and Poisson means
        self.trace: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        self.day = -1

    def uniforms(self, shape: tuple[int, ...], rows: int = -1) -> np.ndarray:
        """The day's next uniforms of `shape`, whose axis `rows` is the batch's rows: with several plans, one
        plan's worth drawn and repeated for every plan (each plan's r-th row sees replication r's luck)."""
        if self.plans == 1:
            return self._stream.random(shape)
        own = list(shape)
        if own[rows] % self.plans:
            raise ValueError(f"{own[rows]} rows are not {self.plans} plans' replications")
        own[rows] //= self.plans
        tiles = [1] * len(shape)
        tiles[rows] = self.plans
        return np.tile(self._stream.random(tuple(own)), tiles)

    @property
    def day(self) -> int:
        return self._day

    @day.setter
    def day(self, d: int) -> None:
        """A new day, a new stream: a plan that draws less on one day (a zero flow) stays in step on the next."""
        self._day = d
        self._stream = np.random.default_rng([self.key, d + 1])

    def binomial(self, n, p):
        n = np.asarray(n)
        p = np.minimum(np.maximum(p, 0.0), 1.0)  # np.clip, without its Python-level overhead (speed)
        shape = np.broadcast(n, p).shape
        self.draws += math.prod(shape)
        if self._day in self.trace_days:
            self.trace.append(
                ("binomial", np.broadcast_to(n, shape).ravel().copy(), np.broadcast_to(p, shape).ravel().copy())
            )
        return inversion.binomials(self.uniforms(shape), n, p)

    def poisson(self, lam):
        lam = np.asarray(lam, dtype=float)
        self.draws += lam.size
        if self._day in self.trace_days:
            self.trace.append(("poisson", lam.ravel().copy(), None))
        return inversion.poissons(self.uniforms(lam.shape), lam)

    def orders(self, people, rate):
        """Orders placed today: Poisson at the people's rate, at most one each (the daily step)."""
        return np.minimum(self.poisson(people * rate), people)

    def split(self, n, weights):
        """`n` (S,) whole people spread over the classes (R, Dn, S or 1) by a multinomial draw per row."""
        n = np.asarray(n)
        R, Dn, S_w = weights.shape
        p = np.broadcast_to(weights, (R, Dn, len(n))).reshape(R * Dn, len(n)).T
        self.draws += n.size * R * Dn
        drawn = inversion.multinomials(self.uniforms(p.shape, rows=0), n, p)  # (S, K)
        return drawn.T.reshape(R, Dn, len(n))

    def gamma_sum(self, count, shape, unit):
        """Sum of `count` Gamma(shape) order values of mean `unit`: one Gamma(count * shape) draw."""
        count = np.asarray(count)
        k = np.maximum(count * shape, 0.0)
        self.draws += k.size
        u = self.uniforms((2, *k.shape))
        return np.where(count > 0, inversion.gammas(u[0], u[1], k) * (unit / shape), 0.0)

    def fates(self, orderers, drop, step_up, fall_back):
        """Drop out with `drop`; of those who stay, customers step up with step_up / (1 - drop) and loyal
        customers fall back with fall_back / (1 - drop) (chained binomials)."""
        dropped = self.binomial(orderers, drop)
        stay = orderers - dropped
        up = self.binomial(stay[:, CUSTOMER], safe_div(step_up, 1.0 - drop[CUSTOMER]))
        down = self.binomial(stay[:, LOYAL], safe_div(fall_back, 1.0 - drop[LOYAL]))
        return dropped, up, down

    def comebacks(self, lapsed, weight1, weight2, chance):
        """Reactivations drawn per class with chance * (mean weight); the people who come back take away
        their expected weights (they are drawn in proportion to weight)."""
        react = self.binomial(lapsed, chance * safe_div(weight1, lapsed))
        mean_w = safe_div(weight2, weight1)
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
