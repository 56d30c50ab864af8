"""Forecasts: the closed form agrees with posterior Monte Carlo and with the agent engine; no engine runs for a
base without a plan; the bands hold the truth about 90% of the time on repeated synthetic exports; the CLI
writes the contract columns; and on real data (CDNOW, bundled in the lifetimes wheel) the holdout error is bounded.

Real-data bound: calibrating on the first 39 weeks of the full CDNOW master log (23,570 customers,
1997-01-01..1997-09-30) and forecasting the next 39 weeks, the cumulative repeat transactions of those
customers are forecast within 25% by the family the scenario carries (docs/validation.md has every family).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.analysis import forecast as forecast_module
from sim.analysis.forecast import FORECAST_COLUMNS, closed_form_applies, expected_base_repeat, forecast, futures
from sim.calibration import families, mbgnbd
from sim.calibration.calibrate import Assumptions, calibrate
from sim.calibration.summary import summarize
from sim.calibration.writer import write_calibration
from sim.cli import app
from sim.model.scenario import load_scenario

EXPORT = Path(__file__).resolve().parents[1] / "data" / "samples" / "client_export"
CDNOW_BOUND = 0.25
runner = CliRunner()


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """The sample export calibrated without a spend log (no plan), up to 2025-09-30 (a month-end cut-off)."""
    folder = tmp_path_factory.mktemp("cal")
    cal = calibrate(EXPORT / "orders.csv", until="2025-09-30", assumptions=Assumptions(currency="KRW"))
    path, _ = write_calibration(cal, folder / "client.yaml")
    return load_scenario(path), cal


def test_closed_form_matches_posterior_monte_carlo(calibrated):
    """Draw each snapshot customer from the posterior (as sim.model.base does) and let them buy for 120 days."""
    scenario, cal = calibrated
    rp = scenario.repeat_purchase
    snap = cal.snapshot
    x, t_x, T = (snap[c].to_numpy(dtype=float) for c in ("frequency", "recency", "age"))
    rng = np.random.default_rng(7)
    params = np.tile(families.params_of(rp), (20, 1))
    orders, _ = futures(families.module(rp.model), params, x, t_x, T, np.ones(len(x)), 120, rng)
    totals = orders.sum(axis=1)
    closed = float(expected_base_repeat(scenario, np.array([120.0]))[0])
    se = np.std(totals, ddof=1) / np.sqrt(len(totals))
    assert abs(totals.mean() - closed) < 4 * se + 0.005 * closed, (totals.mean(), closed, se)


def test_closed_form_and_agent_engine_agree(calibrated):
    from sim.engines import simulate

    scenario, _ = calibrated
    assert closed_form_applies(scenario)
    run = scenario.with_changes({"simulation.horizon_months": 4})
    result = simulate(run, engine="agent", seed=3, replications=4, keep_orders=False)
    totals = [
        float((r.daily["orders"] - r.daily["orders_acquired"] - r.daily["reactivations"]).iloc[:91].sum())
        for r in result.meta["replication_results"]
    ]
    closed = float(expected_base_repeat(scenario, np.array([91.0]))[0])
    se = np.std(totals, ddof=1) / np.sqrt(len(totals))
    assert abs(np.mean(totals) - closed) < 4 * se + 0.01 * closed, (np.mean(totals), closed, se)


def test_base_without_a_plan_runs_no_engine(calibrated, monkeypatch):
    scenario, _ = calibrated

    def no_engine(*args, **kwargs):
        raise AssertionError("no engine should run for the existing base alone")

    monkeypatch.setattr(forecast_module, "_engine_runs", no_engine)
    table = forecast(scenario, 13, draws=50)
    assert not table.attrs["engine_ran"] and (table["new_customers"] == 0).all()
    assert (table["base_repeat_method"] == "closed form").all()
    assert (table["base_repeat_orders_p05"] <= table["base_repeat_orders"]).all()
    assert (table["base_repeat_orders"] <= table["base_repeat_orders_p95"]).all()
    assert (table["revenue"] > 0).all() and np.isfinite(table.select_dtypes("number").to_numpy()).all()


@pytest.mark.slow
def test_bands_hold_the_truth_about_ninety_percent_of_the_time():
    """60 synthetic MBG/NBD exports: fit on a year, 90% band of the next 26 weeks' repeat transactions.

    With 60 exports the observed coverage of a true 90% band has a standard deviation of about 4 points."""
    truth = (0.8, 60.0, 1.0, 3.0)
    hits = []
    rng = np.random.default_rng(2026)
    for _ in range(60):
        cust, day = mbgnbd.simulate_transactions(1500, *truth, 365 + 182, rng, acquisition_days=240)
        tx = pd.DataFrame(
            {"customer_id": cust.astype(str), "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")}
        )
        tx = tx.drop_duplicates().assign(amount=1.0)
        cut = pd.Timestamp("2024-01-01") + pd.Timedelta(days=364)
        s = summarize(tx[tx["date"] <= cut], cut)
        actual = int((tx["date"] > cut).sum())
        x, t_x, T = (s[c].to_numpy(dtype=float) for c in ("frequency", "recency", "age"))
        fit = mbgnbd.MBGNBDFitter().fit(x, t_x, T)
        params = fit.draw_params(200, rng)
        orders, _ = futures(mbgnbd, params, x, t_x, T, np.ones(len(x)), 182, rng)
        lo, hi = np.percentile(orders.sum(axis=1), [5, 95])
        hits.append(lo <= actual <= hi)
    coverage = float(np.mean(hits))
    print(f"90% band coverage over 60 synthetic exports: {coverage:.0%}")
    assert 0.78 <= coverage <= 0.99, coverage


def test_cli_forecast_writes_weekly_rows_with_bands(calibrated, tmp_path):
    scenario, _ = calibrated
    out = tmp_path / "forecast.csv"
    result = runner.invoke(app, ["forecast", str(scenario.source_path), "--weeks", "6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    f = pd.read_csv(out)
    assert list(f.columns[:1]) == ["week_start"]
    for col in FORECAST_COLUMNS[1:]:
        assert col in f and f"{col}_p05" in f and f"{col}_p95" in f
        assert (f[f"{col}_p05"] <= f[f"{col}_p95"]).all()
    assert len(f) == 6
    assert f["week_start"].iloc[0] == "2025-10-01" and f["week_start"].iloc[1] == "2025-10-08"
    assert "closed form" in result.stdout and "e+" not in result.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_forecast_with_a_plan_simulates_the_new_customers(tmp_path):
    """A mid-month cut-off and a front-end budget: the engine runs for new customers only."""
    cal = calibrate(
        EXPORT / "orders.csv",
        until="2025-11-14",
        assumptions=Assumptions(currency="KRW"),
        plan=__import__("sim.calibration.calibrate", fromlist=["Plan"]).Plan(budget=10_000_000.0),
    )
    path, _ = write_calibration(cal, tmp_path / "mid.yaml")
    table = forecast(load_scenario(path), 3, draws=30)
    assert table["week_start"].tolist() == ["2025-11-15", "2025-11-22", "2025-11-29"]
    assert table.attrs["engine_ran"] and (table["new_customers"] > 0).all()
    assert (table["orders"] > table["base_repeat_orders"]).all()


# -- real data: CDNOW ----------------------------------------------------------------------------------


def _cdnow_csv(folder: Path) -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("lifetimes (dev extra) is not installed: pip install lifetimes==0.11.3")
    raw = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_master.txt"
    d = pd.read_csv(raw, sep=r"\s+", dtype=str)
    out = folder / "cdnow_orders.csv"
    d.rename(columns={"date": "order_date", "dollar_value": "amount"})[["customer_id", "order_date", "amount"]].to_csv(
        out, index=False
    )
    return out


def test_cdnow_holdout_forecast_error_is_bounded(tmp_path):
    orders = _cdnow_csv(tmp_path)
    cal = calibrate(orders, until="1997-09-30", assumptions=Assumptions(currency="USD"))
    path, _ = write_calibration(cal, tmp_path / "cdnow.yaml")
    scenario = load_scenario(path)
    assert cal.diagnostics["data"]["customers"] == 23570
    weeks = 39
    cum = expected_base_repeat(scenario, 7.0 * np.arange(1, weeks + 1))
    d = pd.read_csv(orders, dtype={"customer_id": str, "order_date": str})
    d["date"] = pd.to_datetime(d["order_date"], format="%Y%m%d")
    hold = d[(d["date"] > "1997-09-30") & (d["date"] < pd.Timestamp("1997-10-01") + pd.Timedelta(weeks=weeks))]
    hold = hold.drop_duplicates(["customer_id", "date"])
    assert set(hold["customer_id"]) <= set(cal.snapshot["customer_id"])
    week = (hold["date"] - pd.Timestamp("1997-10-01")).dt.days // 7
    actual = np.cumsum(np.bincount(week, minlength=weeks))
    error = cum[-1] / actual[-1] - 1.0
    print(f"CDNOW 39-week holdout: forecast {cum[-1]:.0f}, actual {actual[-1]}, error {error:+.1%}")
    assert abs(error) <= CDNOW_BOUND, error
    assert np.max(np.abs(cum - actual)) <= CDNOW_BOUND * actual[-1]
