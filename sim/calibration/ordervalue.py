"""Order values: one shared Gamma distribution, or the Gamma-Gamma model where spend differs by customer.

Gamma: every transaction value z ~ Gamma(k, theta) (what the engines draw: mean k*theta, cv 1/sqrt(k)).
Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for customer base analysis",
JMR 42: 415-430, eq. 1-4, here at the transaction level): z_ij ~ Gamma(p, nu_i), nu_i ~ Gamma(q, gamma), so
customers differ in their average spend. The two are compared by AIC on the same transaction values; the
better one is stated, and Gamma-Gamma's per-customer expectation (eq. 5) is used in forecasts, CLV and the
snapshot only when it wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import digamma, gammaln, polygamma

from sim.calibration.btyd import BfgsSearch, at_counts, hessian_from_gradient

GG_PARAMS = ("p", "q", "gamma")


def gamma_gamma_log_likelihood(p, q, gamma, n, value_sum, log_value_sum) -> np.ndarray:
    """Log-likelihood of each customer's n positive transaction values (FHL 2005 "RFM and CLV", eq. 1-4):

    L = prod z^(p-1) / G(p)^n * G(np+q) / G(q) * gamma^q / (gamma + sum z)^(np+q)
    """
    n = np.asarray(n, dtype=float)
    return (
        (p - 1.0) * log_value_sum
        - n * gammaln(p)
        + at_counts(gammaln, n, p, q)  # G(np+q), once per count
        - gammaln(q)
        + q * np.log(gamma)
        - (n * p + q) * np.log(gamma + value_sum)
    )


def gamma_gamma_gradient(p, q, gamma, n, value_sum, log_value_sum) -> np.ndarray:
    """d log L / d (p, q, gamma) of each customer, shape (n, 3): the analytic derivative of
    `gamma_gamma_log_likelihood` (a test checks it against finite differences)."""
    n = np.asarray(n, dtype=float)
    log_g = np.log(gamma + value_sum)
    psi = at_counts(digamma, n, p, q)  # psi(np+q), once per count
    return np.stack(
        [
            log_value_sum - n * digamma(p) + n * psi - n * log_g,
            psi - digamma(q) + np.log(gamma) - log_g,
            q / gamma - (n * p + q) / (gamma + value_sum),
        ],
        axis=1,
    )


def conditional_expected_value(p, q, gamma, n, value_sum) -> np.ndarray:
    """E[order value | n values summing to value_sum] (FHL 2005 "RFM and CLV", eq. 5 at the transaction level):

    E = p (gamma + sum z) / (p n + q - 1), a weighted mean of the population mean p gamma/(q-1) and the
    customer's own mean; customers without a positive value get the population mean. Needs q > 1.
    """
    n = np.asarray(n, dtype=float)
    return p * (gamma + np.asarray(value_sum, dtype=float)) / (p * n + q - 1.0)


@dataclass
class OrderValueFit:
    """Transaction values: an i.i.d. Gamma vs Gamma-Gamma, by maximum likelihood; `fit()` returns self.

    Gamma: ML as scipy.stats.gamma.fit with the location fixed at 0; standard errors of mean and cv from the
    Fisher information. Gamma-Gamma: ML in log-parameters (BFGS, analytic gradient), standard errors from the Hessian.
    `model_` names the better one by AIC ("gamma" or "gamma-gamma").
    """

    mean_: float = float("nan")
    cv_: float = float("nan")
    standard_errors_: dict[str, float] = field(default_factory=dict)
    gamma_log_likelihood_: float = float("nan")
    gamma_gamma_: dict[str, float] = field(default_factory=dict)
    gamma_gamma_standard_errors_: dict[str, float] = field(default_factory=dict)
    model_: str = "gamma"
    zero_values_: int = 0

    def fit(self, summary: pd.DataFrame, amounts: np.ndarray) -> OrderValueFit:
        z = amounts[amounts > 0]
        self.zero_values_ = int(np.sum(amounts <= 0))
        if len(z) < 2:
            self.mean_ = float(np.mean(amounts)) if len(amounts) else 1.0
            self.cv_ = 0.5
            return self
        k, theta = _gamma_ml(z)
        n = len(z)
        self.mean_ = float(k * theta)
        self.cv_ = float(1.0 / math.sqrt(k))
        self.gamma_log_likelihood_ = float(np.sum(stats.gamma.logpdf(z, k, scale=theta)))
        # Fisher information of (k, theta) for n draws; delta method for mean and cv
        info = n * np.array([[float(polygamma(1, k)), 1.0 / theta], [1.0 / theta, k / theta**2]])
        cov = np.linalg.inv(info)
        g_mean = np.array([theta, k])
        g_cv = np.array([-0.5 * k**-1.5, 0.0])
        self.standard_errors_ = {
            "mean": float(math.sqrt(g_mean @ cov @ g_mean)),
            "cv": float(math.sqrt(g_cv @ cov @ g_cv)),
        }
        self.gamma_gamma_, self.gamma_gamma_standard_errors_ = _fit_gamma_gamma(summary)
        aic_gamma = 2 * 2 - 2 * self.gamma_log_likelihood_
        aic_gg = self.gamma_gamma_.get("aic", float("inf"))
        usable = self.gamma_gamma_.get("q", 0.0) > 1.0  # the conditional mean needs q > 1
        self.model_ = "gamma-gamma" if usable and aic_gg < aic_gamma else "gamma"
        return self

    @property
    def aic(self) -> dict[str, float]:
        """AIC of both models on the same transaction values (lower is better)."""
        return {"gamma": 4.0 - 2.0 * self.gamma_log_likelihood_, "gamma-gamma": self.gamma_gamma_.get("aic", math.inf)}

    def customer_values(self, summary: pd.DataFrame) -> np.ndarray:
        """Expected order value of each customer: Gamma-Gamma's conditional mean when it won, else the shared mean."""
        if self.model_ != "gamma-gamma":
            return np.full(len(summary), self.mean_)
        g = self.gamma_gamma_
        return conditional_expected_value(
            g["p"], g["q"], g["gamma"], summary["n_positive"].to_numpy(), summary["value_sum"].to_numpy()
        )


def _gamma_ml(z: np.ndarray) -> tuple[float, float]:
    """(shape, scale) of a Gamma by maximum likelihood (location 0), by moments if ML cannot run.

    ML solves log(k) - digamma(k) = log(mean z) - mean(log z) (as scipy.stats.gamma.fit with floc=0);
    when every value is (nearly) the same that right side is 0 and the shape is unbounded: the spread
    is then set to the smallest the scenario allows (cv 0.01).
    """
    mean = float(np.mean(z))
    s = math.log(mean) - float(np.mean(np.log(z)))
    if not s > 1e-8:
        k = 1e4
        return k, mean / k
    try:
        k, _, theta = stats.gamma.fit(z, floc=0.0)
        if np.isfinite(k) and np.isfinite(theta) and k > 0 and theta > 0:
            return float(k), float(theta)
    except (ValueError, RuntimeError, FloatingPointError):
        pass
    var = float(np.var(z))
    k = mean * mean / var if var > 0 else 1e4
    return k, mean / k


def _fit_gamma_gamma(summary: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """Gamma-Gamma by ML on `gamma_gamma_log_likelihood`: (p, q, gamma, log-likelihood, AIC) and standard errors."""
    s = summary[summary["n_positive"] > 0]
    n = s["n_positive"].to_numpy(dtype=float)
    tot = s["value_sum"].to_numpy(dtype=float)
    slog = s["log_value_sum"].to_numpy(dtype=float)
    scale = float(np.mean(tot / n))  # gamma is fitted relative to the mean value, for conditioning

    def nll(logp: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(np.clip(logp, -30.0, 30.0))
        p, q, g = theta
        with np.errstate(all="ignore"):
            v = -float(np.sum(gamma_gamma_log_likelihood(p, q, g * scale, n, tot, slog)))
            d = -gamma_gamma_gradient(p, q, g * scale, n, tot, slog).sum(axis=0) * theta * np.array([1.0, 1.0, scale])
        if not np.isfinite(v) or not np.all(np.isfinite(d)):
            return 1e300, np.zeros(3)
        return v, d

    # speed: BfgsSearch ends a line search lost in the objective's rounding as BFGS would end it (there: 40 of 55
    # evaluations on CDNOW)
    res = BfgsSearch(nll).minimize(np.log([2.0, 3.0, 2.0]), {})
    res = optimize.minimize(nll, res.x, jac=True, method="BFGS")
    p, q, g = np.exp(res.x)
    ll = -float(res.fun)
    params = {"p": float(p), "q": float(q), "gamma": float(g * scale), "log_likelihood": ll, "aic": 2 * 3 - 2 * ll}
    hess = hessian_from_gradient(lambda t: nll(t)[1], res.x, step=1e-5)
    try:
        var = np.diag(np.linalg.inv(hess))
        se_log = np.where(var > 0, np.sqrt(np.abs(var)), np.nan)  # not positive: a flat direction, no se
    except np.linalg.LinAlgError:
        se_log = np.full(3, np.nan)
    se = {"p": float(p * se_log[0]), "q": float(q * se_log[1]), "gamma": float(g * scale * se_log[2])}
    return params, se
