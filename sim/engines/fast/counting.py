"""How the fast engine counts its customers by latent class, day by day: the engine's side of the model's
day (the chances come from the model; these objects only count who orders, comes back, drops out or steps up).

Two ways to count, one interface (`new_customers`, `fates`, `totals`, `new_month`; the day's comebacks and
orders by `comebacks_and_orders`, or `day_orders` in the lean loop, which also works out the day's rates):

- `Groups`: by group (existing base, acquired with one order, acquired with two or more) for the accounting
  of acquired customers, in either mode (expected values or draws), through the draw strategy (`draws`);
- `LeanExpected`: one group, expected values, updated in place by compiled kernels (`kernels`): the
  optimizer's sweeps (a speed trick: the same arithmetic as `Groups` with `Expected` draws and one group, in
  one pass over the class arrays instead of a dozen; `tests/test_fast_engine.py` checks that both give the
  same results).

Arrays are class-major: active people (G, 2, R, Dn, S), lapsed people and their decayed weights (G, R, Dn, S).
"""

from __future__ import annotations

import numpy as np

from sim.engines.fast import kernels
from sim.engines.fast.draws import CUSTOMER, LOYAL, Expected, Sampled
from sim.model import lifecycle, repeat

EXISTING, ONE_ORDER, REPEAT = 0, 1, 2  # groups: existing base; acquired with one order; with two or more


class Groups:
    """Counts by group, stage and class, through a draw strategy (expected values or seeded draws)."""

    def __init__(self, active, lapsed, weight1, weight2, draw: Expected | Sampled, family: repeat.Family):
        self.X, self.L, self.W1, self.W2 = active, lapsed, weight1, weight2
        self.draw = draw
        self.family = family
        self.G = active.shape[0]
        self.react = None
        self.ordering = None

    def new_month(self, decay1, decay2) -> None:
        """Every lapse is a month older: the decayed weights shrink."""
        self.W1 = self.W1 * decay1
        self.W2 = self.W2 * decay2

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """(active customers and loyal (2, S), lapsed people (S,))."""
        return self.X.sum(axis=(0, 2, 3)), self.L.sum(axis=(0, 1, 2))

    def cohort_start(self) -> np.ndarray:
        """The people active today, by stage and class (2, R, Dn, S): the retention cohort."""
        return self.X.sum(axis=0)

    def comebacks(self, chance) -> np.ndarray:
        """Lapsed people contacted today come back with `chance` (S,) times their decayed weight; returns the
        comebacks by group (G, S) (each comes back as a customer and orders at once)."""
        self.react, self.W1, self.W2 = self.draw.comebacks(self.L, self.W1, self.W2, chance)
        self.L = self.L - self.react
        return self.react.sum(axis=(1, 2))

    def orders(self, rate) -> np.ndarray:
        """Today's orders of the active people at `rate` (2, R, S) a day: by group and stage (G, 2, S)."""
        self.ordering = self.draw.orders(self.X, rate[:, :, None, :])
        return self.ordering.sum(axis=(2, 3))

    def comebacks_and_orders(self, chance, rate) -> tuple[np.ndarray, np.ndarray]:
        """Comebacks by group (G, S), then today's orders by group and stage (G, 2, S)."""
        return self.comebacks(chance), self.orders(rate)

    def new_customers(self, draw, buyers, weights) -> tuple[np.ndarray, np.ndarray]:
        """Today's first orders by class (R, Dn, S) and their count (S,)."""
        new_by_class = draw.split(buyers, weights)
        return new_by_class, new_by_class.sum(axis=(0, 1))

    def fates(self, new_by_class, drop2, step_c, fall_l, step_first, hazard) -> np.ndarray:
        """After today's orders (and the first orders of `new_by_class` (R, Dn, S), and the comebacks' orders):
        drop out with `drop2` (2, R|1, Dn, S), step up with `step_c`, fall back with `fall_l`; a first order
        drops out only in families where that can happen (else it steps up with `step_first` (S,)); Pareto/NBD's
        clock then runs for everybody (`hazard`, or None). Returns the people who lapsed (S,)."""
        draw, X, react = self.draw, self.X, self.react
        # orderers by the group they belong to after the order: the existing base stays existing, first orders
        # make one-order customers, any other acquired order makes repeat buyers (a sum of binomials with one
        # chance is a binomial of the sum, so merging before the draws changes nothing)
        dest = self.ordering.copy()
        new_in_dest = self.family.first_order_dropout
        if self.G == 3:
            dest[REPEAT] += dest[ONE_ORDER]
            dest[ONE_ORDER] = 0
            if new_in_dest:
                dest[ONE_ORDER, CUSTOMER] = new_by_class
            dest[EXISTING, CUSTOMER] += react[EXISTING]
            dest[REPEAT, CUSTOMER] += react[ONE_ORDER] + react[REPEAT]
        else:
            dest[0, CUSTOMER] += react[0] + new_by_class if new_in_dest else react[0]
        dropped, up, down = draw.fates(dest, drop2, step_c, fall_l)
        stay = dest - dropped
        X = X - self.ordering
        X[:, CUSTOMER] += stay[:, CUSTOMER] - up + down
        X[:, LOYAL] += stay[:, LOYAL] - down + up
        if not new_in_dest:  # first orders without a dropout chance: a step up to loyal after a good order
            up_new = draw.binomial(new_by_class, step_first)
            g = ONE_ORDER if self.G == 3 else 0
            X[g, CUSTOMER] += new_by_class - up_new
            X[g, LOYAL] += up_new
        lapsing = dropped.sum(axis=1)  # (G, R, Dn, S)
        if hazard is not None:
            leaving = draw.binomial(X, hazard)
            X = X - leaving
            lapsing = lapsing + leaving.sum(axis=1)
        self.X = X
        self.L = self.L + lapsing
        self.W1 = self.W1 + lapsing
        self.W2 = self.W2 + lapsing
        return lapsing.sum(axis=(0, 1, 2))


class LeanExpected:
    """One group, expected values, in place, counted by one compiled pass a day (`kernels.lean_day`; the same
    counts as `Groups` with `Expected` draws and one group). The day's orders and comebacks are summed before
    the pass (`day_orders`, another compiled pass) from what the previous pass left: the active people by rate
    node and the weights' total."""

    def __init__(self, active, lapsed, weight1, weight2, family: repeat.Family):
        self.family = family
        self.X = np.ascontiguousarray(active[0], dtype=float)  # (2, R, Dn, S)
        self.L = np.ascontiguousarray(lapsed[0], dtype=float)  # (R, Dn, S)
        self.W = np.ascontiguousarray(np.stack([weight1[0], weight2[0]]), dtype=float)  # (2, R, Dn, S)
        _, R, _, S = self.X.shape
        self.x_by_rate = self.X.sum(axis=2)  # (2, R, S)
        self.w1_total = self.W[0].sum(axis=(0, 1))
        self.no_hazard = np.zeros((2, 1, 1, 1))
        self.ones = np.ones(S)
        self.G = 1
        self._totals = (self.X.sum(axis=(1, 2)), self.L.sum(axis=(0, 1)))
        self._day: tuple = ()
        self._weights, self._weights_total = None, None

    def new_month(self, decay1, decay2) -> None:
        self.W[0] *= decay1
        self.W[1] *= decay2
        self.w1_total = self.W[0].sum(axis=(0, 1))

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        return self._totals

    def cohort_start(self) -> np.ndarray:
        return self.X.copy()

    def new_customers(self, draw, buyers, weights) -> tuple[tuple, np.ndarray]:
        """Today's first orders: (how they spread over the classes, their count (S,)); the spread is applied in
        the day's pass (speed: no (R, Dn, S) array is made, and the weights' total is summed once)."""
        if weights is not self._weights:
            self._weights, self._weights_total = weights, weights.sum(axis=(0, 1))
        return (weights, buyers), buyers * self._weights_total

    def day_orders(self, lam, rate_mult, loyal_rate, blocked, winback_contact, react0, lapsed, first_orders):
        """The day's rates (2, R, S) `lam x rate_mult x loyal_rate`, cut by the days a waiting order blocks its
        customer; comebacks by group (1, S) with chance `winback_contact x react0` where anybody has lapsed;
        today's orders by group and stage (1, 2, S) and in all (S,), with the comebacks' and `first_orders`:
        what `Groups.comebacks_and_orders` and the loop's sum give with those chances and rates, summed from
        the morning's active people by rate node and the weights' total (the counts themselves move in
        `fates`), in one compiled pass (`kernels.lean_orders`)."""
        S = self.w1_total.shape[0]
        rate, by_stage, chance, react, n_orders, with_comebacks = kernels.lean_orders(
            lam, as_row(rate_mult, S), loyal_rate, as_row(blocked, S), as_row(winback_contact, S), react0,
            lapsed, self.x_by_rate, self.w1_total, first_orders,
        )  # fmt: skip
        if S == 1:  # np.einsum sums a single row's nodes in another order: its sums, to the last bit
            by_stage = np.einsum("trs,trs->ts", np.minimum(rate, 1.0), self.x_by_rate)
            n_orders = by_stage.sum(axis=0) + react + first_orders
        self._day = (chance, with_comebacks, rate)
        return rate, react[None], by_stage[None], n_orders

    def fates(self, new_by_class, drop2, step_c, fall_l, step_first, hazard) -> np.ndarray:
        """`Groups.fates` with one group and expectations, in place; returns the people who lapsed (S,)."""
        chance, with_comebacks, rate = self._day
        weights, buyers = new_by_class
        drop2, step_c, fall_l = _full(drop2, 4), _full(step_c, 3), _full(fall_l, 3)
        # the kernel reads the three by the dropout chances' rate axis, unchecked (compiled): check it here
        if not (step_c.shape[0] in (1, drop2.shape[1]) and fall_l.shape[0] in (1, drop2.shape[1])):
            raise ValueError(f"fate chances laid out {step_c.shape}, {fall_l.shape} for dropout {drop2.shape}")
        if step_c.shape[0] != drop2.shape[1]:
            step_c = np.ascontiguousarray(np.broadcast_to(step_c, (drop2.shape[1], *step_c.shape[1:])))
        if fall_l.shape[0] != drop2.shape[1]:
            fall_l = np.ascontiguousarray(np.broadcast_to(fall_l, (drop2.shape[1], *fall_l.shape[1:])))
        lapsing, stage_tot, lapsed_tot = kernels.lean_day(
            self.X, self.L, self.W, chance, with_comebacks, rate,
            np.ascontiguousarray(weights, dtype=float), np.ascontiguousarray(buyers, dtype=float),
            self.family.first_order_dropout, self.ones if step_first is None else _full(step_first, 1),
            drop2, step_c, fall_l,
            self.no_hazard if hazard is None else _full(hazard, 4), hazard is not None,
            self.x_by_rate, self.w1_total,
        )  # fmt: skip
        self._totals = (stage_tot, lapsed_tot)
        return lapsing

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The counts in the `Groups` layout (one group)."""
        return self.X[None], self.L[None], self.W[0][None], self.W[1][None]


def _full(x, ndim: int) -> np.ndarray:
    """A chance array as a contiguous float array of `ndim` dimensions (broadcast axes kept at size 1)."""
    if type(x) is np.ndarray and x.ndim == ndim and x.dtype == np.float64 and x.flags.c_contiguous:
        return x  # speed: the usual case, nothing to convert
    a = np.asarray(x, dtype=float)
    while a.ndim < ndim:
        a = a[None]
    return np.ascontiguousarray(a)


def expected_fates(outcome_chances, drop_by_outcome, step_by_outcome, fall_back_dissatisfied):
    """Chances per order of (dropping out, stepping up to loyal, falling back from loyal), the order's outcome
    unknown: each outcome's chance times what that outcome does (`sim.model.lifecycle`), as the agent engine
    draws it. `drop_by_outcome`: the dropout chance after each outcome, by stage (2, ...); the step up is a
    customer's and the fall back a loyal customer's, each if they stay."""
    p0, p1, p2 = outcome_chances
    d0, d1, d2 = drop_by_outcome
    drop = p0 * d0 + p1 * d1 + p2 * d2
    step = p1 * (1.0 - d1[CUSTOMER]) * step_by_outcome[1] + p2 * (1.0 - d2[CUSTOMER]) * step_by_outcome[2]
    fall_back = p0 * (1.0 - d0[LOYAL]) * fall_back_dissatisfied
    return drop, step, fall_back


def fates_per_order(outcome_chances, p, multipliers, step_by_outcome, fall_back_dissatisfied):
    """`expected_fates` for the per-order families: the dropout chance after outcome o is
    `lifecycle.dropout_probability(p, multiplier_o)` at each dropout node p (2, Dn, S), for (2, 1, Dn, S) chances.

    Speed: where the satisfied and delighted multipliers are at most 1 (back-end spend and delight only cut
    dropout), their chances p x m need no cap and are linear in p, so the three outcomes regroup into per-row
    coefficients (S,) and two passes over the node arrays (`tests/test_fast_engine.py` checks this against
    `expected_fates` with `dropout_probability` for every outcome)."""
    p0, p1, p2 = outcome_chances
    m0, m1, m2 = multipliers
    d0 = lifecycle.dropout_probability(p, m0)  # (2, Dn, S): the dissatisfied chance may reach the cap
    S = p.shape[-1]
    rows = [as_row(x, S) for x in (m1, m2, p0, p1, p2, step_by_outcome[1], step_by_outcome[2], fall_back_dissatisfied)]
    linear, drop, step, fall_back = kernels.per_order_fates(p, d0, *rows)
    if not linear:  # a satisfied or delighted multiplier above 1 somewhere: every outcome's chance, capped
        drops = [lifecycle.dropout_probability(p, m)[:, None] for m in multipliers]
        drop, step, fall_back = expected_fates(outcome_chances, drops, step_by_outcome, fall_back_dissatisfied)
    return drop, step, fall_back


def as_row(x, S: int) -> np.ndarray:
    """A per-row value as a contiguous (S,) float array (most already are: speed, no copy then)."""
    if type(x) is np.ndarray and x.shape == (S,) and x.dtype == np.float64 and x.flags.c_contiguous:
        return x
    return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=float), (S,)))
