"""The Pareto/NBD repeat-purchase model: likelihood, posterior of each customer, closed-form forecasts, fitter.

The story (Schmittlein, Morrison & Colombo 1987, "Counting your customers: who are they and what will they
do next?", Management Science 33: 1-24): while active, a customer buys as a Poisson process with rate
lambda ~ Gamma(r, alpha); the active lifetime ends at a constant hazard mu ~ Gamma(s, beta), whatever the
purchases (unlike BG/NBD, where dropping out happens right after a purchase). Time is in days, so alpha and
beta are rates per day. The likelihood and the expressions are those of Fader & Hardie (2005), "A note on
deriving the Pareto/NBD model and related expressions" (the equation numbers below are that note's).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from scipy.special import digamma, gammaln

from sim.calibration.btyd import RepeatPurchaseFitter, at_counts, days_of

PARAM_NAMES = ("r", "alpha", "s", "beta")


NODES = 12  # Gauss-Legendre nodes of the dropout integral: log L within 1e-6 of the closed form (tests)
_U, _W = np.polynomial.legendre.leggauss(NODES)
_U, _W = 0.5 * (_U + 1.0), 0.5 * _W  # on [0, 1]
_FALL = 45.0  # the integrand's range is cut where it has fallen by e^-45 (nothing measurable is left)


class _Dropout(NamedTuple):
    """The "dropped out between t_x and T" integral of each customer and what its derivatives need, (n,) each.

    I = int_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) d tau, the expectation over mu and lambda of
    mu e^-mu tau lambda^x e^-lambda tau (Fader & Hardie 2005 note, the integral behind eq. 19-21, whose closed
    form is A0 = (r+s+x) I through Gauss' 2F1). Here it is evaluated by Gauss-Legendre quadrature in
    u = log(c + tau), c = min(alpha, beta): in u both power laws are smooth exponentials, and the range is cut
    where even the slowest decay has fallen by e^-45. Speed: one pass gives I and, with the same nodes, the
    expectations of log(alpha+tau), 1/(alpha+tau), log(beta+tau), 1/(beta+tau) under the density f/I that
    the analytic gradient needs; no hypergeometric function is evaluated.
    """

    log_i: np.ndarray  # log I; -inf when t_x = T
    e_log_alpha_tau: np.ndarray  # E[log(alpha + tau)]
    e_inv_alpha_tau: np.ndarray  # E[1 / (alpha + tau)]
    e_log_beta_tau: np.ndarray  # E[log(beta + tau)]
    e_inv_beta_tau: np.ndarray  # E[1 / (beta + tau)]


def _dropout(r, alpha, s, beta, x, t_x, T) -> _Dropout:
    """The quadrature of `_Dropout` for customers given as 1-d arrays (or anything that broadcasts to them).

    Speed: the three transcendental functions at every node (the exp of the node's u, the log of d + tau, the exp
    of the integrand) are NumPy's, vectorized (five times faster than a compiled loop's one at a time), over
    blocks of `BLOCK` customers (small enough to stay in the cache and to be allocated once); the maxima, sums
    and means over the nodes are compiled loops (`_shift`, `_means`: NumPy's reductions along a short axis are
    slow)."""
    x, t_x, T = (np.ravel(v).astype(float) for v in np.broadcast_arrays(x, t_x, T))
    r, alpha, s, beta = float(r), float(alpha), float(s), float(beta)
    n = len(x)
    c_is_alpha = alpha <= beta
    c, d = (alpha, beta) if c_is_alpha else (beta, alpha)
    a_exp, b_exp = r + x, np.full(n, s + 1.0)  # exponents of (alpha + tau) and (beta + tau)
    e1, e2 = (a_exp, b_exp) if c_is_alpha else (b_exp, a_exp)
    out = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    log_c, c_tau, log_d, d_tau, logw = (np.empty((min(n, BLOCK), NODES)) for _ in range(5))
    top = np.empty(min(n, BLOCK))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u0 = np.log(c + t_x)
        span = np.maximum(np.log(c + T) - u0, 0.0)
        slowest = e1 - 1.0 + e2 * (c + t_x) / (d + t_x)  # the integrand's smallest decay rate in u
        cut = slowest > 0.05
        span = np.where(cut, np.minimum(span, _FALL / np.where(cut, slowest, 1.0)), span)
        log_span = np.log(span)
        for lo in range(0, n, BLOCK):
            b = slice(lo, min(n, lo + BLOCK))
            m = b.stop - lo
            lc, ct, ld, dt, lw = log_c[:m], c_tau[:m], log_d[:m], d_tau[:m], logw[:m]
            np.multiply(span[b, None], _U, out=lc)
            np.add(u0[b, None], lc, out=lc)  # u = log(c + tau) at the nodes
            np.exp(lc, out=ct)
            np.add(d - c, ct, out=dt)
            np.log(dt, out=ld)
            _shift(log_span[b], _LOG_W, e1[b], e2[b], lc, ld, lw, top[:m])
            np.exp(lw, out=lw)
            _means(lw, top[:m], lc, ct, ld, dt, *(o[b] for o in out))
    log_i, m_lc, m_ic, m_ld, m_id = out
    if c_is_alpha:
        return _Dropout(log_i, m_lc, m_ic, m_ld, m_id)
    return _Dropout(log_i, m_ld, m_id, m_lc, m_ic)


BLOCK = 1024  # customers per block of `_dropout`: 12 nodes x 1024 x 8 bytes = 96 kB an array
_LOG_W = np.log(_W)


@njit(cache=True)
def _shift(log_span, log_w_nodes, e1, e2, log_c, log_d, logw, top):  # pragma: no cover - compiled
    """Into logw and top: the log integrand at each node less its largest over the nodes, and that largest, per
    customer; top -inf where there is nothing to integrate (t_x = T, or every node underflows)."""
    n, K = log_c.shape
    for i in range(n):
        if not log_span[i] > -np.inf:  # span 0: t_x = T
            top[i] = -np.inf
            continue
        best = -np.inf
        for k in range(K):
            logw[i, k] = (log_span[i] + log_w_nodes[k]) + (1.0 - e1[i]) * log_c[i, k] - e2[i] * log_d[i, k]
            best = max(best, logw[i, k])
        top[i] = best
        for k in range(K):
            logw[i, k] = logw[i, k] - best


@njit(cache=True)
def _means(weights, top, log_c, c_tau, log_d, d_tau, log_i, m_lc, m_ic, m_ld, m_id):  # pragma: no cover - compiled
    """Into log_i and the m_: log I and the means of log(c+tau), 1/(c+tau), log(d+tau), 1/(d+tau) under the
    integrand, per customer, from the integrand at the nodes scaled by e^-top; log I -inf and the means 0 where
    there is nothing to integrate."""
    n, K = log_c.shape
    for i in range(n):
        a0 = a1 = a2 = a3 = 0.0
        if top[i] == -np.inf:
            log_i[i] = -np.inf
        else:
            total = 0.0
            for k in range(K):
                total += weights[i, k]
            log_i[i] = np.log(total) + top[i]
            for k in range(K):
                w = weights[i, k] / total
                a0 += w * log_c[i, k]
                a1 += w / c_tau[i, k]
                a2 += w * log_d[i, k]
                a3 += w / d_tau[i, k]
        m_lc[i], m_ic[i], m_ld[i], m_id[i] = a0, a1, a2, a3


def _log_alive_term(r, alpha, s, beta, x, T) -> np.ndarray:
    """log of 1 / ((alpha+T)^(r+x) (beta+T)^s): "still active at T" (note eq. 22, first term)."""
    return -(r + np.asarray(x, dtype=float)) * np.log(alpha + T) - s * np.log(beta + T)


def _log_dead_term(r, alpha, s, beta, x, t_x, T) -> tuple[np.ndarray, _Dropout]:
    """log of s * I: "dropped out between t_x and T" (note eq. 22, second term, s/(r+s+x) A0)."""
    drop = _dropout(r, alpha, s, beta, x, t_x, T)
    return np.log(s) + drop.log_i, drop


def _gamma_terms(r: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ln G(r+x) - ln G(r), psi(r+x) - psi(r)) of each customer (speed: once per count, `btyd.at_counts`)."""
    return at_counts(gammaln, x, 1.0, r) - gammaln(r), at_counts(digamma, x, 1.0, r) - digamma(r)


def log_likelihood(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """Log-likelihood of each customer's (x, t_x, T) under the Pareto/NBD (Fader & Hardie 2005 note, eq. 22):

    L = G(r+x) alpha^r beta^s / G(r) * [ 1/((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) * A0 ],
    with s/(r+s+x) A0 = s * I evaluated by quadrature (`_Dropout`).
    """
    x = np.asarray(x, dtype=float)
    head = _gamma_terms(r, x)[0] + r * np.log(alpha) + s * np.log(beta)
    dead, _ = _log_dead_term(r, alpha, s, beta, x, t_x, T)
    return head + np.logaddexp(_log_alive_term(r, alpha, s, beta, x, T), dead)


def log_likelihood_and_gradients(r, alpha, s, beta, x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log L, d log L / d (r, alpha, s, beta), d log L / d (t_x, T)) of each customer, analytically.

    With pi = s I / (alive + s I) the posterior chance of having dropped out and E[.] the mean under the
    dropout density f/I (`_Dropout`), differentiating eq. 22 under the integral sign:

        d r     = psi(r+x) - psi(r) + ln alpha - (1-pi) ln(alpha+T) - pi E[ln(alpha+tau)]
        d alpha = r/alpha - (r+x) [(1-pi)/(alpha+T) + pi E[1/(alpha+tau)]]
        d s     = ln beta - (1-pi) ln(beta+T) + pi (1/s - E[ln(beta+tau)])
        d beta  = s/beta - (1-pi) s/(beta+T) - pi (s+1) E[1/(beta+tau)]
        d t_x   = -s f(t_x) / (alive + s I),   d T = -(1-pi) (r+x)/(alpha+T)

    (the T-derivatives of the two terms' s/(beta+T) parts cancel). The clock times' derivatives are what the
    seasonal fit (`sim.calibration.seasonality`) needs. A test checks all six against finite differences.
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    log_gamma_ratio, digamma_diff = _gamma_terms(r, x)
    head = log_gamma_ratio + r * np.log(alpha) + s * np.log(beta)
    alive = _log_alive_term(r, alpha, s, beta, x, T)
    dead, drop = _log_dead_term(r, alpha, s, beta, x, t_x, T)
    both = np.logaddexp(alive, dead)
    pi = np.exp(dead - both)
    log_a_t, log_b_t = np.log(alpha + T), np.log(beta + T)
    e_la, e_ia, e_lb, e_ib = drop[1:]
    rx = r + x
    d_params = np.stack(
        [
            digamma_diff + np.log(alpha) - (1.0 - pi) * log_a_t - pi * e_la,
            r / alpha - rx * ((1.0 - pi) / (alpha + T) + pi * e_ia),
            np.log(beta) - (1.0 - pi) * log_b_t + pi * (1.0 / s - e_lb),
            s / beta - (1.0 - pi) * s / (beta + T) - pi * (s + 1.0) * e_ib,
        ],
        axis=1,
    )
    log_f_tx = -rx * np.log(alpha + t_x) - (s + 1.0) * np.log(beta + t_x)
    d_times = np.stack([-np.exp(np.log(s) + log_f_tx - both), -(1.0 - pi) * rx / (alpha + T)], axis=1)
    return head + both, d_params, d_times


def time_hessian(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """Second derivatives of each customer's log L in its times, (n, 3): d t_x^2, d t_x d T, d T^2.

    With L = alive + s I, dL/dT = -(r+x) alive/(alpha+T), dL/dt_x = -s f(t_x), d2L/dt_x dT = 0 and
    l_T, l_tx the first derivatives (`log_likelihood_and_gradients`):

        d t_x^2   = -l_tx ((r+x)/(alpha+t_x) + (s+1)/(beta+t_x)) - l_tx^2
        d t_x d T = -l_tx l_T
        d T^2     = (1-pi) (r+x)/(alpha+T) ((r+x+1)/(alpha+T) + s/(beta+T)) - l_T^2
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    _, _, d_times = log_likelihood_and_gradients(r, alpha, s, beta, x, t_x, T)
    l_tx, l_T = d_times[:, 0], d_times[:, 1]
    rx = r + x
    alive_share = -l_T * (alpha + T) / rx  # 1 - pi
    return np.stack(
        [
            -l_tx * (rx / (alpha + t_x) + (s + 1.0) / (beta + t_x)) - l_tx**2,
            -l_tx * l_T,
            alive_share * rx / (alpha + T) * ((rx + 1.0) / (alpha + T) + s / (beta + T)) - l_T**2,
        ],
        axis=1,
    )


def log_likelihood_gradient(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """d log L / d (r, alpha, s, beta) of each customer, shape (n, 4) (see `log_likelihood_and_gradients`)."""
    return log_likelihood_and_gradients(r, alpha, s, beta, x, t_x, T)[1]


def p_alive(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """P(active at T | x, t_x, T) (note eq. 24; Schmittlein et al. 1987 eq. 11), in the shape x, t_x, T broadcast to:

    1 / (1 + s/(r+s+x) * (alpha+T)^(r+x) * (beta+T)^s * A0)
    """
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    dead, _ = _log_dead_term(r, alpha, s, beta, x, t_x, T)
    lo = dead.reshape(x.shape) - _log_alive_term(r, alpha, s, beta, x, T)
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


def conditional_expected_if_active(t, x, T, r, alpha, s, beta) -> np.ndarray:
    """E[transactions in (T, T+t] | x, T, active at T] (note eq. 41 without its P(active) factor):

    (r+x)(beta+T) / ((alpha+T)(s-1)) * (1 - ((beta+T)/(beta+T+t))^(s-1))
    """
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    return (r + x) / (alpha + T) * _lifetime_factor(t, s, beta + T)


def conditional_expected_purchases(t, x, t_x, T, r, alpha, s, beta) -> np.ndarray:
    """E[transactions in (T, T+t] | x, t_x, T] (note eq. 41; Schmittlein et al. 1987 eq. 22):

    E = (r+x)(beta+T) / ((alpha+T)(s-1)) * (1 - ((beta+T)/(beta+T+t))^(s-1)) * P(active at T | x, t_x, T)
    """
    return conditional_expected_if_active(t, x, T, r, alpha, s, beta) * p_alive(r, alpha, s, beta, x, t_x, T)


GRID = 33  # points of the inverse-CDF grid of a dropped-out customer's dropout time


def draw_posterior(r, alpha, s, beta, x, t_x, T, rng: np.random.Generator, *, dead: bool = True):
    """(active, lambda, mu) of each customer drawn from the Pareto/NBD posterior given (x, t_x, T); with
    `dead=False` lambda and mu are drawn for the active customers only (NaN for the others: what forecasts need).

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
    if not dead:  # speed: a forecast needs no dropout time of those who have left
        lam, mu = np.full(n, np.nan), np.full(n, np.nan)
        lam[active] = rng.gamma(r + x[active], 1.0 / (alpha + T[active]))
        mu[active] = rng.gamma(s, 1.0 / (beta + T[active]))
        return active, lam, mu
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
    with np.errstate(divide="ignore", over="ignore"):  # mu drawn as 0 (a tiny Gamma shape): never leaves
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


def simulate_after(
    active, lam, mu, horizon_days: float, rng: np.random.Generator, clock: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Purchases after the cut-off of customers drawn from the posterior: (customer index, day 0.. after T).

    An active customer's remaining lifetime is Exp(mu) (memoryless); purchases arrive at lambda until it ends.
    With `clock` (the seasonal clock at the end of each day: `btyd.days_of`) both run on that clock, as in the
    seasonal fit (`sim.calibration.seasonality`).
    """
    horizon = float(clock[-1]) if clock is not None else horizon_days
    idx = np.flatnonzero(active)  # speed: only the customers still buying are carried from step to step
    with np.errstate(divide="ignore", over="ignore"):  # mu drawn as 0 (a tiny Gamma shape): never leaves
        end = np.minimum(rng.exponential(1.0, size=len(idx)) / mu[idx], horizon)
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
    return np.concatenate(who), days_of(np.concatenate(when), clock)


class ParetoNBDFitter(RepeatPurchaseFitter):
    """Pareto/NBD by maximum likelihood on `log_likelihood` (Fader & Hardie 2005 note, eq. 22)."""

    family = "pareto"
    label = "Pareto/NBD"
    citation = "Schmittlein, Morrison & Colombo (1987); likelihood: Fader & Hardie (2005) note, eq. 22"
    param_names = PARAM_NAMES
    mixing = ((0, 1, "gamma", "purchase rate"), (2, 3, "gamma", "dropout"))  # mu ~ Gamma(s, beta)
    log_likelihood = staticmethod(log_likelihood)
    gradients_fn = staticmethod(log_likelihood_and_gradients)
    time_hessian_fn = staticmethod(time_hessian)
    p_alive_fn = staticmethod(p_alive)
    expected_fn = staticmethod(expected_repeat_purchases)
    conditional_fn = staticmethod(conditional_expected_purchases)

    def _starts(self, mean_x: float, mean_T: float) -> list[np.ndarray]:
        return [
            np.log([0.5, 0.5 * mean_T / mean_x, 0.5, 0.5 * mean_T]),
            np.log([1.0, mean_T / mean_x, 1.0, mean_T]),
        ]
