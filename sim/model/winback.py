"""Win-back (remarketing to lapsed customers): contacts that count once a month, and a low chance of a
comeback that fades with the months since lapsing."""

from __future__ import annotations

import numpy as np

from sim.model.acquisition import contact_probability
from sim.model.calendar import DAYS_PER_MONTH


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
