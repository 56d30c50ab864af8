"""How the fast engine counts its customers by latent class, day by day: the engine's side of the model's
day (the chances come from the model; these objects only count who orders, comes back, drops out or steps up).

Two ways to count, one interface (`comebacks`, `orders`, `fates`, `totals`, `new_month`):

- `Groups`: by group (existing base, acquired with one order, acquired with two or more) for the accounting
  of acquired customers, in either mode (expected values or draws), through the draw strategy (`draws`);
- `LeanExpected`: one group, expected values, updated in place on preallocated buffers: the optimizer's
  sweeps (a speed trick: the same arithmetic as `Groups` with `Expected` draws and one group, regrouped so
  that each day makes a few passes over the class arrays instead of dozens of new ones;
  `tests/test_fast_engine.py` checks that both give the same results).

Arrays are class-major: active people (G, 2, R, Dn, S), lapsed people and their decayed weights (G, R, Dn, S).
"""

from __future__ import annotations

import numpy as np

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
    """One group, expected values, in place (see the module docstring; the same counts as `Groups`)."""

    def __init__(self, active, lapsed, weight1, weight2, family: repeat.Family):
        _, _, R, Dn, S = active.shape
        self.family = family
        self.K = R * Dn
        self.X = np.ascontiguousarray(active[0], dtype=float)  # (2, R, Dn, S)
        self.L = np.ascontiguousarray(lapsed[0], dtype=float)  # (R, Dn, S)
        self.W = np.stack([weight1[0], weight2[0]]).astype(float)  # (2, R, Dn, S): both weights, one call each
        self.orderers = np.empty_like(self.X)  # today's orders, then the orderers after the order
        self.react = np.zeros_like(self.L)
        self.tmp = np.empty_like(self.L)
        self.tmp2 = np.empty_like(self.L)
        self.scaled = np.empty_like(self.W)
        self.ones = np.ones(self.K)
        self.any_react = False
        self.G = 1

    def _class_sum(self, x: np.ndarray) -> np.ndarray:
        """Sums over the classes (..., R, Dn, S) -> (..., S), as a matrix-vector product (BLAS)."""
        lead = x.shape[:-3]
        return np.matmul(self.ones, x.reshape(*lead, self.K, x.shape[-1]))

    def new_month(self, decay1, decay2) -> None:
        self.W[0] *= decay1
        self.W[1] *= decay2

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        return self._class_sum(self.X), self._class_sum(self.L)

    def cohort_start(self) -> np.ndarray:
        return self.X.copy()

    def comebacks(self, chance) -> np.ndarray:
        """`Expected.comebacks` in place: react = c W1; W1 -= c W2; W2 -= c W2^2 / W1 (its clamps at 0 are
        not needed: with W2 <= W1 and c <= 1, W1 - c W2 >= (1 - c) W1 and W2 (1 - c W2 / W1) >= (1 - c) W2)."""
        if not chance.any():  # speed: no win-back contact today
            self.any_react = False
            return np.zeros((1, chance.shape[0]))
        W1, W2 = self.W
        np.multiply(self.W, chance, out=self.scaled)  # (c W1, c W2)
        react, c_w2 = self.scaled
        self.react[...] = react
        self.tmp[...] = 0.0
        np.multiply(c_w2, W2, out=self.tmp2)
        np.divide(self.tmp2, W1, out=self.tmp, where=W1 > 0.0)  # c W2^2 / W1, before W1 changes
        W1 -= c_w2
        W2 -= self.tmp
        self.L -= self.react
        self.any_react = True
        return self._class_sum(self.react)[None]

    def orders(self, rate) -> np.ndarray:
        np.multiply(self.X, np.minimum(rate, 1.0)[:, :, None, :], out=self.orderers)
        return self._class_sum(self.orderers)[None]

    def fates(self, new_by_class, drop2, step_c, fall_l, step_first, hazard) -> np.ndarray:
        """`Groups.fates` with one group and expectations, in place."""
        X, orderers, tmp = self.X, self.orderers, self.tmp
        X -= orderers
        if self.any_react:
            orderers[CUSTOMER] += self.react
        first_dropout = self.family.first_order_dropout
        if first_dropout:
            orderers[CUSTOMER] += new_by_class
        # lapsing = orderers x dropout, by stage; staying customers step up, staying loyal fall back
        lapsing = self.tmp2
        np.multiply(orderers[CUSTOMER], drop2[CUSTOMER], out=lapsing)
        np.multiply(orderers[LOYAL], drop2[LOYAL], out=tmp)
        lapsing += tmp
        keep_c = 1.0 - drop2[CUSTOMER] - step_c  # small arrays: (R|1, Dn, S)
        keep_l = 1.0 - drop2[LOYAL] - fall_l
        np.multiply(orderers[LOYAL], fall_l, out=tmp)
        X[CUSTOMER] += tmp
        np.multiply(orderers[CUSTOMER], step_c, out=tmp)
        X[LOYAL] += tmp
        orderers[CUSTOMER] *= keep_c
        orderers[LOYAL] *= keep_l
        X += orderers
        if not first_dropout:  # first orders: no dropout, a step up to loyal after a good order
            np.multiply(new_by_class, step_first, out=tmp)
            X[LOYAL] += tmp
            X[CUSTOMER] += new_by_class
            X[CUSTOMER] -= tmp
        if hazard is not None:  # Pareto/NBD's clock
            np.multiply(X, hazard, out=orderers)
            X -= orderers
            lapsing += orderers[CUSTOMER]
            lapsing += orderers[LOYAL]
        self.L += lapsing
        self.W += lapsing
        return self._class_sum(lapsing)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The counts in the `Groups` layout (one group)."""
        return self.X[None], self.L[None], self.W[0][None], self.W[1][None]


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
    if not ((m1 <= 1.0).all() and (m2 <= 1.0).all()):
        drops = [lifecycle.dropout_probability(p, m)[:, None] for m in multipliers]
        drop, step, fall_back = expected_fates(outcome_chances, drops, step_by_outcome, fall_back_dissatisfied)
        return drop, step, fall_back
    s1, s2 = step_by_outcome[1], step_by_outcome[2]
    d0 = lifecycle.dropout_probability(p, m0)  # (2, Dn, S): the dissatisfied chance may reach the cap
    drop = p * (p1 * m1 + p2 * m2)
    drop += p0 * d0
    step = p1 * s1 + p2 * s2 - p[CUSTOMER] * (p1 * m1 * s1 + p2 * m2 * s2)
    fall_back = (1.0 - d0[LOYAL]) * (p0 * fall_back_dissatisfied)
    return drop[:, None], step[None], fall_back[None]
