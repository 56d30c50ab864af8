"""Acquisition from a spend log: each channel's saturating response of monthly new customers to its spend.

With a spend log, each channel's Hill curve (shape 1) of monthly new customers against its monthly spend is
fitted by Poisson maximum likelihood, through the lag from reach to first purchase that the engines apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

CONVERSION_MONTHLY = 0.99  # calibrated first purchase: reached people buy within about a week


def mape(observed: np.ndarray, predicted: np.ndarray, min_observed: float = 5.0) -> float | None:
    """Mean absolute percentage error over the entries with at least `min_observed` observed."""
    o = np.asarray(observed, dtype=float)
    p = np.asarray(predicted, dtype=float)
    keep = o >= min_observed
    if not keep.any():
        return None
    return float(np.mean(np.abs(p[keep] - o[keep]) / o[keep]))


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
    res = optimize.minimize(nll, start, method="BFGS")  # not L-BFGS-B: see sim.calibration.btyd
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
        "mape_new_customers": mape(y, mu),
    }
    return fits, info
