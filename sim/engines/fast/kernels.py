"""Compiled counting for the fast engine's lean sweeps: a speed trick, and only counting.

`LeanExpected` (in `counting`) updates the class counts of a sweep in place; done with NumPy that is a dozen
passes over arrays of rows x 32 classes a day, most of a big sweep's time. `lean_day` does the same
arithmetic, element by element, in one pass a day (numba: compiled once, cached on disk). They hold no model
formula: every chance they apply (rates, dropout, step up, fall back, comeback) comes from the model's
functions, computed for the day on small arrays; `tests/test_fast_engine.py` checks the lean sweep against
the detailed NumPy loop.

Shapes: active X (2, R, Dn, S), lapsed L (R, Dn, S), decayed weights W (2, R, Dn, S); chances by stage
(2, R or 1, Dn, S) or node (2, R, S); rows S last and contiguous.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def lean_day(
    X,
    L,
    W,
    chance,
    with_comebacks,
    rate,
    weights,
    buyers,
    first_dropout,
    step_first,
    drop,
    step_c,
    fall_l,
    hazard,
    with_hazard,
    x_by_rate,
    w1_total,
):
    """One day of a lean sweep's class counts, in place, in one pass: win-back comebacks (`Expected.comebacks`:
    react = c W1, W1 -= c W2, W2 -= c W2^2 / W1) rejoin as customers; today's orders (X x min(rate, 1)) and the
    day's first orders (weights x buyers) drop out (`drop`), step up (`step_c`) or fall back (`fall_l`); a first
    order without a dropout chance steps up with `step_first`; Pareto/NBD's clock (`hazard`); the lapsing join
    the lapsed and their weights. Returns (lapsing (S,), stage totals (2, S), lapsed (S,)) and fills, for the
    next morning, the active people by stage and rate node `x_by_rate` (2, R, S) and the weights' total
    `w1_total` (S,), from which that day's orders and comebacks are summed before this pass.

    Long on purpose: one pass over the class arrays is the point (speed: memory traffic is the cost)."""
    _, R, Dn, S = X.shape
    r_drop = drop.shape[1]  # 1: the chances depend on the dropout node only
    lapsing_sum = np.zeros(S)
    stage_tot = np.zeros((2, S))
    lapsed_tot = np.zeros(S)
    x_by_rate[:] = 0.0
    w1_total[:] = 0.0
    for i in range(R):
        ii = i if r_drop > 1 else 0
        for j in range(Dn):
            for s in range(S):
                x_c = X[0, i, j, s]
                x_l = X[1, i, j, s]
                r_c = rate[0, i, s]
                r_l = rate[1, i, s]
                o_c = x_c * (r_c if r_c < 1.0 else 1.0)
                o_l = x_l * (r_l if r_l < 1.0 else 1.0)
                w1 = W[0, i, j, s]
                w2 = W[1, i, j, s]
                lap = L[i, j, s]
                if with_comebacks:
                    c = chance[s]
                    back = c * w1
                    w2 = w2 - c * w2 * w2 / w1 if w1 > 0.0 else w2
                    w1 = w1 - c * W[1, i, j, s]
                    lap -= back
                    o_c += back
                    x_c += back
                n = weights[i, j, s if weights.shape[2] > 1 else 0] * buyers[s]
                if first_dropout:
                    o_c += n
                    x_c += n
                else:  # a first order without a dropout chance, a step up after a good one
                    up_new = n * step_first[s]
                    x_c += n - up_new
                    x_l += up_new
                leave_c = o_c * drop[0, ii, j, s]
                leave_l = o_l * drop[1, ii, j, s]
                net = o_l * fall_l[ii, j, s] - o_c * step_c[ii, j, s]  # loyal falling back - customers stepping up
                x_c = x_c - leave_c + net
                x_l = x_l - leave_l - net
                lapsing = leave_c + leave_l
                if with_hazard:
                    t_c = x_c * hazard[0, 0, j, s]
                    t_l = x_l * hazard[1, 0, j, s]
                    x_c -= t_c
                    x_l -= t_l
                    lapsing += t_c + t_l
                X[0, i, j, s] = x_c
                X[1, i, j, s] = x_l
                lap += lapsing
                L[i, j, s] = lap
                w1 += lapsing
                W[0, i, j, s] = w1
                W[1, i, j, s] = w2 + lapsing
                lapsing_sum[s] += lapsing
                stage_tot[0, s] += x_c
                stage_tot[1, s] += x_l
                lapsed_tot[s] += lap
                x_by_rate[0, i, s] += x_c
                x_by_rate[1, i, s] += x_l
                w1_total[s] += w1
    return lapsing_sum, stage_tot, lapsed_tot


@njit(cache=True)
def per_order_fates(p, d0, m1, m2, pi0, pi1, pi2, s1, s2, demote):
    """`counting.fates_per_order`'s regrouped expectation, in one pass: with d0 the dissatisfied dropout
    chance (2, Dn, S) and p the satisfied one's base, the dropout, step-up and fall-back chances per order
    ((2, 1, Dn, S), (1, Dn, S), (1, Dn, S))."""
    _, Dn, S = p.shape
    drop = np.empty((2, 1, Dn, S))
    step = np.empty((1, Dn, S))
    fall = np.empty((1, Dn, S))
    for s in range(S):
        c_drop = pi1[s] * m1[s] + pi2[s] * m2[s]
        c_step = pi1[s] * s1[s] + pi2[s] * s2[s]
        c_step_p = pi1[s] * m1[s] * s1[s] + pi2[s] * m2[s] * s2[s]
        c_fall = pi0[s] * demote[s]
        for j in range(Dn):
            for st in range(2):
                drop[st, 0, j, s] = p[st, j, s] * c_drop + pi0[s] * d0[st, j, s]
            step[0, j, s] = c_step - p[0, j, s] * c_step_p
            fall[0, j, s] = (1.0 - d0[1, j, s]) * c_fall
    return drop, step, fall
