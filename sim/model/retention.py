"""Back-end marketing: spend per active customer raises the purchase rate, cuts dropout and lifts order
value, with diminishing returns, scaled by first-party data and targeting precision."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.model.acquisition import LN2


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
