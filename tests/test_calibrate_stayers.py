"""A never-dropout segment (`sim.calibration.stayers`): its analytic gradient is the derivative of its
likelihood, it reduces to the family as its share goes to 0, a known share of stayers is recovered within its
standard error, and out of sample it beats the plain family where stayers exist; `calibrate` then keeps it, and
the scenario's never-dropout share reaches the snapshot's posterior, the closed forms and both engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from path_fixtures import stayers_export

from sim.calibration import backtest, btyd, families, stayers
from sim.calibration.stayers import with_stayers

THETA = {"mbgnbd": (0.6, 40.0, 0.9, 2.5), "bgnbd": (0.6, 40.0, 0.9, 2.5), "pareto": (0.6, 40.0, 0.8, 60.0)}


def _histories(n: int, seed: int, recency: tuple[float, float] = (0.0, 1.0)):
    """n random histories (x, t_x, T): 0-5 repeat purchases in 30-300 days, the last at a uniform share
    `recency` of the age."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, n).astype(float)
    T = rng.uniform(30.0, 300.0, n)
    return x, np.where(x > 0, rng.uniform(*recency, n) * T, 0.0), T


@pytest.mark.parametrize("family", list(families.FITTERS))
def test_gradient_and_the_limit_of_no_stayers(family):
    x, t_x, T = _histories(60, seed=0)
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
    return stayers_export(stayers, n, seed)


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


@pytest.mark.parametrize("family", list(families.FITTERS))
def test_the_mixture_module_agrees_with_the_fitter_and_its_time_hessian_with_the_gradient(family):
    x, t_x, T = _histories(80, seed=3, recency=(0.05, 0.95))  # t_x inside (0, T): room for finite differences
    name = family + stayers.SUFFIX
    cls, module = families.fitter(name), families.module(name)
    theta = np.array([*THETA[family], 0.4])
    assert np.allclose(module.p_alive(*theta, x, t_x, T), cls.p_alive_fn(*theta, x, t_x, T))
    parts = btyd.alive_parts(module, tuple(theta), x, t_x, T)
    by_parts = sum(alive * if_active(45.0, x, T) for alive, if_active in parts)
    assert np.allclose(by_parts, cls.conditional_fn(45.0, x, t_x, T, *theta))
    assert np.allclose(sum(alive for alive, _ in parts), module.p_alive(*theta, x, t_x, T))
    # the seasonal fit's second derivatives in the times: finite differences of the analytic first ones
    h = cls.time_hessian_fn(*theta, x, t_x, T)
    eps = 1e-4
    mask = x > 0  # t_x moves only for repeat buyers
    d_tx = (cls.gradients_fn(*theta, x, t_x + eps, T)[2] - cls.gradients_fn(*theta, x, t_x - eps, T)[2]) / (2 * eps)
    d_T = (cls.gradients_fn(*theta, x, t_x, T + eps)[2] - cls.gradients_fn(*theta, x, t_x, T - eps)[2]) / (2 * eps)
    assert np.allclose(h[mask, 0], d_tx[mask, 0], rtol=1e-4, atol=1e-9)
    assert np.allclose(h[mask, 1], d_T[mask, 0], rtol=1e-4, atol=1e-9)
    assert np.allclose(h[:, 2], d_T[:, 1], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("family", list(families.FITTERS))
def test_the_mixture_posterior_draws_its_closed_forms(family):
    """Drawn customers are active as often as P(alive) says, never-dropouts have dropout 0 and the NBD's posterior
    rate, and the futures drawn from the posterior average to the closed-form expectation."""
    from sim.analysis.forecast import futures

    x = np.array([0.0, 1.0, 4.0, 9.0])
    t_x = np.array([0.0, 20.0, 150.0, 280.0])
    T = np.array([200.0, 300.0, 300.0, 300.0])
    name = family + stayers.SUFFIX
    module = families.module(name)
    theta = (*THETA[family], 0.5)
    rng = np.random.default_rng(8)
    reps = 40_000
    xs, txs, Ts = (np.repeat(v, reps) for v in (x, t_x, T))
    active, lam, drop = module.draw_posterior(*theta, xs, txs, Ts, rng)
    share = active.reshape(4, reps).mean(axis=1)
    assert np.allclose(share, module.p_alive(*theta, x, t_x, T), atol=4 * 0.5 / np.sqrt(reps))
    w = module.posterior_share(*theta, x, t_x, T)
    zero = (drop == 0.0).reshape(4, reps).mean(axis=1)
    assert np.allclose(zero, w, atol=4 * 0.5 / np.sqrt(reps))  # the family's own dropouts are never exactly 0
    params = np.tile(theta, (200, 1))
    orders, _ = futures(module, params, x, t_x, T, np.ones(4), 90, rng)
    assert abs(orders.sum(axis=1).mean() - module_total(module, theta, x, t_x, T, 90.0)) < 4 * orders.sum(
        axis=1
    ).std() / np.sqrt(200)


def module_total(module, theta, x, t_x, T, t):
    return float(btyd.expected_total(module, theta, x, t_x, T, np.array([t]))[0])


def test_calibrate_keeps_the_stayers_and_the_scenario_carries_them():
    from path_fixtures import stayers_calibration

    from sim.model.scenario import load_scenario

    scenario = load_scenario(stayers_calibration())
    rp = scenario.repeat_purchase
    assert rp.model == "bgnbd" and 0.0 < rp.never_dropout_share
    block = scenario.calibration["repeat_purchase"]
    assert block["family"] == "bgnbd+stayers"
    se = block["standard_errors"]["stayer_odds"] / (1.0 + block["params"]["stayer_odds"]) ** 2
    assert abs(rp.never_dropout_share - 0.25) < 3.0 * se
    assert scenario.calibration["model_choice"]["chosen"] == "bgnbd+stayers"
    assert families.family_of(rp) == "bgnbd+stayers"
    assert families.params_of(rp)[-1] == pytest.approx(block["params"]["stayer_odds"], rel=1e-5)


def test_a_forced_family_whose_dropout_collapses_still_writes_a_scenario(tmp_path):
    """Pareto/NBD with stayers forced on a BG/NBD log: the non-stayers' hazard is alike for every customer, so the fit
    pins its Gamma at `btyd.COLLAPSED`'s shape; the scenario's bounds hold that pinned fit (they once stopped at 100)."""
    from path_fixtures import stayers_export
    from typer.testing import CliRunner

    from sim.cli import app
    from sim.model.scenario import load_scenario

    orders = tmp_path / "orders.csv"
    stayers_export(0.25, n=3000, seed=5).to_csv(orders, index=False)
    out = tmp_path / "client.yaml"
    result = CliRunner().invoke(
        app, ["calibrate", str(orders), "--currency", "USD", "--model", "pareto+stayers", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rp = load_scenario(out).repeat_purchase
    assert rp.model == "pareto" and rp.never_dropout_share > 0.1
    for name in ("r", "s"):
        bound = next(m.le for m in type(rp).model_fields[name].metadata if getattr(m, "le", None) is not None)
        assert bound >= btyd.COLLAPSED["gamma"], name
