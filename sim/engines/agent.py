"""The agent engine: every reached person is a SimPy process; the shop's teams are SimPy resources.

A person who has never met the brand needs no process: the market keeps a count of unaware people
and, each day, draws how many of them the day's ads and word of mouth reach. From then on the person
lives as a process: while aware, a first purchase and forgetting compete; as a customer, orders arrive
as a Poisson process at the person's own rate (thinned by today's back-end effect). Each order queues
for the fulfilment team (a `simpy.Resource` whose slots each ship one order a day), so a surge of orders
means waiting, and waiting means dissatisfaction. Dissatisfied customers may complain to customer
service, another resource; a complaint answered in time can turn the order around.

This engine is the reference for what the model means; the fast engine must agree with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import simpy
from tqdm.auto import tqdm

from sim import model
from sim.base import existing_customers
from sim.result import (
    COUNTED_FLOWS,
    EXPERIENCES,
    EXTRA_COLUMNS,
    FLOW_COLUMNS,
    ORDER_COLUMNS,
    STAGES,
    SimulationResult,
    finish_money,
)
from sim.scenario import Scenario

_BLOCK = 1 << 15

# record layout of a customer (a list, for speed): see _Customer indices below
_CID, _LAM, _P, _LOYAL, _ORDERS, _CHANNEL, _ACQUIRED, _ACTIVE_SINCE, _LAPSE_MONTH = range(9)


class _Draws:
    """Pre-drawn blocks of random numbers from one seeded Generator (a speed trick: one NumPy call per
    32k draws instead of one per draw). The order of draws is fixed by SimPy's deterministic event order,
    so a seed reproduces a run exactly."""

    def __init__(self, rng: np.random.Generator, value_shape: float, r: float, alpha: float, a: float, b: float):
        self.rng = rng
        self.value_shape = value_shape
        self.rate_params = (r, 1.0 / alpha)
        self.dropout_params = (a, b)
        self._lam: list[float] = []
        self._li = 0
        self._p: list[float] = []
        self._pi = 0
        self._u: list[float] = []
        self._ui = 0
        self._e: list[float] = []
        self._ei = 0
        self._g: list[float] = []
        self._gi = 0

    def uniform(self) -> float:
        i = self._ui
        if i >= len(self._u):
            self._u = self.rng.random(_BLOCK).tolist()
            i = 0
        self._ui = i + 1
        return self._u[i]

    def exponential(self) -> float:
        i = self._ei
        if i >= len(self._e):
            self._e = self.rng.standard_exponential(_BLOCK).tolist()
            i = 0
        self._ei = i + 1
        return self._e[i]

    def purchase_rate(self) -> float:
        """A new customer's purchase rate: lambda ~ Gamma(r, 1/alpha) per day."""
        i = self._li
        if i >= len(self._lam):
            self._lam = self.rng.gamma(*self.rate_params, size=4096).tolist()
            i = 0
        self._li = i + 1
        return self._lam[i]

    def dropout(self) -> float:
        """A new customer's dropout chance: p ~ Beta(a, b)."""
        i = self._pi
        if i >= len(self._p):
            self._p = self.rng.beta(*self.dropout_params, size=4096).tolist()
            i = 0
        self._pi = i + 1
        return self._p[i]

    def order_value(self) -> float:
        """A Gamma draw with mean 1 and the scenario's spread (to be scaled by the mean)."""
        i = self._gi
        if i >= len(self._g):
            self._g = (self.rng.standard_gamma(self.value_shape, _BLOCK) / self.value_shape).tolist()
            i = 0
        self._gi = i + 1
        return self._g[i]


class AgentEngine:
    """Runs one scenario once with SimPy. Use `run_agent(scenario, seed)` rather than this class."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        spend_month: np.ndarray | None = None,
        progress: bool = False,
        record_orders: bool = True,
    ):
        self.s = scenario
        self.seed = scenario.simulation.seed if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.plan = model.build_plan(scenario, spend_month)
        self.progress = progress
        self.record_orders = record_orders
        shape, _ = model.gamma_order_value(1.0, scenario.economics.order_value_cv)
        rp = scenario.repeat_purchase
        self.draws = _Draws(self.rng, shape, rp.r, rp.alpha, rp.a, rp.b)
        self.env = simpy.Environment()
        ops = scenario.operations
        # the teams' daily capacity: slots that refill every morning; unused slots do not carry over
        self.ship_per_day = max(1, int(round(ops.fulfilment_capacity_per_day)))
        self.tickets_per_day = max(1, int(round(ops.service_capacity_per_day)))
        self.fulfilment = simpy.Container(self.env, capacity=self.ship_per_day, init=self.ship_per_day)
        self.service = simpy.Container(self.env, capacity=self.tickets_per_day, init=self.tickets_per_day)
        self.n_days = self.plan.n_days

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> SimulationResult:
        D = self.n_days
        self.fl = [[0.0] * D for _ in _FLOW_KEYS]
        # orders judged and dissatisfied by the day the experience happens (after any queueing), for word
        # of mouth: the order-day columns are still incomplete while that day's orders wait in a queue
        self.judged = [[0, 0] for _ in range(D)]
        self.stage_rows = np.zeros((D, 5), dtype=np.int64)
        self.nU = self.nC = self.nL = self.nX = 0
        n_sources = len(self.plan.channels) + 2  # channels, referral, prior awareness
        self.aware = np.zeros(n_sources, dtype=np.int64)  # aware people by acquisition source (lazy pool)
        self.orders_log: list[list] = []
        self.pending: dict[int, tuple[int, float]] = {}  # log row -> (day, order time) awaiting experience
        self.active: dict[int, list] = {}
        self.lapsed_pool: dict[int, list[list]] = {}
        self.next_cid = 1
        self.channel_names = [*self.plan.channels, "referral", "prior_awareness", "existing"]
        self._setup_levers()
        self._seed_population()
        self.env.process(self._days())
        self.env.run(until=D)
        self._resolve_pending()
        return self._result()

    def _setup_levers(self) -> None:
        s = self.s
        ret, loy, e = s.retention, s.loyalty, s.experience
        self.eff = float(
            model.backend_effectiveness(
                ret.first_party_data_share, ret.marketplace_effectiveness, ret.targeting_precision
            )
        )
        self.rate_mult_max = float(
            model.retention_effect(1.0, self.eff, ret.purchase_rate_uplift_max, 0.0, 0.0).purchase_rate
        )
        self.loyal_rate = loy.purchase_rate_multiplier
        self.loyal_drop = loy.dropout_multiplier
        self.loyal_value = loy.order_value_multiplier
        self.demote = loy.demote_on_dissatisfied
        self.exp_mult = (e.dissatisfied_dropout_multiplier, 1.0, e.delighted_dropout_multiplier)
        self.step_loyal = (0.0, loy.step_probability_satisfied, loy.step_probability_delighted)
        self.value_mean = s.economics.order_value_mean
        self.exp_at_no_delay = self._experience_probs(0.0)
        self.negative_share = self.exp_at_no_delay[0]  # word of mouth starts at its steady level, not at zero
        self._react_key: tuple[int, int] | None = None
        self._react = np.zeros(0)
        self.rate_mult_today = 1.0
        self.drop_mult_today = 1.0
        self.value_mult_today = 1.0

    def _experience_probs(self, delay: float) -> tuple[float, float]:
        """(P(dissatisfied), P(dissatisfied or satisfied)) of an order delayed by `delay` days."""
        e = self.s.experience
        dis, sat, _ = model.experience_probabilities(
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
        self.aware[len(self.plan.channels) + 1] = m.initially_aware
        existing_channel = len(self.plan.channels) + 2
        for i in range(len(base)):
            stage = int(base.stage[i])
            rec = [
                self.next_cid,
                float(base.purchase_rate[i]),
                float(base.dropout[i]),
                stage == 1,
                int(base.prior_orders[i]),
                existing_channel,
                False,
                0,
                0,
            ]
            self.next_cid += 1
            if stage == 2:
                rec[_LAPSE_MONTH] = -int(base.lapsed_months_ago[i])
                self.lapsed_pool.setdefault(rec[_LAPSE_MONTH], []).append(rec)
                self.nX += 1
            else:
                if stage == 1:
                    self.nL += 1
                else:
                    self.nC += 1
                self.active[rec[_CID]] = rec
                self.env.process(self._customer(rec, None))
        self.nU = m.size - m.initially_aware - len(base)

    # -- the market's day --------------------------------------------------------------------------
    def _days(self):
        """Each day: ads and referrals make people aware, aware people buy or forget, win-back runs."""
        s = self.s
        plan = self.plan
        rng = self.rng
        N = s.market.size
        D = self.n_days
        fp, ret = s.first_purchase, s.retention
        per_loyal_day = s.referral.contacts_per_loyal_per_month / model.DAYS_PER_MONTH
        cohort_day = D - 365 if D > 365 else None
        self.cohort = {"start": float("nan"), "retained": float("nan")}
        self.cohort_day = cohort_day
        bar = tqdm(total=D, desc=f"agent {s.name}", unit="day", disable=None if self.progress else True, leave=False)
        fl = self.fl
        for d in range(D):
            month = int(plan.month_of_day[d])
            if d > 0:
                self._record_stages(d - 1)
                self._update_word_of_mouth(d - 1)
                self._refill(self.fulfilment, self.ship_per_day)
                self._refill(self.service, self.tickets_per_day)
            if d == cohort_day:
                self.cohort["start"] = float(len(self.active))
            # back-end effect today: spend per active customer
            per_customer = plan.backend_spend_month_effective[month] / max(self.nC + self.nL, 1)
            sat = model.backend_saturation(per_customer, ret.half_saturation_per_customer)
            eff = model.retention_effect(
                sat, self.eff, ret.purchase_rate_uplift_max, ret.dropout_reduction_max, ret.order_value_uplift_max
            )
            self.rate_mult_today = float(eff.purchase_rate)
            self.drop_mult_today = float(eff.dropout)
            self.value_mult_today = float(eff.order_value)
            # awareness: contacts land on random people; only the unaware ones count
            contacts = np.append(plan.front_contacts_day[d], per_loyal_day * self.nL)
            total_contacts = float(contacts.sum())
            p_contact = float(model.contact_probability(total_contacts, N))
            if self.nU > 0 and total_contacts > 0:
                new = int(rng.binomial(self.nU, p_contact))
                if new:
                    self.aware[: len(contacts)] += rng.multinomial(new, contacts / total_contacts)
                    self.nU -= new
                    fl[_F_NEWLY_AWARE][d] += new
            # aware people buy for the first time or forget (competing daily hazards)
            h_first = model.first_purchase_hazard(
                fp.monthly_conversion,
                fp.landing_page_quality,
                fp.offer_strength,
                self.negative_share,
                fp.negative_wom_impact,
            )
            h_forget = model.forgetting_hazard(fp.forgetting_per_month, p_contact)
            p_buy, p_forget = model.aware_outcome_probabilities(h_first, h_forget)
            if self.aware.any():
                moves = rng.multinomial(
                    self.aware, [float(p_buy), float(p_forget), 1.0 - float(p_buy) - float(p_forget)]
                )
                self.aware -= moves[:, 0] + moves[:, 1]
                forgotten = int(moves[:, 1].sum())
                self.nU += forgotten
                fl[_F_FORGOTTEN][d] += forgotten
                for source in np.flatnonzero(moves[:, 0]):
                    for _ in range(int(moves[source, 0])):
                        self._new_customer(int(source), d)
            self._winback(d, month)
            fl[_F_SPEND_FRONT][d] = plan.spend_day[d, 0]
            fl[_F_SPEND_BACK][d] = plan.spend_day[d, 1]
            fl[_F_SPEND_WINBACK][d] = plan.spend_day[d, 2]
            bar.update(1)
            yield self.env.timeout(1.0)
        bar.close()

    def _new_customer(self, source: int, d: int) -> None:
        """An aware person buys for the first time at a random moment of day d."""
        rec = [self.next_cid, self.draws.purchase_rate(), self.draws.dropout(), False, 0, source, True, d, 0]
        self.next_cid += 1
        self.nC += 1
        self.active[rec[_CID]] = rec
        self.fl[_F_NEW_CUSTOMERS][d] += 1
        self.env.process(self._customer(rec, self.draws.uniform()))

    @staticmethod
    def _refill(team: simpy.Container, per_day: int) -> None:
        """A new working day: the team's slots refill (waiting orders take them first, in order)."""
        if team.level < per_day:
            team.put(per_day - team.level)

    def _record_stages(self, d: int) -> None:
        self.stage_rows[d] = (self.nU, int(self.aware.sum()), self.nC, self.nL, self.nX)

    def _update_word_of_mouth(self, d: int) -> None:
        judged, dissatisfied = self.judged[d]
        if judged > 0:
            share = dissatisfied / judged
            self.negative_share += (share - self.negative_share) / model.NEGATIVE_WOM_MEMORY_DAYS

    def _winback(self, d: int, month: int) -> None:
        """Win-back contacts land on random lapsed people; a few of them come back and order."""
        contacts = float(self.plan.winback_contacts_day[d])
        self.fl[_F_WINBACK_CONTACTS][d] = contacts
        if contacts <= 0 or self.nX <= 0:
            return
        q = float(model.winback_contact_probability(contacts, self.nX))
        pool = self.lapsed_pool
        keys = list(pool)
        if self._react_key != (month, len(keys)):  # speed: the chances change only with the month or a new bucket
            wb = self.s.winback
            months = np.asarray(keys, dtype=float)
            self._react = model.reactivation_probability(
                wb.base_reactivation, month - months, wb.decay_months, self.s.retention.targeting_precision
            )
            self._react_key = (month, len(keys))
        sizes = [len(b) for b in pool.values()]
        back = self.rng.binomial(sizes, q * self._react)
        for lapse_month, k in zip(keys, back.tolist(), strict=True):
            if not k:
                continue
            bucket = pool[lapse_month]
            for _ in range(k):
                j = int(self.rng.integers(len(bucket)))
                bucket[j], bucket[-1] = bucket[-1], bucket[j]
                rec = bucket.pop()
                rec[_LOYAL] = False
                rec[_ACTIVE_SINCE] = d
                self.nX -= 1
                self.nC += 1
                self.active[rec[_CID]] = rec
                self.fl[_F_REACTIVATIONS][d] += 1
                self.env.process(self._customer(rec, self.draws.uniform()))

    # -- a customer ----------------------------------------------------------------------------------
    def _customer(self, rec: list, first_order_in: float | None):
        """An active customer: orders at their own Poisson rate (thinned by today's back-end effect);
        each order is judged; after it they may drop out. `first_order_in`: days until an immediate order."""
        env = self.env
        draws = self.draws
        if first_order_in is not None:
            yield env.timeout(first_order_in)
            if (yield from self._order(rec)):
                return
        while True:
            while True:
                top = self.rate_mult_max * (self.loyal_rate if rec[_LOYAL] else 1.0)
                yield env.timeout(draws.exponential() / (rec[_LAM] * top))
                if draws.uniform() * self.rate_mult_max < self.rate_mult_today:
                    break
            if (yield from self._order(rec)):
                return

    def _order(self, rec: list):
        """One order: value, fulfilment queue, experience, complaint, dropout, loyalty step.
        Returns True when the customer lapses after it."""
        env = self.env
        draws = self.draws
        fl = self.fl
        t0 = env.now
        day = int(t0)
        if day >= self.n_days:
            return True  # past the horizon: nothing more is recorded
        loyal = rec[_LOYAL]
        amount = self.value_mean * draws.order_value() * self.value_mult_today * (self.loyal_value if loyal else 1.0)
        rec[_ORDERS] += 1
        fl[_F_ORDERS][day] += 1
        fl[_F_REVENUE][day] += amount
        if rec[_ORDERS] == 1:
            fl[_F_REVENUE_NEW][day] += amount
        else:
            fl[_F_REPEAT_ORDERS][day] += 1
            fl[_F_REVENUE_RETURNING][day] += amount
        if rec[_ACQUIRED]:
            fl[_F_ORDERS_ACQUIRED][day] += 1
            fl[_F_REVENUE_ACQUIRED][day] += amount
            if rec[_ORDERS] == 2:
                fl[_F_SECOND_ORDERS][day] += 1
        row = len(self.orders_log)
        log_row = [rec[_CID], day, amount, rec[_ORDERS], rec[_CHANNEL], -1]
        self.orders_log.append(log_row)
        # fulfilment: the order takes one of today's shipping slots, or queues for tomorrow's
        slot = self.fulfilment.get(1)
        if slot.triggered:  # speed: a free slot needs no wait, so the process does not yield
            wait = 0.0
        else:
            self.pending[row] = (day, t0)
            yield slot
            del self.pending[row]
            wait = env.now - t0
            fl[_F_DELAY][day] += wait
        # experience: expectations met (or not), delight by chance; only a dissatisfied order can complain
        p_dis, p_met = self.exp_at_no_delay if wait <= 0 else self._experience_probs(wait)
        u = draws.uniform()
        if u < p_dis:
            outcome = yield from self._complaint(day, row)
            self._judged(outcome, day, int(env.now))
        else:
            outcome = 1 if u < p_met else 2
            self._judged(outcome, day, day if wait <= 0 else int(env.now))
        log_row[5] = outcome
        # dropout after the order (MBG/NBD: after any order, the first included)
        p_drop = model.dropout_probability(
            rec[_P], self.drop_mult_today, self.exp_mult[outcome], self.loyal_drop if loyal else 1.0
        )
        if draws.uniform() < p_drop:
            self._lapse(rec, min(int(env.now), self.n_days - 1))  # after any queueing: the day it happens
            return True
        if not loyal:
            if draws.uniform() < self.step_loyal[outcome]:
                rec[_LOYAL] = True
                self.nC -= 1
                self.nL += 1
        elif outcome == 0 and draws.uniform() < self.demote:
            rec[_LOYAL] = False
            self.nL -= 1
            self.nC += 1
        return False

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

    def _judged(self, outcome: int, day: int, judged_day: int) -> None:
        """Count an order's final experience (by order day) and, for word of mouth, by the day it was judged."""
        self.fl[_F_DISSATISFIED + outcome][day] += 1
        if judged_day < self.n_days:
            j = self.judged[judged_day]
            j[0] += 1
            j[1] += outcome == 0

    def _lapse(self, rec: list, day: int) -> None:
        if rec[_LOYAL]:
            self.nL -= 1
        else:
            self.nC -= 1
        self.nX += 1
        rec[_LOYAL] = False
        self.fl[_F_DROPOUTS][day] += 1
        del self.active[rec[_CID]]
        month = int(self.plan.month_of_day[day])
        rec[_LAPSE_MONTH] = month
        self.lapsed_pool.setdefault(month, []).append(rec)

    # -- wrapping up -------------------------------------------------------------------------------
    def _resolve_pending(self) -> None:
        """Orders still queued at the horizon are judged with the delay they have had so far."""
        end = float(self.n_days)
        for row, (day, t0) in sorted(self.pending.items()):
            if t0 < 0:  # shipped and dissatisfied, complaint not yet answered: stays dissatisfied
                self.orders_log[row][5] = 0
                self.fl[_F_DISSATISFIED][day] += 1
                continue
            p_dis, p_met = self._experience_probs(end - t0)
            u = self.draws.uniform()
            outcome = 0 if u < p_dis else (1 if u < p_met else 2)
            self.orders_log[row][5] = outcome
            self.fl[_F_DISSATISFIED + outcome][day] += 1
            self.fl[_F_DELAY][day] += end - t0
        self._record_stages(self.n_days - 1)
        if self.cohort_day is not None:
            cut = self.cohort_day
            self.cohort["retained"] = float(sum(1 for rec in self.active.values() if rec[_ACTIVE_SINCE] < cut))

    def _result(self) -> SimulationResult:
        s = self.s
        plan = self.plan
        daily = pd.DataFrame(self.stage_rows, index=plan.dates, columns=STAGES)
        for i, name in enumerate(_FLOW_KEYS):
            daily[name] = np.asarray(self.fl[i], dtype=float)
        orders = daily["orders"].to_numpy()
        daily["fulfilment_delay_days"] = daily["fulfilment_delay_days"].to_numpy() / np.maximum(orders, 1)
        finish_money(daily, s, model.experience_cost_per_order(s))
        daily = daily[STAGES + FLOW_COLUMNS + EXTRA_COLUMNS]
        log = _orders_frame(self.orders_log, plan.dates, self.channel_names) if self.record_orders else None
        return SimulationResult(
            scenario=s,
            engine="agent",
            seed=self.seed,
            daily=daily,
            orders=log,
            spend_by_channel=_spend_frame(plan),
            cohort=dict(self.cohort),
            meta={"events": next(self.env._eid)},  # SimPy numbers every event it schedules
        )


_FLOW_KEYS = COUNTED_FLOWS
(
    _F_NEW_CUSTOMERS,
    _F_ORDERS,
    _F_REPEAT_ORDERS,
    _F_REVENUE,
    _F_REVENUE_NEW,
    _F_REVENUE_RETURNING,
    _F_SPEND_FRONT,
    _F_SPEND_BACK,
    _F_SPEND_WINBACK,
    _F_NEWLY_AWARE,
    _F_FORGOTTEN,
    _F_DROPOUTS,
    _F_REACTIVATIONS,
    _F_WINBACK_CONTACTS,
    _F_DISSATISFIED,
    _F_SATISFIED,
    _F_DELIGHTED,
    _F_COMPLAINTS,
    _F_RECOVERED,
    _F_DELAY,
    _F_ORDERS_ACQUIRED,
    _F_REVENUE_ACQUIRED,
    _F_SECOND_ORDERS,
) = range(len(_FLOW_KEYS))


def _orders_frame(rows: list, dates: pd.DatetimeIndex, channel_names: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ORDER_COLUMNS})
    arr = list(zip(*rows, strict=True))
    cid = np.asarray(arr[0], dtype=np.int64)
    day = np.asarray(arr[1], dtype=np.int64)
    amount = np.round(np.asarray(arr[2], dtype=float), 2)
    number = np.asarray(arr[3], dtype=np.int64)
    channel = np.asarray(channel_names, dtype=object)[np.asarray(arr[4], dtype=np.int64)]
    experience = np.asarray(EXPERIENCES, dtype=object)[np.asarray(arr[5], dtype=np.int64)]
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{c:07d}" for c in cid],
            "order_date": dates[day].strftime("%Y-%m-%d"),
            "amount": amount,
            "order_number": number,
            "acquisition_channel": channel,
            "experience": experience,
            "_day": day,
            "_cid": cid,
        }
    )
    frame = frame.sort_values(["_day", "_cid", "order_number"], kind="stable").drop(columns=["_day", "_cid"])
    return frame.reset_index(drop=True)


def _spend_frame(plan: model.Plan) -> pd.DataFrame:
    """Monthly spend by purpose and channel."""
    months = plan.month_starts
    cols = pd.MultiIndex.from_product([["front", "back", "winback"], list(plan.channels)], names=["purpose", "channel"])
    data = plan.spend_month.transpose(0, 2, 1).reshape(plan.n_months, -1)
    return pd.DataFrame(data, index=months, columns=cols)


def run_agent(
    scenario: Scenario,
    seed: int | None = None,
    *,
    spend_month: np.ndarray | None = None,
    progress: bool = False,
    record_orders: bool = True,
) -> SimulationResult:
    """Run the agent engine once. `spend_month` (M, C, 3) overrides the scenario's budget plan."""
    return AgentEngine(scenario, seed, spend_month, progress, record_orders).run()
