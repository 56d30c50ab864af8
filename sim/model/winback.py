"""Win-back (remarketing to lapsed customers): contacts that count once a month, and a low chance of a
comeback that fades with the months since lapsing."""

from __future__ import annotations

import numpy as np

from sim.model import acquisition
from sim.model.calendar import DAYS_PER_MONTH


def winback_contact_probability(contacts_per_day, lapsed):
    """Daily chance that a lapsed person gets a win-back contact that counts.

    A campaign works month by month: a second coupon in the same month brings back nobody the first one
    did not, so contacts saturate over a month's pool of lapsed people (and are wasted on a small pool).
    """
    if type(contacts_per_day) is float:  # speed: scalar branch
        return acquisition.contact_probability(contacts_per_day * DAYS_PER_MONTH, lapsed) / DAYS_PER_MONTH
    return acquisition.contact_probability(np.asarray(contacts_per_day) * DAYS_PER_MONTH, lapsed) / DAYS_PER_MONTH


def reactivation_probability(base_reactivation, months_since_lapse, decay_months, targeting_precision):
    """Chance that a contacted lapsed customer comes back: low, and fading with time since lapsing."""
    months = np.maximum(np.asarray(months_since_lapse, dtype=float), 0.0)
    return base_reactivation * reactivation_decay_per_month(decay_months) ** months * targeting_precision


def reactivation_decay_per_month(decay_months):
    """Factor by which the comeback chance falls with each month since lapsing (1/e per `decay_months`).

    A property of time alone: it does not depend on how large the comeback chance is, so it stays defined
    when win-back is switched off (base chance 0)."""
    return np.exp(-1.0 / np.asarray(decay_months, dtype=float))
