"""Counts drawn by inversion: every count is the quantile of its own uniform, so plans run on the same
uniforms draw coupled counts, cell by cell (common random numbers that hold, not only the same seed).

NumPy's samplers spend a varying number of uniforms on a draw (rejection), so two plans given the same seed
fall out of step after the first draw that differs, and their runs are then independent. Here every
binomial, Poisson and multinomial count uses exactly one uniform per cell, and every Gamma sum two, in a
fixed layout, so replication r of two plans sees the same luck wherever the plans agree.

Quantiles (compiled with numba, cached on disk):
- binomial and Poisson: exact inversion (the cumulative sum of the probabilities) while the mean is at most
  `EXACT_MEAN`; above it the Cornish-Fisher expansion to the skewness term (Cornish & Fisher, 1938),
  within one count of the exact quantile there (tested against SciPy);
- Gamma(k): the Wilson-Hilferty cube (Wilson & Hilferty, 1931) for k >= 4, and for k < 4 the exact identity
  Gamma(k) = Gamma(k + 1) * U^(1/k) (Marsaglia & Tsang, 2000, sec. 6), which takes the second uniform;
- the normal quantile by Acklam's rational approximation (relative error below 1.2e-9; ample for counts).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EXACT_MEAN = 30.0  # below this mean a count is the exact quantile; above, Cornish-Fisher (one count at most)
MAX_COUNT = 2.0**53  # counts and means beyond it have no exact float: refused


@njit(cache=True)
def normal_quantile(u: float) -> float:
    """Phi^-1(u) for 0 < u < 1 (Acklam's rational approximation: relative error below 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    u = min(max(u, 1e-300), 1.0 - 1e-16)
    if u < 0.02425:
        q = math.sqrt(-2.0 * math.log(u))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
        )
    elif u > 1.0 - 0.02425:
        q = math.sqrt(-2.0 * math.log(1.0 - u))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
        )
    else:
        q = u - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
        )
    return x


@njit(cache=True)
def _skewed(mean: float, sd: float, skew: float, u: float) -> float:
    """The Cornish-Fisher quantile with the skewness term, rounded to a count (>= 0)."""
    z = normal_quantile(u)
    return max(np.floor(mean + sd * (z + skew * (z * z - 1.0) / 6.0) + 0.5), 0.0)


@njit(cache=True)
def binomial_quantile(u: float, n: float, p: float) -> float:
    """The u-quantile of Binomial(n, p): exact while the mean of the rarer outcome is at most EXACT_MEAN."""
    if n <= 0.0 or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return n
    if p > 0.5:  # count the rarer outcome: X = n - Y with Y ~ Binomial(n, 1 - p), Y's quantile at 1 - u
        return n - binomial_quantile(1.0 - u, n, 1.0 - p)
    mean = n * p
    if mean > EXACT_MEAN:
        q = 1.0 - p
        sd = math.sqrt(mean * q)
        return min(_skewed(mean, sd, (q - p) / sd, u), n)
    pmf = math.exp(n * math.log1p(-p))
    cdf, k, ratio = pmf, 0.0, p / (1.0 - p)
    while cdf < u and k < n:
        pmf *= (n - k) / (k + 1.0) * ratio
        k += 1.0
        cdf += pmf
        if pmf < 1e-300 * cdf and k > mean:  # the rounding of the sum left u unreached: the tail is empty
            break
    return k


@njit(cache=True)
def poisson_quantile(u: float, lam: float) -> float:
    """The u-quantile of Poisson(lam): exact while lam is at most EXACT_MEAN."""
    if lam <= 0.0:
        return 0.0
    if lam > EXACT_MEAN:
        sd = math.sqrt(lam)
        return _skewed(lam, sd, 1.0 / sd, u)
    pmf = math.exp(-lam)
    cdf, k = pmf, 0.0
    while cdf < u:
        k += 1.0
        pmf *= lam / k
        cdf += pmf
        if pmf < 1e-300 * cdf and k > lam:
            break
    return k


@njit(cache=True)
def gamma_quantile(u: float, v: float, k: float) -> float:
    """A Gamma(k, 1) draw from two uniforms: Wilson-Hilferty at u for k >= 4, else Gamma(k + 1) at u times
    v^(1/k) (an exact identity; v is unused for k >= 4, yet every draw takes two uniforms, to keep in step)."""
    if k <= 0.0:
        return 0.0
    shape = k if k >= 4.0 else k + 1.0
    z = normal_quantile(u)
    c = 1.0 / (9.0 * shape)
    x = shape * max(1.0 - c + z * math.sqrt(c), 0.0) ** 3
    return x if k >= 4.0 else x * max(v, 1e-300) ** (1.0 / k)


@njit(cache=True)
def _binomials(u, n, p, out):
    """Fills `out`; the index of the first cell without a count (n or p out of range, NaN), else -1."""
    for i in range(u.size):
        if not (0.0 <= n[i] <= MAX_COUNT and 0.0 <= p[i] <= 1.0):
            return i
        out[i] = binomial_quantile(u[i], n[i], p[i])
    return -1


@njit(cache=True)
def _poissons(u, lam, out):
    for i in range(u.size):
        if not (0.0 <= lam[i] <= MAX_COUNT):
            return i
        out[i] = poisson_quantile(u[i], lam[i])
    return -1


@njit(cache=True)
def _gammas(u, v, k, out):
    for i in range(u.size):
        out[i] = gamma_quantile(u[i], v[i], k[i])


@njit(cache=True)
def _multinomials(u, n, p, out):
    """Row by row, class by class: the count of class j is binomial in what is left, at j's share of the
    classes left (the chain rule of the multinomial), one uniform per class."""
    S, K = p.shape
    for s in range(S):
        left, rest = n[s], 0.0
        for j in range(K):
            rest += p[s, j]
        for j in range(K):
            if j == K - 1:
                out[s, j] = left
                break
            share = p[s, j] / rest if rest > 0.0 else 0.0
            x = binomial_quantile(u[s, j], left, min(share, 1.0))
            out[s, j] = x
            left -= x
            rest -= p[s, j]


def _flat(shape, *arrays):
    """Each array broadcast to `shape`, flat and contiguous (a copy only where it had to be broadcast)."""
    return [np.ascontiguousarray(np.broadcast_to(a, shape)).ravel() for a in arrays]


def _refuse(bad: int, **cells: np.ndarray) -> None:
    """A cell without a count (the kernels stop at it) raises, as NumPy's samplers do: never a silent zero
    for a NaN chance."""
    if bad >= 0:
        found = ", ".join(f"{name} {values[bad]}" for name, values in cells.items())
        raise ValueError(f"a draw with {found} has no count (allowed: counts 0 to 2^53, chances 0 to 1)")


def binomials(u: np.ndarray, n, p) -> np.ndarray:
    """Binomial(n, p) counts (int64, u's shape, to which n and p broadcast), cell i the quantile of u's cell i."""
    uf, nf, pf = _flat(u.shape, u, np.asarray(n), np.asarray(p, dtype=float))
    out = np.empty(uf.size, dtype=np.int64)
    _refuse(_binomials(uf, nf, pf, out), n=nf, p=pf)
    return out.reshape(u.shape)


def poissons(u: np.ndarray, lam) -> np.ndarray:
    """Poisson(lam) counts (int64, u's shape), cell by cell from u."""
    uf, lf = _flat(u.shape, u, np.asarray(lam, dtype=float))
    out = np.empty(uf.size, dtype=np.int64)
    _refuse(_poissons(uf, lf, out), mean=lf)
    return out.reshape(u.shape)


def gammas(u: np.ndarray, v: np.ndarray, k) -> np.ndarray:
    """Gamma(k, 1) draws (u's shape), cell by cell from the uniforms u and v."""
    uf, vf, kf = _flat(u.shape, u, v, np.asarray(k, dtype=float))
    out = np.empty(uf.size)
    _gammas(uf, vf, kf, out)
    return out.reshape(u.shape)


def multinomials(u: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(S, K) multinomial counts of n (S,) people over K classes with weights p (S, K), from u (S, K)."""
    out = np.empty(p.shape, dtype=np.int64)
    _multinomials(np.ascontiguousarray(u), np.ascontiguousarray(n), np.ascontiguousarray(p, dtype=float), out)
    return out
