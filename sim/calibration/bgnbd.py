"""The BG/NBD repeat-purchase model: likelihood, posterior of each customer, closed-form forecasts, fitter.

The story (Fader, Hardie & Lee 2005, "'Counting your customers' the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24: 275-284): while active, a customer buys as a Poisson process with
rate lambda ~ Gamma(r, alpha); right after every repeat purchase (not the first) the customer drops out for
good with probability p ~ Beta(a, b). Time is in days. A history is x (repeat transactions), t_x (days from
the first to the last transaction) and T (days from the first transaction to the end of the observation).

The MBG/NBD (`sim.calibration.mbgnbd`) differs in one thing only: dropout is possible right after the first
purchase too. Every function here takes `first_can_end` so that the variant reuses them: with it, the Beta
part of each formula counts x + 1 chances to drop out instead of x (the `k` below).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from sim.calibration.btyd import RepeatPurchaseFitter, at_counts, days_of

PARAM_NAMES = ("r", "alpha", "a", "b")


def _chances(x: np.ndarray, first_can_end: bool) -> np.ndarray:
    """Purchases after which the customer could have dropped out: x (BG/NBD) or x + 1 (MBG/NBD)."""
    return x + 1.0 if first_can_end else x


def _log_odds_dead(r, alpha, a, b, x, t_x, T, first_can_end: bool = False) -> np.ndarray:
    """log P(dropped out right after the last purchase) / P(active at T), up to the same factor.

    FHL 2005 eq. 6: the second term over the first is a/(b+k-1) * ((alpha+T)/(alpha+t_x))^(r+x),
    k = chances to drop out; -inf when k = 0 (a BG/NBD one-time buyer cannot have dropped out).
    """
    x = np.asarray(x, dtype=float)
    k = _chances(x, first_can_end)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.log(a) - np.log(b + k - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(k > 0, lo, -np.inf)


def log_likelihood(r, alpha, a, b, x, t_x, T, first_can_end: bool = False) -> np.ndarray:
    """Log-likelihood of each customer's (x, t_x, T) under the BG/NBD (Fader, Hardie & Lee 2005, eq. 6):

        L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

    "still active at T" plus "dropped out right after the last purchase at t_x"; written as
    A1 + A2 + A3 + log(1 + exp(A4)) with B(a+1, b+x-1) / B(a, b+x) = a / (b+x-1), for stability.
    """
    x = np.asarray(x, dtype=float)
    k = _chances(x, first_can_end)
    a1 = at_counts(gammaln, x, 1.0, r) - gammaln(r) + r * np.log(alpha)  # speed: once per count (a table)
    a2 = at_counts(lambda v: betaln(a, v), k, 1.0, b) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    return a1 + a2 + a3 + np.logaddexp(_log_odds_dead(r, alpha, a, b, x, t_x, T, first_can_end), 0.0)


def log_likelihood_and_gradients(
    r, alpha, a, b, x, t_x, T, first_can_end: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log L, d log L / d (r, alpha, a, b), d log L / d (t_x, T)) of each customer: the analytic derivatives
    of `log_likelihood` (a test checks them against finite differences of that function). With A4 the
    log-odds of having dropped out and s = sigmoid(A4) (0 when k = 0):

        d r     = psi(r+x) - psi(r) + ln alpha - ln(alpha+T) + s (ln(alpha+T) - ln(alpha+t_x))
        d alpha = r/alpha - (r+x)/(alpha+T) + s (r+x) (1/(alpha+T) - 1/(alpha+t_x))
        d a     = psi(a+b) - psi(a+b+k) + s/a
        d b     = psi(b+k) - psi(a+b+k) + psi(a+b) - psi(b) - s/(b+k-1)
        d t_x   = -s (r+x)/(alpha+t_x),   d T = -(1-s) (r+x)/(alpha+T)

    The clock times' derivatives are what the seasonal fit (`sim.calibration.seasonality`) needs.
    """
    x = np.asarray(x, dtype=float)
    k = _chances(x, first_can_end)
    lo = _log_odds_dead(r, alpha, a, b, x, t_x, T, first_can_end)
    s = 0.5 * (1.0 + np.tanh(0.5 * lo))  # sigmoid, overflow-free; 0 where lo = -inf
    log_aT, log_at = np.log(alpha + T), np.log(alpha + t_x)
    # speed: the special functions of the counts once per count (a table: the same numbers)
    psi_abk = at_counts(digamma, k, 1.0, a + b)
    rx = r + x
    with np.errstate(divide="ignore", invalid="ignore"):
        s_over = np.where(k > 0, s / (b + k - 1.0), 0.0)
    ll = at_counts(gammaln, x, 1.0, r) - gammaln(r) + r * np.log(alpha) + at_counts(lambda v: betaln(a, v), k, 1.0, b)
    ll = ll - betaln(a, b) - rx * log_aT
    ll = ll + np.logaddexp(lo, 0.0)
    d_params = np.stack(
        [
            at_counts(digamma, x, 1.0, r) - digamma(r) + np.log(alpha) - log_aT + s * (log_aT - log_at),
            r / alpha - rx / (alpha + T) + s * rx * (1.0 / (alpha + T) - 1.0 / (alpha + t_x)),
            digamma(a + b) - psi_abk + s / a,
            at_counts(digamma, k, 1.0, b) - psi_abk + digamma(a + b) - digamma(b) - s_over,
        ],
        axis=1,
    )
    d_times = np.stack([-s * rx / (alpha + t_x), -(1.0 - s) * rx / (alpha + T)], axis=1)
    return ll, d_params, d_times


def time_hessian(r, alpha, a, b, x, t_x, T, first_can_end: bool = False) -> np.ndarray:
    """Second derivatives of each customer's log L in its times, (n, 3): d t_x^2, d t_x d T, d T^2.

    From `log_likelihood_and_gradients` with ds/dT = s(1-s)(r+x)/(alpha+T), ds/dt_x = -s(1-s)(r+x)/(alpha+t_x):

        d t_x^2   = s (r+x) ((1-s)(r+x) + 1) / (alpha+t_x)^2
        d t_x d T = -s (1-s) (r+x)^2 / ((alpha+t_x)(alpha+T))
        d T^2     = (1-s) (r+x) (s (r+x) + 1) / (alpha+T)^2

    The seasonal fit's Hessian in the index and the events is built from them (`sim.calibration.seasonality`).
    """
    x = np.asarray(x, dtype=float)
    lo = _log_odds_dead(r, alpha, a, b, x, t_x, T, first_can_end)
    s = 0.5 * (1.0 + np.tanh(0.5 * lo))
    rx = r + x
    at, aT = alpha + np.asarray(t_x, dtype=float), alpha + np.asarray(T, dtype=float)
    return np.stack(
        [
            s * rx * ((1.0 - s) * rx + 1.0) / at**2,
            -s * (1.0 - s) * rx**2 / (at * aT),
            (1.0 - s) * rx * (s * rx + 1.0) / aT**2,
        ],
        axis=1,
    )


def log_likelihood_gradient(r, alpha, a, b, x, t_x, T, first_can_end: bool = False) -> np.ndarray:
    """d log L / d (r, alpha, a, b) of each customer, shape (n, 4) (see `log_likelihood_and_gradients`)."""
    return log_likelihood_and_gradients(r, alpha, a, b, x, t_x, T, first_can_end)[1]


def p_alive(r, alpha, a, b, x, t_x, T, first_can_end: bool = False) -> np.ndarray:
    """P(active at T | x, t_x, T) (FHL 2005 eq. 11 in the BG/NBD; Batislam et al. 2007 for MBG/NBD)."""
    lo = _log_odds_dead(r, alpha, a, b, x, t_x, T, first_can_end)
    return 0.5 * (1.0 - np.tanh(0.5 * lo))  # 1 / (1 + exp(lo)), overflow-free


def _safe_a(a: float) -> float:
    """The closed forms below have a removable singularity at a = 1; step just beside it."""
    return a if abs(a - 1.0) > 1e-7 else 1.0 + 1e-7


def expected_repeat_purchases(t, r, alpha, a, b, first_can_end: bool = False) -> np.ndarray:
    """E[repeat transactions in (0, t]] of a customer who has just made a first purchase (FHL 2005 eq. 7):

        E[X(t)] = (a+b-1)/(a-1) * (1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t)))

    MBG/NBD: the customer first survives the first purchase (b/(a+b)), after which p ~ Beta(a, b+1).
    """
    a = _safe_a(a)
    t = np.asarray(t, dtype=float)
    survive = b / (a + b) if first_can_end else 1.0
    b1 = b + 1.0 if first_can_end else b
    z = t / (alpha + t)
    return (
        survive * (a + b1 - 1.0) / (a - 1.0) * (1.0 - np.power(alpha / (alpha + t), r) * hyp2f1(r, b1, a + b1 - 1.0, z))
    )


def conditional_expected_if_active(t, x, T, r, alpha, a, b, first_can_end: bool = False) -> np.ndarray:
    """E[transactions in (T, T+t] | x, T, active at T] (FHL 2005 eq. 10 without its P(active) factor):

    (a+b+k-1)/(a-1) * (1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+k; a+b+k-1; t/(alpha+T+t)))

    It does not depend on t_x, so sums over many customers need it once per (x, T) (`btyd.expected_total`).
    """
    a = _safe_a(a)
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    k = _chances(x, first_can_end)
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + k, a + b + k - 1.0, z)
    return (a + b + k - 1.0) / (a - 1.0) * (1.0 - np.power((alpha + T) / (alpha + T + t), r + x) * hyp)


def conditional_expected_purchases(t, x, t_x, T, r, alpha, a, b, first_can_end: bool = False) -> np.ndarray:
    """E[transactions in (T, T+t] | x, t_x, T] (FHL 2005 eq. 10; Batislam et al. 2007 for MBG/NBD):

    E = (a+b+k-1)/(a-1) * (1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+k; a+b+k-1; t/(alpha+T+t)))
        * P(active at T | x, t_x, T),          k = x (BG/NBD) or x + 1 (MBG/NBD)
    """
    active = conditional_expected_if_active(t, x, T, r, alpha, a, b, first_can_end)
    return active * p_alive(r, alpha, a, b, x, t_x, T, first_can_end)


def draw_posterior(
    r, alpha, a, b, x, t_x, T, rng: np.random.Generator, first_can_end: bool = False, *, dead: bool = True
):
    """(active, lambda, p) of each customer drawn from the posterior given (x, t_x, T); with `dead=False` lambda
    and p are drawn for the active customers only (NaN for the others: what forecasts need).

    With the likelihood split as in `log_likelihood`: active at T with probability `p_alive`, then
    lambda ~ Gamma(r+x, rate alpha+T), p ~ Beta(a, b+k); otherwise the customer dropped out right after the
    purchase at t_x: lambda ~ Gamma(r+x, rate alpha+t_x), p ~ Beta(a+1, b+k-1).
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    k = _chances(x, first_can_end)
    active = rng.random(len(x)) < p_alive(r, alpha, a, b, x, t_x, T, first_can_end)
    if not dead:  # speed: a forecast needs nothing of those who have left
        lam, p = np.full(len(x), np.nan), np.full(len(x), np.nan)
        lam[active] = rng.gamma(r + x[active], 1.0 / (alpha + T[active]))
        p[active] = rng.beta(a, (b + k)[active])
        return active, lam, p
    rate = np.where(active, alpha + T, alpha + t_x)
    lam = rng.gamma(r + x, 1.0 / rate)
    p = np.empty(len(x))
    p[active] = rng.beta(a, (b + k)[active])
    dead = ~active  # only customers with k > 0 can have dropped out
    p[dead] = rng.beta(a + 1.0, np.maximum(b + k[dead] - 1.0, 1e-12))
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
    first_can_end: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic histories: (customer index, day) of every transaction, first purchases included.

    Customers make their first purchase on a uniform day of the first `acquisition_days` (default: the
    whole horizon); after each purchase that can end it they drop out with p, else wait Exp(lambda) for the
    next one, until the horizon. Vectorized over customers (one NumPy step per purchase number), with an
    explicit Generator, unlike lifetimes' generator that loops in Python over global state.
    """
    span = horizon_days if acquisition_days is None else acquisition_days
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    t = rng.uniform(0.0, span, size=n)
    who = [np.arange(n)]
    when = [t.copy()]
    alive = np.ones(n, dtype=bool)
    first = True
    while alive.any():
        if first_can_end or not first:
            alive &= rng.random(n) >= p
        first = False
        t = t + rng.exponential(1.0, size=n) / lam
        alive &= t < horizon_days
        idx = np.flatnonzero(alive)
        who.append(idx)
        when.append(t[idx])
    cust = np.concatenate(who)
    day = np.floor(np.concatenate(when)).astype(np.int64)
    order = np.lexsort((day, cust))
    return cust[order], day[order]


def simulate_after(
    active, lam, p, horizon_days: float, rng: np.random.Generator, clock: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Purchases after the cut-off of customers drawn from the posterior: (customer index, day 0.. after T).

    Active customers buy at lambda and drop out right after each purchase with p (BG/NBD and MBG/NBD alike:
    after the cut-off every purchase is a repeat one). Vectorized over customers, one step per purchase.
    With `clock` (the seasonal clock at the end of each day: `btyd.days_of`) purchases run on that clock up to
    its last value, the time change of a Poisson process with a time-varying rate.
    """
    horizon = float(clock[-1]) if clock is not None else horizon_days
    idx = np.flatnonzero(active)  # speed: only the customers still buying are carried from step to step
    t = np.zeros(len(idx))
    who, when = [], []
    while len(idx):
        t = t + rng.exponential(1.0, size=len(idx)) / lam[idx]
        keep = t < horizon
        idx, t = idx[keep], t[keep]
        who.append(idx)
        when.append(t)
        stay = rng.random(len(idx)) >= p[idx]
        idx, t = idx[stay], t[stay]
    if not who:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(who), days_of(np.concatenate(when), clock)


class BGNBDFitter(RepeatPurchaseFitter):
    """BG/NBD by maximum likelihood on `log_likelihood` (Fader, Hardie & Lee 2005, eq. 6)."""

    family = "bgnbd"
    label = "BG/NBD"
    citation = "Fader, Hardie & Lee (2005), Marketing Science 24: 275-284, eq. 6"
    param_names = PARAM_NAMES
    log_likelihood = staticmethod(log_likelihood)
    gradients_fn = staticmethod(log_likelihood_and_gradients)
    time_hessian_fn = staticmethod(time_hessian)

    def _starts(self, mean_x: float, mean_T: float) -> list[np.ndarray]:
        return [
            np.log([0.5, 0.5 * mean_T / mean_x, 0.5, 1.0]),
            np.log([1.0, mean_T / mean_x, 1.0, 3.0]),
            np.log([2.0, 2.0 * mean_T / mean_x, 2.0, 8.0]),
        ]

    p_alive_fn = staticmethod(p_alive)
    expected_fn = staticmethod(expected_repeat_purchases)
    conditional_fn = staticmethod(conditional_expected_purchases)
