"""Compiled counting for the fast engine's lean sweeps: a speed trick, and only counting.

`LeanExpected` (in `counting`) updates the class counts of a sweep in place; done with NumPy that is a dozen
passes over arrays of rows x 32 classes a day, most of a big sweep's time. `lean_day` does the same
arithmetic, element by element, in one pass a day (numba: compiled once, cached on disk). Around it, a lean
day's other engine arithmetic on (S,) rows is also one call each instead of a few dozen NumPy calls of a few
microseconds (`expected_awareness`, `lean_orders`, `lean_record`, `close_day`, and in expected mode the
teams' `expected_complaints` and `expected_outcome_counts`): the same operations in the same order as the
loop's NumPy lines, so the figures are the same to the last bit (`np.einsum` sums one row's nodes in another
order: a one-row sweep keeps it). All are compiled with
NumPy's error model: a division by zero gives inf or NaN, as the NumPy lines would (and no check for it keeps
the compiler from vectorizing a loop).

They hold no model formula: every chance they apply (rates, dropout, step up, fall back, comeback, contact,
first purchase, forgetting, order value) comes from the model's functions, computed for the day on small
arrays; `tests/test_fast_engine.py` checks the lean sweep against the detailed NumPy loop.

Shapes: active X (2, R, Dn, S), lapsed L (R, Dn, S), decayed weights W (2, R, Dn, S); chances by stage
(2, R or 1, Dn, S) or node (2, R, S); rows S last and contiguous.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
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

    A class's rows are updated by `_lean_class` and then added to the totals by `_add`, in the classes'
    order (speed: two loops the compiler vectorizes, where one loop storing to a dozen arrays that might
    overlap is not; the sums are the same, added in the same order)."""
    _, R, Dn, S = X.shape
    r_drop = drop.shape[1]  # 1: the chances depend on the dropout node only
    lapsing_sum = np.zeros(S)
    stage_tot = np.zeros((2, S))
    lapsed_tot = np.zeros(S)
    lapsing = np.empty(S)
    x_by_rate[:] = 0.0
    w1_total[:] = 0.0
    wide_weights = weights.shape[2] > 1
    h_node = hazard.shape[2] > 1  # no hazard: a (2, 1, 1, 1) stand-in, never read
    for i in range(R):
        ii = i if r_drop > 1 else 0
        for j in range(Dn):
            jh = j if h_node else 0
            _lean_class(
                X[0, i, j], X[1, i, j], W[0, i, j], W[1, i, j], L[i, j], rate[0, i], rate[1, i],
                weights[i, j], wide_weights, buyers, first_dropout, step_first, chance, with_comebacks,
                drop[0, ii, j], drop[1, ii, j], step_c[ii, j], fall_l[ii, j], hazard[0, 0, jh], hazard[1, 0, jh],
                with_hazard, lapsing,
            )  # fmt: skip
            _add(lapsing_sum, lapsing)
            _add(stage_tot[0], X[0, i, j])
            _add(stage_tot[1], X[1, i, j])
            _add(lapsed_tot, L[i, j])
            _add(x_by_rate[0, i], X[0, i, j])
            _add(x_by_rate[1, i], X[1, i, j])
            _add(w1_total, W[0, i, j])
    return lapsing_sum, stage_tot, lapsed_tot


@njit(cache=True, error_model="numpy")
def _lean_class(
    x_cust,
    x_loyal,
    w1_row,
    w2_row,
    lapsed,
    rate_c,
    rate_l,
    weight,
    wide_weight,
    buyers,
    first_dropout,
    step_first,
    chance,
    with_comebacks,
    drop_c,
    drop_l,
    step_c,
    fall_l,
    hazard_c,
    hazard_l,
    with_hazard,
    lapsing_out,
):
    """`lean_day` for one class (rate node, dropout node): its rows (S,) in place, its lapsing into
    `lapsing_out`."""
    for s in range(x_cust.shape[0]):
        x_c = x_cust[s]
        x_l = x_loyal[s]
        r_c = rate_c[s]
        r_l = rate_l[s]
        o_c = x_c * (r_c if r_c < 1.0 else 1.0)
        o_l = x_l * (r_l if r_l < 1.0 else 1.0)
        w1 = w1_row[s]
        w2_morning = w2_row[s]
        w2 = w2_morning
        lap = lapsed[s]
        if with_comebacks:
            c = chance[s]
            back = c * w1
            w2 = w2 - c * w2 * w2 / w1 if w1 > 0.0 else w2
            w1 = w1 - c * w2_morning
            lap -= back
            o_c += back
            x_c += back
        n = (weight[s] if wide_weight else weight[0]) * buyers[s]
        if first_dropout:
            o_c += n
            x_c += n
        else:  # a first order without a dropout chance, a step up after a good one
            up_new = n * step_first[s]
            x_c += n - up_new
            x_l += up_new
        leave_c = o_c * drop_c[s]
        leave_l = o_l * drop_l[s]
        net = o_l * fall_l[s] - o_c * step_c[s]  # loyal falling back - customers stepping up
        x_c = x_c - leave_c + net
        x_l = x_l - leave_l - net
        lapsing = leave_c + leave_l
        if with_hazard:
            t_c = x_c * hazard_c[s]
            t_l = x_l * hazard_l[s]
            x_c -= t_c
            x_l -= t_l
            lapsing += t_c + t_l
        x_cust[s] = x_c
        x_loyal[s] = x_l
        lapsed[s] = lap + lapsing
        w1_row[s] = w1 + lapsing
        w2_row[s] = w2 + lapsing
        lapsing_out[s] = lapsing


@njit(cache=True, error_model="numpy")
def _add(total, x):
    """total += x, (S,) rows."""
    for s in range(x.shape[0]):
        total[s] += x[s]


@njit(cache=True, error_model="numpy")
def per_order_fates(p, d0, m1, m2, pi0, pi1, pi2, s1, s2, demote):
    """`counting.fates_per_order`'s regrouped expectation, in one pass: with d0 the dissatisfied dropout
    chance (2, Dn, S) and p the satisfied one's base, (whether the regrouping holds: the satisfied and
    delighted multipliers m1, m2 at most 1 in every row; and then the dropout, step-up and fall-back chances per
    order ((2, 1, Dn, S), (1, Dn, S), (1, Dn, S)))."""
    _, Dn, S = p.shape
    drop = np.empty((2, 1, Dn, S))
    step = np.empty((1, Dn, S))
    fall = np.empty((1, Dn, S))
    for s in range(S):
        if not (m1[s] <= 1.0 and m2[s] <= 1.0):  # NaN too
            return False, drop, step, fall
    c_drop, c_step, c_step_p, c_fall = np.empty(S), np.empty(S), np.empty(S), np.empty(S)
    for s in range(S):  # per-row coefficients, then the node arrays row by row (speed: contiguous loops)
        c_drop[s] = pi1[s] * m1[s] + pi2[s] * m2[s]
        c_step[s] = pi1[s] * s1[s] + pi2[s] * s2[s]
        c_step_p[s] = pi1[s] * m1[s] * s1[s] + pi2[s] * m2[s] * s2[s]
        c_fall[s] = pi0[s] * demote[s]
    for j in range(Dn):
        for st in range(2):
            for s in range(S):
                drop[st, 0, j, s] = p[st, j, s] * c_drop[s] + pi0[s] * d0[st, j, s]
        for s in range(S):
            step[0, j, s] = c_step[s] - p[0, j, s] * c_step_p[s]
            fall[0, j, s] = (1.0 - d0[1, j, s]) * c_fall[s]
    return True, drop, step, fall


@njit(cache=True, error_model="numpy")
def expected_awareness(never, forgot, aware, contact, buy, forget):
    """The day's awareness flows as expectations (`Expected.binomial`: n x p), in the loop's order of
    operations: contacts reach both kinds of unaware people alike, aware people buy or forget. Returns the
    evening's (never met, forgot, aware) and the day's (newly aware, buyers, forgotten), each (S,)."""
    S = never.shape[0]
    never2, forgot2, aware2 = np.empty(S), np.empty(S), np.empty(S)
    newly, buyers, forgotten = np.empty(S), np.empty(S), np.empty(S)
    for s in range(S):
        newly_never = never[s] * contact[s]
        newly_forgot = forgot[s] * contact[s]
        never2[s] = never[s] - newly_never
        n = newly_never + newly_forgot
        a = aware[s] + n
        b = a * buy[s]
        f = (a - b) * (forget[s] / (1.0 - buy[s]))
        aware2[s] = a - b - f
        forgot2[s] = forgot[s] - newly_forgot + f
        newly[s], buyers[s], forgotten[s] = n, b, f
    return never2, forgot2, aware2, newly, buyers, forgotten


@njit(cache=True, error_model="numpy")
def lean_orders(lam, rate_mult, loyal_rate, blocked, winback_contact, react0, lapsed, x_by_rate, w1_total, first):
    """The day's order rates and expected orders of a lean sweep, in one pass: rates by stage and rate node
    (2, R, S) `lam x rate_mult x loyal_rate`, cut by the days a waiting order blocks its customer; orders by
    stage (2, S) `sum over nodes of min(rate, 1) x active` (summed node by node, as `np.einsum` does for
    S > 1); the comeback chance (S,) `winback_contact x react0` where anybody has lapsed, and the comebacks
    (S,) `chance x W1`; all orders (S,), with the first orders `first`. Returns (rate, by stage, chance,
    comebacks, orders, whether any row has comebacks)."""
    R, S = lam.shape
    any_blocked = False
    for s in range(S):
        if blocked[s] != 0.0:  # blocked.any() (NaN counts)
            any_blocked = True
    chance, react = np.empty(S), np.empty(S)
    with_comebacks = False
    for s in range(S):
        c = (winback_contact[s] if lapsed[s] > 0.0 else 0.0) * react0[s]
        chance[s] = c
        react[s] = c * w1_total[s]
        if c != 0.0:  # chance.any()
            with_comebacks = True
    rate = np.empty((2, R, S))
    by_stage = np.zeros((2, S))
    for t in range(2):
        for i in range(R):
            for s in range(S):
                r = lam[i, s] * (rate_mult[s] * loyal_rate[t, s])
                if any_blocked:
                    r = r / (1.0 + r * blocked[s])
                rate[t, i, s] = r
                by_stage[t, s] += (1.0 if r > 1.0 else r) * x_by_rate[t, i, s]  # np.minimum(r, 1) (NaN kept)
    n_orders = np.empty(S)
    for s in range(S):
        n_orders[s] = by_stage[0, s] + by_stage[1, s] + react[s] + first[s]
    return rate, by_stage, chance, react, n_orders, with_comebacks


# the columns `lean_record` writes, in the order of its `cols` argument
LEAN_RECORD = (
    "unaware", "aware", "customer", "loyal", "lapsed", "never_met", "new_customers", "orders", "repeat_orders",
    "revenue", "revenue_new", "revenue_returning", "spend_front", "spend_back", "spend_winback", "event_cost",
    "newly_aware", "forgotten", "dropouts", "reactivations", "winback_contacts", "dissatisfied", "satisfied",
    "delighted", "complaints", "recovered", "fulfilment_delay_days", "discounts",
)  # fmt: skip


@njit(cache=True, error_model="numpy")
def lean_record(
    rec,
    cols,
    unit,
    price,
    event_cost,
    by_stage,
    react,
    first_orders,
    n_orders,
    never,
    forgot,
    aware,
    stage_tot,
    lapsed,
    buyers,
    newly,
    forgotten,
    lapsing,
    spend_day,
    spend_back,
    winback_contacts,
    dissatisfied,
    satisfied,
    delighted,
    complaints,
    recovered,
    mean_wait,
):
    """A lean day's record (n_col, S), in place, in one pass: its money (order values `unit` (2, S) times
    the orders of first buyers, customers with the comebacks, loyal customers; `price` the share paid,
    (S,) or (1,)) and the columns of `LEAN_RECORD` (rows `cols` of `rec`), exactly as the loop's NumPy
    lines for a lean run compute them.

    Long on purpose: one line a column, in `LEAN_RECORD`'s order (speed: one call instead of 40 NumPy ones)."""
    S = rec.shape[1]
    wide_price, wide_cost = price.shape[0] > 1, event_cost.shape[0] > 1
    revenue, revenue_new, revenue_returning, discounts = rec[cols[9]], rec[cols[10]], rec[cols[11]], rec[cols[27]]
    for s in range(S):  # money
        p = price[s if wide_price else 0]
        list_new = first_orders[s] * unit[0, s]
        list_existing = (by_stage[0, s] + react[s]) * unit[0, s] + by_stage[1, s] * unit[1, s]
        list_total = list_new + list_existing + 0.0  # no acquired repeat orders in a lean run (0.0)
        revenue_new[s] = list_new * p
        revenue_returning[s] = (list_existing + 0.0) * p
        revenue[s] = revenue_new[s] + revenue_returning[s]
        discounts[s] = list_total * (1.0 - p)
    # the other columns, each a contiguous row (speed)
    _sum_into(rec[cols[0]], never, forgot, 1.0)
    rec[cols[1]] = aware
    rec[cols[2]] = stage_tot[0]
    rec[cols[3]] = stage_tot[1]
    rec[cols[4]] = lapsed
    rec[cols[5]] = never
    rec[cols[6]] = buyers
    rec[cols[7]] = n_orders
    _sum_into(rec[cols[8]], n_orders, first_orders, -1.0)
    rec[cols[12]] = spend_day[0]
    rec[cols[13]] = spend_back
    rec[cols[14]] = spend_day[2]
    for s in range(S):
        rec[cols[15], s] = event_cost[s if wide_cost else 0]
    rec[cols[16]] = newly
    rec[cols[17]] = forgotten
    rec[cols[18]] = lapsing
    rec[cols[19]] = react
    rec[cols[20]] = winback_contacts
    rec[cols[21]] = dissatisfied
    rec[cols[22]] = satisfied
    rec[cols[23]] = delighted
    rec[cols[24]] = complaints
    rec[cols[25]] = recovered
    row = rec[cols[26]]
    for s in range(S):
        row[s] = n_orders[s] * mean_wait[s]


@njit(cache=True, error_model="numpy")
def _sum_into(out, a, b, sign):
    """out = a + b (sign 1) or a - b (sign -1), (S,) rows."""
    for s in range(out.shape[0]):
        out[s] = a[s] + b[s] if sign > 0.0 else a[s] - b[s]


@njit(cache=True, error_model="numpy")
def close_day(rec, month_rec, discounted, discount, n_stocks):
    """A day's record (n_col, S) into its month's (flows add up, stocks are the day's) and into the flows'
    discounted sums (`discount`: the day's factor, (S,) or (1,)), in place (speed: one pass, no temporary)."""
    n_col, S = rec.shape
    wide = discount.shape[0] > 1
    month_rec[:n_stocks] = rec[:n_stocks]
    for k in range(n_stocks, n_col):
        x, month_k, disc_k = rec[k], month_rec[k], discounted[k - n_stocks]
        if wide:
            for s in range(S):
                month_k[s] += x[s]
                disc_k[s] += x[s] * discount[s]
        else:
            f = discount[0]
            for s in range(S):
                month_k[s] += x[s]
                disc_k[s] += x[s] * f


@njit(cache=True, error_model="numpy")
def expected_complaints(n_orders, dissatisfied_chance, complaint_share, quiet_service):
    """The day's dissatisfied orders before complaints and the complaints, as expectations (n x p); and
    whether any row's complaints pass the service team's quiet level (it may queue today)."""
    S = n_orders.shape[0]
    dis_orders, complaints = np.empty(S), np.empty(S)
    loud = False
    for s in range(S):
        dis_orders[s] = n_orders[s] * dissatisfied_chance[s]
        complaints[s] = dis_orders[s] * complaint_share[s]
        if complaints[s] > quiet_service[s]:
            loud = True
    return dis_orders, complaints, loud


@njit(cache=True, error_model="numpy")
def expected_outcome_counts(n_orders, dis_orders, complaints, recovery, delighted_share):
    """The day's (recovered, delighted, dissatisfied, satisfied) orders as expectations: complaints turned
    around with `recovery`, orders meeting expectations delighted with `delighted_share`."""
    S = n_orders.shape[0]
    recovered, delighted, dissatisfied, satisfied = np.empty(S), np.empty(S), np.empty(S), np.empty(S)
    for s in range(S):
        recovered[s] = complaints[s] * recovery[s]
        delighted[s] = (n_orders[s] - dis_orders[s]) * delighted_share[s]
        dissatisfied[s] = dis_orders[s] - recovered[s]
        satisfied[s] = n_orders[s] - dissatisfied[s] - delighted[s]
    return recovered, delighted, dissatisfied, satisfied
