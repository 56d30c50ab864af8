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


def fates_after_order(outcome_chances, drop_by_outcome, step_by_outcome, fall_back_dissatisfied):
    """Chances per order of (dropping out, stepping up to loyal, falling back from loyal), the order's outcome
    unknown: each outcome's chance times what that outcome does.

    `outcome_chances`: (dissatisfied, satisfied, delighted); `drop_by_outcome`: the dropout chance after each
    outcome (`dropout_probability`); `step_by_outcome`: a customer's chance to step up after each outcome
    (if they stay); `fall_back_dissatisfied`: a loyal customer's chance to fall back after a dissatisfied
    order (if they stay). Stepping up applies to customers and falling back to loyal ones; the caller passes
    the dropout chances of the stage concerned.
    """
    drop = outcome_chances[0] * drop_by_outcome[0]
    step = 0.0
    for o in range(3):
        if o:
            drop = drop + outcome_chances[o] * drop_by_outcome[o]
        step = step + outcome_chances[o] * (1.0 - drop_by_outcome[o]) * step_by_outcome[o]
    fall_back = outcome_chances[0] * (1.0 - drop_by_outcome[0]) * fall_back_dissatisfied
    return drop, step, fall_back
