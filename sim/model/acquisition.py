"""Front-end marketing: spend buys reach, reach lands on random people, aware people buy or forget.

Monthly quantities in a scenario (reach, conversion, forgetting) are turned into daily hazards here, so the
agent engine (continuous time, SimPy) and the fast engine (daily steps, NumPy) read the same numbers. Every
function accepts floats or NumPy arrays; the daily ones take a `math` branch for plain floats (a speed trick:
the same formula without NumPy's per-call overhead; `tests/test_model.py` checks that both branches agree).
"""

from __future__ import annotations

import math

import numpy as np

from sim.model.calendar import DAYS_PER_MONTH

LN2 = float(np.log(2.0))
NEGATIVE_WOM_MEMORY_DAYS = 30.0  # word of mouth reflects roughly the last month of orders


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


def first_purchase_base_hazard(monthly_conversion, landing_page_quality, offer_strength):
    """Daily hazard that an aware person buys for the first time, before word of mouth and the calendar:
    the monthly conversion scaled by page quality and offer strength."""
    return monthly_to_daily_hazard(monthly_conversion * landing_page_quality * offer_strength)


def first_purchase_hazard(base_hazard, negative_share, negative_impact, multiplier=1.0):
    """Today's daily hazard that an aware person buys for the first time: the base hazard
    (`first_purchase_base_hazard`), cut by up to `negative_impact` by negative word of mouth (the recent
    share of dissatisfied orders), times the day's season and promotions (`sim.model.calendar.day_factors`)."""
    if type(negative_share) is float:  # speed: scalar branch
        return base_hazard * (1.0 - negative_impact * min(max(negative_share, 0.0), 1.0)) * multiplier
    return base_hazard * (1.0 - negative_impact * np.minimum(np.maximum(negative_share, 0.0), 1.0)) * multiplier


def forgetting_hazard(base_hazard, contact_probability_today):
    """Daily hazard that an aware person forgets the brand: the base hazard
    (`monthly_to_daily_hazard(forgetting_per_month)`), only on days without a contact."""
    return base_hazard * (1.0 - contact_probability_today)


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


def referral_contacts(loyal, contacts_per_loyal_per_month):
    """People told about the brand today by loyal customers (word of mouth, the Bass imitation term)."""
    return loyal * (contacts_per_loyal_per_month / DAYS_PER_MONTH)


def word_of_mouth(negative_share, dissatisfied, judged):
    """Tomorrow's negative word of mouth: a moving average (memory about a month) of the dissatisfied share
    of the orders judged today; unchanged on a day without judged orders."""
    if type(judged) is not np.ndarray:  # speed: scalar branch (the agent engine, once a day)
        if judged <= 0:
            return negative_share
        return negative_share + (dissatisfied / judged - negative_share) / NEGATIVE_WOM_MEMORY_DAYS
    if judged.min() > 0:  # speed: the usual day, orders in every row
        return negative_share + (dissatisfied / judged - negative_share) / NEGATIVE_WOM_MEMORY_DAYS
    share = np.divide(dissatisfied, judged, out=np.zeros(np.shape(judged)), where=judged > 0)
    return np.where(judged > 0, negative_share + (share - negative_share) / NEGATIVE_WOM_MEMORY_DAYS, negative_share)
