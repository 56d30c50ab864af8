"""The mathematics both engines share: pure, vectorizable functions of the scenario's levers.

Time runs in days. Monthly quantities in a scenario (reach, conversion, forgetting) are turned into daily
hazards here, once, so that the agent engine (continuous time, SimPy) and the fast engine (daily steps,
NumPy) read the same numbers. Every function accepts floats or NumPy arrays.
The agent engine calls the daily ones with plain floats once a day: those take a `math` branch (a speed trick:
the same formula without NumPy's per-call overhead; `tests/test_model.py` checks that both branches agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.scenario import PURPOSES, Scenario

DAYS_PER_MONTH = 365.25 / 12.0
LN2 = float(np.log(2.0))


# -- front-end: spend to reach to awareness ------------------------------------------------------


def reach_per_month(spend, max_reach, half_saturation, shape=1.0, kind: str = "hill"):
    """People reached in a month by a channel's acquisition spend (diminishing returns).

    hill: max * S^k / (S^k + K^k); exponential: max * (1 - 2^(-S/K)). Both give 0 at S = 0, half the
    maximum at S = K, and never decrease with spend.
    """
    s = np.maximum(np.asarray(spend, dtype=float), 0.0)
    if kind == "exponential":
        return max_reach * (1.0 - np.exp(-LN2 * s / half_saturation))
    ratio = np.power(s / half_saturation, shape)
    return max_reach * ratio / (1.0 + ratio)


def contact_probability(contacts, population):
    """Chance that one person gets at least one of `contacts` random contacts spread over `population`.

    Contacts land on random people (Poisson), so repeated contacts to the same person are wasted:
    this is where market saturation comes from.
    """
    if type(contacts) is float:  # speed: scalar branch
        return 1.0 - math.exp(-contacts / max(float(population), 1e-12))
    pop = np.maximum(np.asarray(population, dtype=float), 1e-12)
    return 1.0 - np.exp(-np.asarray(contacts, dtype=float) / pop)


def monthly_to_daily_hazard(monthly_probability):
    """Daily hazard whose 30.4-day survival equals 1 - monthly_probability."""
    if type(monthly_probability) is float:  # speed: scalar branch
        return -math.log1p(-min(max(monthly_probability, 0.0), 0.999999)) / DAYS_PER_MONTH
    p = np.minimum(np.maximum(monthly_probability, 0.0), 0.999999)  # speed: np.clip is slow on scalars
    return -np.log1p(-p) / DAYS_PER_MONTH


def first_purchase_hazard(monthly_conversion, landing_page_quality, offer_strength, negative_share, negative_impact):
    """Daily hazard that an aware person buys for the first time.

    The monthly conversion is scaled by page quality and offer strength; negative word of mouth (the
    recent share of dissatisfied orders) cuts it by up to `negative_impact`.
    """
    if type(negative_share) is float:  # speed: scalar branch
        base = monthly_to_daily_hazard(float(monthly_conversion * landing_page_quality * offer_strength))
        return base * (1.0 - negative_impact * min(max(negative_share, 0.0), 1.0))
    base = monthly_to_daily_hazard(np.asarray(monthly_conversion) * landing_page_quality * offer_strength)
    return base * (1.0 - negative_impact * np.minimum(np.maximum(negative_share, 0.0), 1.0))


def forgetting_hazard(forgetting_per_month, contact_probability_today):
    """Daily hazard that an aware person forgets the brand: only on days without a contact."""
    return monthly_to_daily_hazard(forgetting_per_month) * (1.0 - contact_probability_today)


# -- back-end: retention spend per active customer -----------------------------------------------


def backend_effectiveness(first_party_data_share, marketplace_effectiveness, targeting_precision):
    """How much of back-end spend's potential the seller can use (data ownership x privacy limits)."""
    reach = marketplace_effectiveness + (1.0 - marketplace_effectiveness) * first_party_data_share
    return targeting_precision * reach


def backend_saturation(spend_per_customer_month, half_saturation):
    """Share of the maximum back-end effect reached at this spend per active customer (0 at no spend)."""
    if type(spend_per_customer_month) is float:  # speed: scalar branch
        return 1.0 - math.exp(-LN2 * max(spend_per_customer_month, 0.0) / half_saturation)
    s = np.maximum(np.asarray(spend_per_customer_month, dtype=float), 0.0)
    return 1.0 - np.exp(-LN2 * s / half_saturation)


@dataclass(frozen=True)
class RetentionEffect:
    """Multipliers that back-end marketing applies to purchase rate, dropout chance and order value."""

    purchase_rate: np.ndarray | float
    dropout: np.ndarray | float
    order_value: np.ndarray | float


def retention_effect(
    saturation, effectiveness, purchase_rate_uplift_max, dropout_reduction_max, order_value_uplift_max
):
    """Multipliers from back-end spend; all equal 1 at zero spend."""
    e = (saturation if type(saturation) is float else np.asarray(saturation)) * effectiveness  # speed: scalars
    return RetentionEffect(
        purchase_rate=1.0 + purchase_rate_uplift_max * e,
        dropout=1.0 - dropout_reduction_max * e,
        order_value=1.0 + order_value_uplift_max * e,
    )


# -- experience of an order -----------------------------------------------------------------------


def experience_probabilities(
    reliability,
    delay_days,
    delay_tolerance_days,
    proactive_coverage,
    proactive_rescue,
    delight_coverage,
    delight_probability,
    baseline_delight,
):
    """Chances (dissatisfied, satisfied, delighted) of one order.

    An order fails its predictable expectations with 1 - reliability, and more often when fulfilment is
    late (delay fades satisfaction by 1/e per tolerance). Proactive messages rescue a share of failures.
    A good order delights by chance, more often with a surprise.
    """
    met = reliability * np.exp(-np.maximum(delay_days, 0.0) / delay_tolerance_days)
    fail = 1.0 - met
    dissatisfied = fail * (1.0 - proactive_coverage * proactive_rescue)
    delight_chance = baseline_delight + (1.0 - baseline_delight) * delight_coverage * delight_probability
    delighted = met * delight_chance
    satisfied = 1.0 - dissatisfied - delighted
    return dissatisfied, satisfied, delighted


def dropout_probability(p, retention_multiplier, experience_multiplier, loyal_multiplier):
    """Chance of dropping out after an order: the customer's own p times the levers, capped at 1.

    Both engines apply it inlined in their hot loops: the agent engine multiplies p by a day's table of the
    levers' product (the cap needs no test when the chance is compared with a uniform draw), the fast engine
    regroups it over its latent classes."""
    return np.minimum(1.0, p * retention_multiplier * experience_multiplier * loyal_multiplier)


def aware_outcome_probabilities(first_purchase_hazard_day, forgetting_hazard_day):
    """Chances (buy, forget) for an aware person over one day, the two hazards competing."""
    if type(first_purchase_hazard_day) is float:  # speed: scalar branch
        total = first_purchase_hazard_day + forgetting_hazard_day
        happened = -math.expm1(-total)
        share = first_purchase_hazard_day / max(total, 1e-300)
        return happened * share, happened * (1.0 - share)
    total = np.asarray(first_purchase_hazard_day, dtype=float) + forgetting_hazard_day
    happened = -np.expm1(-total)
    share = first_purchase_hazard_day / np.maximum(total, 1e-300)  # both hazards 0: nothing happens anyway
    return happened * share, happened * (1.0 - share)


def complaint_recovery_probability(complaint_share, service_recovery, in_time_share):
    """Chance that a dissatisfied order is turned around by customer service."""
    return complaint_share * service_recovery * in_time_share


# -- win-back ---------------------------------------------------------------------------------------


def winback_contact_probability(contacts_per_day, lapsed):
    """Daily chance that a lapsed person gets a win-back contact that counts.

    A campaign works month by month: a second coupon in the same month brings back nobody the first one
    did not, so contacts saturate over a month's pool of lapsed people (and are wasted on a small pool).
    """
    if type(contacts_per_day) is float:  # speed: scalar branch
        return contact_probability(contacts_per_day * DAYS_PER_MONTH, lapsed) / DAYS_PER_MONTH
    return contact_probability(np.asarray(contacts_per_day) * DAYS_PER_MONTH, lapsed) / DAYS_PER_MONTH


def reactivation_probability(base_reactivation, months_since_lapse, decay_months, targeting_precision):
    """Chance that a contacted lapsed customer comes back: low, and fading with time since lapsing."""
    months = np.maximum(np.asarray(months_since_lapse, dtype=float), 0.0)
    return base_reactivation * np.exp(-months / decay_months) * targeting_precision


# -- money ----------------------------------------------------------------------------------------


def gamma_order_value(mean, cv):
    """(shape, scale) of a Gamma order value with this mean and coefficient of variation."""
    shape = 1.0 / (cv * cv)
    return shape, mean / shape


def daily_discount_factors(n_days: int, annual_rate: float) -> np.ndarray:
    """Present-value factor of each day, discounting at the annual rate (day 0 has factor 1)."""
    return np.power(1.0 + annual_rate, -np.arange(n_days) / 365.25)


# -- the plan, compiled once to daily arrays ----------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A scenario's calendar and budget turned into arrays both engines read."""

    dates: pd.DatetimeIndex
    month_starts: pd.DatetimeIndex  # (M,) first day of each plan month
    month_of_day: np.ndarray  # (D,) month index of each day
    days_in_month: np.ndarray  # (M,)
    channels: tuple[str, ...]
    spend_month: np.ndarray  # (M, C, 3) spend by month, channel, purpose (front, back, winback)
    front_contacts_day: np.ndarray  # (D, C) people reached per day by each channel
    winback_contacts_day: np.ndarray  # (D,) win-back contacts per day
    backend_spend_month_effective: np.ndarray  # (M,) back-end spend weighted by channel efficiency
    spend_day: np.ndarray  # (D, 3) spend per day by purpose

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def n_months(self) -> int:
        return len(self.days_in_month)


def monthly_budget(scenario: Scenario) -> np.ndarray:
    """Total marketing budget of each simulated month."""
    b = scenario.budget
    months = scenario.simulation.horizon_months
    totals = b.totals
    per = 3 if b.period == "quarter" else 1
    out = np.empty(months)
    for m in range(months):
        idx = min(m // per, len(totals) - 1)
        out[m] = totals[idx] / per
    return out


def spend_by_month(scenario: Scenario) -> np.ndarray:
    """(M, C, 3) spend by month, channel and purpose."""
    channels = list(scenario.channels)
    total = monthly_budget(scenario)
    out = np.zeros((len(total), len(channels), len(PURPOSES)))
    for j, purpose in enumerate(PURPOSES):
        share = scenario.budget.purpose_split.get(purpose, 0.0)
        for name, cshare in scenario.budget.channel_split.get(purpose, {}).items():
            out[:, channels.index(name), j] = total * share * cshare
    return out


def build_plan(scenario: Scenario, spend_month: np.ndarray | None = None) -> Plan:
    """Compile the scenario's calendar and budget (or an explicit (M, C, 3) spend) to daily arrays."""
    sim = scenario.simulation
    start = pd.Timestamp(sim.start_date)
    end = start + pd.DateOffset(months=sim.horizon_months)
    dates = pd.date_range(start, end - pd.Timedelta(days=1), freq="D")
    # plan months run from the start date by anniversary (a start on the 17th gives months 17th-16th)
    month_starts = pd.DatetimeIndex([start + pd.DateOffset(months=m) for m in range(sim.horizon_months)])
    month_of_day = (
        np.searchsorted(month_starts.values.astype("datetime64[D]"), dates.values.astype("datetime64[D]"), side="right")
        - 1
    )
    days_in_month = np.bincount(month_of_day, minlength=sim.horizon_months).astype(float)
    spend = spend_by_month(scenario) if spend_month is None else np.asarray(spend_month, dtype=float)
    channels = tuple(scenario.channels)
    reach_month = np.zeros(spend.shape[:2])
    cost = np.zeros(len(channels))
    eff = np.zeros(len(channels))
    for c, name in enumerate(channels):
        ch = scenario.channels[name]
        reach_month[:, c] = reach_per_month(
            spend[:, c, 0], ch.reach.max_reach, ch.reach.half_saturation, ch.reach.shape, ch.reach.kind
        )
        cost[c] = ch.winback_cost_per_contact
        eff[c] = ch.backend_efficiency
    per_day = 1.0 / days_in_month[month_of_day]
    front_contacts_day = reach_month[month_of_day] * per_day[:, None]
    winback_contacts_day = (spend[:, :, 2] / cost).sum(axis=1)[month_of_day] * per_day
    backend_eff = (spend[:, :, 1] * eff).sum(axis=1)
    spend_day = spend.sum(axis=1)[month_of_day] * per_day[:, None]
    return Plan(
        dates=dates,
        month_starts=month_starts,
        month_of_day=month_of_day,
        days_in_month=days_in_month,
        channels=channels,
        spend_month=spend,
        front_contacts_day=front_contacts_day,
        winback_contacts_day=winback_contacts_day,
        backend_spend_month_effective=backend_eff,
        spend_day=spend_day,
    )


def experience_cost_per_order(scenario: Scenario) -> float:
    """Expected proactive-communication and surprise cost of one order."""
    e = scenario.experience
    return e.proactive_coverage * e.proactive_cost_per_order + e.delight_coverage * e.delight_cost_per_order


NEGATIVE_WOM_MEMORY_DAYS = 30.0  # word of mouth reflects roughly the last month of orders
