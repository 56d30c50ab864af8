"""What an order does to the customer who placed it: drop out (lapse), step up to loyal, or fall back.

After an order a customer may drop out with their own chance p, times the levers: back-end marketing
(lower), the order's experience (a dissatisfied order raises it, a delighted one lowers it) and loyalty
(lower). Customers who stay may step up to loyal (more likely after a good or delighted order); a loyal
customer whose order disappointed may fall back to customer.
"""

from __future__ import annotations

import numpy as np

OUTCOMES = ("dissatisfied", "satisfied", "delighted")  # an order's experience, in this order everywhere


def dropout_multiplier(retention_multiplier, experience_multiplier, loyal_multiplier):
    """The levers' combined factor on a customer's own dropout chance after an order."""
    return retention_multiplier * experience_multiplier * loyal_multiplier


def dropout_probability(p, multiplier):
    """Chance of dropping out after an order: the customer's own p times the levers' factor, at most 1."""
    if type(p) is float:  # speed: scalar branch (the agent engine, once an order)
        x = p * multiplier
        return x if x < 1.0 else 1.0
    return np.minimum(1.0, p * multiplier)
