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

Any family can be mixed with a segment that never drops out (`never_dropout_share`, calibrated as
`<family>+stayers`): those customers' dropout is 0 and they buy at the same Gamma(r, alpha) rates.

The fast engine replaces the integral over customers by latent classes at Gauss quadrature nodes of the two
distributions (`latent_classes`; the never-dropout share in a class at zero dropout, `with_stayers`); the agent
engine draws each person (`draw_people`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg import eigh_tridiagonal
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
    mu ~ Gamma(s, 1/beta), 0 for the never-dropout share (`draw_dropouts`)."""
    lam = rng.gamma(rp.r, 1.0 / rp.alpha, size=n)
    return lam, draw_dropouts(rp, n, rng)


def draw_dropouts(rp: RepeatPurchase, n: int, rng: np.random.Generator) -> np.ndarray:
    """n dropouts from the family's distribution, each set to 0 (never drops out) with chance
    `never_dropout_share` (no extra draw when the share is 0, so seeded runs without stayers keep their stream)."""
    if rp.model == "pareto":
        drop = rng.gamma(rp.s, 1.0 / rp.beta, size=n)
    else:
        drop = rng.beta(rp.a, rp.b, size=n)
    if rp.never_dropout_share > 0.0:
        drop[rng.random(n) < rp.never_dropout_share] = 0.0
    return drop


def draw_stream(rp: RepeatPurchase, rng: np.random.Generator, block: int):
    """Two functions giving blocks of `block` fresh (purchase rates, dropouts) as lists (for the agent
    engine's pre-drawn streams: one NumPy call per block, not one per person)."""
    return (
        lambda: rng.gamma(rp.r, 1.0 / rp.alpha, size=block).tolist(),
        lambda: draw_dropouts(rp, block, rng).tolist(),
    )


def with_stayers(weights: np.ndarray, share: np.ndarray | float) -> np.ndarray:
    """Latent-class weights (rate node, dropout node, ...) whose first dropout node is at zero (and empty) with
    the never-dropout `share` of every rate node moved there: the classes of a family mixed with a segment that
    never drops out and buys at the same rates."""
    out = np.array(weights, dtype=float)
    share = np.asarray(share, dtype=float)
    per_rate = out.sum(axis=1)
    out *= 1.0 - share
    out[:, 0] = per_rate * share
    return out


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
    x, wx = _gauss(roots_genlaguerre, n_rate, r - 1.0)
    lam = np.asarray(x, dtype=float) / alpha
    if model == "pareto":
        y, wy = _gauss(roots_genlaguerre, n_dropout, d1 - 1.0)
        drop = np.asarray(y, dtype=float) / d2
    else:
        y, wy = _gauss(roots_jacobi, n_dropout, d2 - 1.0, d1 - 1.0)
        drop = np.clip((1.0 + np.asarray(y, dtype=float)) / 2.0, 0.0, 1.0)
    w_lam = np.asarray(wx, dtype=float) / np.sum(wx)
    w_drop = np.asarray(wy, dtype=float) / np.sum(wy)
    lam_k = np.repeat(lam, n_dropout)
    drop_k = np.tile(drop, n_rate)
    w_k = np.outer(w_lam, w_drop).ravel()
    for arr in (lam_k, drop_k, w_k):
        arr.setflags(write=False)
    return lam_k, drop_k, w_k


def _gauss(rule, n: int, *shape: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss nodes and weights of `rule` (SciPy's generalized Laguerre or Jacobi). SciPy's weights carry the
    weight function's total mass (a Gamma function), which overflows for concentrated distributions (a Gamma
    shape above ~170, a Beta with a + b above ~1000): there the nodes and normalised weights come from the
    rule's three-term recurrence instead (Golub & Welsch 1969, "Calculation of Gauss quadrature rules":
    nodes are the eigenvalues of the Jacobi matrix, weights the squared first components of its eigenvectors)."""
    x, w = rule(n, *shape)
    if np.all(np.isfinite(w)) and np.all(np.isfinite(x)) and np.sum(w) > 0:
        return np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    return gauss_by_recurrence(rule, n, *shape)


def gauss_by_recurrence(rule, n: int, *shape: float) -> tuple[np.ndarray, np.ndarray]:
    """`_gauss`'s fallback: nodes and weights normalised to 1 from the Jacobi matrix (any shape)."""
    i = np.arange(1, n, dtype=float)
    if rule is roots_genlaguerre:
        (a,) = shape
        diag = 2.0 * np.arange(n) + a + 1.0
        off = np.sqrt(i * (i + a))
    else:  # Jacobi on [-1, 1] with weight (1 - x)^a (1 + x)^b
        a, b = shape
        k = np.arange(n, dtype=float)
        s0 = 2.0 * k + a + b
        diag = np.where(s0 == 0.0, (b - a) / (a + b + 2.0), (b * b - a * a) / np.maximum(s0 * (s0 + 2.0), 1e-300))
        s1 = 2.0 * i + a + b
        off = np.sqrt(4.0 * i * (i + a) * (i + b) * (i + a + b) / (s1 * s1 * (s1 + 1.0) * (s1 - 1.0)))
    nodes, vectors = eigh_tridiagonal(diag, off)
    return nodes, vectors[0] ** 2


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
