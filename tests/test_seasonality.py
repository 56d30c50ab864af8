"""The calendar estimated from an order log: the monthly index and event uplifts fitted jointly with the
repeat-purchase model recover a known calendar, the joint fit's analytic derivatives are its derivatives,
and a log under 12 months gets a flat index and one warning.

Recovery: the agent engine (seeded) writes three years of orders of `true_seasonal_scenario.yaml` (a known
index and three promotions); `calibrate --events` must find the index (all twelve values jointly: a
chi-square of the errors with the fitted covariance below its 99.9% point, 31.3 for 11 free values; each
value within 3.5 standard errors), each event's purchase-rate uplift and the MBG/NBD parameters within 3.5
standard errors, and do far better than dividing raw monthly repeat orders by their mean (which mistakes
the base's growth for a season).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.calibration import families
from sim.calibration import seasonality as seasonality_module
from sim.calibration.backtest import histories
from sim.calibration.btyd import hessian_from_gradient
from sim.calibration.calibrate import Assumptions, calibrate
from sim.calibration.orderlog import read_orders
from sim.calibration.summary import summarize
from sim.engines.agent import run_agent
from sim.model.scenario import load_scenario

EXPORT = Path(__file__).resolve().parents[1] / "data" / "samples" / "client_export"
Z = 3.5  # standard errors allowed for each recovered value


@pytest.fixture(scope="module")
def seasonal(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seasonal")
    truth = load_scenario(EXPORT / "true_seasonal_scenario.yaml")
    orders = run_agent(truth, truth.simulation.seed).orders[["customer_id", "order_date", "amount"]]
    orders.to_csv(folder / "orders.csv", index=False)
    events = pd.DataFrame([{"name": e.name, "start": e.start, "end": e.end} for e in truth.events])
    events.to_csv(folder / "events.csv", index=False)
    cal = calibrate(
        folder / "orders.csv", events=folder / "events.csv", assumptions=Assumptions(currency="KRW"), model="mbgnbd"
    )
    return truth, cal


@pytest.mark.slow
def test_joint_fit_recovers_a_known_index_and_events(seasonal):
    truth, cal = seasonal
    fitted = cal.seasonality
    true_index = np.asarray(truth.seasonality.index)
    gap = fitted.index - true_index
    chi2 = float(gap @ np.linalg.pinv(fitted.covariance) @ gap)
    print(
        f"index chi-square {chi2:.1f} (11 free values); largest |z| {np.max(np.abs(gap / fitted.standard_errors)):.2f}"
    )
    assert chi2 < stats.chi2.ppf(0.999, 11), chi2
    assert np.all(np.abs(gap) < Z * fitted.standard_errors), (fitted.index, fitted.standard_errors)
    for event in cal.events.summary()["fitted"]:
        true = next(e for e in truth.events if e.name == event["name"])
        assert abs(event["uplift_customers"] - true.uplift_customers) < Z * event["uplift_customers_se"], event
        assert abs(event["uplift_aware"] - true.uplift_aware) < Z * event["uplift_aware_se"], event
    assert len(cal.events.summary()["fitted"]) == len(truth.events)
    for k, v in cal.repeat.params_.items():
        assert abs(v - getattr(truth.repeat_purchase, k)) < Z * cal.repeat.standard_errors_[k], (k, v)
    # dividing raw monthly repeat orders by their mean confounds the young shop's growth with the season
    tx = cal.log.transactions
    repeat = tx[tx["date"] > tx.groupby("customer_id")["date"].transform("min")]
    raw = repeat.groupby(repeat["date"].dt.month).size().to_numpy(dtype=float)
    raw_error = np.sqrt(np.mean((raw / raw.mean() - true_index) ** 2))
    assert np.sqrt(np.mean(gap**2)) < raw_error / 4, (np.sqrt(np.mean(gap**2)), raw_error)


@pytest.mark.slow
def test_the_calibrated_seasonal_scenario_carries_the_index_and_runs(seasonal, tmp_path):
    from sim.calibration.writer import write_calibration
    from sim.engines import simulate

    _, cal = seasonal
    path, snapshot = write_calibration(cal, tmp_path / "seasonal.yaml")
    scenario = load_scenario(path)
    assert scenario.seasonality is not None
    np.testing.assert_allclose(scenario.seasonality.index, cal.seasonality.index, atol=1e-3)
    assert {"recency_clock", "age_clock"} <= set(pd.read_csv(snapshot, nrows=1).columns)
    short = scenario.with_changes({"simulation.horizon_months": 2})
    for engine in ("agent", "fast"):
        daily = simulate(short, engine=engine, seed=1, replications=1, keep_orders=False).daily
        assert np.isfinite(daily.select_dtypes("number").to_numpy()).all() and daily["orders"].sum() > 0


@pytest.fixture(scope="module")
def joint_fits():
    log = read_orders(EXPORT / "orders.csv")
    s = summarize(log.transactions, log.last_date)
    days = pd.date_range(log.transactions["date"].min(), log.last_date)
    sale = [np.asarray((days >= pd.Timestamp("2024-11-11")) & (days <= pd.Timestamp("2024-11-13")))]
    out = {}
    for family in families.FITTERS:
        start = families.FITTERS[family]().fit(*histories(s))
        out[family] = seasonality_module._JointFit(log.transactions, s, log.last_date, days, start, sale)
    return out


@pytest.mark.parametrize("family", list(families.FITTERS))
def test_joint_gradient_and_hessian_are_the_derivatives_of_the_joint_likelihood(joint_fits, family):
    joint = joint_fits[family]
    theta = joint.start() + 0.02
    value, grad = joint._value_and_grad(theta)
    eps = 1e-6
    for i in range(len(theta)):
        e = np.zeros(len(theta))
        e[i] = eps
        num = (joint._value_and_grad(theta + e)[0] - joint._value_and_grad(theta - e)[0]) / (2 * eps)
        assert abs(num - grad[i]) < 1e-6 * max(1.0, abs(num)), (i, num, grad[i])
    analytic = joint.hessian(theta, grad)
    numeric = hessian_from_gradient(lambda t: joint._value_and_grad(t)[1], theta, step=1e-5)
    assert np.max(np.abs(analytic - numeric)) < 1e-4 * np.max(np.abs(numeric))


def test_under_twelve_months_the_index_is_flat_with_one_warning():
    cal = calibrate(EXPORT / "orders.csv", until="2024-10-31", assumptions=Assumptions(currency="KRW"))
    assert cal.seasonality is None and "seasonality" not in cal.scenario
    assert sum("under 12 months" in w for w in cal.warnings) == 1
