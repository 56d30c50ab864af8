"""The experience of an order: expectations met (or not), satisfaction kept by proactive messages, delight
by a surprise; complaints that customer service may turn around. Dissatisfaction and delight then move the
customer's dropout and loyalty (`sim.model.lifecycle`)."""

from __future__ import annotations

import numpy as np


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


def complaint_recovery_probability(complaint_share, service_recovery, in_time_share):
    """Chance that a dissatisfied order is turned around by customer service."""
    return complaint_share * service_recovery * in_time_share


def outcome_after_complaints(dissatisfied, delighted, rescued):
    """Final chances (dissatisfied, satisfied, delighted) of an order once customer service has turned around
    the share `rescued` of the dissatisfied ones (`complaint_recovery_probability`)."""
    final_dissatisfied = dissatisfied * (1.0 - rescued)
    return final_dissatisfied, 1.0 - final_dissatisfied - delighted, delighted


def team_slots_per_day(capacity_per_day):
    """Whole slots a team has each morning (orders shipped, tickets answered): at least one."""
    return max(1, int(round(capacity_per_day)))
