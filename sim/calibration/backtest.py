"""Out-of-sample checks inside the calibration window: fit on the earlier part, forecast the later part.

A time split cuts the order log at an earlier date: each family is fitted on the customers and transactions
up to the split, and its closed-form forecast of those customers' repeat transactions after the split is
compared with what they actually did, week by week and customer by customer. In-sample likelihood would
pick the family that describes the past best, not the one that forecasts best (on CDNOW the two differ);
this comparison is what `calibrate` uses to choose, and the chosen family's comparison is the backtest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.btyd import RepeatPurchaseFitter, _unique_histories
from sim.calibration.summary import month_index, summarize

MIN_SPAN_DAYS = 120  # below this the window is too short to hold a part out
HOLDOUT_SHARE = 1.0 / 3.0  # the later third of the window is held out


@dataclass
class TimeSplit:
    """The calibration window cut in two: the summary at the split and what those customers did after it."""

    split: pd.Timestamp  # last day of the fitting part
    cutoff: pd.Timestamp  # last day of the window
    summary: pd.DataFrame  # customers who had bought by the split, summarized at the split
    daily_actual: np.ndarray  # repeat transactions of those customers on each day after the split
    actual_per_customer: np.ndarray  # their transactions after the split, aligned with `summary`

    @property
    def days(self) -> int:
        return len(self.daily_actual)


def time_split(
    transactions: pd.DataFrame, cutoff: pd.Timestamp, holdout_share: float = HOLDOUT_SHARE
) -> TimeSplit | None:
    """Hold out the last `holdout_share` of the window (whole weeks), or None when the window is too short."""
    start = transactions["date"].min()
    span = int((cutoff - start).days) + 1
    if span < MIN_SPAN_DAYS:
        return None
    hold_days = 7 * max(4, int(round(span * holdout_share / 7.0)))
    split = cutoff - pd.Timedelta(days=hold_days)
    early = transactions[transactions["date"] <= split]
    summary = summarize(early, split)
    later = transactions[(transactions["date"] > split) & transactions["customer_id"].isin(summary["customer_id"])]
    day = ((later["date"] - split).dt.days - 1).to_numpy()
    daily = np.bincount(day, minlength=hold_days)[:hold_days].astype(float)
    per = later.groupby("customer_id").size().reindex(summary["customer_id"], fill_value=0).to_numpy(dtype=float)
    return TimeSplit(split, cutoff, summary, daily, per)


def histories(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) arrays of a customer summary."""
    return (
        summary["frequency"].to_numpy(dtype=float),
        summary["recency"].to_numpy(dtype=float),
        summary["age"].to_numpy(dtype=float),
    )


def cumulative_forecast(fitter: RepeatPurchaseFitter, summary: pd.DataFrame, days: np.ndarray) -> np.ndarray:
    """Expected cumulative transactions of the summary's customers after its cut-off, at each of `days`.

    Customers with equal (x, t_x, T) are computed once (a speed trick).
    """
    x, t_x, T, w = _unique_histories(*histories(summary))
    per = fitter.conditional_expected_purchases(
        np.asarray(days, dtype=float)[None, :], x[:, None], t_x[:, None], T[:, None]
    )
    return (w[:, None] * per).sum(axis=0)


def evaluate(fitter: RepeatPurchaseFitter, split: TimeSplit) -> dict[str, Any]:
    """Holdout accuracy of a fitted family: total and tracking error, weekly MAE, individual MAE."""
    n_days = split.days
    days = np.arange(1, n_days + 1, dtype=float)
    cum = cumulative_forecast(fitter, split.summary, days)
    actual_cum = np.cumsum(split.daily_actual)
    total = float(actual_cum[-1])
    weeks = n_days // 7
    weekly_pred = np.diff(np.concatenate([[0.0], cum[6::7][:weeks]]))
    weekly_act = np.diff(np.concatenate([[0.0], actual_cum[6::7][:weeks]]))
    x, t_x, T = histories(split.summary)
    each = fitter.conditional_expected_purchases(float(n_days), x, t_x, T)
    return {
        "holdout_repeat_transactions": total,
        "forecast_repeat_transactions": float(cum[-1]),
        "total_error": float(cum[-1] / total - 1.0) if total > 0 else None,
        # the selection criterion: mean gap between forecast and actual cumulative curves, over the final total
        "tracking_error": float(np.mean(np.abs(cum - actual_cum)) / total) if total > 0 else None,
        "weekly_mae": float(np.mean(np.abs(weekly_pred - weekly_act))) if weeks else None,
        "individual_mae": float(np.mean(np.abs(each - split.actual_per_customer))),
        "weekly_forecast": weekly_pred,
        "weekly_actual": weekly_act,
        "per_customer_forecast": each,
    }


def compare_families(
    fitters: dict[str, type[RepeatPurchaseFitter]], split: TimeSplit, source: str
) -> tuple[dict[str, dict[str, Any]], dict[str, RepeatPurchaseFitter]]:
    """Fit every family on the earlier part and score its holdout forecast; a family that cannot be fitted
    there is reported with its reason instead of a score."""
    from sim.errors import DataError

    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, RepeatPurchaseFitter] = {}
    x, t_x, T = histories(split.summary)
    for name, cls in fitters.items():
        try:
            f = cls().fit(x, t_x, T, source=source)
        except DataError as exc:
            results[name] = {"fitted": False, "reason": exc.message}
            continue
        fitted[name] = f
        results[name] = {"fitted": True, **evaluate(f, split), "log_likelihood": f.log_likelihood_}
        results[name]["aic"] = 2 * len(f.param_names) - 2 * f.log_likelihood_
    return results, fitted


def choose(results: dict[str, dict[str, Any]], default: str) -> str:
    """The family with the smallest holdout tracking error (the default when none could be scored)."""
    scored = {k: v["tracking_error"] for k, v in results.items() if v.get("fitted") and v["tracking_error"] is not None}
    return min(scored, key=scored.get) if scored else default


def monthly_table(fitter: RepeatPurchaseFitter, split: TimeSplit) -> list[dict[str, Any]]:
    """Month by month of the holdout: the split customers' repeat orders, actual against the forecast."""
    days = np.arange(1, split.days + 1, dtype=float)
    cum = cumulative_forecast(fitter, split.summary, days)
    daily_pred = np.diff(np.concatenate([[0.0], cum]))
    dates = split.split + pd.to_timedelta(days, unit="D")
    month = month_index(dates)
    frame = pd.DataFrame({"actual": split.daily_actual, "forecast": daily_pred}, index=month).groupby(level=0).sum()
    return [
        {"month": str(m.date())[:7], "repeat_orders": int(row.actual), "repeat_orders_forecast": float(row.forecast)}
        for m, row in frame.iterrows()
    ]
