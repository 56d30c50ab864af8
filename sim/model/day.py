"""One day of the market, as the model sees it: what the day's plan, season and state make of each person's
chances. Both engines call `day_chances` once a day and differ only in how they count and draw.

The order of a day is fixed here: back-end spend per active customer sets the retention levers; ads and
referrals make unaware people aware (only the unaware share of random contacts counts); aware people buy
for the first time or forget (competing hazards, the day's season and promotions on the first); win-back
contacts land on random lapsed people. The agent engine (one scenario) passes floats and gets floats; the
fast engine (a batch) passes (S,) arrays and gets arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.model import acquisition, retention, winback
from sim.model.retention import RetentionEffect
from sim.model.scenario import Scenario


@dataclass(frozen=True)
class Levers:
    """A scenario's constant levers for the day's chances: floats for one scenario, (S,) arrays for a batch."""

    market_size: Any
    first_purchase_base: Any  # daily first-purchase hazard before word of mouth and the calendar
    forgetting_base: Any  # daily forgetting hazard on a day without contact
    negative_wom_impact: Any
    referrals_per_loyal_month: Any
    backend_effectiveness: Any
    rate_uplift_max: Any
    dropout_reduction_max: Any
    value_uplift_max: Any
    half_saturation: Any


def levers(scenario: Scenario) -> Levers:
    """The day's levers of one scenario, as floats."""
    fp, ret = scenario.first_purchase, scenario.retention
    return Levers(
        market_size=float(scenario.market.size),
        first_purchase_base=float(
            acquisition.first_purchase_base_hazard(fp.monthly_conversion, fp.landing_page_quality, fp.offer_strength)
        ),
        forgetting_base=float(acquisition.monthly_to_daily_hazard(float(fp.forgetting_per_month))),
        negative_wom_impact=fp.negative_wom_impact,
        referrals_per_loyal_month=scenario.referral.contacts_per_loyal_per_month,
        backend_effectiveness=float(
            retention.backend_effectiveness(
                ret.first_party_data_share, ret.marketplace_effectiveness, ret.targeting_precision
            )
        ),
        rate_uplift_max=ret.purchase_rate_uplift_max,
        dropout_reduction_max=ret.dropout_reduction_max,
        value_uplift_max=ret.order_value_uplift_max,
        half_saturation=ret.half_saturation_per_customer,
    )


def stacked_levers(scenarios: list[Scenario]) -> Levers:
    """The day's levers of a batch of scenarios, as (S,) arrays."""
    rows = [levers(s) for s in scenarios]
    return Levers(
        **{name: np.array([getattr(r, name) for r in rows], dtype=float) for name in Levers.__dataclass_fields__}
    )


@dataclass(frozen=True)
class DayChances:
    """The day's chances of one person, and the retention levers of the day."""

    backend: RetentionEffect  # back-end multipliers of purchase rate, dropout and order value
    referrals: Any  # people told about the brand by loyal customers today
    contact: Any  # chance that a person gets at least one front-end or referral contact today
    buy: Any  # chance that an aware person buys for the first time today
    forget: Any  # chance that an aware person forgets the brand today
    winback_contact: Any  # chance that a lapsed person gets a win-back contact that counts today


def day_chances(
    lv: Levers,
    *,
    front_contacts,
    winback_contacts,
    backend_per_customer,
    first_purchase_multiplier,
    active,
    loyal,
    lapsed,
    negative_share,
) -> DayChances:
    """The day's chances from its plan (front-end contacts, win-back contacts and effective back-end spend
    per active customer per month), its season and promotions (the first-purchase multiplier) and the state
    in the morning (active and loyal customers, lapsed people, negative word of mouth)."""
    saturation = retention.backend_saturation(backend_per_customer, lv.half_saturation)
    backend = retention.retention_effect(
        saturation, lv.backend_effectiveness, lv.rate_uplift_max, lv.dropout_reduction_max, lv.value_uplift_max
    )
    referrals = acquisition.referral_contacts(loyal, lv.referrals_per_loyal_month)
    contact = acquisition.contact_probability(front_contacts + referrals, lv.market_size)
    first = acquisition.first_purchase_hazard(
        lv.first_purchase_base, negative_share, lv.negative_wom_impact, first_purchase_multiplier
    )
    forget = acquisition.forgetting_hazard(lv.forgetting_base, contact)
    buy, forgotten = acquisition.aware_outcome_probabilities(first, forget)
    reached = winback.winback_contact_probability(winback_contacts, lapsed)
    return DayChances(backend, referrals, contact, buy, forgotten, reached)
