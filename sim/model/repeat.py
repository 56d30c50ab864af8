"""Repeat purchasing as the simulation sees it: each family's people, their latent classes, and the base's
posterior. (Likelihoods, fits and closed-form forecasts live in `sim.calibration`, one module per family.)

Every customer buys at a rate lambda ~ Gamma(r, alpha) per day while active (a Poisson process). How they
drop out depends on the family (`sim.model.scenario.RepeatPurchase`):

- MBG/NBD (Batislam, Denizel & Filiztekin 2007): after every order, the first included, with p ~ Beta(a, b);
- BG/NBD (Fader, Hardie & Lee 2005): after every repeat order (not the first), with p ~ Beta(a, b);
- Pareto/NBD (Schmittlein, Morrison & Colombo 1987): at any moment, at a hazard mu ~ Gamma(s, beta) per day.

The levers multiply these: back-end marketing and loyalty the per-order chance p or the hazard mu, an
order's experience the chance after that order (for Pareto/NBD, whose dropout is a clock and not an event,
a dissatisfied order adds the chance of leaving before the next order: `order_dropout_chance`).

The fast engine replaces the integral over customers by latent classes at Gauss quadrature nodes of the two
distributions (`latent_classes`); the agent engine draws each person (`draw_people`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import roots_genlaguerre, roots_jacobi

from sim.model.scenario import RepeatPurchase

DEFAULT_RATE_CLASSES = 8
DEFAULT_DROPOUT_CLASSES = 4


@dataclass(frozen=True)
class Family:
    """How a repeat-purchase family drops customers out (what the engines need to know of it)."""

    name: str
    per_order: bool  # dropout is a chance after orders (MBG/NBD, BG/NBD), else a hazard in time (Pareto/NBD)
    first_order_dropout: bool  # the chance applies after the first order too (MBG/NBD)


FAMILIES = {
    "mbgnbd": Family("mbgnbd", per_order=True, first_order_dropout=True),
    "bgnbd": Family("bgnbd", per_order=True, first_order_dropout=False),
    "pareto": Family("pareto", per_order=False, first_order_dropout=False),
}


def family(rp: RepeatPurchase) -> Family:
    """The family of a scenario's repeat-purchase block."""
    return FAMILIES[rp.model]


def dropout_parameters(rp: RepeatPurchase) -> tuple[float, float]:
    """The two parameters of the dropout distribution: (a, b) of the Beta, or (s, beta) of the Gamma."""
    return (rp.s, rp.beta) if rp.model == "pareto" else (rp.a, rp.b)


def mean_dropout(rp: RepeatPurchase) -> float:
    """Mean dropout chance per order a/(a+b), or mean hazard per day s/beta."""
    return rp.s / rp.beta if rp.model == "pareto" else rp.a / (rp.a + rp.b)


def draw_people(rp: RepeatPurchase, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(purchase rate per day, dropout) of n new people: lambda ~ Gamma(r, 1/alpha), and p ~ Beta(a, b) or
    mu ~ Gamma(s, 1/beta)."""
    lam = rng.gamma(rp.r, 1.0 / rp.alpha, size=n)
    if rp.model == "pareto":
        return lam, rng.gamma(rp.s, 1.0 / rp.beta, size=n)
    return lam, rng.beta(rp.a, rp.b, size=n)


def draw_stream(rp: RepeatPurchase, rng: np.random.Generator, block: int):
    """Two functions giving blocks of `block` fresh (purchase rates, dropouts) as lists (for the agent
    engine's pre-drawn streams: one NumPy call per block, not one per person)."""
    if rp.model == "pareto":
        return (
            lambda: rng.gamma(rp.r, 1.0 / rp.alpha, size=block).tolist(),
            lambda: rng.gamma(rp.s, 1.0 / rp.beta, size=block).tolist(),
        )
    return (
        lambda: rng.gamma(rp.r, 1.0 / rp.alpha, size=block).tolist(),
        lambda: rng.beta(rp.a, rp.b, size=block).tolist(),
    )


@lru_cache(maxsize=256)
def latent_classes(
    model: str,
    r: float,
    alpha: float,
    d1: float,
    d2: float,
    n_rate: int = DEFAULT_RATE_CLASSES,
    n_dropout: int = DEFAULT_DROPOUT_CLASSES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(purchase rate per day, dropout, weight) of each latent class, flattened (K,) = rate node x dropout node.

    lambda ~ Gamma(r, scale 1/alpha): Gauss-generalized-Laguerre nodes x_i with weight x^(r-1) e^-x give
    lambda_i = x_i / alpha. p ~ Beta(a, b) (d1, d2 = a, b): Gauss-Jacobi nodes on [-1, 1] with weight
    (1-x)^(b-1) (1+x)^(a-1) give p_j = (1 + x_j) / 2; mu ~ Gamma(s, beta) (d1, d2 = s, beta): Laguerre nodes
    again. The weights are normalised to add up to 1, so the classes reproduce the first 2n-1 moments of each
    distribution exactly.
    """
    x, wx = roots_genlaguerre(n_rate, r - 1.0)
    lam = np.asarray(x, dtype=float) / alpha
    if model == "pareto":
        y, wy = roots_genlaguerre(n_dropout, d1 - 1.0)
        drop = np.asarray(y, dtype=float) / d2
    else:
        y, wy = roots_jacobi(n_dropout, d2 - 1.0, d1 - 1.0)
        drop = np.clip((1.0 + np.asarray(y, dtype=float)) / 2.0, 0.0, 1.0)
    w_lam = np.asarray(wx, dtype=float) / np.sum(wx)
    w_drop = np.asarray(wy, dtype=float) / np.sum(wy)
    lam_k = np.repeat(lam, n_dropout)
    drop_k = np.tile(drop, n_rate)
    w_k = np.outer(w_lam, w_drop).ravel()
    for arr in (lam_k, drop_k, w_k):
        arr.setflags(write=False)
    return lam_k, drop_k, w_k


def classes_of(rp: RepeatPurchase, n_rate: int, n_dropout: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`latent_classes` of a scenario's repeat-purchase block."""
    d1, d2 = dropout_parameters(rp)
    return latent_classes(rp.model, rp.r, rp.alpha, d1, d2, n_rate, n_dropout)


def dropout_hazard_chance(mu, multiplier):
    """Chance that a customer with dropout hazard mu (per day, times the levers' factor) drops out within a
    day (Pareto/NBD)."""
    if type(mu) is float:  # speed: scalar branch
        return -np.expm1(-mu * multiplier).item()
    return -np.expm1(-np.asarray(mu) * multiplier)


def order_dropout_chance(purchase_rate, mu, experience_multiplier):
    """Pareto/NBD: the extra chance of dropping out after an order whose experience multiplies dropout by
    `experience_multiplier` (> 1 after a dissatisfied order): the raised hazard's share of the chance of
    leaving before the next order, mu / (lambda + mu) x (multiplier - 1); 0 when the multiplier is <= 1
    (a clock cannot be turned back: delight works through loyalty)."""
    excess = np.maximum(np.asarray(experience_multiplier, dtype=float) - 1.0, 0.0)
    return np.minimum(1.0, mu / np.maximum(purchase_rate + mu, 1e-300) * excess)
