"""A never-dropout segment (`sim.calibration.stayers`): its analytic gradient is the derivative of its
likelihood, it reduces to the family as its share goes to 0, a known share of stayers is recovered within its
standard error, and out of sample it beats the plain family where stayers exist; `calibrate` reports it in the
comparison and keeps the scenario on a family the model can simulate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calibration import backtest, bgnbd, families, stayers
from sim.calibration.stayers import with_stayers

THETA = {"mbgnbd": (0.6, 40.0, 0.9, 2.5), "bgnbd": (0.6, 40.0, 0.9, 2.5), "pareto": (0.6, 40.0, 0.8, 60.0)}


@pytest.mark.parametrize("family", list(families.FITTERS))
def test_gradient_and_the_limit_of_no_stayers(family):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, 60).astype(float)
    T = rng.uniform(30.0, 300.0, 60)
    t_x = np.where(x > 0, rng.uniform(0.0, 1.0, 60) * T, 0.0)
    cls = with_stayers(families.FITTERS[family])
    theta = np.array([*THETA[family], 0.3])
    ll, d, dt = cls.gradients_fn(*theta, x, t_x, T)
    assert np.allclose(ll, cls.log_likelihood(*theta, x, t_x, T))
    for i in range(len(theta)):
        h = np.zeros(len(theta))
        h[i] = 1e-6 * theta[i]
        num = (cls.log_likelihood(*(theta + h), x, t_x, T) - cls.log_likelihood(*(theta - h), x, t_x, T)) / (2 * h[i])
        assert np.allclose(d[:, i], num, rtol=1e-5, atol=1e-7), i
    num_T = (cls.log_likelihood(*theta, x, t_x, T + 1e-5) - cls.log_likelihood(*theta, x, t_x, T - 1e-5)) / 2e-5
    assert np.allclose(dt[:, 1], num_T, rtol=1e-5, atol=1e-7)
    none = (*THETA[family], 1e-12)  # no stayers: the family itself
    base = families.FITTERS[family]
    assert np.allclose(cls.log_likelihood(*none, x, t_x, T), base.log_likelihood(*THETA[family], x, t_x, T))
    assert np.allclose(cls.conditional_fn(30.0, x, t_x, T, *none), base.conditional_fn(30.0, x, t_x, T, *THETA[family]))
    assert np.allclose(cls.p_alive_fn(*none, x, t_x, T), base.p_alive_fn(*THETA[family], x, t_x, T))
    # all stayers: everyone alive, the NBD's conditional expectation
    everyone = (*THETA[family], 1e12)
    assert np.allclose(cls.p_alive_fn(*everyone, x, t_x, T), 1.0)
    r, alpha = THETA[family][:2]
    assert np.allclose(cls.conditional_fn(30.0, x, t_x, T, *everyone), (r + x) / (alpha + T) * 30.0)


def _export(stayers: float, n: int = 6000, seed: int = 1) -> pd.DataFrame:
    """A BG/NBD export (r 0.7, alpha 40, a 3, b 6: dropout chances near 1/3) in which a share of the customers never drops out."""
    rng = np.random.default_rng(seed)
    k = int(round(stayers * n))
    parts = []
    for m, (a, b), offset in ((n - k, (3.0, 6.0), 0), (k, (1e-9, 1.0), n - k)):
        if m:
            cust, day = bgnbd.simulate_transactions(m, 0.7, 40.0, a, b, 720, rng, acquisition_days=240)
            parts.append(pd.DataFrame({"customer_id": cust + offset, "day": day}))
    tx = pd.concat(parts).drop_duplicates()
    return pd.DataFrame(
        {
            "customer_id": tx["customer_id"].astype(str),
            "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(tx["day"], "D"),
        }
    ).assign(amount=1.0)


@pytest.fixture(scope="module")
def with_a_core():
    tx = _export(0.25)
    split = backtest.time_split(tx, pd.Timestamp("2024-01-01") + pd.Timedelta(days=719), holdout_share=0.4)
    results, fitted = backtest.compare_families({"bgnbd": families.FITTERS["bgnbd"]}, split, "synthetic")
    name = backtest.compare_stayers("bgnbd", results, fitted, split, "synthetic")
    return results, fitted, name, split


def test_a_known_share_of_stayers_is_recovered_and_forecasts_better(with_a_core):
    results, fitted, name, _ = with_a_core
    fit = fitted[name]
    share = fit.stayer_share
    se = share * (1.0 - share) * np.sqrt(fit.log_covariance_[-1, -1])  # delta method from log odds
    assert abs(share - 0.25) < 3.0 * se, (share, se)
    assert results[name]["likelihood_ratio"] > 10.0
    # the score test at the family's fit (which screens the share in `calibrate`) sees it too, without a refit
    assert stayers.score_test(fitted["bgnbd"], *backtest.histories(with_a_core[3].summary)) > 10.0
    assert results[name]["tracking_error"] < results["bgnbd"]["tracking_error"]
    assert abs(results[name]["total_error"]) < abs(results["bgnbd"]["total_error"])


def test_without_stayers_the_share_is_not_supported():
    tx = _export(0.0, seed=2)
    split = backtest.time_split(tx, pd.Timestamp("2024-01-01") + pd.Timedelta(days=719), holdout_share=0.4)
    results, fitted = backtest.compare_families({"bgnbd": families.FITTERS["bgnbd"]}, split, "synthetic")
    name = backtest.compare_stayers("bgnbd", results, fitted, split, "synthetic")
    if results[name]["fitted"]:
        fit = fitted[name]
        share = fit.stayer_share
        se = share * (1.0 - share) * np.sqrt(fit.log_covariance_[-1, -1])
        assert share < 3.0 * se or results[name]["likelihood_ratio"] < 3.84, (share, se, results[name])
    else:  # screened out by the score test, or the share ran to 0 / the likelihood is flat
        assert any(word in results[name]["reason"] for word in ("score test", "limit", "converge")), results[name]
