"""The agent engine: every reached person is a SimPy process; the shop's teams are SimPy resources.

A person who has never met the brand needs no process: the market keeps a count of unaware people
and, each day, draws how many of them the day's ads and word of mouth reach. Aware people are a pool
of counts by the source that made them aware; each day some buy for the first time and some forget.
A buyer lives as a process: orders arrive as a Poisson process at the person's own rate (thinned by
today's back-end effect). Each order takes one of the fulfilment team's daily slots (a
`simpy.Container` refilled every morning; unused slots do not carry over), so a surge of orders means
waiting, and waiting means dissatisfaction. Dissatisfied customers may complain to customer service,
another container; a complaint answered in time can turn the order around. After each order the
customer may drop out (lapse) or step up to loyal.

Every order is written to the order log as it happens; the day's order flows (orders, revenue new and
returning, experience outcomes) are counted from the log at the end, so the log and the daily table
cannot disagree. This engine is the reference for what the model means; the fast engine must agree
with it.
"""

from __future__ import annotations

import gc
import math
from itertools import chain

import numpy as np
import pandas as pd
import simpy
from tqdm.auto import tqdm

from sim.model import acquisition, budget, experience, lifecycle, money, repeat, retention, winback
from sim.model import calendar as calendar_mod
from sim.model import day as model_day
from sim.model.base import existing_customers
from sim.model.result import (
    COUNTED_FLOWS,
    EXPERIENCES,
    EXTRA_COLUMNS,
    FLOW_COLUMNS,
    ORDER_COLUMNS,
    STAGES,
    STOCK_COLUMNS,
    SimulationResult,
    finish_money,
    spend_frame,
)
from sim.model.scenario import Scenario

_BLOCK = 1 << 15

# record layout of a customer (a list, for speed)
_CID, _LAM, _P, _LOYAL, _ORDERS, _CHANNEL, _ACTIVE_SINCE, _LAPSE_MONTH = range(8)


def _stream(block):
    """Endless values from `block()` calls, one list at a time: a speed trick (one NumPy call per block
    instead of one per draw; `next` on a C-level chain is the cheapest way to take the next value)."""
    return chain.from_iterable(iter(block, None)).__next__


class _Draws:
    """Pre-drawn blocks of random numbers from one seeded Generator; each stream is called for its next
    value (`draws.uniform()`). The order of draws is fixed by SimPy's deterministic event order, so a seed
    reproduces a run exactly."""

    def __init__(self, rng: np.random.Generator, rp):
        self.uniform = _stream(lambda: rng.random(_BLOCK).tolist())
        self.exponential = _stream(lambda: rng.standard_exponential(_BLOCK).tolist())
        # a new customer's purchase rate and dropout (chance per order, or hazard per day), from the family
        rate_block, dropout_block = repeat.draw_stream(rp, rng, 4096)
        self.purchase_rate = _stream(rate_block)
        self.dropout = _stream(dropout_block)


class AgentEngine:
    """Runs one scenario once with SimPy. Use `run_agent(scenario, seed)` rather than this class."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        spend_month: np.ndarray | None = None,
        progress: bool = False,
        keep_orders: bool = True,
    ):
        self.s = scenario
        self.seed = scenario.simulation.seed if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.cal = calendar_mod.calendar(scenario)
        self.spend = budget.spend_by_month(scenario) if spend_month is None else np.asarray(spend_month, dtype=float)
        self.drivers = budget.monthly_drivers([scenario], self.spend[None], self.cal.days_in_month)
        self.factors = calendar_mod.day_factors(scenario, self.cal)
        self.channels = tuple(scenario.channels)
        self.progress = progress
        self.keep_orders = keep_orders
        self.family = repeat.family(scenario.repeat_purchase)
        self.draws = _Draws(self.rng, scenario.repeat_purchase)
        self.env = simpy.Environment()
        ops = scenario.operations
        # the teams' daily capacity: slots that refill every morning; unused slots do not carry over
        self.ship_per_day = experience.team_slots_per_day(ops.fulfilment_capacity_per_day)
        self.tickets_per_day = experience.team_slots_per_day(ops.service_capacity_per_day)
        self.fulfilment = simpy.Container(self.env, capacity=self.ship_per_day, init=self.ship_per_day)
        self.service = simpy.Container(self.env, capacity=self.tickets_per_day, init=self.tickets_per_day)
        self.n_days = self.cal.n_days
        self.month_of_day = self.cal.month_of_day.tolist()

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> SimulationResult:
        D = self.n_days
        self.fl = [[0.0] * D for _ in _ONLINE_FLOWS]
        # orders judged and dissatisfied by the day the experience happens (after any queueing), for word
        # of mouth: the order-day columns are still incomplete while that day's orders wait in a queue
        self.judged_orders = [0] * D  # slow orders (queued or dissatisfied) by the day they were judged
        self.judged_dissatisfied = [0] * D
        self.slow_orders = [0] * D  # slow orders by order day
        self.logged_by_yesterday = 0
        self.stage_rows: list[tuple[int, ...]] = []  # people in each stage at the end of each day
        self.nU = self.nC = self.nL = self.nX = 0
        n_sources = len(self.channels) + 3  # channels, referral, prior awareness, promotions
        self.aware = [0] * n_sources  # aware people by acquisition source (a lazy pool: counts, no processes)
        self.nA = 0
        # the order log, flat: six values an order (customer, day, loyal, order number, channel, outcome);
        # speed: one list extended in place, no object per order
        self.orders_log: list[int] = []
        self.pending: dict[int, tuple[int, float]] = {}  # log row -> (day, order time) awaiting experience
        # the retention cohort: people active at the cohort day (12 months before the horizon), and how many
        # of them dropped out since (a comeback starts a new spell, outside the cohort)
        self.cohort_day = D - 365 if D > 365 else None
        self.cohort = {"start": float("nan"), "retained": float("nan")}
        self.cohort_lapses = 0
        self.lapsed_pool: dict[int, list[list]] = {}
        self.next_cid = 1
        self.channel_names = [*self.channels, "referral", "prior_awareness", "promotion", "existing"]
        self.spend_back_day = self.drivers.spend_day[0, self.month_of_day, 1].copy()  # per-customer months: below
        self._setup_levers()
        # what every customer process reads, bound once (speed: one unpacking per process, not 17 lookups)
        self.customer_constants = (
            self.env,
            self.env.timeout,
            self.draws.exponential,
            self.draws.uniform,
            self.fulfilment.get,
            self.orders_log.extend,
            self.n_days,
            self.p_dissatisfied,
            self.p_met,
            self.step_loyal,
        )
        self._seed_population()
        self.env.process(self._days())
        # speed: no cyclic garbage collection while the run builds its order log and customer records (a
        # growing heap makes Python's collector rescan it again and again: a quarter of the run's time)
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=D)
            self._resolve_pending()
            return self._result()
        finally:
            self._release()
            if gc_was_enabled:
                gc.enable()

    def _setup_levers(self) -> None:
        s = self.s
        loy, e = s.loyalty, s.experience
        self.levers = model_day.levers(s)
        lv = self.levers
        # the highest purchase-rate multiplier of the horizon (back-end at saturation, the busiest season and
        # promotion): customers draw their next order at that top rate and keep it with today's share of it
        top_backend = retention.retention_effect(
            1.0, lv.backend_effectiveness, lv.rate_uplift_max, lv.dropout_reduction_max, lv.value_uplift_max
        ).purchase_rate
        self.rate_mult_max = top_backend * float(self.factors.repeat_purchase.max())
        self.loyal_rate = loy.purchase_rate_multiplier
        self.loyal_drop = loy.dropout_multiplier
        self.loyal_value = loy.order_value_multiplier
        self.demote = loy.demote_on_dissatisfied
        self.exp_mult = (e.dissatisfied_dropout_multiplier, 1.0, e.delighted_dropout_multiplier)
        self.step_loyal = (0.0, loy.step_probability_satisfied, loy.step_probability_delighted)
        self.value_mean = s.economics.order_value_mean
        self.exp_at_no_delay = self._experience_probs(0.0)
        self.p_dissatisfied, self.p_met = self.exp_at_no_delay
        self.negative_share = self.exp_at_no_delay[0]  # word of mouth starts at its steady level, not at zero
        self._react_key: tuple[int, int] | None = None
        self._react: list[float] = []
        self._react_max = 0.0
        self.loyal_top_rate = self.rate_mult_max * self.loyal_rate
        self.rate_share_today = 1.0
        self.dropout_today = ((1.0,) * 3, (1.0,) * 3)  # dropout multiplier by stage (customer, loyal) and outcome
        self.value_mult_by_day: list[float] = []  # back-end order-value multiplier of each day
        # Pareto/NBD: customers draw their dropout clock at the top hazard (no back-end cut) and keep it with
        # today's share of it (the back-end cut)
        self.clock = not self.family.per_order
        self.hazard_share_today = 1.0
        self.dropout_probability = lifecycle.dropout_probability  # bound once per run (speed: one lookup)

    def _experience_probs(self, delay: float) -> tuple[float, float]:
        """(P(dissatisfied), P(dissatisfied or satisfied)) of an order delayed by `delay` days."""
        e = self.s.experience
        dis, sat, _ = experience.experience_probabilities(
            e.reliability,
            delay,
            e.delay_tolerance_days,
            e.proactive_coverage,
            e.proactive_rescue,
            e.delight_coverage,
            e.delight_probability,
            e.baseline_delight,
        )
        return float(dis), float(dis + sat)

    def _seed_population(self) -> None:
        m = self.s.market
        base = existing_customers(self.s, self.rng)
        self.aware[len(self.channels) + 1] = m.initially_aware
        self.nA = m.initially_aware
        existing_channel = len(self.channels) + 3
        # speed: the base's arrays as Python lists, read once (NumPy scalars are slow one at a time)
        columns = (base.stage, base.purchase_rate, base.dropout, base.prior_orders, base.lapsed_months_ago)
        for stage, rate, dropout, prior, months_ago in zip(*(c.tolist() for c in columns), strict=True):
            rec = [self.next_cid, float(rate), float(dropout), stage == 1, int(prior), existing_channel, 0, 0]
            self.next_cid += 1
            if stage == 2:
                rec[_LAPSE_MONTH] = -int(months_ago)
                self.lapsed_pool.setdefault(rec[_LAPSE_MONTH], []).append(rec)
                self.nX += 1
            else:
                if stage == 1:
                    self.nL += 1
                else:
                    self.nC += 1
                self.env.process(self._customer(rec, None))
        self.nU = m.size - m.initially_aware - len(base)
        self.n_never = self.nU  # unaware people who never met the brand (the rest met it and forgot)

    # -- the market's day --------------------------------------------------------------------------
    def _days(self):
        """Each day: the model's chances of the day (`sim.model.day`), then who among the people they concern
        becomes aware, buys for the first time, forgets or comes back (counts and draws), day after day.

        Long on purpose: the market's day is the agent engine's hot loop (once a day for every run), its
        constants bound to local names once (speed), read top to bottom in the model's order."""
        s = self.s
        rng = self.rng
        D = self.n_days
        cohort_day = self.cohort_day
        bar = tqdm(total=D, desc=f"agent {s.name}", unit="day", disable=None if self.progress else True, leave=False)
        fl = self.fl
        lv = self.levers
        day_chances = model_day.day_chances
        backend_today = budget.backend_today
        dropout_multiplier = lifecycle.dropout_multiplier
        # speed: the plan's numbers as Python floats, read once (NumPy scalars are slow one at a time)
        month_of_day = self.month_of_day
        dim = self.cal.days_in_month.tolist()
        drivers = self.drivers
        reach_by_channel = drivers.reach_by_channel[0]  # (M, C)
        reach_month = reach_by_channel.sum(axis=1).tolist()
        backend_month = drivers.backend_effective[0].tolist()
        per_customer_month = drivers.per_customer[0].tolist()
        per_customer_eff = drivers.per_customer_efficiency[0].tolist()
        winback_month = drivers.winback_contacts[0].tolist()
        fac = self.factors
        reach_factor, extra_reach = fac.reach.tolist(), fac.extra_reach.tolist()
        first_factor, repeat_factor = fac.first_purchase.tolist(), fac.repeat_purchase.tolist()
        n_channels = len(self.channels)
        referral_source, promotion_source = n_channels, n_channels + 2
        aware = self.aware
        timeout = self.env.timeout
        exp_dis, _, exp_del = self.exp_mult
        loyal_drop = self.loyal_drop
        rate_mult_max = self.rate_mult_max
        spend_back_day = self.spend_back_day
        # where ads land: each channel's share of the month's ad contacts
        ad_share = (reach_by_channel / np.maximum(reach_by_channel.sum(axis=1), 1e-300)[:, None]).tolist()
        new_customer = self._new_customer
        for d in range(D):
            month = month_of_day[d]
            if d > 0:
                self._end_of_day(d - 1)
            if d == cohort_day:
                self.cohort["start"] = float(self.nC + self.nL)
            active = float(self.nC + self.nL)
            per_customer, back_spend = backend_today(
                backend_month[month], per_customer_month[month], per_customer_eff[month], active
            )
            if back_spend is not None:  # back-end spend set per active customer: it follows the base
                spend_back_day[d] = back_spend / dim[month]
            plan_contacts = reach_month[month] / dim[month] * reach_factor[d]
            promo_contacts = extra_reach[d]
            ch = day_chances(
                lv,
                front_contacts=plan_contacts + promo_contacts,
                winback_contacts=winback_month[month] / dim[month],
                backend_per_customer=per_customer,
                first_purchase_multiplier=first_factor[d],
                active=active,
                loyal=float(self.nL),
                lapsed=float(self.nX),
                negative_share=self.negative_share,
            )
            eff = ch.backend
            self.rate_share_today = eff.purchase_rate * repeat_factor[d] / rate_mult_max  # of the top rate
            # dropout multiplier of an order by stage and outcome (the customer's own p times it, at most 1)
            self.dropout_today = tuple(
                tuple(dropout_multiplier(eff.dropout, m, stage) for m in self.exp_mult) for stage in (1.0, loyal_drop)
            )
            self.hazard_share_today = eff.dropout
            self.value_mult_by_day.append(eff.order_value)
            # awareness: contacts land on random people; only the unaware ones count (never met, or forgot)
            total_contacts = plan_contacts + promo_contacts + ch.referrals
            if self.nU > 0 and total_contacts > 0:
                new = int(rng.binomial(self.nU, ch.contact))
                new_never = new
                if new and self.nU > self.n_never:  # who of them never met the brand: a random subset
                    new_never = int(rng.hypergeometric(self.n_never, self.nU - self.n_never, new))
                if new:  # by source: referrals, then promotions, then the ads by channel
                    referred = int(rng.binomial(new, ch.referrals / total_contacts)) if ch.referrals else 0
                    aware[referral_source] += referred
                    promoted = 0
                    if promo_contacts and new > referred:
                        promoted = int(rng.binomial(new - referred, promo_contacts / (total_contacts - ch.referrals)))
                        aware[promotion_source] += promoted
                    if new > referred + promoted:
                        for source, k in enumerate(
                            rng.multinomial(new - referred - promoted, ad_share[month]).tolist()
                        ):
                            aware[source] += k
                    self.nA += new
                    self.nU -= new
                    self.n_never -= new_never
                    fl[_F_NEWLY_AWARE][d] += new
            # aware people buy for the first time or forget (competing daily hazards)
            p_buy, p_forget = ch.buy, ch.forget
            if self.nA > 0:
                moves = rng.multinomial(aware, [p_buy, p_forget, 1.0 - p_buy - p_forget]).tolist()
                forgotten = 0
                for source, (bought, forgot, _) in enumerate(moves):
                    if bought or forgot:
                        aware[source] -= bought + forgot
                        self.nA -= bought + forgot
                        forgotten += forgot
                        for _ in range(bought):
                            new_customer(source, d)
                self.nU += forgotten
                fl[_F_FORGOTTEN][d] += forgotten
            if winback_month[month] > 0:
                self._winback(d, month, ch.winback_contact)
            if d % 30 == 29:
                bar.update(30)
            yield timeout(1.0)
        bar.close()

    def _end_of_day(self, d: int) -> None:
        """Day d is over: record the stages, update word of mouth, refill the teams' slots for tomorrow."""
        self.stage_rows.append((self.nU, self.nA, self.nC, self.nL, self.nX, self.n_never))
        # orders judged today: the day's usual orders (judged at once: new log rows that took no slow path)
        # and the slow orders whose experience became final today
        logged = len(self.orders_log) // _LOG_WIDTH
        judged = logged - self.logged_by_yesterday - self.slow_orders[d] + self.judged_orders[d]
        self.logged_by_yesterday = logged
        self.negative_share = acquisition.word_of_mouth(self.negative_share, self.judged_dissatisfied[d], judged)
        for team, per_day in ((self.fulfilment, self.ship_per_day), (self.service, self.tickets_per_day)):
            if team.level < per_day:  # waiting orders take the new slots first, in order
                team.put(per_day - team.level)

    def _new_customer(self, source: int, d: int) -> None:
        """An aware person buys for the first time at a random moment of day d."""
        rec = [self.next_cid, self.draws.purchase_rate(), self.draws.dropout(), False, 0, source, d, 0]
        self.next_cid += 1
        self.nC += 1
        self.fl[_F_NEW_CUSTOMERS][d] += 1
        self.env.process(self._customer(rec, self.draws.uniform()))

    def _winback(self, d: int, month: int, q: float) -> None:
        """Win-back contacts land on random lapsed people (each reached with chance q today); a few of them
        come back and order.

        A lapsed person comes back today with chance q x r(months since lapsing). Speed: instead of one
        binomial per lapse month, the candidates are drawn once at the highest chance q x r_max (a random
        subset of all lapsed people) and each is kept with r / r_max (thinning: the same chances, exactly)."""
        n_lapsed = self.nX
        if n_lapsed <= 0:
            return
        pool = self.lapsed_pool
        if self._react_key != (month, len(pool)):  # the chances change only with the month or a new bucket
            wb = self.s.winback
            months = np.asarray(list(pool), dtype=float)
            react = winback.reactivation_probability(
                wb.base_reactivation, month - months, wb.decay_months, self.s.retention.targeting_precision
            )
            self._react = react.tolist()
            self._react_max = float(react.max())
            self._react_key = (month, len(pool))
        rng = self.rng
        candidates = int(rng.binomial(n_lapsed, q * self._react_max))
        if not candidates:
            return
        # who they are: distinct random positions in the lapsed people laid end to end, bucket after bucket
        # (speed: a few uniform draws; a repeat is drawn again, which keeps the subset uniform)
        chosen: set[int] = set()
        while len(chosen) < candidates:
            chosen.add(int(self.draws.uniform() * n_lapsed))
        positions = sorted(chosen)
        comebacks: list[tuple[list, int]] = []
        start = 0
        for bucket, react in zip(pool.values(), self._react, strict=True):
            end = start + len(bucket)
            while positions and positions[0] < end:
                j = positions.pop(0) - start
                if self.draws.uniform() * self._react_max < react:
                    comebacks.append((bucket, j))
            start = end
            if not positions:
                break
        # take them out of their buckets, last position first (swap with the bucket's last, then pop)
        for bucket, j in sorted(comebacks, key=lambda c: -c[1]):
            bucket[j], bucket[-1] = bucket[-1], bucket[j]
            rec = bucket.pop()
            rec[_LOYAL] = False
            rec[_ACTIVE_SINCE] = d
            self.nX -= 1
            self.nC += 1
            self.fl[_F_REACTIVATIONS][d] += 1
            self.env.process(self._customer(rec, self.draws.uniform()))

    # -- a customer ----------------------------------------------------------------------------------
    def _customer(self, rec: list, first_order_in: float | None):
        """An active customer: orders at their own Poisson rate (thinned by today's back-end effect);
        each order takes a fulfilment slot and is judged; after it they may drop out or step up to loyal.
        `first_order_in`: days until an immediate order (a first purchase or a comeback).

        Speed: the usual order (a free slot, expectations met) is handled here, inline, with the
        scenario's constants in local names; an order that waits or disappoints goes to a helper. Order
        values do not steer anything, so they are drawn for the whole log at the end (`_order_values`)."""
        env, timeout, exponential, uniform, take_slot, log, n_days, p_dissatisfied, p_met, step_loyal = (
            self.customer_constants
        )
        cid, lam, p, channel = rec[_CID], rec[_LAM], rec[_P], rec[_CHANNEL]
        loyal, n = rec[_LOYAL], rec[_ORDERS]  # only this process changes them while the customer is active
        top_rate = lam * (self.loyal_top_rate if loyal else self.rate_mult_max)  # orders a day at the most
        # the family: dropout after orders (MBG/NBD from the first, BG/NBD from the second), or a clock
        order_dropout, first_dropout, clock = self.family.per_order, self.family.first_order_dropout, self.clock
        dropout_probability = self.dropout_probability
        t0 = env.now
        wait_for_order = first_order_in
        while True:
            if wait_for_order is not None:
                yield timeout(wait_for_order)
                t0 += wait_for_order  # the time SimPy resumes us at (it adds the delay to now the same way)
                wait_for_order = None
            else:  # the next order at the top rate, kept with today's share of it (Poisson thinning)
                while True:
                    wait = exponential() / top_rate
                    if clock:  # Pareto/NBD: the dropout clock at its top hazard, kept with today's share
                        hazard = p * (self.loyal_drop if loyal else 1.0)  # 0 for a never-dropout customer
                        quit_in = exponential() / hazard if hazard > 0.0 else math.inf
                        if quit_in < wait:
                            t0 += quit_in
                            if t0 >= n_days:
                                return
                            yield timeout(quit_in)
                            if uniform() < self.hazard_share_today:
                                rec[_ORDERS] = n
                                self._lapse(rec, int(t0))
                                return
                            continue  # memoryless: both clocks start again
                    t0 += wait
                    if t0 >= n_days:
                        return  # past the horizon: the process ends now (nothing after it is recorded)
                    yield timeout(wait)
                    if uniform() < self.rate_share_today:
                        break
            day = int(t0)
            n += 1
            slot = take_slot(1)  # one of today's shipping slots, or a place in the queue for tomorrow's
            if slot.triggered:
                u = uniform()  # experience: expectations met (or not), delight by chance
                if u >= p_dissatisfied:
                    outcome = 1 if u < p_met else 2
                    log((cid, day, loyal, n, channel, outcome))  # the day's order flows are counted from these
                    # dropout after the order (MBG/NBD: after any order, the first included; BG/NBD: after
                    # repeat orders), or a step up
                    if (
                        order_dropout
                        and (first_dropout or n > 1)
                        and uniform() < dropout_probability(p, self.dropout_today[loyal][outcome])
                    ):
                        rec[_ORDERS] = n
                        self._lapse(rec, day)
                        return
                    if not loyal and uniform() < step_loyal[outcome]:
                        loyal = rec[_LOYAL] = True
                        top_rate = lam * self.loyal_top_rate
                        self.nC -= 1
                        self.nL += 1
                    continue
                slow = self._dissatisfied(rec, day, n, loyal)
            else:
                slow = self._shipped_late(rec, slot, t0, day, n, loyal)
            rec[_ORDERS] = n
            if (yield from slow):
                return
            t0 = env.now  # a slow order may have waited
            if rec[_LOYAL] != loyal:  # it may also have changed the customer's stage
                loyal = rec[_LOYAL]
                top_rate = lam * (self.loyal_top_rate if loyal else self.rate_mult_max)

    def _slow_order_row(self, rec: list, day: int, loyal: bool, n: int) -> int:
        """Log an order whose experience is not known yet (its outcome is filled in later); its row number."""
        self.orders_log.extend((rec[_CID], day, loyal, n, rec[_CHANNEL], -1))
        self.slow_orders[day] += 1
        return len(self.orders_log) // _LOG_WIDTH - 1

    def _set_outcome(self, row: int, outcome: int) -> None:
        self.orders_log[row * _LOG_WIDTH + _LOG_WIDTH - 1] = outcome

    def _shipped_late(self, rec: list, slot, t0: float, day: int, n: int, loyal: bool):
        """An order that waits for a shipping slot: judged with its delay. Returns True if the customer lapses."""
        env = self.env
        idx = self._slow_order_row(rec, day, loyal, n)
        self.pending[idx] = (day, t0)
        yield slot
        del self.pending[idx]
        wait = env.now - t0
        self.fl[_F_DELAY][day] += wait
        p_dis, p_met = self.exp_at_no_delay if wait <= 0 else self._experience_probs(wait)
        u = self.draws.uniform()
        if u < p_dis:
            outcome = yield from self._complaint(day, idx)
            judged_day = int(env.now)
        else:
            outcome = 1 if u < p_met else 2
            judged_day = day if wait <= 0 else int(env.now)
        return self._after_slow_order(rec, idx, outcome, day, judged_day, loyal)

    def _dissatisfied(self, rec: list, day: int, n: int, loyal: bool):
        """An order shipped on time that missed expectations: maybe a complaint, then its end."""
        idx = self._slow_order_row(rec, day, loyal, n)
        outcome = yield from self._complaint(day, idx)
        return self._after_slow_order(rec, idx, outcome, day, int(self.env.now), loyal)

    def _complaint(self, day: int, row: int):
        """A dissatisfied order: maybe a complaint, which customer service may turn around in time.
        Returns the final outcome (0 dissatisfied, 1 satisfied)."""
        ops = self.s.operations
        if self.draws.uniform() >= ops.complaint_share:
            return 0
        self.fl[_F_COMPLAINTS][day] += 1
        ticket = self.service.get(1)
        in_time = ticket.triggered
        if not in_time:
            # The customer waits for an answer at most the service target: a later answer can no
            # longer turn the order around, so they move on (dissatisfied). The ticket stays in the
            # queue and still takes a slot when its turn comes.
            self.pending[row] = (day, -1.0)  # judged dissatisfied unless answered in time
            yield ticket | self.env.timeout(ops.service_target_days)
            del self.pending[row]
            in_time = ticket.triggered
        if in_time and self.draws.uniform() < ops.service_recovery:
            self.fl[_F_RECOVERED][day] += 1
            return 1
        return 0

    def _after_slow_order(self, rec: list, row: int, outcome: int, day: int, judged_day: int, loyal: bool) -> bool:
        """A waited-for or disappointing order's final experience, then dropout or a loyalty step (or back),
        as for the usual order in `_customer`. Returns True when the customer lapses."""
        self._set_outcome(row, outcome)
        if judged_day < self.n_days:  # for word of mouth: slow orders judged, and dissatisfied, by the day judged
            self.judged_orders[judged_day] += 1
            if outcome == 0:
                self.judged_dissatisfied[judged_day] += 1
        uniform = self.draws.uniform
        if self.family.per_order:  # as in `_customer`
            drops = (self.family.first_order_dropout or rec[_ORDERS] > 1) and uniform() < self.dropout_probability(
                rec[_P], self.dropout_today[loyal][outcome]
            )
        else:  # Pareto/NBD: a dissatisfied order adds the raised hazard's chance of leaving before the next order
            drops = outcome == 0 and uniform() < self._clock_order_dropout(rec, loyal)
        if drops:
            self._lapse(rec, min(int(self.env.now), self.n_days - 1))  # after any queueing: the day it happens
            return True
        if not loyal:
            if uniform() < self.step_loyal[outcome]:
                rec[_LOYAL] = True
                self.nC -= 1
                self.nL += 1
        elif outcome == 0 and uniform() < self.demote:
            rec[_LOYAL] = False
            self.nL -= 1
            self.nC += 1
        return False

    def _clock_order_dropout(self, rec: list, loyal: bool) -> float:
        """Pareto/NBD: the chance that a dissatisfied order makes the customer leave before the next order."""
        mu = rec[_P] * self.hazard_share_today * (self.loyal_drop if loyal else 1.0)
        rate = rec[_LAM] * self.rate_share_today * self.rate_mult_max * (self.loyal_rate if loyal else 1.0)
        return float(repeat.order_dropout_chance(rate, mu, self.exp_mult[0]))

    def _lapse(self, rec: list, day: int) -> None:
        if rec[_LOYAL]:
            self.nL -= 1
        else:
            self.nC -= 1
        self.nX += 1
        rec[_LOYAL] = False
        self.fl[_F_DROPOUTS][day] += 1
        if self.cohort_day is not None and day >= self.cohort_day > rec[_ACTIVE_SINCE]:
            self.cohort_lapses += 1
        month = self.month_of_day[day]
        rec[_LAPSE_MONTH] = month
        self.lapsed_pool.setdefault(month, []).append(rec)

    # -- wrapping up -------------------------------------------------------------------------------
    def _resolve_pending(self) -> None:
        """Orders still queued at the horizon are judged with the delay they have had so far."""
        end = float(self.n_days)
        for row, (day, t0) in sorted(self.pending.items()):
            if t0 < 0:  # shipped and dissatisfied, complaint not yet answered: stays dissatisfied
                self._set_outcome(row, 0)
                continue
            p_dis, p_met = self._experience_probs(end - t0)
            u = self.draws.uniform()
            outcome = 0 if u < p_dis else (1 if u < p_met else 2)
            self._set_outcome(row, outcome)
            self.fl[_F_DELAY][day] += end - t0
        self.stage_rows.append((self.nU, self.nA, self.nC, self.nL, self.nX, self.n_never))
        if self.cohort_day is not None:
            self.cohort["retained"] = self.cohort["start"] - self.cohort_lapses

    def _release(self) -> None:
        """Drop the run's people, processes and log rows (the processes refer back to this engine, so without
        this they would wait for the cyclic collector)."""
        self.env = self.fulfilment = self.service = None
        self.orders_log, self.lapsed_pool, self.pending = [], {}, {}

    def _order_values(self, log: dict[str, np.ndarray]) -> np.ndarray:
        """Every order's list value: a Gamma draw with the scenario's mean and spread, times the back-end
        (cross-sell) multiplier of its day and the loyal multiplier (`sim.model.money.order_value`). Drawn at
        the end, vectorized, from the run's own Generator (speed: values do not feed back into the simulation)."""
        shape, scale = money.gamma_order_value(1.0, self.s.economics.order_value_cv)
        value = self.rng.standard_gamma(shape, size=len(log["day"])) * scale
        loyal = np.where(log["loyal"] == 1, self.loyal_value, 1.0)
        return value * money.order_value(self.value_mean, np.asarray(self.value_mult_by_day)[log["day"]], loyal)

    def _result(self) -> SimulationResult:
        s = self.s
        cal = self.cal
        stages = np.asarray(self.stage_rows, dtype=np.int64)
        columns: dict[str, np.ndarray] = {name: stages[:, i] for i, name in enumerate(STOCK_COLUMNS)}
        log = _order_columns(self.orders_log)
        list_value = self._order_values(log)
        log["amount"] = list_value * self.factors.price[log["day"]]  # what the customer paid
        log["discount"] = list_value - log["amount"]
        existing_channel = len(self.channel_names) - 1
        spend_day = self.drivers.spend_day[0, self.month_of_day]  # (D, 3)
        flows = {
            **dict(zip(_ONLINE_FLOWS, self.fl, strict=True)),
            **_order_flows(log, self.n_days, existing_channel),
            "spend_front": spend_day[:, 0],
            "spend_back": self.spend_back_day,
            "spend_winback": spend_day[:, 2],
            "event_cost": self.factors.event_cost,
            "winback_contacts": self.drivers.winback_contacts[0, self.month_of_day]
            / cal.days_in_month[self.month_of_day],
        }
        for name in COUNTED_FLOWS:
            columns[name] = np.asarray(flows[name], dtype=float)
        columns["fulfilment_delay_days"] = columns["fulfilment_delay_days"] / np.maximum(columns["orders"], 1)
        daily = pd.DataFrame(columns, index=cal.dates)
        finish_money(daily, s)
        daily = daily[STAGES + FLOW_COLUMNS + EXTRA_COLUMNS]
        frame = _orders_frame(log, cal.dates, self.channel_names) if self.keep_orders else None
        return SimulationResult(
            scenario=s,
            engine="agent",
            seed=self.seed,
            daily=daily,
            orders=frame,
            spend_by_channel=spend_frame(s, self.spend, cal.month_sums(self.spend_back_day)),
            cohort=dict(self.cohort),
            meta={"events": next(self.env._eid)},  # SimPy numbers every event it schedules
        )


_LOG_WIDTH = 6  # values an order in the flat order log
# the flows counted as they happen, day by day; the order flows come from the order log and the spend
# from the plan (`_result`)
_ONLINE_FLOWS = (
    "new_customers",
    "newly_aware",
    "forgotten",
    "dropouts",
    "reactivations",
    "complaints",
    "recovered",
    "fulfilment_delay_days",
)
(
    _F_NEW_CUSTOMERS,
    _F_NEWLY_AWARE,
    _F_FORGOTTEN,
    _F_DROPOUTS,
    _F_REACTIVATIONS,
    _F_COMPLAINTS,
    _F_RECOVERED,
    _F_DELAY,
) = range(len(_ONLINE_FLOWS))


def _order_columns(flat: list) -> dict[str, np.ndarray]:
    """The flat order log (customer, day, loyal, order number, channel, outcome per order) as column arrays."""
    table = np.fromiter(flat, dtype=np.int64, count=len(flat)).reshape(-1, _LOG_WIDTH)
    names = ("cid", "day", "loyal", "number", "channel", "outcome")
    return {name: table[:, k] for k, name in enumerate(names)}


def _order_flows(log: dict[str, np.ndarray], n_days: int, existing_channel: int) -> dict[str, np.ndarray]:
    """The daily flows that orders make, counted from the order log by order day (sums run in log order,
    as a running total would)."""
    day, amount, number = log["day"], log["amount"], log["number"]

    def per_day(mask: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        d = day if mask is None else day[mask]
        w = weights if mask is None or weights is None else weights[mask]
        return np.bincount(d, weights=w, minlength=n_days).astype(float)

    first = number == 1
    repeat = ~first
    acquired = log["channel"] != existing_channel
    flows = {
        "orders": per_day(),
        "repeat_orders": per_day(repeat),
        "revenue": per_day(None, amount),
        "revenue_new": per_day(first, amount),
        "revenue_returning": per_day(repeat, amount),
        "orders_acquired": per_day(acquired),
        "revenue_acquired": per_day(acquired, amount),
        "second_orders": per_day(acquired & (number == 2)),
        "discounts": per_day(None, log["discount"]),
        "discounts_acquired": per_day(acquired, log["discount"]),
    }
    for outcome, name in enumerate(EXPERIENCES):
        flows[name] = per_day(log["outcome"] == outcome)
    return flows


def _log_order(day: np.ndarray, cid: np.ndarray, number: np.ndarray) -> np.ndarray:
    """Row order by day, customer and order number. Speed: one combined integer key and a stable sort
    (the log is already in time order, which the sort exploits), instead of a three-key lexsort."""
    n_max, c_max = int(number.max()) + 1, int(cid.max()) + 1
    if int(day.max()) + 1 > (1 << 62) // (n_max * c_max):  # the key would overflow: sort by the three keys
        return np.lexsort((number, cid, day))
    return np.argsort((day * c_max + cid) * n_max + number, kind="stable")


def _orders_frame(log: dict[str, np.ndarray], dates: pd.DatetimeIndex, channel_names: list[str]) -> pd.DataFrame:
    """The `orders.csv` table, sorted by order day, customer and order number."""
    if not len(log["day"]):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ORDER_COLUMNS})
    day, cid, number = log["day"], log["cid"], log["number"]
    order = _log_order(day, cid, number)
    # speed: each distinct date and customer id is formatted once, then indexed
    date_text = np.asarray(dates.strftime("%Y-%m-%d"), dtype=object)
    ids, inverse = np.unique(cid[order], return_inverse=True)
    id_text = np.asarray(list(map("C{:07d}".format, ids.tolist())), dtype=object)
    frame = pd.DataFrame(
        {
            "customer_id": id_text[inverse],
            "order_date": date_text[day[order]],
            "amount": np.round(log["amount"][order], 2),
            "order_number": number[order],
            "acquisition_channel": np.asarray(channel_names, dtype=object)[log["channel"][order]],
            "experience": np.asarray(EXPERIENCES, dtype=object)[log["outcome"][order]],
        }
    )
    return frame


def run_agent(
    scenario: Scenario,
    seed: int | None = None,
    *,
    spend_month: np.ndarray | None = None,
    sampled: bool | None = None,
    progress: bool = False,
    keep_orders: bool = True,
) -> SimulationResult:
    """Run the agent engine once. `spend_month` (M, C, 3) overrides the scenario's budget plan; `sampled`
    must be None or True (every agent run draws); `keep_orders=False` skips building the order log's table."""
    if sampled is False:
        raise ValueError("the agent engine has no expected-value mode")
    return AgentEngine(scenario, seed, spend_month, progress, keep_orders).run()
