"""The fast engine's day, repeated: the model's day (`sim.model.day.day_chances`) applied to counts of people
in latent classes, for a batch of S plans at once, with every flow an expectation or a draw (`draws`).

A day runs in the agent engine's order: the back-end levers from spend per active customer; awareness from
ads and referrals; aware people buy for the first time or forget; win-back contacts reactivate lapsed
people; customers order at their class's rate; every order is judged (its delay from a fluid fulfilment
queue, its complaint from a fluid customer-service queue); after each order a customer may drop out, step
up to loyal or fall back (`sim.model.lifecycle`); money by the model's identity (`sim.model.money`).

Counts are class-major (`classes`): active people (G, 2, R, Dn, S) by group, stage (customer, loyal),
rate node, dropout node and row; lapsed people (G, R, Dn, S) with their decayed weights. Groups serve the
accounting of acquired customers (existing base, acquired with one order, acquired with two or more); a
lean run (`detail=False`, the optimizer's sweeps) keeps one group and no retention cohort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from sim.engines.fast import kernels
from sim.engines.fast.counting import (
    EXISTING,
    ONE_ORDER,
    REPEAT,
    Groups,
    LeanExpected,
    as_row,
    expected_fates,
    fates_per_order,
)
from sim.engines.fast.draws import CUSTOMER, LOYAL, Expected, Sampled, safe_div
from sim.engines.fast.params import BatchParams
from sim.engines.fast.queue import QueueDay, capacity_queue
from sim.model import acquisition, budget, day, experience, lifecycle, money, repeat
from sim.model.calendar import Calendar
from sim.model.result import COUNTED_FLOWS, STOCK_COLUMNS

RAW_COLUMNS = [*STOCK_COLUMNS, *COUNTED_FLOWS]  # the columns a day records (money columns are derived later)
COL = {name: i for i, name in enumerate(RAW_COLUMNS)}
N_STOCKS = len(STOCK_COLUMNS)
ACQUIRED = ("orders_acquired", "revenue_acquired", "second_orders", "discounts_acquired")


@dataclass
class LoopOutput:
    """What the loop hands back: month-major totals (M, n_col, S), present values and the cohort."""

    monthly: np.ndarray
    npv: np.ndarray  # (S,) discounted contribution
    discounted_gpa: np.ndarray  # (S,) discounted gross profit of acquired customers
    discounted_new: np.ndarray  # (S,) discounted new customers
    cohort: np.ndarray  # (S, 2): active 365 days before the end, still active at the end
    spend_back_month: np.ndarray  # (M, S) back-end spend actually made each month
    daily: np.ndarray | None  # (S, D, n_col) when kept


@dataclass
class State:
    """People in the morning, by class (see the module docstring); counts float (expected) or int (sampled)."""

    never_met: np.ndarray  # (S,) unaware people who never met the brand
    forgot: np.ndarray  # (S,) unaware people who met it and forgot
    aware: np.ndarray  # (S,)
    active: np.ndarray  # (G, 2, R, Dn, S)
    lapsed: np.ndarray  # (G, R, Dn, S)
    weight1: np.ndarray  # (G, R, Dn, S) sum over lapsed people of decay^(months since lapse)
    weight2: np.ndarray  # (G, R, Dn, S) the same of its square


def run_days(
    P: BatchParams,
    cal: Calendar,
    drivers: budget.MonthlyDrivers,
    state: State,
    draw: Expected | Sampled,
    *,
    detail: bool,
    keep_daily: bool,
    progress: bool = False,
) -> LoopOutput:
    """Simulate every day of the horizon from the morning of day 0 (see the module docstring).

    The function is long on purpose: one day's sequence, in the model's order, in one place, each part under
    a comment, so a day reads from top to bottom and no state crosses a function boundary halfway through
    (the teams and the fates' chances have their own helpers; the rest would pass a dozen arrays each way)."""
    lv = P.levers
    fac = P.factors
    S = P.market_size.shape[0]
    D, M = cal.n_days, cal.n_months
    n_col = len(RAW_COLUMNS)
    fam = P.family
    lean = not detail and not draw.sampled
    if lean:
        people = LeanExpected(state.active, state.lapsed, state.weight1, state.weight2, fam)
    else:
        people = Groups(state.active, state.lapsed, state.weight1, state.weight2, draw, fam)
    never, forgot_pool, A = state.never_met, state.forgot, state.aware
    if lean:  # the compiled passes read (S,) float rows
        never, forgot_pool, A = (as_row(x, S) for x in (never, forgot_pool, A))
    # speed: month-major drivers (M, S), so a day reads one contiguous row
    plain = fac.plain  # no season and no promotion: every day factor 1 (speed: not read day by day)
    reach_day = np.ascontiguousarray(drivers.reach.T) / cal.days_in_month[:, None]  # (M, S) reached per day
    wb_day = np.ascontiguousarray(drivers.winback_contacts.T) / cal.days_in_month[:, None]
    back_eff = np.ascontiguousarray(drivers.backend_effective.T)
    per_cust = np.ascontiguousarray(drivers.per_customer.T)
    per_cust_eff = np.ascontiguousarray(drivers.per_customer_efficiency.T)
    spend_day = np.ascontiguousarray(drivers.spend_day.transpose(1, 2, 0))  # (M, 3, S)
    any_per_customer = drivers.any_per_customer
    days_in_month = cal.days_in_month
    discount = _discount_factors(P.discount_rate, D)

    # class constants: rates by rate node and stage (2, R, S); dropout nodes by stage (2, Dn, S)
    loyal_rate = np.stack([np.ones(S), P.loyal_rate])  # (2, S)
    loyal_drop = np.stack([np.ones(S), P.loyal_drop])
    # (2, Dn, S): p (or mu) of each stage, C-contiguous (speed: the fate chances' compiled pass reads it)
    drop_stage = np.ascontiguousarray(P.drop[None] * loyal_drop[:, None, :])
    loyal_value = np.stack([np.ones(S), P.loyal_value])
    decay = np.stack([P.react_decay, P.react_decay**2])  # W1, W2 a month
    e = P.experience
    exp_mult, step = np.ascontiguousarray(P.exp_mult), np.ascontiguousarray(P.step)  # speed: rows without copies
    lam = np.ascontiguousarray(P.lam)  # (R, S)

    # what the day records, and what a month adds up (month-major, column-major: contiguous writes)
    rec = np.zeros((n_col, S))
    monthly = np.zeros((M, n_col, S))
    daily = np.zeros((S, D, n_col)) if keep_daily else None
    if not detail:
        for name in ACQUIRED:
            rec[COL[name]] = np.nan  # lean: acquired-customer columns unknown
    # present values: every flow's discounted sum (the money identity is linear, so contribution and the
    # acquired customers' gross profit are worked out once, at the end, from these)
    discounted = np.zeros((n_col - N_STOCKS, S))
    record_cols = np.array([COL[name] for name in kernels.LEAN_RECORD])  # the columns a lean day's pass writes
    no_discount, no_event_cost = np.ones(1), np.zeros(1)  # a plain day's price share and promotion cost
    spend_back_month = np.zeros((M, S))
    cohort = np.full((S, 2), np.nan)
    cohort_day = D - 365 if (D > 365 and detail) else None
    coh = None

    negative = np.asarray(
        experience.experience_probabilities(e[0], 0.0, *e[1:])[0], dtype=float
    ).copy()  # word of mouth starts at its steady level
    teams = Teams(P, draw)  # fulfilment and customer service
    blocked = teams.blocked
    prev_orders = np.zeros(S)
    prev_dissatisfied = np.zeros(S)
    stage_tot, lapsed_tot = people.totals()  # (2, S) active customers and loyal in the morning; lapsed (S,)

    bar = tqdm(total=D, desc=f"fast x{S}", unit="day", disable=None if progress else True, leave=False)
    month = -1
    for d in range(D):
        draw.day = d
        m = int(cal.month_of_day[d])
        if m != month:
            if month >= 0:  # a new month: every lapse is a month older
                people.new_month(decay[0], decay[1])
            month = m
        if d > 0:
            negative = acquisition.word_of_mouth(negative, prev_dissatisfied, prev_orders)
        if d == cohort_day:
            coh = people.cohort_start()
            cohort[:, 0] = coh.sum(axis=(0, 1, 2))

        # the model's day: back-end levers, awareness, first purchase, forgetting, win-back contacts
        n_active = stage_tot[0] + stage_tot[1]
        per_customer, back_spend = budget.backend_today(
            back_eff[m], per_cust[m] if any_per_customer else None, per_cust_eff[m], n_active
        )
        front = reach_day[m] if plain else reach_day[m] * fac.reach[d] + fac.extra_reach[d]
        ch = day.day_chances(
            lv,
            front_contacts=front,
            winback_contacts=wb_day[m],
            backend_per_customer=per_customer,
            first_purchase_multiplier=1.0 if plain else fac.first_purchase[d],
            active=n_active,
            loyal=stage_tot[1],
            lapsed=lapsed_tot,
            negative_share=negative,
        )

        # awareness: contacts land on random people, so both kinds of unaware people are reached alike
        if lean:  # speed: the lines below with expectations, in one compiled pass
            never, forgot_pool, A, newly, buyers, forgot = kernels.expected_awareness(
                never, forgot_pool, A, as_row(ch.contact, S), as_row(ch.buy, S), as_row(ch.forget, S)
            )
        else:
            newly_never = draw.binomial(never, ch.contact)
            newly_forgot = draw.binomial(forgot_pool, ch.contact)
            never = never - newly_never
            forgot_pool = forgot_pool - newly_forgot
            newly = newly_never + newly_forgot
            A = A + newly
            buyers = draw.binomial(A, ch.buy)
            forgot = draw.binomial(A - buyers, ch.forget / (1.0 - ch.buy))  # buy < 1: a day's chance
            A = A - buyers - forgot
            forgot_pool = forgot_pool + forgot
        new_by_class, first_orders = people.new_customers(draw, buyers, P.weights)

        # orders: active customers buy at their class's rate, times the day's levers, season and promotions;
        # win-back: contacts land on random lapsed people, the response fading with months since lapsing
        rate_mult = ch.backend.purchase_rate if plain else ch.backend.purchase_rate * fac.repeat_purchase[d]
        if lean:  # speed: the lines below, and the day's orders and comebacks, in one compiled pass
            rate, react_by_group, by_group, n_orders = people.day_orders(
                lam, rate_mult, loyal_rate, blocked, ch.winback_contact, P.react0, lapsed_tot, first_orders
            )
        else:
            chance = (
                ch.winback_contact * P.react0
                if lapsed_tot.min() > 0
                else np.where(lapsed_tot > 0, ch.winback_contact, 0.0) * P.react0
            )
            rate = lam[None] * (rate_mult * loyal_rate)[:, None, :]  # (2, R, S)
            if blocked.any():  # a customer whose order waits in a queue places no other order meanwhile
                rate = rate / (1.0 + rate * blocked)
            react_by_group, by_group = people.comebacks_and_orders(chance, rate)  # (G, S), (G, 2, S)
            react_sum = react_by_group.sum(axis=0)
            n_orders = by_group.sum(axis=(0, 1)) + react_sum + first_orders

        # experience: fulfilment delay, complaints and their recovery
        shipping, outcome, (dissatisfied, satisfied, delighted, complaints, recovered) = teams.day(n_orders)
        blocked = teams.blocked

        # after each order: drop out, step up to loyal, or fall back (per order, the outcome unknown)
        drop2, step_c, fall_l, step_first, hazard = _fates_chances(
            P, outcome, drop_stage, ch.backend.dropout, rate, exp_mult, step
        )
        lapsing_sum = people.fates(new_by_class, drop2, step_c, fall_l, step_first, hazard)

        if coh is not None:  # the retention cohort follows the same per-person chances, without newcomers
            coh = _cohort_day(coh, draw, rate, drop2, step_c, fall_l, hazard)

        # money: order values by kind (new / existing / acquired repeat, customer / loyal), after discounts
        unit = money.order_value(P.value_mean, ch.backend.order_value, loyal_value)  # (2, S) list value
        price = 1.0 if plain else fac.price[d]
        if back_spend is None:
            spend_back_today = spend_day[m, 1]
        else:  # per-customer back-end months: spend follows the morning's base
            spend_back_today = np.where(np.isnan(back_spend), spend_day[m, 1], back_spend / days_in_month[m])
        event_cost = 0.0 if plain else fac.event_cost[d]
        stage_tot, lapsed_tot = people.totals()  # stocks at the end of the day
        if lean:  # speed: the money and record lines below, for a lean day, in one compiled pass
            kernels.lean_record(
                rec, record_cols, _stages(unit, S), no_discount if plain else price,
                no_event_cost if plain else event_cost, by_group[0], react_by_group[0], first_orders, n_orders,
                never, forgot_pool, A, stage_tot, lapsed_tot, buyers, newly, forgot, lapsing_sum, spend_day[m],
                spend_back_today, wb_day[m], dissatisfied, satisfied, delighted, complaints, recovered,
                shipping.mean_wait,
            )  # fmt: skip
        else:
            existing_orders = by_group[EXISTING].copy()
            existing_orders[CUSTOMER] += react_by_group[EXISTING]
            if detail:
                acquired_repeat = by_group[ONE_ORDER] + by_group[REPEAT]
                acquired_repeat[CUSTOMER] += react_by_group[ONE_ORDER] + react_by_group[REPEAT]
            list_new = draw.gamma_sum(first_orders, P.value_shape, unit[0])
            list_existing = draw.gamma_sum(existing_orders, P.value_shape, unit).sum(axis=0)
            # lean: every repeat order counted as the existing base's, acquired columns unknown
            list_acq_repeat = draw.gamma_sum(acquired_repeat, P.value_shape, unit).sum(axis=0) if detail else 0.0
            list_total = list_new + list_existing + list_acq_repeat
            revenue_new = list_new * price
            revenue_returning = (list_existing + list_acq_repeat) * price
            revenue = revenue_new + revenue_returning
            discounts = list_total * (1.0 - price)

            # the day's record (stocks at the end of the day)
            rec[COL["unaware"]] = never + forgot_pool
            rec[COL["aware"]] = A
            rec[COL["customer"]] = stage_tot[CUSTOMER]
            rec[COL["loyal"]] = stage_tot[LOYAL]
            rec[COL["lapsed"]] = lapsed_tot
            rec[COL["never_met"]] = never
            rec[COL["new_customers"]] = buyers
            rec[COL["orders"]] = n_orders
            rec[COL["repeat_orders"]] = n_orders - first_orders
            rec[COL["revenue"]] = revenue
            rec[COL["revenue_new"]] = revenue_new
            rec[COL["revenue_returning"]] = revenue_returning
            rec[COL["spend_front"]] = spend_day[m, 0]
            rec[COL["spend_back"]] = spend_back_today
            rec[COL["spend_winback"]] = spend_day[m, 2]
            rec[COL["event_cost"]] = event_cost
            rec[COL["newly_aware"]] = newly
            rec[COL["forgotten"]] = forgot
            rec[COL["dropouts"]] = lapsing_sum
            rec[COL["reactivations"]] = react_sum
            rec[COL["winback_contacts"]] = wb_day[m]
            rec[COL["dissatisfied"]] = dissatisfied
            rec[COL["satisfied"]] = satisfied
            rec[COL["delighted"]] = delighted
            rec[COL["complaints"]] = complaints
            rec[COL["recovered"]] = recovered
            rec[COL["fulfilment_delay_days"]] = n_orders * shipping.mean_wait
            rec[COL["discounts"]] = discounts
            if detail:
                orders_acquired = first_orders + acquired_repeat.sum(axis=0)
                rec[COL["orders_acquired"]] = orders_acquired
                rec[COL["revenue_acquired"]] = (list_new + list_acq_repeat) * price
                rec[COL["second_orders"]] = by_group[ONE_ORDER].sum(axis=0) + react_by_group[ONE_ORDER]
                rec[COL["discounts_acquired"]] = (list_new + list_acq_repeat) * (1.0 - price)
        kernels.close_day(rec, monthly[m], discounted, discount[d], N_STOCKS)  # the month's sums, present values
        spend_back_month[m] += spend_back_today
        if daily is not None:
            daily[:, d] = rec.T

        prev_orders = n_orders
        prev_dissatisfied = dissatisfied
        bar.update(1)
    bar.close()
    if coh is not None:
        cohort[:, 1] = coh.sum(axis=(0, 1, 2))
    npv, disc_gpa, disc_new = _present_values(discounted, P)
    state.never_met, state.forgot, state.aware = never, forgot_pool, A
    if lean:
        state.active, state.lapsed, state.weight1, state.weight2 = people.arrays()
    else:
        state.active, state.lapsed, state.weight1, state.weight2 = people.X, people.L, people.W1, people.W2
    return LoopOutput(monthly, npv, disc_gpa, disc_new, cohort, spend_back_month, daily)


class Teams:
    """The shop's two teams for the fast engine: a fluid fulfilment queue (delay) and a fluid service queue
    (complaints answered in time), carried from day to day; each day gives the orders' final outcomes."""

    def __init__(self, P: BatchParams, draw: Expected | Sampled):
        S = P.market_size.shape[0]
        self.P, self.draw = P, draw
        self.backlog_f = np.zeros(S)
        self.backlog_s = np.zeros(S)
        self.busy_f = self.busy_s = False  # a queue left from yesterday
        # a day's arrivals a (with sd sqrt(a) in expected mode) can queue only if a + 8 sqrt(a) > capacity c,
        # i.e. a > (sqrt(16 + c) - 4)^2 (less a margin for rounding); drawn arrivals queue once a > c
        if draw.sampled:
            self.quiet_f, self.quiet_s = P.cap_fulfil * (1.0 - 1e-9), P.cap_service * (1.0 - 1e-9)
        else:
            self.quiet_f, self.quiet_s = (
                (np.sqrt(16.0 + c) - 4.0) ** 2 * (1.0 - 1e-9) for c in (P.cap_fulfil, P.cap_service)
            )
        e = P.experience
        self.no_queue = QueueDay(np.zeros(S), np.ones(S), np.ones(S), np.zeros(S))
        self.dis_quiet, _, self.del_quiet = (
            np.asarray(x, dtype=float) for x in experience.experience_probabilities(e[0], 0.0, *e[1:])
        )
        self.del_share_quiet = safe_div(
            self.del_quiet, 1.0 - self.dis_quiet
        )  # delighted among orders meeting expectations
        self.quiet_outcome = experience.outcome_after_complaints(
            self.dis_quiet,
            self.del_quiet,
            experience.complaint_recovery_probability(P.complaint_share, P.recovery, 1.0),
        )
        self.zeros = np.zeros(S)
        self.blocked = self.zeros  # days an order keeps its customer waiting (shipping, and the answer to a complaint)

    def day(self, n_orders):
        """(shipping queue, outcome chances (dissatisfied, satisfied, delighted) per order after complaints,
        counts (dissatisfied, satisfied, delighted, complaints, recovered)) of the day's orders."""
        P, draw = self.P, self.draw
        expected = not draw.sampled and n_orders.dtype == np.float64
        # speed: a team without a backlog whose arrivals are all below its quiet level has no queue today
        if self.busy_f or (n_orders > self.quiet_f).any():
            shipping, dis0, del0 = _shipping(P, draw, self.backlog_f, n_orders)
            self.backlog_f, self.busy_f = shipping.backlog, bool(shipping.backlog.any())
        else:
            shipping, dis0, del0 = self.no_queue, self.dis_quiet, self.del_quiet
        S = len(self.zeros)
        if expected:  # speed: the NumPy lines below in one compiled pass (Expected's binomial: n x p)
            dis_orders, complaints, loud = kernels.expected_complaints(
                n_orders, as_row(dis0, S), P.complaint_share, self.quiet_s
            )
        else:
            dis_orders = draw.binomial(n_orders, dis0)
            complaints = draw.binomial(dis_orders, P.complaint_share)
            loud = bool((complaints > self.quiet_s).any())
        if self.busy_s or loud:
            service = capacity_queue(
                self.backlog_s, complaints, P.cap_service, 1.0, P.target_days, draw.sd(complaints), decay=False
            )
            self.backlog_s, self.busy_s = service.backlog, bool(service.backlog.any())
        else:
            service = self.no_queue
        if shipping is self.no_queue and service is self.no_queue:  # speed: a quiet day's chances, worked out once
            recovery, delighted_share = P.recovery, self.del_share_quiet
            self.blocked, outcome = self.zeros, self.quiet_outcome
        else:
            recovery, delighted_share = P.recovery * service.in_time, safe_div(del0, 1.0 - dis0)
            self.blocked = shipping.mean_wait + dis0 * P.complaint_share * np.minimum(service.mean_wait, P.target_days)
            rescue = experience.complaint_recovery_probability(P.complaint_share, P.recovery, service.in_time)
            outcome = experience.outcome_after_complaints(dis0, del0, rescue)
        if expected:  # speed: the NumPy lines below in one compiled pass
            recovered, delighted, dissatisfied, satisfied = kernels.expected_outcome_counts(
                n_orders, dis_orders, complaints, as_row(recovery, S), as_row(delighted_share, S)
            )
        else:
            recovered = draw.binomial(complaints, recovery)
            delighted = draw.binomial(n_orders - dis_orders, delighted_share)
            dissatisfied = dis_orders - recovered
            satisfied = n_orders - dissatisfied - delighted
        return shipping, outcome, (dissatisfied, satisfied, delighted, complaints, recovered)


def _fates_chances(P: BatchParams, outcome, drop_stage, backend_dropout, rate, exp_mult, step):
    """(dropout (2, R|1, Dn, S), customers' step up, loyal customers' fall back, a first order's step up (or
    None), Pareto/NBD's daily dropout chance (or None)) per order, the order's outcome unknown. `exp_mult`,
    `step`: P's, C-contiguous (speed: their rows then go to the kernel without a copy a day)."""
    fam = P.family
    mult = lifecycle.dropout_multiplier(backend_dropout, exp_mult, 1.0)  # (3, S) by outcome
    if fam.per_order:
        drop2, step_c, fall_l = fates_per_order(outcome, drop_stage, mult, step, P.demote)
    else:  # Pareto/NBD: only a dissatisfied order adds a chance, that of leaving before the next order
        mu = drop_stage[:, None] * backend_dropout  # (2, 1, Dn, S)
        extra = repeat.order_dropout_chance(rate[:, :, None, :], mu, P.exp_mult[0])  # (2, R, Dn, S)
        none = np.zeros(1)
        drop2, step2, fall2 = expected_fates(outcome, [extra, none, none], P.step, P.demote)
        # expected_fates already gives a customer's step up (S,) and a loyal customer's fall back (R, Dn, S):
        # laid out by rate and dropout node like the dropout chances (the lean kernel reads them by node)
        fall_l = fall2
        step_c = np.broadcast_to(step2, fall2.shape)
    step_first = None  # the chance to step up after a first order without a dropout chance (BG/NBD, Pareto/NBD)
    if not fam.first_order_dropout:
        step_first = outcome[0] * P.step[0] + outcome[1] * P.step[1] + outcome[2] * P.step[2]
    hazard = None
    if not fam.per_order:  # Pareto/NBD: the dropout clock runs for everybody active, every day
        hazard = repeat.dropout_hazard_chance(drop_stage[:, None], backend_dropout)  # (2, 1, Dn, S)
    return drop2, step_c, fall_l, step_first, hazard


def _present_values(discounted: np.ndarray, P: BatchParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(NPV of contribution, present value of the acquired customers' gross profit, of new customers) from the
    flows' discounted sums, by the model's money identity (linear in the flows: summing first is exact)."""
    col = {name: COL[name] - N_STOCKS for name in COL if COL[name] >= N_STOCKS}

    def pv(name: str) -> np.ndarray:
        return discounted[col[name]]

    gross = money.gross_profit(pv("revenue"), pv("orders"), P.margin, P.cost_per_order, pv("discounts"))
    spend = pv("spend_front") + pv("spend_back") + pv("spend_winback") + pv("event_cost")
    acquired = money.gross_profit(
        pv("revenue_acquired"), pv("orders_acquired"), P.margin, P.cost_per_order, pv("discounts_acquired")
    )
    return money.contribution(gross, spend), acquired, pv("new_customers").copy()


def _stages(x, S: int) -> np.ndarray:
    """A per-stage value (customer, loyal) as a contiguous (2, S) float array (usually it is: no copy)."""
    if type(x) is np.ndarray and x.shape == (2, S) and x.dtype == np.float64 and x.flags.c_contiguous:
        return x
    return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=float), (2, S)))


def _discount_factors(rates: np.ndarray, n_days: int) -> np.ndarray:
    """(D, S) present-value factor of each day, or (D, 1) when every row has the same rate (speed)."""
    unique, which = np.unique(rates, return_inverse=True)
    factors = np.stack([money.daily_discount_factors(n_days, float(r)) for r in unique], axis=1)
    return factors if len(unique) == 1 else np.ascontiguousarray(factors[:, which])


def _shipping(P: BatchParams, draw, backlog_f, n_orders) -> tuple[QueueDay, np.ndarray, np.ndarray]:
    """The day's fulfilment queue and an order's experience chances given its delay: (shipping queue,
    P(dissatisfied) before complaints, P(delighted))."""
    e = P.experience
    shipping = capacity_queue(backlog_f, n_orders, P.cap_fulfil, e[1], 0.0, draw.sd(n_orders), in_time=False)
    # experience_probabilities is linear in exp(-delay / tolerance): use the delay with the day's mean decay
    delay = -e[1] * np.log(np.maximum(shipping.mean_decay, 1e-300))
    dis0, _, del0 = experience.experience_probabilities(e[0], delay, *e[1:])
    return shipping, dis0, del0


def _cohort_day(coh, draw, rate, drop2, step_c, fall_l, hazard):
    """One day of the retention cohort (2, R, Dn, S): the same per-person chances, without newcomers."""
    c_orders = draw.orders(coh, rate[:, :, None, :])[None]
    c_drop, c_up, c_down = (x[0] for x in draw.fates(c_orders, drop2, step_c, fall_l))
    coh = coh - c_drop
    coh[CUSTOMER] += c_down - c_up
    coh[LOYAL] += c_up - c_down
    if hazard is not None:
        coh = coh - draw.binomial(coh, hazard)
    return coh


def initial_state(P: BatchParams, bases: Sequence[tuple[np.ndarray, ...]], G: int, draw) -> State:
    """The morning of day 0 from each row's existing base by class (`classes.initial_base`)."""
    S = len(bases)
    R, Dn = P.n_rate, P.n_dropout
    X = draw.zeros((G, 2, R, Dn, S))
    L = draw.zeros((G, R, Dn, S))
    W1 = np.zeros((G, R, Dn, S))
    W2 = np.zeros((G, R, Dn, S))
    never = draw.zeros(S)
    aware = draw.to_count(P.initially_aware)
    for i, (c, lo, x, w1, w2) in enumerate(bases):
        X[EXISTING, CUSTOMER, :, :, i] = draw.to_count(c.reshape(R, Dn))
        X[EXISTING, LOYAL, :, :, i] = draw.to_count(lo.reshape(R, Dn))
        L[EXISTING, :, :, i] = draw.to_count(x.reshape(R, Dn))
        W1[EXISTING, :, :, i] = w1.reshape(R, Dn)
        W2[EXISTING, :, :, i] = w2.reshape(R, Dn)
    never = draw.to_count(P.market_size - P.initially_aware) - X.sum(axis=(0, 1, 2, 3)) - L.sum(axis=(0, 1, 2))
    return State(never, draw.zeros(S), aware, X, L, W1, W2)
