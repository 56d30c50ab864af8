"""Forecasts: the closed form agrees with posterior Monte Carlo and with the agent engine; no engine runs for a
base without a plan; the bands hold the truth about 90% of the time on repeated synthetic exports; the CLI
writes the contract columns; and on real data (CDNOW, bundled in the lifetimes wheel) the holdout error is bounded.

Real-data bound: calibrating on the first 39 weeks of the full CDNOW master log (23,570 customers,
1997-01-01..1997-09-30) and forecasting the next 39 weeks, the cumulative repeat transactions of those
customers are forecast within 25% by the family the scenario carries (docs/validation.md has every family).
"""

from __future__ import annotations

import importlib.util
from datetime import date
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


EXPORTS, CUSTOMERS, DRAWS = 100, 1000, 100  # the coverage test's synthetic exports, their customers, parameter draws


SEASON = [1.3, 1.2, 1.0, 0.9, 0.8, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.1]  # January .. December, mean 1
SALE = {"name": "11.11", "start": date(2025, 11, 11), "end": date(2025, 11, 17), "uplift_customers": 1.0}


def _with_calendar(scenario, folder: Path, index=SEASON, events=(SALE,), clock_columns=False):
    """The calibrated scenario with a calendar for the forecast weeks; without `clock_columns` its snapshot
    keeps the histories in days only, as the engines read them."""
    snap = pd.read_csv(scenario.resolve(scenario.market.existing.snapshot), dtype={"customer_id": str})
    if not clock_columns:
        snap = snap.drop(columns=["recency_clock", "age_clock"], errors="ignore")
    path = folder / f"snapshot_{len(list(folder.iterdir()))}.csv"
    snap.to_csv(path, index=False)
    changes = {"market.existing.snapshot": str(path), "events": [dict(e) for e in events]}
    changes["seasonality"] = None if index is None else {"index": list(index)}
    return scenario.with_changes(changes)


def test_seasonal_closed_form_is_the_time_change_of_the_posterior_simulation(calibrated, tmp_path):
    """On the seasonal clock (index and a one-week sale doubling purchase rates), the closed form at the
    cumulative intensity equals the mean of posterior futures simulated on that clock, week by week."""
    scenario = _with_calendar(calibrated[0], tmp_path, clock_columns=True)
    x, t_x, T, values, _ = forecast_module.snapshot_histories(scenario)
    multiplier, price = forecast_module.future_days(scenario, 91)
    assert multiplier.max() == pytest.approx(2.0 * 1.2) and price.min() == 1.0
    rng = np.random.default_rng(5)
    params = np.tile(families.params_of(scenario.repeat_purchase), (40, 1))
    module = families.module(scenario.repeat_purchase.model)
    orders, _ = futures(module, params, x, t_x, T, values, 91, rng, np.cumsum(multiplier))
    weekly = orders.reshape(40, 13, 7).sum(axis=2)
    closed = np.diff(expected_base_repeat(scenario, 7.0 * np.arange(14)))
    se = weekly.std(axis=0, ddof=1) / np.sqrt(40)
    assert np.all(np.abs(weekly.mean(axis=0) - closed) < 4 * se + 0.01 * closed), (weekly.mean(axis=0), closed)
    sale_week = (date(2025, 11, 14) - date(2025, 10, 1)).days // 7  # six of its seven days in the sale
    flat = np.diff(expected_base_repeat(_with_calendar(calibrated[0], tmp_path, index=None, events=()), [0, 91]))
    assert closed[sale_week] > 1.5 * closed[sale_week - 2] and closed.sum() != pytest.approx(flat[0], rel=1e-3)


def test_flat_index_gives_the_forecast_without_a_calendar_bit_for_bit(calibrated, tmp_path):
    plain = _with_calendar(calibrated[0], tmp_path, index=None, events=())
    flat = _with_calendar(calibrated[0], tmp_path, index=[1.0] * 12, events=())
    a, b = forecast(plain, 8, draws=20, seed=1), forecast(flat, 8, draws=20, seed=1)
    pd.testing.assert_frame_equal(a, b)


def test_seasonal_closed_form_agrees_with_the_agent_engine(calibrated, tmp_path):
    """The agent engine applies the season and the sale to each customer's daily purchase chance; its base
    repeat orders month by month agree with the closed form at the seasonal clock (MBG/NBD: the time change
    is exact)."""
    from sim.engines import simulate

    scenario = _with_calendar(calibrated[0], tmp_path).with_changes({"simulation.horizon_months": 3})
    assert closed_form_applies(scenario) and scenario.repeat_purchase.model == "mbgnbd"
    result = simulate(scenario, engine="agent", seed=4, replications=4, keep_orders=False)
    bounds = [0, 31, 61, 92]  # October, November, December 2025
    runs = np.array(
        [
            np.add.reduceat(
                (r.daily["orders"] - r.daily["orders_acquired"] - r.daily["reactivations"]).to_numpy(), bounds[:-1]
            )
            for r in result.meta["replication_results"]
        ]
    )
    closed = np.diff(expected_base_repeat(scenario, np.array(bounds, dtype=float)))
    se = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(runs.mean(axis=0) - closed) < 4 * se + 0.01 * closed), (runs.mean(axis=0), closed, se)


def test_a_discount_lowers_revenue_not_orders(calibrated, tmp_path):
    sale = dict(SALE, discount=0.25)
    base = forecast(_with_calendar(calibrated[0], tmp_path), 8, draws=20, seed=2)
    discounted = forecast(_with_calendar(calibrated[0], tmp_path, events=(sale,)), 8, draws=20, seed=2)
    week = (date(2025, 11, 14) - date(2025, 10, 1)).days // 7  # Nov 12-18: six of the sale's seven days
    assert np.allclose(discounted["base_repeat_orders"], base["base_repeat_orders"])
    share = (discounted["revenue"] / base["revenue"]).to_numpy()
    assert np.allclose(share[: week - 1], 1.0) and np.allclose(share[week + 1 :], 1.0)
    assert 0.74 < share[week] < 0.8 < share[week - 1] < 1.0  # orders doubled at 75% of the price


@pytest.mark.slow
def test_bands_hold_the_truth_about_ninety_percent_of_the_time():
    """100 synthetic MBG/NBD exports at day resolution (one transaction per customer and day, as an export shows
    them), 1,000 customers each: fit on a year, band of the next 26 weeks' repeat transactions from 100 parameter
    draws, as `forecast` computes it.

    Three checks, each with 3.5 standard deviations of its own sampling error (a false alarm once in about 2,000
    seeds). Coverage: the 5th-95th percentiles of 100 draws hold a calibrated truth 88.1% of the time (order
    statistics, computed below), +- 3.2 points (binomial) over 100 exports. Spread: the standardized errors
    z = (actual - forecast) / spread have a standard deviation of 1 +- 0.07; a band of simulation noise alone
    (the fitted values without their sampling distribution) gives about 1.32 and 82% coverage on such exports,
    beyond the spread check's bound of 1.25 (the coverage check alone would pass it). Bias: the mean z is
    0 +- 0.1. (Which end of the cut-off day T counts to is
    too small a bias for 100 exports; `summarize`'s docstring gives its measurement.)"""
    truth = (0.8, 60.0, 1.0, 3.0)
    rng = np.random.default_rng(2026)
    u = rng.random((50_000, DRAWS + 1))  # the coverage of percentiles of DRAWS draws when the truth is one more draw
    lo, hi = np.percentile(u[:, :DRAWS], [5, 95], axis=1)
    nominal = float(np.mean((lo <= u[:, DRAWS]) & (u[:, DRAWS] <= hi)))
    hits, z = [], []
    for _ in range(EXPORTS):
        cust, day = mbgnbd.simulate_transactions(CUSTOMERS, *truth, 365 + 182, rng, acquisition_days=240)
        tx = pd.DataFrame(
            {"customer_id": cust.astype(str), "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")}
        )
        tx = tx.drop_duplicates().assign(amount=1.0)
        cut = pd.Timestamp("2024-01-01") + pd.Timedelta(days=364)
        s = summarize(tx[tx["date"] <= cut], cut)
        actual = int((tx["date"] > cut).sum())
        x, t_x, T = (s[c].to_numpy(dtype=float) for c in ("frequency", "recency", "age"))
        fit = mbgnbd.MBGNBDFitter().fit(x, t_x, T)
        orders, _ = futures(mbgnbd, fit.draw_params(DRAWS, rng), x, t_x, T, np.ones(len(x)), 182, rng)
        totals = orders.sum(axis=1)
        lo, hi = np.percentile(totals, [5, 95])
        hits.append(lo <= actual <= hi)
        z.append((actual - totals.mean()) / totals.std())
    coverage, z = float(np.mean(hits)), np.asarray(z)
    print(
        f"90% band coverage over {EXPORTS} synthetic exports: {coverage:.1%} (calibrated: {nominal:.1%});"
        f" standardized errors: mean {z.mean():+.3f}, standard deviation {z.std(ddof=1):.3f}"
    )
    assert abs(coverage - nominal) <= 3.5 * (nominal * (1 - nominal) / EXPORTS) ** 0.5, coverage
    assert abs(z.std(ddof=1) - 1.0) <= 3.5 / np.sqrt(2 * EXPORTS), z.std(ddof=1)
    assert abs(z.mean()) <= 3.5 / np.sqrt(EXPORTS), z.mean()


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


def test_new_customer_bands_hold_the_acquisition_curves_uncertainty(tmp_path):
    """Without a spend log the new-customer rate is a Poisson count of the last 91 days' new customers: its
    relative error 1/sqrt(n) widens the band of new customers beyond a single future's Poisson noise, by as
    much as the delta method says; curves edited after calibration have no such uncertainty to draw."""
    from sim.calibration.calibrate import Plan

    cal = calibrate(
        EXPORT / "orders.csv", until="2025-11-14", assumptions=Assumptions(currency="KRW"), plan=Plan(budget=1e7)
    )
    path, _ = write_calibration(cal, tmp_path / "plan.yaml")
    scenario = load_scenario(path)
    table = forecast(scenario, 13, draws=250, seed=3)
    reach = scenario.channels["unattributed"].reach.max_reach
    edited = forecast(scenario.with_changes({"channels.unattributed.reach.max_reach": reach * 1.001}), 13, draws=250)
    assert "250 draws of the fitted acquisition curves" in table.attrs["method"]
    assert "noise of single futures only (the acquisition curves were edited)" in edited.attrs["method"]
    total = float(table["new_customers"].sum())
    rel = scenario.calibration["acquisition"]["log_covariance"][0][0] ** 0.5
    sd = float(np.std(table.attrs["new_customers_total_draws"], ddof=1))
    sd_edited = float(np.std(edited.attrs["new_customers_total_draws"], ddof=1))
    assert sd == pytest.approx(np.sqrt(total + (rel * total) ** 2), rel=0.15), (sd, total, rel)
    assert sd_edited == pytest.approx(np.sqrt(total), rel=0.15) and sd > 1.2 * sd_edited


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


def test_the_method_line_says_what_the_draws_vary_and_why_the_curves_do_not():
    """An uncalibrated sample with a plan: the draws vary the repeat-purchase parameters only, and the line says
    why the acquisition curves stay fixed (not 'draws of the no fitted acquisition curves')."""
    sample = Path(__file__).resolve().parents[1] / "data" / "samples" / "scenarios" / "early_stage_d2c.yaml"
    method = forecast(load_scenario(sample), 2, draws=20, seed=1).attrs["method"]
    assert "20 draws of the repeat-purchase parameters" in method
    assert "acquisition curves fixed: no fitted acquisition curves" in method
    assert "draws of the no " not in method


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
