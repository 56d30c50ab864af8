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

from sim.calibration import families
from sim.calibration.btyd import RepeatPurchaseFitter, alive_parts, unique_rows
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
    """Expected cumulative transactions of the summary's customers after its cut-off, at each of `days`."""
    return _forecasts(fitter, summary, np.asarray(days, dtype=float))[0]


def _forecasts(fitter: RepeatPurchaseFitter, summary: pd.DataFrame, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(expected cumulative transactions at each of `days`, each customer's expected transactions by the last).

    Speed: P(active) is computed once per distinct history; the part of the closed form that depends on time
    once per distinct (x, T), at every 7th day (and the last), and the cumulative curve interpolated linearly
    in between (it is smooth: the daily values differ from the exact ones by far less than one transaction).
    """
    params = fitter.values
    x, t_x, T = histories(summary)
    knots = np.unique(np.concatenate([[0.0], np.arange(7.0, days.max(), 7.0), [days.max()]]))
    uniq, inverse = unique_rows(np.stack([x, t_x, T], axis=1))
    w = np.bincount(inverse, minlength=len(uniq)).astype(float)
    xT, group = unique_rows(uniq[:, [0, 2]])
    at_knots, last = np.zeros(len(knots)), np.zeros(len(uniq))
    for alive, if_active in alive_parts(families.module(fitter.family), params, uniq[:, 0], uniq[:, 1], uniq[:, 2]):
        active = if_active(knots[None, :], xT[:, :1], xT[:, 1:])
        at_knots += np.bincount(group, weights=alive * w, minlength=len(xT)) @ active
        last += alive * active[group, -1]
    return np.interp(days, knots, at_knots), last[inverse]  # and each customer's expected transactions by the last day


def evaluate(fitter: RepeatPurchaseFitter, split: TimeSplit) -> dict[str, Any]:
    """Holdout accuracy of a fitted family: total and tracking error, weekly MAE, individual MAE."""
    n_days = split.days
    days = np.arange(1, n_days + 1, dtype=float)
    cum, each = _forecasts(fitter, split.summary, days)
    actual_cum = np.cumsum(split.daily_actual)
    total = float(actual_cum[-1])
    weeks = n_days // 7
    weekly_pred = np.diff(np.concatenate([[0.0], cum[6::7][:weeks]]))
    weekly_act = np.diff(np.concatenate([[0.0], actual_cum[6::7][:weeks]]))
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
        "cumulative_forecast": cum,
    }


def compare_families(
    fitters: dict[str, type[RepeatPurchaseFitter]],
    split: TimeSplit,
    source: str,
    starts: dict[str, dict[str, float]] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, RepeatPurchaseFitter]]:
    """Fit every family on the earlier part (from `starts[name]` when given) and score its holdout forecast; a
    family that cannot be fitted there is reported with its reason instead of a score."""
    from sim.errors import DataError

    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, RepeatPurchaseFitter] = {}
    x, t_x, T = histories(split.summary)
    for name, cls in fitters.items():
        try:
            f = cls().fit(x, t_x, T, source=source, start=(starts or {}).get(name))
        except DataError as exc:
            results[name] = {"fitted": False, "reason": exc.message}
            continue
        fitted[name] = f
        results[name] = {"fitted": True, **evaluate(f, split), "log_likelihood": f.log_likelihood_}
        results[name]["aic"] = 2 * len(f.param_names) - 2 * f.log_likelihood_
    return results, fitted


def compare_stayers(
    base: str,
    results: dict[str, dict[str, Any]],
    fitted: dict[str, RepeatPurchaseFitter],
    split: TimeSplit,
    source: str,
    screen: bool = True,
) -> str:
    """Add `base` with a never-dropout segment (`sim.calibration.stayers`) to the comparison, fitted on the same
    earlier part from `base`'s fit; returns its name. With `screen`, the share is fitted only when the score test
    at `base`'s fit says the data support it in sample (speed: the fit costs as much as the family's own); a
    share that is not supported, or runs to 0, is reported as not fitted, with the reason."""
    from sim.calibration.stayers import BOUNDARY_5PCT, score_test, with_stayers

    cls = with_stayers(families.FITTERS[base])
    if screen and base in fitted:
        stat = score_test(fitted[base], *histories(split.summary))
        if stat < BOUNDARY_5PCT:
            results[cls.family] = {
                "fitted": False,
                "score_test": stat,
                "reason": f"no never-dropout segment supported in sample (score test {stat:.2f}, under"
                f" {BOUNDARY_5PCT}, the 5% point for a share at 0)",
            }
            return cls.family
    start = {**fitted[base].params_, "stayer_odds": 0.1} if base in fitted else None
    more, more_fitted = compare_families(
        {cls.family: cls}, split, source, starts={cls.family: start} if start else None
    )
    if not more[cls.family]["fitted"]:
        more[cls.family]["reason"] = (
            f"no never-dropout segment in the data (its share's likelihood is flat or runs to 0: {more[cls.family]['reason']})"
        )
    results.update(more)
    fitted.update(more_fitted)
    if cls.family in more_fitted:
        results[cls.family]["stayer_share"] = more_fitted[cls.family].stayer_share
        if base in fitted:  # in sample: twice the log-likelihood gained by the share (1 degree of freedom)
            gain = more_fitted[cls.family].log_likelihood_ - fitted[base].log_likelihood_
            results[cls.family]["likelihood_ratio"] = 2.0 * gain
    return cls.family


def choose(results: dict[str, dict[str, Any]], default: str) -> str:
    """The family with the smallest holdout tracking error (the default when none could be scored)."""
    scored = {k: v["tracking_error"] for k, v in results.items() if v.get("fitted") and v["tracking_error"] is not None}
    return min(scored, key=scored.get) if scored else default


def monthly_table(
    fitter: RepeatPurchaseFitter, split: TimeSplit, cumulative: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Month by month of the holdout: the split customers' repeat orders, actual against the forecast
    (`cumulative`: the daily cumulative forecast `evaluate` computed, if at hand)."""
    days = np.arange(1, split.days + 1, dtype=float)
    cum = cumulative_forecast(fitter, split.summary, days) if cumulative is None else cumulative
    daily_pred = np.diff(np.concatenate([[0.0], cum]))
    dates = split.split + pd.to_timedelta(days, unit="D")
    month = month_index(dates)
    frame = pd.DataFrame({"actual": split.daily_actual, "forecast": daily_pred}, index=month).groupby(level=0).sum()
    return [
        {"month": str(m.date())[:7], "repeat_orders": int(row.actual), "repeat_orders_forecast": float(row.forecast)}
        for m, row in frame.iterrows()
    ]
