"""What an order does to the customer who placed it: drop out (lapse), step up to loyal, or fall back."""

from __future__ import annotations

import numpy as np


def dropout_probability(p, retention_multiplier, experience_multiplier, loyal_multiplier):
    """Chance of dropping out after an order: the customer's own p times the levers, capped at 1.

    Both engines apply it inlined in their hot loops: the agent engine multiplies p by a day's table of the
    levers' product (the cap needs no test when the chance is compared with a uniform draw), the fast engine
    regroups it over its latent classes."""
    return np.minimum(1.0, p * retention_multiplier * experience_multiplier * loyal_multiplier)
