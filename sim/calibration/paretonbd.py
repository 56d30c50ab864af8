"""The Pareto/NBD repeat-purchase model: likelihood, posterior of each customer, closed-form forecasts, fitter.

The story (Schmittlein, Morrison & Colombo 1987, "Counting your customers: who are they and what will they
do next?", Management Science 33: 1-24): while active, a customer buys as a Poisson process with rate
lambda ~ Gamma(r, alpha); the active lifetime ends at a constant hazard mu ~ Gamma(s, beta), whatever the
purchases (unlike BG/NBD, where dropping out happens right after a purchase). Time is in days, so alpha and
beta are rates per day. The likelihood and the expressions are those of Fader & Hardie (2005), "A note on
deriving the Pareto/NBD model and related expressions" (the equation numbers below are that note's).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from sim.calibration.btyd import RepeatPurchaseFitter

PARAM_NAMES = ("r", "alpha", "s", "beta")


def _log_a0(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """log A0 of Fader & Hardie's note, eq. 19-21: the "dropped out between t_x and T" part of the likelihood.

    alpha >= beta: A0 = F(z(t_x)) / (alpha+t_x)^(r+s+x) - F(z(T)) / (alpha+T)^(r+s+x),
                   F(z) = 2F1(r+s+x, s+1; r+s+x+1; z), z(t) = (alpha-beta)/(alpha+t);
    alpha <  beta: the same with alpha and beta swapped and 2F1(r+s+x, r+x; r+s+x+1; .).
    The difference is taken in logs (log(e^l1 - e^l2)); it is -inf when t_x = T.
    """
    x = np.asarray(x, dtype=float)
    rsx = r + s + x
    if alpha >= beta:
        big, second = alpha, s + 1.0
    else:
        big, second = beta, r + x
    gap = abs(alpha - beta)
    l1 = np.log(hyp2f1(rsx, second, rsx + 1.0, gap / (big + t_x))) - rsx * np.log(big + t_x)
    l2 = np.log(hyp2f1(rsx, second, rsx + 1.0, gap / (big + T))) - rsx * np.log(big + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = l1 + np.log1p(-np.exp(np.minimum(l2 - l1, 0.0)))
    return np.where(np.asarray(T) > np.asarray(t_x), out, -np.inf)


def _log_alive_term(r, alpha, s, beta, x, T) -> np.ndarray:
    """log of 1 / ((alpha+T)^(r+x) (beta+T)^s): "still active at T" (note eq. 22, first term)."""
    return -(r + np.asarray(x, dtype=float)) * np.log(alpha + T) - s * np.log(beta + T)


def log_likelihood(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """Log-likelihood of each customer's (x, t_x, T) under the Pareto/NBD (Fader & Hardie 2005 note, eq. 22):

    L = G(r+x) alpha^r beta^s / G(r) * [ 1/((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) * A0 ]
    """
    x = np.asarray(x, dtype=float)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    dead = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, T)
    return head + np.logaddexp(_log_alive_term(r, alpha, s, beta, x, T), dead)


def p_alive(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """P(active at T | x, t_x, T) (note eq. 24; Schmittlein et al. 1987 eq. 11):

    1 / (1 + s/(r+s+x) * (alpha+T)^(r+x) * (beta+T)^s * A0)
    """
    x = np.asarray(x, dtype=float)
    lo = (
        np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, T) - _log_alive_term(r, alpha, s, beta, x, T)
    )
    return 0.5 * (1.0 - np.tanh(0.5 * lo))


def _lifetime_factor(t, s, beta_T) -> np.ndarray:
    """E[active time in (T, T+t]] / E[1/mu | alive] style factor: (beta+T)/(s-1) * (1 - ((beta+T)/(beta+T+t))^(s-1)),
    with its limit (beta+T) log((beta+T+t)/(beta+T)) at s = 1."""
    t = np.asarray(t, dtype=float)
    if abs(s - 1.0) < 1e-7:
        return beta_T * np.log1p(t / beta_T)
    return beta_T / (s - 1.0) * (1.0 - np.power(beta_T / (beta_T + t), s - 1.0))


def expected_repeat_purchases(t, r, alpha, s, beta) -> np.ndarray:
    """E[repeat transactions in (0, t]] of a new customer (note eq. 27; Schmittlein et al. 1987 eq. 17):

    E[X(t)] = r beta / (alpha (s-1)) * (1 - (beta/(beta+t))^(s-1))
    """
    return r / alpha * _lifetime_factor(t, s, beta)


def conditional_expected_purchases(t, x, t_x, T, r, alpha, s, beta) -> np.ndarray:
    """E[transactions in (T, T+t] | x, t_x, T] (note eq. 41; Schmittlein et al. 1987 eq. 22):

    E = (r+x)(beta+T) / ((alpha+T)(s-1)) * (1 - ((beta+T)/(beta+T+t))^(s-1)) * P(active at T | x, t_x, T)
    """
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    return (r + x) / (alpha + T) * _lifetime_factor(t, s, beta + T) * p_alive(r, alpha, s, beta, x, t_x, T)


GRID = 33  # points of the inverse-CDF grid of a dropped-out customer's dropout time


def draw_posterior(r, alpha, s, beta, x, t_x, T, rng: np.random.Generator):
    """(active, lambda, mu) of each customer drawn from the Pareto/NBD posterior given (x, t_x, T).

    Active at T with probability `p_alive`: then lambda ~ Gamma(r+x, rate alpha+T), mu ~ Gamma(s, rate beta+T).
    Otherwise the customer dropped out at a time tau in (t_x, T) with density proportional to
    (alpha+tau)^-(r+x) (beta+tau)^-(s+1) (drawn by inverse CDF on a grid), then lambda ~ Gamma(r+x, alpha+tau),
    mu ~ Gamma(s+1, beta+tau).
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    n = len(x)
    active = rng.random(n) < p_alive(r, alpha, s, beta, x, t_x, T)
    tau = T.copy()
    dead = np.flatnonzero(~active)
    if len(dead):
        u = np.linspace(0.0, 1.0, GRID)
        grid = t_x[dead, None] + u[None, :] * (T[dead] - t_x[dead])[:, None]
        logd = -(r + x[dead, None]) * np.log(alpha + grid) - (s + 1.0) * np.log(beta + grid)
        dens = np.exp(logd - logd.max(axis=1, keepdims=True))
        cdf = np.concatenate([np.zeros((len(dead), 1)), np.cumsum(0.5 * (dens[:, 1:] + dens[:, :-1]), axis=1)], axis=1)
        cdf /= cdf[:, -1:]
        target = rng.random(len(dead))
        j = np.clip((cdf < target[:, None]).sum(axis=1), 1, GRID - 1)
        rows = np.arange(len(dead))
        lo, hi = cdf[rows, j - 1], cdf[rows, j]
        frac = np.where(hi > lo, (target - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
        tau[dead] = grid[rows, j - 1] + frac * (grid[rows, j] - grid[rows, j - 1])
    lam = rng.gamma(r + x, 1.0 / (alpha + tau))
    mu = np.empty(n)
    mu[active] = rng.gamma(s, 1.0 / (beta + T[active]))
    mu[~active] = rng.gamma(s + 1.0, 1.0 / (beta + tau[~active]))
    return active, lam, mu


def simulate_transactions(
    n: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    horizon_days: int,
    rng: np.random.Generator,
    acquisition_days: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic Pareto/NBD histories: (customer index, day) of every transaction, first purchases included.

    First purchase on a uniform day of the first `acquisition_days`; an Exp(mu) lifetime from then; Poisson
    purchases at lambda until the lifetime or the horizon ends. Vectorized, with an explicit Generator.
    """
    span = horizon_days if acquisition_days is None else acquisition_days
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    mu = rng.gamma(s, 1.0 / beta, size=n)
    t = rng.uniform(0.0, span, size=n)
    end = np.minimum(t + rng.exponential(1.0, size=n) / mu, horizon_days)
    who = [np.arange(n)]
    when = [t.copy()]
    alive = np.ones(n, dtype=bool)
    while alive.any():
        t = t + rng.exponential(1.0, size=n) / lam
        alive &= t < end
        idx = np.flatnonzero(alive)
        who.append(idx)
        when.append(t[idx])
    cust = np.concatenate(who)
    day = np.floor(np.concatenate(when)).astype(np.int64)
    order = np.lexsort((day, cust))
    return cust[order], day[order]


def simulate_after(active, lam, mu, horizon_days: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Purchases after the cut-off of customers drawn from the posterior: (customer index, day 0.. after T).

    An active customer's remaining lifetime is Exp(mu) (memoryless); purchases arrive at lambda until it ends.
    """
    idx = np.flatnonzero(active)  # speed: only the customers still buying are carried from step to step
    end = np.minimum(rng.exponential(1.0, size=len(idx)) / mu[idx], horizon_days)
    t = np.zeros(len(idx))
    who, when = [], []
    while len(idx):
        t = t + rng.exponential(1.0, size=len(idx)) / lam[idx]
        keep = t < end
        idx, t, end = idx[keep], t[keep], end[keep]
        who.append(idx)
        when.append(t)
    if not who:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(who), np.floor(np.concatenate(when)).astype(np.int64)


class ParetoNBDFitter(RepeatPurchaseFitter):
    """Pareto/NBD by maximum likelihood on `log_likelihood` (Fader & Hardie 2005 note, eq. 22)."""

    family = "pareto"
    label = "Pareto/NBD"
    citation = "Schmittlein, Morrison & Colombo (1987); likelihood: Fader & Hardie (2005) note, eq. 22"
    param_names = PARAM_NAMES
    log_likelihood = staticmethod(log_likelihood)
    p_alive_fn = staticmethod(p_alive)
    expected_fn = staticmethod(expected_repeat_purchases)
    conditional_fn = staticmethod(conditional_expected_purchases)
    posterior_fn = staticmethod(draw_posterior)
    after_fn = staticmethod(simulate_after)

    def _starts(self, mean_x: float, mean_T: float) -> list[np.ndarray]:
        return [
            np.log([1.0, mean_T / mean_x, 1.0, mean_T]),
            np.log([0.5, 0.5 * mean_T / mean_x, 0.5, 0.5 * mean_T]),
        ]
