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


def order_value(value_mean, backend_multiplier, loyal_multiplier):
    """List value of an order before any discount: the scenario's mean, raised by cross-sell (back-end) and
    by loyalty [currency per order]."""
    return value_mean * backend_multiplier * loyal_multiplier


def gross_profit(revenue, orders, gross_margin, cost_per_order, discounts=0.0):
    """Gross profit of the orders: margin on the list value, less what discounts gave away, less fulfilment
    and experience costs. `revenue` is what customers paid (after discounts) [currency].

    With list value V, paid revenue V - discounts, and cost of goods V (1 - margin): V - discounts -
    V (1 - margin) - costs = revenue x margin - discounts x (1 - margin) - orders x cost_per_order."""
    return revenue * gross_margin - discounts * (1.0 - gross_margin) - orders * cost_per_order


def contribution(gross_profit_, marketing_spend):
    """Contribution: gross profit minus marketing spend (front-end, back-end, win-back, promotions)."""
    return gross_profit_ - marketing_spend
