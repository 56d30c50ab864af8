"""Regenerate docs/validation.md (and its figure and figures file) from CDNOW, beside lifetimes' fitters.

    python docs/validation.py            # writes docs/validation.md, docs/validation_weekly.png, docs/validation.json

CDNOW_master (bundled in the lifetimes wheel): 23,570 customers who first bought in 1997-01..03; the
calibration period is 1997-01-01..1997-09-30 (39 weeks), the holdout the next 39 weeks. Each family is fitted
by `sim.calibration` on its summary and by lifetimes (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter) on
lifetimes' own (`summary_data_from_transaction_data`, whose T stops at the start of the cut-off day); every figure
is computed here the same way for both. Also: each family with a never-dropout segment (`sim.calibration.stayers`),
the holdout revenue with one shared order value and with Gamma-Gamma, and the seasonal index `calibrate` fits on
the whole 18 months. `tests/test_validation.py` checks that our figures do not get worse than the ones in
validation.json.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sim.calibration import backtest, families  # noqa: E402
from sim.calibration.stayers import BOUNDARY_5PCT, score_test  # noqa: E402

CUT = pd.Timestamp("1997-09-30")
WEEKS = 39
FAMILY_LABELS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto": "Pareto/NBD"}
STAYER_FIGURES = (
    "fitted",
    "reason",
    "total_error",
    "tracking_error",
    "individual_mae",
    "stayer_share",
    "likelihood_ratio",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cdnow_transactions() -> pd.DataFrame:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("lifetimes (dev extra) is not installed: pip install lifetimes==0.11.3")
    raw = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_master.txt"
    d = pd.read_csv(raw, sep=r"\s+", dtype=str)
    d["date"] = pd.to_datetime(d["date"], format="%Y%m%d")
    d["amount"] = d["dollar_value"].astype(float)
    return d.groupby(["customer_id", "date"], as_index=False)["amount"].sum()


def split_of(tx: pd.DataFrame) -> backtest.TimeSplit:
    end = CUT + pd.Timedelta(weeks=WEEKS)
    hold = tx[tx["date"] <= end]
    return backtest.time_split(hold, end, holdout_share=0.5)


def lifetimes_split(tx: pd.DataFrame, split: backtest.TimeSplit) -> backtest.TimeSplit:
    """The same split with lifetimes' own customer summary (its T ends at the start of the cut-off day)."""
    from lifetimes.utils import summary_data_from_transaction_data

    theirs = summary_data_from_transaction_data(
        tx[tx["date"] <= split.split], "customer_id", "date", observation_period_end=split.split, freq="D"
    )
    summary = split.summary.copy()
    aligned = theirs.reindex(summary["customer_id"])
    summary["frequency"], summary["recency"], summary["age"] = (
        aligned[c].to_numpy() for c in ("frequency", "recency", "T")
    )
    return dataclasses.replace(split, summary=summary)


def lifetimes_fits(split: backtest.TimeSplit) -> dict[str, object]:
    from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

    x, t_x, T = backtest.histories(split.summary)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in (("bgnbd", BetaGeoFitter), ("mbgnbd", ModifiedBetaGeoFitter), ("pareto", ParetoNBDFitter)):
            out[name] = cls().fit(x, t_x, T)
    return out


def conditional_by_frequency(split, each: np.ndarray, top: int = 7) -> dict[str, dict[str, float]]:
    x = split.summary["frequency"].to_numpy()
    out = {}
    for k in range(top + 1):
        sel = x >= k if k == top else x == k
        label = f"{k}+" if k == top else str(k)
        out[label] = {"actual": float(split.actual_per_customer[sel].mean()), "forecast": float(each[sel].mean())}
    return out


def weekly_path(fitter, tx: pd.DataFrame, split) -> tuple[np.ndarray, np.ndarray]:
    """Weekly repeat transactions over calibration and holdout: actual, and the model's expectation (each
    customer's unconditional expectation from the first purchase in the calibration part, then conditional)."""
    start = tx["date"].min()
    n_weeks = int(((split.cutoff - start).days + 1) // 7)
    firsts = tx.groupby("customer_id")["date"].transform("min")
    rep = tx[(tx["date"] > firsts) & tx["customer_id"].isin(split.summary["customer_id"])]
    week = ((rep["date"] - start).dt.days // 7).to_numpy()
    actual = np.bincount(week[week < n_weeks], minlength=n_weeks).astype(float)
    first_day = (split.split + pd.to_timedelta(split.summary["first_day"].to_numpy(), unit="D") - start).days.to_numpy()
    cal_weeks = int(((split.split - start).days + 1) // 7)
    ends = 7.0 * np.arange(1, cal_weeks + 1)
    elapsed = np.maximum(ends[None, :] - (first_day[:, None] + 1.0), 0.0)
    days, counts = np.unique(first_day, return_counts=True)
    elapsed = np.maximum(ends[None, :] - (days[:, None] + 1.0), 0.0)
    cum_cal = counts @ fitter.expected_repeat_purchases(elapsed)
    cal_part = np.diff(np.concatenate([[0.0], cum_cal]))
    hold = backtest.cumulative_forecast(fitter, split.summary, 7.0 * np.arange(1, n_weeks - cal_weeks + 1))
    hold_part = np.diff(np.concatenate([[0.0], hold]))
    return actual, np.concatenate([cal_part, hold_part])


def revenue_check(tx: pd.DataFrame, split: backtest.TimeSplit, each: np.ndarray) -> dict[str, object]:
    """Holdout revenue of the split's customers: each customer's expected transactions times one shared mean
    order value, and times Gamma-Gamma's conditional mean (both fitted on the calibration part)."""
    from sim.calibration.ordervalue import OrderValueFit, conditional_expected_value

    early = tx[tx["date"] <= split.split]
    value = OrderValueFit().fit(split.summary, early["amount"].to_numpy(dtype=float))
    later = tx[(tx["date"] > split.split) & (tx["date"] <= split.cutoff)]
    per = later.groupby("customer_id")["amount"].sum().reindex(split.summary["customer_id"], fill_value=0.0)
    actual = per.to_numpy(dtype=float)
    g = value.gamma_gamma_
    own = conditional_expected_value(
        g["p"], g["q"], g["gamma"], split.summary["n_positive"].to_numpy(), split.summary["value_sum"].to_numpy()
    )
    out: dict[str, object] = {"actual": float(actual.sum()), "better_fit": value.model_, "aic": value.aic}
    for name, values in (("shared_mean", np.full(len(actual), value.mean_)), ("gamma_gamma", own)):
        forecast = each * values
        out[name] = {
            "total_error": float(forecast.sum() / actual.sum() - 1.0),
            "individual_mae": float(np.mean(np.abs(forecast - actual))),
        }
    return out


def seasonal_fit() -> dict[str, object]:
    """`calibrate` on the whole CDNOW_master export (18 months): the seasonal index fitted jointly."""
    import tempfile

    from sim.calibration.calibrate import Assumptions, calibrate

    spec = importlib.util.find_spec("lifetimes")
    raw = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_master.txt"
    d = pd.read_csv(raw, sep=r"\s+", dtype=str)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cdnow_orders.csv"
        d.rename(columns={"date": "order_date", "dollar_value": "amount"})[
            ["customer_id", "order_date", "amount"]
        ].to_csv(path, index=False)
        cal = calibrate(path, assumptions=Assumptions(currency="USD"))
    season = cal.seasonality.summary() if cal.seasonality is not None else None
    return {"family": cal.repeat.family, "params_days": cal.repeat.params_, "seasonality": season}


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tx = cdnow_transactions()
    split = split_of(tx)
    results, fitted = backtest.compare_families(families.FITTERS, split, "CDNOW")
    chosen = backtest.choose(results, families.DEFAULT)
    their_split = lifetimes_split(tx, split)
    theirs = lifetimes_fits(their_split)
    figures: dict[str, dict] = {"ours": {}, "lifetimes": {}, "stayers": {}}
    for name in families.FITTERS:
        r = results[name]
        figures["ours"][name] = {
            "params_days": fitted[name].params_,
            "total_error": r["total_error"],
            "tracking_error": r["tracking_error"],
            "individual_mae": r["individual_mae"],
            "log_likelihood": r["log_likelihood"],
            "by_frequency": conditional_by_frequency(split, r["per_customer_forecast"]),
        }
        lt = backtest.evaluate(  # lifetimes' fitted values behind our closed forms: the same figures for both
            families.fitter_from_params(name, {k: float(v) for k, v in theirs[name].params_.items()}), their_split
        )
        figures["lifetimes"][name] = {
            "params_days": {k: float(v) for k, v in theirs[name].params_.items()},
            "total_error": lt["total_error"],
            "tracking_error": lt["tracking_error"],
            "individual_mae": lt["individual_mae"],
        }
    for name in families.FITTERS:
        score = score_test(fitted[name], *backtest.histories(split.summary))
        mixed = backtest.compare_stayers(name, results, fitted, split, "CDNOW", screen=False)
        r = results[mixed]
        figures["stayers"][name] = {**{k: r.get(k) for k in STAYER_FIGURES}, "score_test": score}
    figures["chosen"] = chosen
    figures["holdout_actual"] = results[chosen]["holdout_repeat_transactions"]
    figures["revenue"] = revenue_check(tx, split, results[chosen]["per_customer_forecast"])
    figures["seasonal"] = seasonal_fit()
    actual, model = weekly_path(fitted[chosen], tx, split)
    fig, ax = plt.subplots(figsize=(9, 4))
    weeks = np.arange(len(actual))
    ax.plot(weeks, actual, label="actual", color="black")
    ax.plot(weeks, model, label=f"{FAMILY_LABELS[chosen]} (fitted on weeks 1-39)", color="tab:blue")
    ax.axvline(WEEKS, color="grey", linestyle="--", label="end of calibration")
    ax.set_title("CDNOW: weekly repeat transactions of the 23,570 customers, actual vs model")
    ax.set_xlabel("week since 1997-01-01")
    ax.set_ylabel("repeat transactions [per week]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "validation_weekly.png", dpi=110)
    (HERE / "validation.json").write_text(json.dumps(figures, indent=2, default=float) + "\n", encoding="utf-8")
    (HERE / "validation.md").write_text(render(figures), encoding="utf-8")
    print(render(figures))


def render(f: dict) -> str:
    return "\n".join(
        [
            *_families_section(f),
            *_stayers_section(f),
            *_revenue_section(f),
            *_frequency_section(f),
            *_seasonal_section(f),
        ]
    )


def _families_section(f: dict) -> list[str]:
    rows = []
    for name, label in FAMILY_LABELS.items():
        o, t = f["ours"][name], f["lifetimes"][name]
        rows.append(
            f"| {label} | {o['total_error']:+.1%} | {t['total_error']:+.1%} | {o['tracking_error']:.1%} |"
            f" {t['tracking_error']:.1%} | {o['individual_mae']:.4f} | {t['individual_mae']:.4f} | {o['log_likelihood']:,.1f} |"
        )
    return [
        "# Validation on real data: CDNOW",
        "",
        "Regenerated by `python docs/validation.py` (do not edit by hand); the figures are in `validation.json`",
        "and `tests/test_validation.py` keeps them from getting worse.",
        "",
        "CDNOW_master (the public CD retailer log bundled in the lifetimes wheel): 23,570 customers who first bought",
        "in January-March 1997. Calibration: 1997-01-01 .. 1997-09-30 (39 weeks); holdout: the next 39 weeks, the",
        f"same customers' {f['holdout_actual']:,.0f} repeat transactions (one per customer and day). Each family is fitted",
        "by `sim.calibration` on its customer summary and by lifetimes (BetaGeoFitter, ModifiedBetaGeoFitter,",
        "ParetoNBDFitter) on lifetimes' own (`summary_data_from_transaction_data`), and every figure below is computed",
        "the same way for both.",
        "",
        "| family | holdout error (ours) | (lifetimes) | tracking error (ours) | (lifetimes) | individual MAE (ours) | (lifetimes) | log-likelihood (ours) |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Holdout error: forecast over actual total minus 1. Tracking error: mean gap between the forecast and actual",
        "cumulative curves over the holdout, over the actual total (what `calibrate` chooses by). Individual MAE: mean",
        "absolute error of each customer's holdout transactions.",
        "",
        "The two summaries differ by one day of age: an export has day resolution, and our T runs to the end of the",
        "cut-off day (whose purchases are counted), lifetimes' to its start. On synthetic exports, where the truth is",
        "known, lifetimes' count makes holdout forecasts 1.2-1.6% too high and ours is within 0.2% (see",
        "`sim.calibration.summary.summarize`); on CDNOW, where every family under-forecasts a late-1997 rise, the",
        "longer T lowers the forecasts by one to two points, so lifetimes' column looks better there for that reason"
        + (
            " (and ours has the lower individual MAE for every family)."
            if all(f["ours"][n]["individual_mae"] <= f["lifetimes"][n]["individual_mae"] for n in FAMILY_LABELS)
            else "."
        ),
        "",
        f"In-sample likelihood prefers MBG/NBD; out of sample `calibrate` picks **{FAMILY_LABELS[f['chosen']]}**"
        " among the families the model simulates.",
        "",
        "![weekly repeat transactions](validation_weekly.png)",
        "",
    ]


def _stayers_section(f: dict) -> list[str]:
    rows = []
    for name, label in FAMILY_LABELS.items():
        m, o = f["stayers"][name], f["ours"][name]
        if not m["fitted"]:
            rows.append(f"| {label} + never-dropout segment | not supported: {m['reason']} | | | | | |")
            continue
        rows.append(
            f"| {label} + never-dropout segment | {m['stayer_share']:.1%} | {m['likelihood_ratio']:.2f} |"
            f" {m['score_test']:.2f} |"
            f" {m['total_error']:+.1%} ({o['total_error']:+.1%}) | {m['tracking_error']:.1%} ({o['tracking_error']:.1%}) |"
            f" {m['individual_mae']:.4f} ({o['individual_mae']:.4f}) |"
        )
    better = [
        n
        for n in FAMILY_LABELS
        if f["stayers"][n]["fitted"] and f["stayers"][n]["tracking_error"] < f["ours"][n]["tracking_error"]
    ]
    supported = [FAMILY_LABELS[n] for n in better if f["stayers"][n]["likelihood_ratio"] > BOUNDARY_5PCT]
    weak = [FAMILY_LABELS[n] for n in better if f["stayers"][n]["likelihood_ratio"] <= BOUNDARY_5PCT]
    support = (
        (f" in sample the share is supported for {', '.join(supported)}" if supported else "")
        + (" and" if supported and weak else "")
        + (f" not supported (under the 5% point) for {', '.join(weak)}" if weak else "")
    )
    return [
        "## A segment that never drops out",
        "",
        "Each family mixed with a share of customers who never drop out (`sim.calibration.stayers`), fitted on the same",
        "39 weeks; in brackets the family alone. Likelihood ratio: twice the log-likelihood the share gains in sample;",
        "score test: the same question asked at the family's own fit, without fitting the share (for a share at its",
        f"boundary 0 both have {BOUNDARY_5PCT} as their 5% point).",
        "",
        "| model | share of never-dropouts | likelihood ratio | score test | holdout error | tracking error | individual MAE |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        (
            f"The segment improves the holdout tracking of {', '.join(FAMILY_LABELS[n] for n in better)};{support}."
            " `calibrate` fits it on the best family when the score test supports it in sample, and keeps it when"
            " it then forecasts better (the scenario carries it as `repeat_purchase.never_dropout_share`)."
            if better
            else "The segment does not improve any family's holdout forecast here."
        ),
        "",
    ]


def _revenue_section(f: dict) -> list[str]:
    r = f["revenue"]
    return [
        "## Holdout revenue: one order value, or Gamma-Gamma",
        "",
        f"The same customers' holdout revenue (${r['actual']:,.0f}), forecast as each customer's expected transactions",
        f"({FAMILY_LABELS[f['chosen']]}) times one shared mean order value, or times the customer's Gamma-Gamma",
        "conditional mean (Fader, Hardie & Lee 2005, eq. 5), both fitted on the calibration part:",
        "",
        "| order value | holdout revenue error | individual MAE [$] |",
        "|---|---|---|",
        f"| one shared mean | {r['shared_mean']['total_error']:+.1%} | {r['shared_mean']['individual_mae']:.2f} |",
        f"| Gamma-Gamma | {r['gamma_gamma']['total_error']:+.1%} | {r['gamma_gamma']['individual_mae']:.2f} |",
        "",
        f"AIC on the calibration part's transaction values: Gamma {r['aic']['gamma']:,.0f}, Gamma-Gamma"
        f" {r['aic']['gamma-gamma']:,.0f}; `calibrate` uses **{r['better_fit']}** (the lower) in forecasts, CLV and the",
        "snapshot customers' order values.",
        "",
    ]


def _frequency_section(f: dict) -> list[str]:
    freq = ["| calibration frequency | actual | " + " | ".join(FAMILY_LABELS.values()) + " |", "|---|---|---|---|---|"]
    for k in f["ours"]["mbgnbd"]["by_frequency"]:
        cells = [f"{f['ours'][n]['by_frequency'][k]['forecast']:.3f}" for n in FAMILY_LABELS]
        freq.append(f"| {k} | {f['ours']['mbgnbd']['by_frequency'][k]['actual']:.3f} | " + " | ".join(cells) + " |")
    return [
        "## Conditional expectation by calibration frequency",
        "",
        "Mean holdout transactions per customer, grouped by their repeat transactions in the calibration period:",
        "",
        *freq,
        "",
        "Every family under-forecasts the one-time buyers (frequency 0) and the holdout as a whole: CDNOW's",
        "customers bought more in late 1997 than a stationary model expects (see the weekly plot).",
        "",
    ]


def _seasonal_section(f: dict) -> list[str]:
    sea = f["seasonal"]
    if not sea.get("seasonality"):
        return []
    idx, se = sea["seasonality"]["index"], sea["seasonality"]["standard_errors"]
    return [
        "## The seasonal index on a real log",
        "",
        f"`sim calibrate` on the whole export (1997-01 .. 1998-06, {sea['seasonality']['months_observed']} months) fits the",
        f"monthly index jointly with the repeat-purchase model ({FAMILY_LABELS.get(sea['family'], sea['family'])}",
        "on the seasonal clock), with standard errors:",
        "",
        "| " + " | ".join(MONTHS) + " |",
        "|" + "---|" * 12,
        "| " + " | ".join(f"{v:.2f}" for v in idx) + " |",
        "| " + " | ".join(f"({v:.2f})" for v in se) + " |",
        "",
        f"November ({idx[10]:.2f}) is the holiday peak, August-September ({idx[7]:.2f}, {idx[8]:.2f}) the summer trough.",
        f"February-March ({idx[1]:.2f}, {idx[2]:.2f}) are the weeks right after this single cohort's first purchases",
        "(January-March 1997), when its customers buy again faster than a stationary model expects: on one cohort",
        "the index cannot tell that from the season, so read those two months with care.",
        "",
    ]


if __name__ == "__main__":
    main()
