"""Calibration: the MBG/NBD fit against published figures, parameter recovery, and the written scenario.

Recovery tolerance (stated in data/samples/client_export/TRUE_PARAMETERS.md): each of r, alpha, a, b
within 3 standard errors of the truth and within 30% of it; order-value mean within 3%, cv within 10%.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.calibration import mbgnbd
from sim.calibration.calibrate import MBGNBDFit, calibrate, summarize, write_calibration
from sim.cli import app
from sim.model.base import existing_customers
from sim.model.scenario import load_scenario

EXPORT = Path(__file__).resolve().parents[1] / "data" / "samples" / "client_export"
TRUTH = json.loads((EXPORT / "TRUE_PARAMETERS.json").read_text())
runner = CliRunner()


def lifetimes_dataset(name: str) -> Path:
    """A data file bundled in the lifetimes wheel, found without importing lifetimes (its fitters break
    on current pandas/scipy; only its data are used)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("lifetimes (dev extra) is not installed: pip install lifetimes==0.11.3")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / name


# -- the model against published figures ------------------------------------------------------------


def test_fit_matches_btydplus_on_cdnow_summary():
    """lifetimes' own test (test_params_out_is_close_to_BTYDplus): r 0.525, alpha 6.183 (weeks), a 0.891,
    b 1.614 on its bundled CDNOW summary of 2,357 customers."""
    d = pd.read_csv(lifetimes_dataset("cdnow_customers_summary.csv"))
    fit = MBGNBDFit().fit(d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy())
    got = [fit.params_[k] for k in mbgnbd.PARAM_NAMES]
    np.testing.assert_allclose(got, [0.525, 6.183, 0.891, 1.614], atol=1.5e-3)
    assert all(np.isfinite(list(fit.standard_errors_.values())))


def test_day_summary_of_raw_cdnow_sample_gives_the_same_fit_in_days():
    """Our transaction summary (days) of the raw CDNOW sample gives the same estimates, alpha x 7."""
    raw = pd.read_csv(
        lifetimes_dataset("CDNOW_sample.txt"), sep=r"\s+", header=None, names=["id", "id2", "date", "n", "value"]
    )
    tx = pd.DataFrame(
        {"customer_id": raw["id"].astype(str), "date": pd.to_datetime(raw["date"].astype(str)), "amount": raw["value"]}
    )
    tx = tx[tx["date"] <= "1997-09-30"].groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    s = summarize(tx, pd.Timestamp("1997-09-30"))
    fit = MBGNBDFit().fit(s["frequency"].to_numpy(), s["recency"].to_numpy(), s["age"].to_numpy())
    got = [fit.params_["r"], fit.params_["alpha"] / 7.0, fit.params_["a"], fit.params_["b"]]
    np.testing.assert_allclose(got, [0.525, 6.183, 0.891, 1.614], atol=2e-3)


def test_expectations_match_hardie_spreadsheet():
    """Values from Hardie's MBG/NBD spreadsheet as used in lifetimes' tests (time in weeks)."""
    r, alpha, a, b = 0.525, 6.183, 0.891, 1.614
    times = np.array([0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00])
    expected = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    np.testing.assert_allclose(
        mbgnbd.expected_repeat_purchases(times, r, alpha, a, b), expected, rtol=0.05
    )  # lifetimes checks 5%
    cond = mbgnbd.conditional_expected_purchases(39.0, 2, 30.43, 38.86, r, alpha, a, b)
    assert abs(float(cond) - 1.226) < 0.05  # the tolerance of lifetimes' own test


def test_fit_recovers_simulated_parameters_within_three_standard_errors():
    rng = np.random.default_rng(11)
    truth = {"r": 0.7, "alpha": 50.0, "a": 1.4, "b": 4.0}
    cust, day = mbgnbd.simulate_transactions(20_000, *truth.values(), 540, rng)
    tx = pd.DataFrame({"customer_id": cust.astype(str), "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")})
    tx = tx.drop_duplicates().assign(amount=1.0)
    s = summarize(tx, pd.Timestamp("2024-01-01") + pd.Timedelta(days=539))
    fit = MBGNBDFit().fit(s["frequency"].to_numpy(), s["recency"].to_numpy(), s["age"].to_numpy())
    for k, v in truth.items():
        assert abs(fit.params_[k] - v) < 3 * fit.standard_errors_[k], (k, fit.params_[k], fit.standard_errors_[k])


# -- the sample client export ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_cal():
    return calibrate(EXPORT / "orders.csv", spend=EXPORT / "spend.csv", backtest="engine", seed=3)


def test_recovers_true_parameters_of_the_sample_export(sample_cal):
    rp, se = sample_cal.repeat.params_, sample_cal.repeat.standard_errors_
    for k, true in TRUTH["repeat_purchase"].items():
        if k == "time_unit":
            continue
        assert abs(rp[k] - true) <= 3 * se[k], (k, rp[k], se[k], true)
        assert abs(rp[k] / true - 1) <= 0.30, (k, rp[k], true)
    assert abs(sample_cal.value.mean_ / TRUTH["order_value"]["mean"] - 1) < 0.03
    assert abs(sample_cal.value.cv_ / TRUTH["order_value"]["cv"] - 1) < 0.10
    assert sample_cal.value.model_ == "gamma"  # the engine draws i.i.d. Gamma values: the simpler model wins


def test_spend_curves_reproduce_new_customers_at_typical_spend(sample_cal):
    """Single curves are weakly identified from 24 months; their prediction at typical spend is not."""
    from sim.model.acquisition import reach_per_month

    spend = sample_cal.spend
    truth = TRUTH["channels"]
    scen = sample_cal.scenario
    for name, ch in truth.items():
        s = float(spend[name].median())
        true_reach = reach_per_month(s, ch["max_reach"], ch["half_saturation"])
        fit = scen["channels"][name]["reach"]
        got = reach_per_month(s, fit["max_reach"], fit["half_saturation"])
        assert abs(got / true_reach - 1) < 0.35, (name, got, true_reach)
    assert sample_cal.diagnostics["acquisition"]["mape_new_customers"] < 0.12


def test_diagnostics_hold_fit_summary_and_backtest(sample_cal):
    d = sample_cal.diagnostics
    assert d["data"]["customers"] == TRUTH["data"]["customers"]
    assert d["data"]["orders"] == TRUTH["data"]["export_lines"]
    assert d["data"]["transactions"] < d["data"]["orders"]  # split lines were merged
    assert set(d["repeat_purchase"]["standard_errors"]) == {"r", "alpha", "a", "b"}
    assert d["repeat_purchase"]["log_likelihood"] < 0
    bt = d["backtest"]
    assert bt["method"] == "engine" and bt["months"] == 24
    for key in ("mape_first_orders", "mape_repeat_orders", "mape_revenue"):
        assert 0 <= bt[key] < 0.15, (key, bt[key])


def test_written_scenario_validates_runs_and_continues_the_same_customers(sample_cal, tmp_path):
    out = tmp_path / "client.yaml"
    yaml_path, snap_path = write_calibration(sample_cal, out)
    assert snap_path.name == "client.customers.csv"
    snap = pd.read_csv(snap_path, dtype={"customer_id": str})
    assert list(snap.columns) == ["customer_id", "frequency", "recency", "age"]
    assert len(snap) == TRUTH["data"]["customers"]
    assert (snap["recency"] <= snap["age"]).all()
    s = load_scenario(yaml_path)
    assert s.market.existing.snapshot == "client.customers.csv"
    assert str(s.simulation.start_date) == "2026-01-01"
    assert s.calibration["backtest"]["months"] == 24
    assert runner.invoke(app, ["validate", str(yaml_path)]).exit_code == 0
    small = s.with_changes({"simulation.horizon_months": 2})
    small_path = tmp_path / "small.yaml"
    small_path.write_text(yaml.safe_dump(small.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
    result = runner.invoke(app, ["run", str(small_path), "--out", str(tmp_path / "run"), "--no-marginal"])
    assert result.exit_code == 0, result.output
    orders = pd.read_csv(tmp_path / "run" / "orders.csv")
    existing = orders[orders["acquisition_channel"] == "existing"]
    assert len(existing) > 0 and (existing["order_number"] >= 2).all()


def test_snapshot_customers_are_drawn_from_their_posterior(sample_cal, tmp_path):
    yaml_path, _ = write_calibration(sample_cal, tmp_path / "c.yaml")
    s = load_scenario(yaml_path)
    base = existing_customers(s, np.random.default_rng(5))
    snap = sample_cal.snapshot
    assert len(base) == len(snap)
    assert list(base.customer_id[:3]) == list(snap["customer_id"][:3])
    rp = sample_cal.repeat.params_
    x, t_x, T = (snap[c].to_numpy(dtype=float) for c in ("frequency", "recency", "age"))
    alive = mbgnbd.p_alive(rp["r"], rp["alpha"], rp["a"], rp["b"], x, t_x, T)
    active = base.stage == 0
    np.testing.assert_allclose(base.p_alive, alive, rtol=1e-4)  # the YAML keeps 6 digits
    n = len(snap)
    assert abs(active.mean() - alive.mean()) < 4 * np.sqrt(alive.mean() * (1 - alive.mean()) / n)
    assert set(np.unique(base.stage)) <= {0, 2}
    assert (base.prior_orders == x + 1).all()
    # alive customers: lambda ~ Gamma(r + x, alpha + T); check the mean over the active ones
    post_mean = ((rp["r"] + x) / (rp["alpha"] + T))[active]
    assert abs(base.purchase_rate[active].mean() / post_mean.mean() - 1) < 0.03


def test_until_cuts_history_and_starts_the_scenario_the_next_day():
    cal = calibrate(EXPORT / "orders.csv", until="2025-06-30", backtest="none")
    assert cal.diagnostics["cutoff"] == "2025-06-30"
    assert str(cal.scenario["simulation"]["start_date"]) == "2025-07-01"
    assert cal.log.transactions["date"].max() <= pd.Timestamp("2025-06-30")
    assert (cal.snapshot["age"] >= 0).all()
    assert "unattributed" in cal.scenario["channels"]
    assert any("no spend log" in w for w in cal.diagnostics["warnings"])


def test_warns_about_too_few_repeat_buyers_and_survives_constant_amounts(tmp_path):
    rng = np.random.default_rng(0)
    cust, day = mbgnbd.simulate_transactions(150, 0.5, 60.0, 1.0, 1.0, 150, rng)
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D")
    path = tmp_path / "few.csv"
    pd.DataFrame({"customer_id": cust, "order_date": dates.strftime("%Y-%m-%d"), "amount": 10.0}).to_csv(
        path, index=False
    )
    cal = calibrate(path, backtest="none")
    warnings = cal.diagnostics["warnings"]
    assert any(w.startswith("too few repeat buyers (23") for w in warnings), warnings
    assert cal.value.mean_ == pytest.approx(10.0, rel=0.02)  # same-day orders merge into 20s
    assert 0 < cal.value.cv_ < 0.5
