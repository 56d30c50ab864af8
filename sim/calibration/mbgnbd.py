"""The MBG/NBD repeat-purchase model: the BG/NBD with dropout possible right after the first purchase too.

The story (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of models for customer
base analysis", IJRM 24: 201-209; Hoppe & Wagner 2007, Marketing - JRM 29: 75-90): while active, a customer
buys as a Poisson process with rate lambda ~ Gamma(r, alpha); right after every purchase, the first one
included, the customer drops out for good with probability p ~ Beta(a, b). Time is in days.

Only that one difference is written here: every function is the BG/NBD's (`sim.calibration.bgnbd`) with
x + 1 chances to drop out instead of x. `sim.model.base` draws each snapshot customer from `draw_posterior`,
`sim.analysis.forecast` uses the expectations.
"""

from __future__ import annotations

import numpy as np

from sim.calibration import bgnbd

PARAM_NAMES = bgnbd.PARAM_NAMES


def log_likelihood(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """Log-likelihood of each (x, t_x, T) under the MBG/NBD (Batislam et al. 2007, section 2.2; FHL 2005 eq. 6
    with dropout after the first purchase):

        L = B(a, b+x+1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + B(a+1, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
    """
    return bgnbd.log_likelihood(r, alpha, a, b, x, t_x, T, first_can_end=True)


def log_likelihood_and_gradients(r, alpha, a, b, x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log L, d log L / d (r, alpha, a, b), d log L / d (t_x, T)) of each customer (see
    `bgnbd.log_likelihood_and_gradients`)."""
    return bgnbd.log_likelihood_and_gradients(r, alpha, a, b, x, t_x, T, first_can_end=True)


def time_hessian(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """Second derivatives of each customer's log L in (t_x, T) (see `bgnbd.time_hessian`)."""
    return bgnbd.time_hessian(r, alpha, a, b, x, t_x, T, first_can_end=True)


def log_likelihood_gradient(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """d log L / d (r, alpha, a, b) of each customer (see `bgnbd.log_likelihood_gradient`)."""
    return bgnbd.log_likelihood_gradient(r, alpha, a, b, x, t_x, T, first_can_end=True)


def p_alive(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """P(active at T | x, t_x, T) = 1 / (1 + a/(b+x) * ((alpha+T)/(alpha+t_x))^(r+x))."""
    return bgnbd.p_alive(r, alpha, a, b, x, t_x, T, first_can_end=True)


def expected_repeat_purchases(t, r, alpha, a, b) -> np.ndarray:
    """E[repeat transactions in (0, t]] after a first purchase (Batislam et al. 2007; FHL 2005 eq. 7 adapted):

    E[X(t)] = b/(a-1) * (1 - (alpha/(alpha+t))^r * 2F1(r, b+1; a+b; t/(alpha+t)))
    """
    return bgnbd.expected_repeat_purchases(t, r, alpha, a, b, first_can_end=True)


def conditional_expected_purchases(t, x, t_x, T, r, alpha, a, b) -> np.ndarray:
    """E[transactions in (T, T+t] | x, t_x, T] (Batislam et al. 2007; FHL 2005 eq. 10 adapted, as lifetimes'
    ModifiedBetaGeoFitter):

        E = (a+b+x)/(a-1) * (1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t)))
            * P(active at T | x, t_x, T)
    """
    return bgnbd.conditional_expected_purchases(t, x, t_x, T, r, alpha, a, b, first_can_end=True)


def conditional_expected_if_active(t, x, T, r, alpha, a, b) -> np.ndarray:
    """E[transactions in (T, T+t] | x, T, active at T] (see `bgnbd.conditional_expected_if_active`)."""
    return bgnbd.conditional_expected_if_active(t, x, T, r, alpha, a, b, first_can_end=True)


def draw_posterior(r, alpha, a, b, x, t_x, T, rng: np.random.Generator, *, dead: bool = True):
    """(active, lambda, p) of each customer from the MBG/NBD posterior: active with `p_alive`, then
    lambda ~ Gamma(r+x, rate alpha+T), p ~ Beta(a, b+x+1); else lambda ~ Gamma(r+x, alpha+t_x), p ~ Beta(a+1, b+x)."""
    return bgnbd.draw_posterior(r, alpha, a, b, x, t_x, T, rng, first_can_end=True, dead=dead)


def simulate_transactions(n, r, alpha, a, b, horizon_days, rng, acquisition_days=None):
    """Synthetic MBG/NBD histories (see `bgnbd.simulate_transactions`): (customer index, day) of every transaction."""
    return bgnbd.simulate_transactions(n, r, alpha, a, b, horizon_days, rng, acquisition_days, first_can_end=True)


simulate_after = bgnbd.simulate_after  # after the cut-off the two families buy and drop out alike


class MBGNBDFitter(bgnbd.BGNBDFitter):
    """MBG/NBD by maximum likelihood on `log_likelihood` (Batislam, Denizel & Filiztekin 2007)."""

    family = "mbgnbd"
    label = "MBG/NBD"
    citation = "Batislam, Denizel & Filiztekin (2007), IJRM 24: 201-209, section 2.2"
    log_likelihood = staticmethod(log_likelihood)
    gradients_fn = staticmethod(log_likelihood_and_gradients)
    time_hessian_fn = staticmethod(time_hessian)
    p_alive_fn = staticmethod(p_alive)
    expected_fn = staticmethod(expected_repeat_purchases)
    conditional_fn = staticmethod(conditional_expected_purchases)
