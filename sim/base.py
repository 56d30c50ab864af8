"""The customer base a scenario starts with: who is active, loyal or lapsed, and how each one buys.

Each existing customer gets a purchase rate and a dropout chance drawn from the scenario's MBG/NBD
Gamma and Beta, so that engines continue with heterogeneous people, not with averages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import Scenario

PRIOR_ORDERS_CUSTOMER = 1  # an active, non-loyal customer has bought at least once
PRIOR_ORDERS_LOYAL = 3  # a loyal customer is a repeat buyer


@dataclass(frozen=True)
class ExistingCustomers:
    """Arrays with one entry per existing customer (active, loyal or lapsed)."""

    purchase_rate: np.ndarray  # orders per day while active
    dropout: np.ndarray  # chance of dropping out after an order
    stage: np.ndarray  # 0 customer, 1 loyal, 2 lapsed
    prior_orders: np.ndarray  # orders before the start
    lapsed_months_ago: np.ndarray  # months since lapsing (lapsed only; 0 otherwise)

    def __len__(self) -> int:
        return len(self.stage)


def draw_rates(scenario: Scenario, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Purchase rates lambda ~ Gamma(r, 1/alpha) per day and dropout chances p ~ Beta(a, b)."""
    rp = scenario.repeat_purchase
    lam = rng.gamma(rp.r, 1.0 / rp.alpha, size=n)
    p = rng.beta(rp.a, rp.b, size=n)
    return lam, p


def existing_customers(scenario: Scenario, rng: np.random.Generator) -> ExistingCustomers:
    """The starting base, drawn from the scenario's priors."""
    ex = scenario.market.existing
    n_c, n_l, n_x = ex.customers, ex.loyal, ex.lapsed
    n = n_c + n_l + n_x
    lam, p = draw_rates(scenario, n, rng)
    stage = np.repeat(np.array([0, 1, 2], dtype=np.int8), [n_c, n_l, n_x])
    prior = np.repeat(np.array([PRIOR_ORDERS_CUSTOMER, PRIOR_ORDERS_LOYAL, PRIOR_ORDERS_CUSTOMER]), [n_c, n_l, n_x])
    months_ago = np.zeros(n, dtype=np.int64)
    if n_x:
        months_ago[n_c + n_l :] = rng.integers(1, ex.lapsed_months_ago_max + 1, size=n_x)
    return ExistingCustomers(lam, p, stage, prior, months_ago)
