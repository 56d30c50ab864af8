"""The MBG/NBD repeat-purchase model: likelihood, posterior of each customer, and closed-form forecasts.

The story (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of models for
customer base analysis", IJRM 24: 201-209; Hoppe & Wagner 2007, "Customer base analysis: the case for a
central variant of the Betageometric/NBD model", Marketing - JRM 29: 75-90): while active, a customer
buys as a Poisson process with rate lambda ~ Gamma(r, alpha); right after every purchase, the first one
included, the customer drops out for good with probability p ~ Beta(a, b). Time is in days, so alpha is
in days. A customer's history is summarized by x (repeat transactions), t_x (days from the first to the
last transaction) and T (days from the first transaction to the end of the observation).

These are pure, vectorized functions (NumPy/SciPy, one entry per customer); `sim.calibration.calibrate` fits them,
`sim.model.base` draws each snapshot customer from the posterior, `sim.analysis.forecast` uses the expectations.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

PARAM_NAMES = ("r", "alpha", "a", "b")


def log_likelihood(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """Log-likelihood of each customer's (x, t_x, T) under the MBG/NBD.

    The MBG/NBD likelihood of Batislam et al. (2007, section 2.2), i.e. Fader, Hardie & Lee (2005,
    "Counting your customers the easy way", Marketing Science 24: 275-284) eq. 6 with dropout also
    possible right after the first purchase:

        L = B(a, b+x+1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + B(a+1, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

    The first term is "still active at T", the second "dropped out right after the last purchase at
    t_x" (possible for x = 0 too: this is what distinguishes MBG/NBD from BG/NBD). Written as
    A1 + A2 + A3 + log(1 + exp(A4)) with B(a+1, b+x) / B(a, b+x+1) = a / (b+x), for stability.
    """
    x = np.asarray(x, dtype=float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x + 1.0) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return a1 + a2 + a3 + np.logaddexp(a4, 0.0)


def p_alive(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """P(active at T | x, t_x, T): the first term of the likelihood over the whole (Bayes' rule).

    P = 1 / (1 + a/(b+x) * ((alpha+T)/(alpha+t_x))^(r+x)).
    """
    x = np.asarray(x, dtype=float)
    log_odds_dead = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return 1.0 / (1.0 + np.exp(log_odds_dead))


def _safe_a(a: float) -> float:
    """The closed forms below have a removable singularity at a = 1; step just beside it."""
    return a if abs(a - 1.0) > 1e-7 else 1.0 + 1e-7


def expected_repeat_purchases(t, r, alpha, a, b) -> np.ndarray:
    """E[repeat transactions in (0, t]] of a customer who has just made a first purchase.

    MBG/NBD version (Batislam et al. 2007) of Fader, Hardie & Lee (2005) eq. 9: after the first purchase
    the customer survives with 1-p, so b replaces b-1 and b+1 replaces b:

        E[X(t)] = b/(a-1) * (1 - (alpha/(alpha+t))^r * 2F1(r, b+1; a+b; t/(alpha+t)))
    """
    a = _safe_a(a)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return b / (a - 1.0) * (1.0 - np.power(alpha / (alpha + t), r) * hyp2f1(r, b + 1.0, a + b, z))


def conditional_expected_purchases(t, x, t_x, T, r, alpha, a, b) -> np.ndarray:
    """E[transactions in (T, T+t] | x, t_x, T]: MBG/NBD version (Batislam et al. 2007) of Fader, Hardie &
    Lee (2005) eq. 10 (as in lifetimes' ModifiedBetaGeoFitter):

        E = (a+b+x)/(a-1) * (1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t)))
            * P(active at T | x, t_x, T)

    The first factor is the BG/NBD expectation (1/p)(1 - exp(-lambda p t)) averaged over the posterior
    of an active customer, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x+1).
    """
    a = _safe_a(a)
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x + 1.0, a + b + x, z)
    active = (a + b + x) / (a - 1.0) * (1.0 - np.power((alpha + T) / (alpha + T + t), r + x) * hyp)
    return active * p_alive(r, alpha, a, b, x, t_x, T)


def draw_posterior(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(active, lambda, p) of each customer drawn from the MBG/NBD posterior given (x, t_x, T).

    With the likelihood split as in `log_likelihood`: active at T with probability `p_alive`; then
    lambda ~ Gamma(r+x, rate alpha+T), p ~ Beta(a, b+x+1). Otherwise the customer dropped out right
    after the purchase at t_x: lambda ~ Gamma(r+x, rate alpha+t_x), p ~ Beta(a+1, b+x).
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    active = rng.random(len(x)) < p_alive(r, alpha, a, b, x, t_x, T)
    rate = np.where(active, alpha + T, alpha + t_x)
    lam = rng.gamma(r + x, 1.0 / rate)
    p = np.where(active, rng.beta(a, b + x + 1.0), rng.beta(a + 1.0, b + x))
    return active, lam, p


def simulate_transactions(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    horizon_days: int,
    rng: np.random.Generator,
    acquisition_days: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic MBG/NBD histories: (customer index, day) of every transaction, first purchases included.

    Customers make their first purchase on a uniform day of the first `acquisition_days` (default: the
    whole horizon); then they drop out with p, else wait Exp(lambda) for the next purchase, and so on
    until the horizon. Vectorized over customers (one NumPy step per purchase number, not per person),
    with an explicit Generator, unlike lifetimes' generator that loops in Python over global state.
    """
    span = horizon_days if acquisition_days is None else acquisition_days
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    t = rng.uniform(0.0, span, size=n)
    who = [np.arange(n)]
    when = [t.copy()]
    alive = np.ones(n, dtype=bool)
    while alive.any():
        alive &= rng.random(n) >= p
        t = t + rng.exponential(1.0, size=n) / lam
        alive &= t < horizon_days
        idx = np.flatnonzero(alive)
        who.append(idx)
        when.append(t[idx])
    cust = np.concatenate(who)
    day = np.floor(np.concatenate(when)).astype(np.int64)
    order = np.lexsort((day, cust))
    return cust[order], day[order]
