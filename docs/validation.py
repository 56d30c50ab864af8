"""Regenerate docs/validation.md (and its figure and figures file) from CDNOW, beside lifetimes' fitters.

    python docs/validation.py            # writes docs/validation.md, docs/validation_weekly.png, docs/validation.json

CDNOW_master (bundled in the lifetimes wheel): 23,570 customers who first bought in 1997-01..03; the
calibration period is 1997-01-01..1997-09-30 (39 weeks), the holdout the next 39 weeks. Each family is fitted
by `sim.calibration` and by lifetimes (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter) on the same
day-resolution summary; every figure is computed here the same way for both. `tests/test_validation.py`
checks that our figures do not get worse than the ones in validation.json.
"""

from __future__ import annotations

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

CUT = pd.Timestamp("1997-09-30")
WEEKS = 39
FAMILY_LABELS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto": "Pareto/NBD"}


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


def lifetimes_fits(split: backtest.TimeSplit) -> dict[str, object]:
    from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

    x, t_x, T = backtest.histories(split.summary)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in (("bgnbd", BetaGeoFitter), ("mbgnbd", ModifiedBetaGeoFitter), ("pareto", ParetoNBDFitter)):
            out[name] = cls().fit(x, t_x, T)
    return out


class _LifetimesAdapter:
    """lifetimes' fitted parameters behind our closed forms (the same figures for both)."""

    def __init__(self, family: str, fitted) -> None:
        self.inner = families.fitter_from_params(family, {k: float(v) for k, v in fitted.params_.items()})

    def conditional_expected_purchases(self, t, x, t_x, T):
        return self.inner.conditional_expected_purchases(t, x, t_x, T)


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


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tx = cdnow_transactions()
    split = split_of(tx)
    results, fitted = backtest.compare_families(families.FITTERS, split, "CDNOW")
    chosen = backtest.choose(results, families.DEFAULT)
    theirs = lifetimes_fits(split)
    figures: dict[str, dict] = {"ours": {}, "lifetimes": {}}
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
        lt = backtest.evaluate(_LifetimesAdapter(name, theirs[name]), split)
        figures["lifetimes"][name] = {
            "params_days": {k: float(v) for k, v in theirs[name].params_.items()},
            "total_error": lt["total_error"],
            "tracking_error": lt["tracking_error"],
            "individual_mae": lt["individual_mae"],
        }
    figures["chosen"] = chosen
    figures["holdout_actual"] = results[chosen]["holdout_repeat_transactions"]
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
    rows = []
    for name, label in FAMILY_LABELS.items():
        o, t = f["ours"][name], f["lifetimes"][name]
        rows.append(
            f"| {label} | {o['total_error']:+.1%} | {t['total_error']:+.1%} | {o['tracking_error']:.1%} |"
            f" {t['tracking_error']:.1%} | {o['individual_mae']:.4f} | {t['individual_mae']:.4f} | {o['log_likelihood']:,.1f} |"
        )
    freq = ["| calibration frequency | actual | " + " | ".join(FAMILY_LABELS.values()) + " |", "|---|---|---|---|---|"]
    for k in f["ours"]["mbgnbd"]["by_frequency"]:
        cells = [f"{f['ours'][n]['by_frequency'][k]['forecast']:.3f}" for n in FAMILY_LABELS]
        freq.append(f"| {k} | {f['ours']['mbgnbd']['by_frequency'][k]['actual']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(
        [
            "# Validation on real data: CDNOW",
            "",
            "Regenerated by `python docs/validation.py` (do not edit by hand); the figures are in `validation.json`",
            "and `tests/test_validation.py` keeps them from getting worse.",
            "",
            "CDNOW_master (the public CD retailer log bundled in the lifetimes wheel): 23,570 customers who first bought",
            "in January-March 1997. Calibration: 1997-01-01 .. 1997-09-30 (39 weeks); holdout: the next 39 weeks, the",
            f"same customers' {f['holdout_actual']:,.0f} repeat transactions (one per customer and day). Each family is fitted",
            "by `sim.calibration` and by lifetimes (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter) on the same",
            "day-resolution summary, and every figure below is computed the same way for both.",
            "",
            "| family | holdout error (ours) | (lifetimes) | tracking error (ours) | (lifetimes) | individual MAE (ours) | (lifetimes) | log-likelihood (ours) |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Holdout error: forecast over actual total minus 1. Tracking error: mean gap between the forecast and actual",
            "cumulative curves over the holdout, over the actual total (what `calibrate` chooses by). Individual MAE: mean",
            "absolute error of each customer's holdout transactions.",
            "",
            f"In-sample likelihood prefers MBG/NBD, the worst forecaster here; out of sample `calibrate` picks"
            f" **{FAMILY_LABELS[f['chosen']]}**.",
            "",
            "![weekly repeat transactions](validation_weekly.png)",
            "",
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
    )


if __name__ == "__main__":
    main()
