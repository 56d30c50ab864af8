"""Calibration: turn a client's order export (and spend log) into a scenario that reproduces its history.

Consultants arrive with an order export, not with parameters. This module reads the export
(`sim.calibration.orderlog`), summarizes each customer as (x, t_x, T) at the cut-off, and fits by maximum
likelihood:

- repeat buying: the MBG/NBD (Batislam, Denizel & Filiztekin 2007; the likelihood in `sim.calibration.mbgnbd`), with
  standard errors from the numerical Hessian of the log-likelihood;
- order value: a Gamma distribution of transaction values (what the engines draw), compared with the
  Gamma-Gamma model of Fader, Hardie & Lee (2005, "RFM and CLV: using iso-value curves", JMR 42,
  eq. 1-4) by AIC; the better one is stated in the diagnostics;
- acquisition: with a spend log, each channel's saturating (Hill) response of monthly new customers to
  its spend, by Poisson maximum likelihood; without one, a single 'unattributed' channel whose curve
  reproduces the recent rate of new customers.

All experience, loyalty, referral, retention and win-back levers are set to neutral values so that the
fitted MBG/NBD alone drives repeat buying. The customers who exist at the cut-off are written to a
snapshot CSV beside the scenario (customer_id, frequency, recency, age in days), and the engines continue
these same customers, drawn from their posterior (`sim.model.base`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import optimize, stats
from scipy.special import gammaln

from sim.calibration import mbgnbd
from sim.calibration.orderlog import OrderLog, read_orders, read_spend
from sim.errors import DataError, UserInputError

MIN_CUSTOMERS = 100  # below this the four MBG/NBD parameters are not identified
MIN_REPEAT_BUYERS = 30  # below this dropout (a, b) is barely identified: warn
CONVERSION_MONTHLY = 0.99  # calibrated first purchase: reached people buy within about a week
MARKET_MULTIPLE = 50  # calibrated market size: this many times the customers seen and expected
DEFAULT_GROSS_MARGIN = 0.5
RECENT_DAYS = 91  # the new-customer rate without a spend log: the last quarter before the cut-off


# -- customer summary --------------------------------------------------------------------------------


def summarize(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """One row per customer: frequency x (repeat transactions), recency t_x and age T in days.

    Same conventions as Fader, Hardie & Lee (2005) and lifetimes' `summary_data_from_transaction_data`:
    t_x = last - first transaction day, T = cut-off - first transaction day. Also the count, sum and sum
    of logs of transaction values (for the order-value models).
    """
    tx = transactions
    day = ((tx["date"] - cutoff) / pd.Timedelta(days=1)).to_numpy()
    codes, uniques = pd.factorize(tx["customer_id"], sort=True)
    n = np.bincount(codes)
    first = np.full(len(uniques), np.inf)
    last = np.full(len(uniques), -np.inf)
    np.minimum.at(first, codes, day)
    np.maximum.at(last, codes, day)
    amount = tx["amount"].to_numpy(dtype=float)
    positive = amount > 0
    logs = np.where(positive, np.log(np.where(positive, amount, 1.0)), 0.0)
    return pd.DataFrame(
        {
            "customer_id": np.asarray(uniques, dtype=object),
            "frequency": n - 1,
            "recency": (last - first).astype(np.int64),
            "age": (-first).astype(np.int64),
            "n_positive": np.bincount(codes, weights=positive.astype(float)).astype(np.int64),
            "value_sum": np.bincount(codes, weights=amount),
            "log_value_sum": np.bincount(codes, weights=logs),
            "first_day": first.astype(np.int64),
        }
    )


# -- the MBG/NBD fit ---------------------------------------------------------------------------------


@dataclass
class MBGNBDFit:
    """Maximum-likelihood MBG/NBD fit (Batislam et al. 2007; FHL 2005 eq. 6 adapted), vectorized over customers.

    Optimizes the summed log-likelihood over log-parameters with L-BFGS-B (scipy); customers with
    the same (x, t_x, T) are weighted once (a speed trick: day-resolution histories repeat a lot).
    Standard errors come from the inverse of a central finite-difference Hessian in log-parameters,
    mapped back by the delta method (se(theta) = theta * se(log theta)).
    """

    params_: dict[str, float] = field(default_factory=dict)
    standard_errors_: dict[str, float] = field(default_factory=dict)
    log_likelihood_: float = float("nan")
    converged_: bool = False
    iterations_: int = 0
    message_: str = ""

    def fit(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, source: str = "order log") -> MBGNBDFit:
        nll = _MBGNBDObjective(x, t_x, T)
        n = nll.n
        mean_x = max(float(np.mean(x)), 0.05)
        mean_T = max(float(np.mean(T)), 1.0)
        starts = [
            np.log([1.0, mean_T / mean_x, 1.0, 3.0]),
            np.log([0.5, 0.5 * mean_T / mean_x, 0.5, 1.0]),
            np.log([2.0, 2.0 * mean_T / mean_x, 2.0, 8.0]),
        ]
        bounds = [(-9.0, 9.0), (-6.0, 16.0), (-9.0, 9.0), (-9.0, 9.0)]
        opts = {"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9}
        best = None
        for start in starts:
            res = optimize.minimize(nll, start, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        # restart from the best point: L-BFGS-B's curvature memory can stop it early in a flat valley
        again = optimize.minimize(nll, best.x, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
        if again.fun <= best.fun:
            best = again
        xopt = best.x
        at_bound = [
            mbgnbd.PARAM_NAMES[i] for i, (lo, hi) in enumerate(bounds) if xopt[i] <= lo + 0.05 or xopt[i] >= hi - 0.05
        ]
        self.iterations_ = int(best.nit)
        self.message_ = str(best.message)
        if at_bound or not np.isfinite(best.fun):
            raise DataError(
                "the MBG/NBD repeat-purchase fit did not converge"
                + (f" (parameter {', '.join(at_bound)} ran to its limit)" if at_bound else ""),
                file=source,
                found=f"{int(n)} customers, {int(np.sum(x > 0))} repeat buyers",
                allowed="a longer history (a later --until or an export covering more months) or more customers",
            )
        grad = nll(xopt)[1]
        self.converged_ = bool(best.success or np.max(np.abs(grad)) < 1e-5)
        theta = np.exp(xopt)
        self.params_ = dict(zip(mbgnbd.PARAM_NAMES, (float(v) for v in theta), strict=True))
        self.log_likelihood_ = float(-nll(xopt)[0] * n)
        hess = _hessian_from_gradient(lambda p: nll(p)[1] * n, xopt)
        eig = np.linalg.eigvalsh(hess) if np.all(np.isfinite(hess)) else np.array([np.nan])
        if not np.all(eig > 1e-9 * max(float(np.max(np.abs(eig))), 1.0)):
            # a flat direction: the maximum is not a point, the data cannot pin the four parameters
            raise DataError(
                "the MBG/NBD repeat-purchase fit did not converge (the likelihood is flat: no unique maximum)",
                file=source,
                found=f"{int(n)} customers, {int(np.sum(x > 0))} repeat buyers",
                allowed="a longer history (a later --until or an export covering more months) or more customers",
            )
        cov = np.linalg.inv(hess)
        se = theta * np.sqrt(np.diag(cov))
        self.standard_errors_ = dict(zip(mbgnbd.PARAM_NAMES, (float(v) for v in se), strict=True))
        return self


class _MBGNBDObjective:
    """Mean negative log-likelihood of the MBG/NBD and its analytic gradient in log-parameters.

    The log-likelihood is `sim.calibration.mbgnbd.log_likelihood` (Batislam et al. 2007) written as
    A1 + A2 + A3 + log(1 + exp(A4)) with
        A1 = lnG(r+x) - lnG(r) + r ln(alpha),    A2 = lnG(b+x+1) - lnG(a+b+x+1) + lnG(a+b) - lnG(b),
        A3 = -(r+x) ln(alpha+T),                 A4 = ln(a) - ln(b+x) + (r+x) (ln(alpha+T) - ln(alpha+t_x)).
    Speed tricks: customers with equal (x, t_x, T) are weighted once, and every special function is
    evaluated on the few distinct values of x, T and t_x and then looked up.
    """

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray):
        triples = np.stack([x, t_x, T], axis=1).astype(float)
        uniq, weights = np.unique(triples, axis=0, return_counts=True)
        self.w = weights.astype(float)
        self.n = float(self.w.sum())
        self.xv, self.xi = np.unique(uniq[:, 0], return_inverse=True)
        self.tv, self.ti = np.unique(uniq[:, 1], return_inverse=True)
        self.Tv, self.Ti = np.unique(uniq[:, 2], return_inverse=True)
        self.x = uniq[:, 0]

    def __call__(self, logp: np.ndarray) -> tuple[float, np.ndarray]:
        from scipy.special import digamma

        r, alpha, a, b = np.exp(logp)
        xv, x, w = self.xv, self.x, self.w
        lg_rx = gammaln(r + xv)[self.xi]
        lg_bx = gammaln(b + xv + 1.0)[self.xi]
        lg_abx = gammaln(a + b + xv + 1.0)[self.xi]
        log_aT = np.log(alpha + self.Tv)[self.Ti]
        log_at = np.log(alpha + self.tv)[self.ti]
        log_bx = np.log(b + xv)[self.xi]
        rx = r + x
        a1 = lg_rx - gammaln(r) + r * np.log(alpha)
        a2 = lg_bx - lg_abx + gammaln(a + b) - gammaln(b)
        a3 = -rx * log_aT
        a4 = np.log(a) - log_bx + rx * (log_aT - log_at)
        ll = a1 + a2 + a3 + np.logaddexp(a4, 0.0)
        s = 0.5 * (1.0 + np.tanh(0.5 * a4))  # sigmoid(a4), overflow-free
        inv_aT = (1.0 / (alpha + self.Tv))[self.Ti]
        inv_at = (1.0 / (alpha + self.tv))[self.ti]
        psi_abx = digamma(a + b + xv + 1.0)[self.xi]
        d_r = digamma(r + xv)[self.xi] - digamma(r) + np.log(alpha) - log_aT + s * (log_aT - log_at)
        d_alpha = r / alpha - rx * inv_aT + s * rx * (inv_aT - inv_at)
        d_a = -psi_abx + digamma(a + b) + s / a
        d_b = digamma(b + xv + 1.0)[self.xi] - psi_abx + digamma(a + b) - digamma(b) - s / (b + xv)[self.xi]
        # (w * v).sum() rather than w @ v: a BLAS dot spins threads, slow on a shared, busy machine
        value = -float((w * ll).sum()) / self.n
        sums = [float((w * d).sum()) for d in (d_r, d_alpha, d_a, d_b)]
        grad = -np.array(sums) * np.array([r, alpha, a, b]) / self.n
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e10, np.zeros(4)
        return value, grad


def _hessian_from_gradient(grad, x0: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Hessian by central differences of an analytic gradient, symmetrized."""
    k = len(x0)
    h = np.zeros((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        h[i] = (grad(x0 + e) - grad(x0 - e)) / (2.0 * step)
    return 0.5 * (h + h.T)


# -- order value ---------------------------------------------------------------------------------------


@dataclass
class OrderValueFit:
    """Transaction values: an i.i.d. Gamma (what the engines draw: mean and cv) vs Gamma-Gamma.

    Gamma: z ~ Gamma(k, theta), ML as in scipy.stats.gamma.fit with the location fixed at 0; mean
    k*theta, cv 1/sqrt(k); standard errors from the Fisher information. Gamma-Gamma (Fader, Hardie & Lee
    2005, eq. 1-4, here at the transaction level): z_ij ~ Gamma(p, nu_i), nu_i ~ Gamma(q, gamma), whose
    per-customer marginal likelihood is
        prod z^(p-1) / G(p)^n * G(np+q) / G(q) * gamma^q / (gamma + sum z)^(np+q);
    it lets average spend differ between customers. The better model by AIC is named in `model_`.
    """

    mean_: float = float("nan")
    cv_: float = float("nan")
    standard_errors_: dict[str, float] = field(default_factory=dict)
    gamma_log_likelihood_: float = float("nan")
    gamma_gamma_: dict[str, float] = field(default_factory=dict)
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
        from scipy.special import polygamma

        info = n * np.array([[float(polygamma(1, k)), 1.0 / theta], [1.0 / theta, k / theta**2]])
        cov = np.linalg.inv(info)
        g_mean = np.array([theta, k])
        g_cv = np.array([-0.5 * k**-1.5, 0.0])
        self.standard_errors_ = {
            "mean": float(math.sqrt(g_mean @ cov @ g_mean)),
            "cv": float(math.sqrt(g_cv @ cov @ g_cv)),
        }
        self.gamma_gamma_ = _fit_gamma_gamma(summary)
        aic_gamma = 2 * 2 - 2 * self.gamma_log_likelihood_
        aic_gg = self.gamma_gamma_.get("aic", float("inf"))
        self.model_ = "gamma-gamma" if aic_gg < aic_gamma else "gamma"
        return self


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


def _fit_gamma_gamma(summary: pd.DataFrame) -> dict[str, float]:
    """Gamma-Gamma at the transaction level (see `OrderValueFit`): p, q, gamma, log-likelihood, AIC."""
    s = summary[summary["n_positive"] > 0]
    n = s["n_positive"].to_numpy(dtype=float)
    tot = s["value_sum"].to_numpy(dtype=float)
    slog = s["log_value_sum"].to_numpy(dtype=float)
    scale = float(np.mean(tot / n))

    def nll(logp: np.ndarray) -> float:
        p, q, g = np.exp(logp)
        g = g * scale
        ll = (
            (p - 1.0) * slog
            - n * gammaln(p)
            + gammaln(n * p + q)
            - gammaln(q)
            + q * np.log(g)
            - (n * p + q) * np.log(g + tot)
        )
        v = -float(np.sum(ll))
        return v if np.isfinite(v) else 1e300

    res = optimize.minimize(nll, np.log([2.0, 3.0, 2.0]), method="L-BFGS-B", bounds=[(-6, 8)] * 3)
    p, q, g = np.exp(res.x)
    g *= scale
    ll = -float(res.fun)
    return {"p": float(p), "q": float(q), "gamma": float(g), "log_likelihood": ll, "aic": 2 * 3 - 2 * ll}


# -- acquisition --------------------------------------------------------------------------------------


@dataclass
class ChannelFit:
    """Hill response of monthly new customers to one channel's monthly spend (shape 1)."""

    channel: str
    max_reach: float
    half_saturation: float
    recent_spend: float


def conversion_lag_matrix(months: pd.DatetimeIndex, monthly_conversion: float = CONVERSION_MONTHLY) -> np.ndarray:
    """W[m, j]: share of the people reached in month j who buy for the first time in month m.

    Reach is spread evenly over the days of its month; an aware person buys each day with
    q = 1 - exp(-h), h the daily hazard of the monthly conversion (no forgetting), as the engines do.
    """
    h = -math.log(1.0 - monthly_conversion) / (365.25 / 12.0)
    q = 1.0 - math.exp(-h)
    days = pd.date_range(months[0], months[-1] + pd.offsets.MonthEnd(0), freq="D")
    month_of_day = ((days.year - months[0].year) * 12 + (days.month - months[0].month)).to_numpy()
    M = len(months)
    D = len(days)
    inflow = np.zeros((D, M))
    per_month_days = np.bincount(month_of_day, minlength=M)
    inflow[np.arange(D), month_of_day] = 1.0 / per_month_days[month_of_day]
    kernel = q * (1.0 - q) ** np.arange(D)
    conv = np.stack([np.convolve(inflow[:, j], kernel)[:D] for j in range(M)], axis=1)
    W = np.zeros((M, M))
    np.add.at(W, month_of_day, conv)
    return W


def fit_spend_response(
    new_per_month: np.ndarray, spend: pd.DataFrame, lag: np.ndarray | None = None
) -> tuple[list[ChannelFit], dict[str, Any]]:
    """Poisson ML of monthly new customers on each channel's Hill curve of spend.

    E[n] = W @ sum_c max_c * S_c / (S_c + K_c) (Hill with shape 1; Hill 1910, as in Jin et al. 2017,
    "Bayesian methods for media mix modeling with carryover and shape effects", eq. 3), W the
    conversion lag from reach to first purchase (`conversion_lag_matrix`). K_c is weakly pulled toward
    the channel's median spend (a Gaussian penalty on log K with sd 1.5) because a channel whose spend
    barely varies cannot tell its saturation point from its scale.
    """
    S = spend.to_numpy(dtype=float)
    y = np.asarray(new_per_month, dtype=float)
    C = S.shape[1]
    W = np.eye(len(y)) if lag is None else lag
    med = np.array(
        [max(float(np.median(S[:, c][S[:, c] > 0])) if np.any(S[:, c] > 0) else 1.0, 1e-9) for c in range(C)]
    )
    total_new = max(float(y.sum()), 1.0)
    share = S.sum(axis=0) / max(S.sum(), 1e-12)

    def nll(theta: np.ndarray) -> float:
        mx = np.exp(theta[:C])
        K = np.exp(theta[C:])
        mu = W @ (mx * S / (S + K)).sum(axis=1) + 1e-9
        penalty = 0.5 * np.sum(((theta[C:] - np.log(med)) / 1.5) ** 2)
        return float(np.sum(mu - y * np.log(mu)) + penalty)

    start = np.concatenate([np.log(np.maximum(2.0 * total_new / len(y) * np.maximum(share, 0.05), 1e-3)), np.log(med)])
    res = optimize.minimize(nll, start, method="L-BFGS-B")
    mx = np.exp(res.x[:C])
    K = np.exp(res.x[C:])
    mu = W @ (mx * S / (S + K)).sum(axis=1)
    recent = S[-3:].mean(axis=0) if len(S) else np.zeros(C)
    fits = [ChannelFit(str(name), float(mx[c]), float(K[c]), float(recent[c])) for c, name in enumerate(spend.columns)]
    pearson = float(np.sum((y - mu) ** 2 / np.maximum(mu, 1e-9)) / max(len(y) - 2 * C, 1))
    info = {
        "method": "Poisson ML of monthly new customers on Hill(shape 1) curves of each channel's spend",
        "months": len(y),
        "converged": bool(res.success),
        "dispersion": pearson,
        "fitted_new_customers": [float(v) for v in mu],
        "observed_new_customers": [int(v) for v in y],
        "mape_new_customers": _mape(y, mu),
    }
    return fits, info


# -- the whole calibration ---------------------------------------------------------------------------


@dataclass
class Calibration:
    """What `calibrate` produces: the scenario (as a mapping), the snapshot and the diagnostics."""

    scenario: dict[str, Any]
    snapshot: pd.DataFrame
    diagnostics: dict[str, Any]
    repeat: MBGNBDFit
    value: OrderValueFit
    log: OrderLog
    summary: pd.DataFrame
    cutoff: pd.Timestamp
    spend: pd.DataFrame | None = None


def calibrate(
    orders: str | Path,
    *,
    spend: str | Path | None = None,
    until: date | str | None = None,
    customer_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    currency: str | None = None,
    gross_margin: float = DEFAULT_GROSS_MARGIN,
    name: str | None = None,
    backtest: str = "auto",
    seed: int = 42,
    today: date | None = None,
    date_format: str | None = None,
    spend_date_format: str | None = None,
    decimal: str | None = None,
    spend_gaps: str = "error",
) -> Calibration:
    """Calibrate a scenario from an order export (and optionally a monthly spend log).

    `until` cuts the history (later orders are ignored). `backtest`: "engine" simulates the
    calibration period with the agent engine, "closed" uses the MBG/NBD expectation
    (`sim.calibration.mbgnbd.expected_repeat_purchases`) for each cohort of first purchases, "auto" takes the engine up to 200,000
    transactions, "none" skips it. `date_format`, `spend_date_format` and `decimal` say how to read dates and
    amounts where the files cannot tell; `spend_gaps="zero"` reads months missing from the spend log as 0.
    """
    t0 = time.perf_counter()
    cut = _parse_until(until)
    log = read_orders(
        orders,
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        until=cut,
        today=today,
        date_format=date_format,
        decimal=decimal,
    )
    cutoff = cut if cut is not None else log.last_date
    if cut is not None and (cut - log.last_date).days > 30:
        log.warnings.append(
            f"--until {cut.date()} is {(cut - log.last_date).days} days after the last order ({log.last_date.date()}):"
            " every customer looks inactive since; is the export complete?"
        )
    summary = summarize(log.transactions, cutoff)
    n = len(summary)
    if n < MIN_CUSTOMERS:
        raise DataError(
            f"too few customers to fit: {n}",
            file=str(orders),
            allowed=f"an export with at least {MIN_CUSTOMERS} customers (several hundred give usable standard errors)",
        )
    warnings = list(log.warnings)
    x = summary["frequency"].to_numpy()
    repeat_buyers = int(np.sum(x > 0))
    if repeat_buyers < MIN_REPEAT_BUYERS:
        warnings.append(
            f"too few repeat buyers ({repeat_buyers}, fewer than {MIN_REPEAT_BUYERS}): the dropout parameters a, b are"
            " poorly determined; use a longer history"
        )
    fit = MBGNBDFit().fit(x, summary["recency"].to_numpy(), summary["age"].to_numpy(), source=str(orders))
    if not fit.converged_:
        warnings.append(f"the optimizer reported: {fit.message_}")
    rel = {k: fit.standard_errors_[k] / fit.params_[k] for k in fit.params_}
    if any(not np.isfinite(v) for v in rel.values()):
        warnings.append("the Hessian is not positive definite: standard errors are unavailable (a flat likelihood)")
    elif max(rel.values()) > 0.5:
        worst = max(rel, key=rel.get)
        warnings.append(f"parameter {worst} has a standard error above 50% of its value: the data say little about it")
    amounts = log.transactions["amount"].to_numpy(dtype=float)
    value = OrderValueFit().fit(summary, amounts)
    if value.zero_values_:
        warnings.append(f"{value.zero_values_} transactions of amount 0 were left out of the order-value fit")
    spend_table = None
    if spend is not None:
        spend_table = read_spend(
            spend, until=cutoff, date_format=spend_date_format, decimal=decimal, fill_gaps=spend_gaps == "zero"
        )
        filled = spend_table.attrs.get("filled_months") or []
        if filled:
            warnings.append(
                f"{len(filled)} months without rows in the spend log were read as zero spend (--spend-gaps zero):"
                f" {', '.join(filled[:6])}{' ...' if len(filled) > 6 else ''}"
            )
    scenario, acq_info, snapshot = _build_scenario(
        log, summary, cutoff, fit, value, spend_table, currency, gross_margin, name, seed, warnings, str(spend)
    )
    diagnostics: dict[str, Any] = {
        "method": "maximum likelihood (scipy.optimize): MBG/NBD repeat purchase, Gamma order value, Hill acquisition",
        "source": Path(str(orders)).name,
        "spend_source": Path(str(spend)).name if spend is not None else None,
        "columns": log.columns,
        "encoding": log.encoding,
        "cutoff": str(cutoff.date()),
        "data": {
            "orders": log.raw_orders,
            "transactions": len(log.transactions),
            "customers": n,
            "repeat_buyers": repeat_buyers,
            "repeat_transactions": int(x.sum()),
            "first_order": str(log.first_date.date()),
            "last_order": str(log.last_date.date()),
            "days_observed": int((cutoff - log.first_date).days) + 1,
            "mean_frequency": float(np.mean(x)),
            "mean_age_days": float(summary["age"].mean()),
        },
        "repeat_purchase": {
            "model": "MBG/NBD (Batislam, Denizel & Filiztekin 2007; Hoppe & Wagner 2007), time unit days",
            **{k: _r(v) for k, v in fit.params_.items()},
            "standard_errors": {k: _r(v) for k, v in fit.standard_errors_.items()},
            "log_likelihood": _r(fit.log_likelihood_),
            "converged": fit.converged_,
            "iterations": fit.iterations_,
            "mean_purchase_interval_days": _r(fit.params_["alpha"] / fit.params_["r"]),
            "mean_dropout_per_order": _r(fit.params_["a"] / (fit.params_["a"] + fit.params_["b"])),
        },
        "order_value": {
            "model": value.model_,
            "scenario_uses": "Gamma with this mean and cv (the engines draw i.i.d. Gamma order values)",
            "mean": _r(value.mean_),
            "cv": _r(value.cv_),
            "standard_errors": {k: _r(v) for k, v in value.standard_errors_.items()},
            "gamma_log_likelihood": _r(value.gamma_log_likelihood_),
            "gamma_gamma": {k: _r(v) for k, v in value.gamma_gamma_.items()},
        },
        "acquisition": acq_info,
        "warnings": warnings,
    }
    if value.model_ == "gamma-gamma":
        warnings.append(
            "order values differ between customers (Gamma-Gamma fits better than one Gamma by AIC); the scenario keeps"
            " the overall mean and spread, which is right for totals but not for single customers"
        )
    scenario["calibration"] = diagnostics
    cal = Calibration(scenario, snapshot, diagnostics, fit, value, log, summary, cutoff, spend_table)
    if backtest != "none":
        diagnostics["backtest"] = run_backtest(cal, method=backtest, seed=seed)
    diagnostics["seconds"] = round(time.perf_counter() - t0, 3)
    return cal


def _parse_until(until: date | str | None) -> pd.Timestamp | None:
    if until is None:
        return None
    try:
        return pd.Timestamp(until).normalize()
    except (ValueError, TypeError):
        raise UserInputError(
            "not a date", location="--until", found=str(until), allowed="a date such as 2024-06-30"
        ) from None


def _r(v: float) -> float | None:
    """A float for YAML: 6 significant digits, NaN as null."""
    v = float(v)
    return float(f"{v:.6g}") if math.isfinite(v) else None


def _month_index(dates: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.DatetimeIndex(dates).to_period("M").to_timestamp())


def _build_scenario(
    log: OrderLog,
    summary: pd.DataFrame,
    cutoff: pd.Timestamp,
    fit: MBGNBDFit,
    value: OrderValueFit,
    spend: pd.DataFrame | None,
    currency: str | None,
    gross_margin: float,
    name: str | None,
    seed: int,
    warnings: list[str],
    spend_source: str = "spend log",
) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame]:
    """The scenario mapping (neutral levers), the acquisition diagnostics and the snapshot table."""
    n = len(summary)
    first_dates = cutoff + pd.to_timedelta(summary["first_day"].to_numpy(), unit="D")
    new_by_month = pd.Series(1, index=_month_index(first_dates)).groupby(level=0).sum()
    h = -math.log(1.0 - CONVERSION_MONTHLY) / (365.25 / 12.0)  # daily first-purchase hazard of aware people
    acq: dict[str, Any]
    channels: dict[str, Any] = {}
    if spend is not None and not spend.empty:
        months = spend.index[
            (spend.index >= new_by_month.index.min()) & (spend.index + pd.offsets.MonthEnd(0) <= cutoff)
        ]
        if len(months) < 4:
            raise DataError(
                "the spend log overlaps fewer than 4 full months of the order log",
                file=spend_source,
                found=f"{len(months)} month{'s' if len(months) != 1 else ''}",
                allowed="monthly spend for the months of the order log",
            )
        y = new_by_month.reindex(months, fill_value=0).to_numpy()
        fits, acq = fit_spend_response(y, spend.loc[months], conversion_lag_matrix(months))
        for f in fits:
            channels[f.channel] = {"max_reach": f.max_reach, "half_saturation": f.half_saturation}
        recent = spend.loc[months].iloc[-3:].mean(axis=0)
        total = float(recent.sum())
        split = (recent / total).to_dict() if total > 0 else {c: 1.0 / len(recent) for c in recent.index}
        acq["budget_basis"] = "mean monthly spend of the last 3 months of the spend log"
        monthly_new = float(sum(f.max_reach * f.recent_spend / (f.recent_spend + f.half_saturation) for f in fits))
        if acq["mape_new_customers"] is not None and acq["mape_new_customers"] > 0.35:
            warnings.append(
                f"the spend log explains monthly new customers poorly (MAPE {acq['mape_new_customers']:.0%}):"
                " much acquisition may be organic or lagged"
            )
    else:
        recent_start = cutoff - pd.Timedelta(days=RECENT_DAYS - 1)
        recent_new = int(np.sum(first_dates >= recent_start))
        monthly_new = recent_new / RECENT_DAYS * (365.25 / 12.0)
        mean_value = value.mean_
        total = monthly_new * mean_value  # placeholder: one average order of acquisition spend per new customer
        if monthly_new > 0:
            channels["unattributed"] = {"max_reach": 2.0 * monthly_new, "half_saturation": max(total, 1e-6)}
        else:
            channels["unattributed"] = {"max_reach": 1e-6, "half_saturation": 1.0}
            total = 0.0
            warnings.append("no new customers in the last 3 months before the cut-off: the scenario acquires none")
        split = {"unattributed": 1.0}
        warnings.append(
            "no spend log: acquisition runs through one 'unattributed' channel whose reach reproduces the new"
            f" customers of the last {RECENT_DAYS} days ({monthly_new:.1f} a month); its budget"
            f" ({total:,.0f} a month, one average order per new customer) is a placeholder, so CAC and ROI are not"
            " meaningful until spend is given"
        )
        acq = {
            "method": f"unattributed: reach reproduces the new customers of the last {RECENT_DAYS} days",
            "recent_new_customers": recent_new,
        }
    acq["monthly_new_customers"] = _r(monthly_new)
    acq["new_customers_by_month"] = {str(k.date())[:7]: int(v) for k, v in new_by_month.items()}
    expected_new = monthly_new * 36
    size = int(min(50_000_000, max(10_000, MARKET_MULTIPLE * (n + expected_new))))
    inflow_day = monthly_new / (365.25 / 12.0)
    aware0 = int(round(inflow_day / h))
    unaware_share = (size - aware0 - n) / size  # reach lands on random people: correct for the known ones
    for ch in channels.values():
        ch["max_reach"] = _r(ch["max_reach"] / max(unaware_share, 1e-6))
        ch["half_saturation"] = _r(ch["half_saturation"])
    peak = int(log.transactions.groupby("date").size().max())
    stem = Path(log.source).stem
    if currency is None:
        korean = any(any("\uac00" <= ch <= "\ud7a3" for ch in col) for col in log.columns.values())
        currency = "KRW" if korean or log.encoding == "cp949" else "USD"
    if gross_margin == DEFAULT_GROSS_MARGIN:
        warnings.append(
            f"gross margin is not in an order log: set to {DEFAULT_GROSS_MARGIN} (use --gross-margin or edit economics)"
        )
    snapshot = summary[["customer_id", "frequency", "recency", "age"]].copy()
    scenario: dict[str, Any] = {
        "schema_version": 1,
        "name": name or f"Calibrated: {stem}",
        "archetype": "calibrated",
        "description": (
            f"Calibrated by `sim calibrate` from {Path(log.source).name} up to {cutoff.date()}: MBG/NBD repeat buying,"
            " Gamma order values and the acquisition rate fitted to the export; experience, loyalty, referral,"
            " retention and win-back levers are neutral so the fitted model alone drives repeat buying."
        ),
        "market": {
            "size": size,
            "initially_aware": aware0,
            "existing": {"customers": n, "loyal": 0, "lapsed": 0, "snapshot": None},
        },
        "economics": {
            "currency": currency,
            "order_value_mean": _r(value.mean_),
            "order_value_cv": _r(min(max(value.cv_, 0.01), 3.0)),
            "gross_margin": gross_margin,
            "fulfilment_cost_per_order": 0.0,
            "annual_discount_rate": 0.10,
        },
        "channels": {
            cid: {
                "label": "Unattributed (no spend log)" if cid == "unattributed" else cid,
                "reach": {
                    "kind": "hill",
                    "max_reach": ch["max_reach"],
                    "half_saturation": ch["half_saturation"],
                    "shape": 1.0,
                },
            }
            for cid, ch in channels.items()
        },
        "budget": {
            "period": "month",
            "totals": _r(total),
            "purpose_split": {"front": 1.0, "back": 0.0, "winback": 0.0},
            "channel_split": {"front": _exact_split(split)},
        },
        "first_purchase": {
            "monthly_conversion": CONVERSION_MONTHLY,
            "landing_page_quality": 1.0,
            "offer_strength": 1.0,
            "forgetting_per_month": 0.0,
            "negative_wom_impact": 0.0,
        },
        "repeat_purchase": {k: _r(v) for k, v in fit.params_.items()},
        "experience": {
            "reliability": 1.0,
            "proactive_coverage": 0.0,
            "delight_coverage": 0.0,
            "baseline_delight": 0.0,
            "dissatisfied_dropout_multiplier": 1.0,
            "delighted_dropout_multiplier": 1.0,
        },
        "loyalty": {
            "step_probability_satisfied": 0.0,
            "step_probability_delighted": 0.0,
            "demote_on_dissatisfied": 0.0,
            "purchase_rate_multiplier": 1.0,
            "dropout_multiplier": 1.0,
            "order_value_multiplier": 1.0,
        },
        "referral": {"contacts_per_loyal_per_month": 0.0},
        "winback": {"base_reactivation": 0.0},
        "operations": {
            "fulfilment_capacity_per_day": float(max(1000, 20 * peak)),
            "service_capacity_per_day": 100.0,
        },
        "simulation": {
            "start_date": (cutoff + pd.Timedelta(days=1)).date(),
            "horizon_months": 36,
            "seed": seed,
        },
    }
    return scenario, acq, snapshot


def _exact_split(split: dict[str, float]) -> dict[str, float]:
    """Shares rounded to 6 digits that still add up to 1 (the schema checks the sum)."""
    keys = list(split)
    vals = [round(float(split[k]), 6) for k in keys]
    vals[-1] = round(1.0 - sum(vals[:-1]), 6)
    return dict(zip(keys, vals, strict=True))


# -- backtest --------------------------------------------------------------------------------------------


def _mape(observed: np.ndarray, predicted: np.ndarray, min_observed: float = 5.0) -> float | None:
    """Mean absolute percentage error over the months with at least `min_observed` observed."""
    o = np.asarray(observed, dtype=float)
    p = np.asarray(predicted, dtype=float)
    keep = o >= min_observed
    if not keep.any():
        return None
    return float(np.mean(np.abs(p[keep] - o[keep]) / o[keep]))


def observed_monthly(cal: Calibration) -> pd.DataFrame:
    """Monthly first orders, repeat orders and revenue of the order log (transactions up to the cut-off)."""
    tx = cal.log.transactions
    first = tx.groupby("customer_id")["date"].transform("min")
    is_first = (tx["date"] == first).to_numpy()
    month = _month_index(tx["date"])
    frame = pd.DataFrame(
        {
            "first_orders": is_first.astype(int),
            "repeat_orders": (~is_first).astype(int),
            "revenue": tx["amount"].to_numpy(dtype=float),
        },
        index=month,
    )
    return frame.groupby(level=0).sum()


def run_backtest(cal: Calibration, method: str = "auto", seed: int = 42) -> dict[str, Any]:
    """Simulate the calibration period and compare monthly first orders, repeat orders and revenue (MAPE).

    New customers enter as observed (without a spend log) or through the fitted channel curves and the
    actual spend (with one). "closed": expected repeat orders of each cohort of first purchases from the
    MBG/NBD mean (`sim.calibration.mbgnbd.expected_repeat_purchases`), revenue = orders x mean order value. "engine": one run of
    the agent engine over the same months. MAPE counts months with at least 5 observed orders.
    """
    obs = observed_monthly(cal)
    if method == "auto":
        method = "engine" if len(cal.log.transactions) <= 200_000 else "closed"
    if method == "engine":
        sim = _backtest_engine(cal, obs.index, seed)
    elif method == "closed":
        sim = _backtest_closed(cal, obs.index)
    else:
        raise UserInputError("unknown backtest method", found=method, allowed="auto, engine, closed, none")
    sim = sim.reindex(obs.index, fill_value=0.0)
    out: dict[str, Any] = {"method": method, "months": len(obs)}
    for col in ("first_orders", "repeat_orders", "revenue"):
        out[f"mape_{col}"] = _r(_mape(obs[col], sim[col])) if _mape(obs[col], sim[col]) is not None else None
    table = []
    for m in obs.index:
        table.append(
            {
                "month": str(m.date())[:7],
                "first_orders": int(obs.at[m, "first_orders"]),
                "first_orders_sim": _r(sim.at[m, "first_orders"]),
                "repeat_orders": int(obs.at[m, "repeat_orders"]),
                "repeat_orders_sim": _r(sim.at[m, "repeat_orders"]),
                "revenue": _r(obs.at[m, "revenue"]),
                "revenue_sim": _r(sim.at[m, "revenue"]),
            }
        )
    out["table"] = table
    return out


def _backtest_closed(cal: Calibration, months: pd.DatetimeIndex) -> pd.DataFrame:
    p = cal.repeat.params_
    first_day = cal.summary["first_day"].to_numpy()  # days before the cut-off (<= 0)
    days, counts = np.unique(first_day, return_counts=True)
    start = cal.log.first_date
    bounds = [(m - cal.cutoff).days for m in months] + [1]  # day offsets of month starts, and the cut-off end
    bounds = np.clip(np.asarray(bounds, dtype=float), (start - cal.cutoff).days, 1)
    # cumulative expected repeat orders of each cohort at each month boundary (day d ends at d + 1)
    elapsed = np.maximum(bounds[None, :] - (days[:, None] + 1.0), 0.0)
    cum = mbgnbd.expected_repeat_purchases(elapsed, p["r"], p["alpha"], p["a"], p["b"])
    repeat = np.diff(counts @ cum)
    first_obs = (
        pd.Series(1, index=_month_index(cal.cutoff + pd.to_timedelta(first_day, unit="D"))).groupby(level=0).sum()
    )
    first = first_obs.reindex(months, fill_value=0).to_numpy(dtype=float)
    revenue = (first + repeat) * cal.value.mean_
    return pd.DataFrame({"first_orders": first, "repeat_orders": repeat, "revenue": revenue}, index=months)


def _backtest_engine(cal: Calibration, months: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    from sim.engines import simulate
    from sim.model.scenario import parse_scenario

    data = yaml.safe_load(yaml.safe_dump(_plain(cal.scenario), allow_unicode=True))
    data.pop("calibration", None)
    start = months[0]
    n_months = len(months)
    data["market"]["existing"] = {"customers": 0, "loyal": 0, "lapsed": 0}
    data["market"]["initially_aware"] = 0
    data["market"]["size"] = 50_000_000
    data["simulation"] = {"start_date": start.date(), "horizon_months": n_months, "seed": seed}
    first_day = cal.summary["first_day"].to_numpy()
    observed_new = (
        pd.Series(1, index=_month_index(cal.cutoff + pd.to_timedelta(first_day, unit="D")))
        .groupby(level=0)
        .sum()
        .reindex(months, fill_value=0)
        .to_numpy(dtype=float)
    )
    if cal.spend is not None:
        names = list(data["channels"])
        spend = np.zeros((n_months, len(names), 3))
        table = cal.spend.reindex(months, fill_value=0.0)
        for c, nm in enumerate(names):
            spend[:, c, 0] = table[nm].to_numpy() if nm in table.columns else 0.0
    else:  # new customers enter as observed: reach = spend on a nearly linear curve, bought at once
        data["channels"] = {"observed": {"reach": {"kind": "hill", "max_reach": 1e12, "half_saturation": 1e12}}}
        data["budget"] = {
            "period": "month",
            "totals": 1.0,
            "purpose_split": {"front": 1.0},
            "channel_split": {"front": {"observed": 1.0}},
        }
        data["first_purchase"]["monthly_conversion"] = 0.999999
        spend = np.zeros((n_months, 1, 3))
        spend[:, 0, 0] = observed_new
        for j, m in enumerate(months):  # only part of the first month is inside the log
            if j == 0 and cal.log.first_date > m:
                frac = (m + pd.offsets.MonthEnd(0) - cal.log.first_date).days + 1
                spend[j, 0, 0] *= (m.days_in_month / frac) if frac > 0 else 1.0
    scen = parse_scenario(data, "backtest")
    result = simulate(scen, engine="agent", seed=seed, spend_month=spend, keep_orders=False)
    daily = result.daily
    daily = daily[(daily.index >= cal.log.first_date) & (daily.index <= cal.cutoff)]
    monthly = daily[["new_customers", "repeat_orders", "revenue"]].resample("MS").sum()
    monthly.columns = ["first_orders", "repeat_orders", "revenue"]
    return monthly


def _plain(value: Any) -> Any:
    """Python scalars only (for YAML)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


# -- writing ----------------------------------------------------------------------------------------


def write_calibration(cal: Calibration, out: str | Path) -> tuple[Path, Path]:
    """Write the scenario YAML and its snapshot CSV (`<name>.customers.csv` beside it), atomically.

    The snapshot is written first; the YAML, which names it, last. Returns (yaml path, snapshot path).
    """
    from sim.io import output_file, output_set
    from sim.model.scenario import parse_scenario

    out = Path(out)
    if out.exists() and out.is_dir():
        raise UserInputError("is a folder, expected a scenario file name", location="--out", found=str(out))
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise UserInputError("must end in .yaml or .yml", location="--out", found=str(out))
    out = output_file(out)  # a device or a FIFO is refused, a symbolic link followed
    snap_name = out.name[: -len(out.suffix)] + ".customers.csv"
    data = _plain(cal.scenario)
    data["market"]["existing"]["snapshot"] = snap_name
    parse_scenario(data, str(out))  # validate before anything is written
    text = _HEADER.format(source=cal.diagnostics["source"], cutoff=cal.diagnostics["cutoff"]) + yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, width=110
    )
    # the scenario and the snapshot it names appear together, or neither does
    with output_set(out.parent, "calibrate", [out.name, snap_name]) as outs:
        cal.snapshot.to_csv(outs.stage_path(snap_name), index=False)
        outs.stage_path(out.name).write_text(text, encoding="utf-8")
    return out, out.parent / snap_name


_HEADER = (
    "# Calibrated by `python -m sim calibrate` from {source} (history up to {cutoff}).\n"
    "# repeat_purchase: MBG/NBD maximum-likelihood estimates, time unit days; standard errors, data summary,\n"
    "# backtest and warnings are in the `calibration` block at the end. The customers that existed at the\n"
    "# cut-off are in the snapshot CSV named in market -> existing -> snapshot.\n"
)


def format_report(cal: Calibration) -> str:
    """A short plain-text summary for the terminal."""
    d = cal.diagnostics
    rp = d["repeat_purchase"]
    se = rp["standard_errors"]
    ov = d["order_value"]
    lines = [
        f"data: {d['data']['transactions']} transactions of {d['data']['customers']} customers"
        f" ({d['data']['repeat_buyers']} repeat buyers), {d['data']['first_order']} .. {d['cutoff']}",
        "MBG/NBD (days): "
        + ", ".join(
            f"{k}={rp[k]:.4g} (se {se[k]:.2g})" if se[k] is not None else f"{k}={rp[k]:.4g}" for k in mbgnbd.PARAM_NAMES
        )
        + f", log-likelihood {rp['log_likelihood']:.1f}",
        f"order value: mean {ov['mean']:.4g}, cv {ov['cv']:.3g} (better fit: {ov['model']})",
        f"new customers: {d['acquisition']['monthly_new_customers']} a month ({d['acquisition']['method']})",
    ]
    bt = d.get("backtest")
    if bt:
        fmt = lambda v: "n/a" if v is None else f"{v:.1%}"  # noqa: E731
        lines.append(
            f"backtest ({bt['method']}, {bt['months']} months) MAPE: first orders {fmt(bt['mape_first_orders'])},"
            f" repeat orders {fmt(bt['mape_repeat_orders'])}, revenue {fmt(bt['mape_revenue'])}"
        )
    for w in d["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
