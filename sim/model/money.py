"""Money: order values, the cost of an order's experience, discounting."""

from __future__ import annotations

import numpy as np

from sim.model.scenario import Scenario


def gamma_order_value(mean, cv):
    """(shape, scale) of a Gamma order value with this mean and coefficient of variation."""
    shape = 1.0 / (cv * cv)
    return shape, mean / shape


def daily_discount_factors(n_days: int, annual_rate: float) -> np.ndarray:
    """Present-value factor of each day, discounting at the annual rate (day 0 has factor 1)."""
    return np.power(1.0 + annual_rate, -np.arange(n_days) / 365.25)


def experience_cost_per_order(scenario: Scenario) -> float:
    """Expected proactive-communication and surprise cost of one order."""
    e = scenario.experience
    return e.proactive_coverage * e.proactive_cost_per_order + e.delight_coverage * e.delight_cost_per_order
