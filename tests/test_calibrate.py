"""Calibration: each family's fit against published figures, parameter recovery, and the written scenario.

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
from scipy.special import digamma, gammaln
from typer.testing import CliRunner

from sim.calibration import bgnbd, families, mbgnbd, paretonbd
from sim.calibration.calibrate import Assumptions, calibrate
from sim.calibration.mbgnbd import MBGNBDFitter
from sim.calibration.summary import summarize
from sim.calibration.writer import write_calibration
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
    fit = MBGNBDFitter().fit(d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy())
    got = [fit.params_[k] for k in mbgnbd.PARAM_NAMES]
    np.testing.assert_allclose(got, [0.525, 6.183, 0.891, 1.614], atol=1.5e-3)
    assert all(np.isfinite(list(fit.standard_errors_.values())))


def _cdnow_summary():
    d = pd.read_csv(lifetimes_dataset("cdnow_customers_summary.csv"))
    return d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy()


def test_bgnbd_fit_matches_the_published_cdnow_estimates():
    """Fader, Hardie & Lee (2005), section 5: r 0.243, alpha 4.414, a 0.793, b 2.426 (weeks) on CDNOW's 2,357."""
    fit = bgnbd.BGNBDFitter().fit(*_cdnow_summary())
    got = [fit.params_[k] for k in bgnbd.PARAM_NAMES]
    np.testing.assert_allclose(got, [0.243, 4.414, 0.793, 2.426], atol=2e-3)
    assert fit.iterations_ > 0 and all(np.isfinite(list(fit.standard_errors_.values())))


def test_pareto_fit_matches_lifetimes_and_the_published_estimates():
    """Fader, Hardie & Lee (2005, "A note on deriving the Pareto/NBD model"): r 0.55, alpha 10.58, s 0.61,
    beta 11.67 (weeks) on CDNOW; lifetimes' ParetoNBDFitter finds 0.5533, 10.5778, 0.6062, 11.6679."""
    fit = paretonbd.ParetoNBDFitter().fit(*_cdnow_summary())
    got = [fit.params_[k] for k in paretonbd.PARAM_NAMES]
    np.testing.assert_allclose(got, [0.5533, 10.5778, 0.6062, 11.6679], rtol=2e-3)


@pytest.mark.parametrize("family", ["bgnbd", "mbgnbd", "pareto", "pareto+stayers"])
def test_searches_that_could_not_lower_the_objective_are_cut_short_without_changing_the_fit(family, monkeypatch):
    """A line search that cannot see the objective change, and the restart after a search stopped by precision loss,
    are cut short where a Newton step would lower the objective by less than its rounding (speed); running them to
    the end (ROUNDING 0) moves nothing beyond the optimizer's tolerance."""
    from sim.calibration import btyd
    from sim.calibration.stayers import with_stayers

    cls = with_stayers(families.FITTERS["pareto"]) if family == "pareto+stayers" else families.FITTERS[family]
    skipped = cls().fit(*_cdnow_summary())
    monkeypatch.setattr(btyd, "ROUNDING", 0.0)
    forced = cls().fit(*_cdnow_summary())
    np.testing.assert_allclose(skipped.values, forced.values, rtol=1e-6)
    np.testing.assert_allclose(
        list(skipped.standard_errors_.values()), list(forced.standard_errors_.values()), rtol=1e-4
    )
    assert skipped.converged_ == forced.converged_


def test_newton_decrease():
    from sim.calibration.btyd import newton_decrease

    h, g = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([1.0, -2.0])
    assert newton_decrease(h, g) == pytest.approx(0.5 * g @ np.linalg.solve(h, g), rel=1e-12)
    assert newton_decrease(np.array([[1.0, 0.0], [0.0, -1.0]]), g) == np.inf  # not positive definite: no step
    assert newton_decrease(np.full((2, 2), np.nan), g) == np.inf


GRADIENT_POINTS = {bgnbd: (0.5, 6.0, 0.9, 1.6), mbgnbd: (0.5, 6.0, 0.9, 1.6), paretonbd: (0.55, 10.6, 0.61, 11.7)}


@pytest.mark.parametrize("module", [bgnbd, mbgnbd, paretonbd])
def test_analytic_derivatives_are_the_derivatives_of_the_log_likelihood(module):
    """Parameters, clock times (t_x, T) and the time Hessian, against central differences of `log_likelihood`."""
    x, t_x, T = _cdnow_summary()
    p = np.array(GRADIENT_POINTS[module])
    ll, g, g_times = module.log_likelihood_and_gradients(*p, x, t_x, T)
    np.testing.assert_allclose(ll, module.log_likelihood(*p, x, t_x, T), rtol=1e-12, atol=1e-12)
    eps = 1e-6
    for i in range(4):
        e = np.eye(4)[i] * eps
        num = (module.log_likelihood(*(p + e), x, t_x, T).sum() - module.log_likelihood(*(p - e), x, t_x, T).sum()) / (
            2 * eps
        )
        assert abs(g[:, i].sum() - num) < 1e-4 * max(1.0, abs(num)), (i, g[:, i].sum(), num)
    inside = (t_x > 1e-3) & (T - t_x > 1e-3)
    h = 1e-5
    d_tx = (module.log_likelihood(*p, x, t_x + h, T) - module.log_likelihood(*p, x, t_x - h, T)) / (2 * h)
    d_T = (module.log_likelihood(*p, x, t_x, T + h) - module.log_likelihood(*p, x, t_x, T - h)) / (2 * h)
    np.testing.assert_allclose(g_times[inside, 0], d_tx[inside], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g_times[inside, 1], d_T[inside], rtol=1e-5, atol=1e-7)
    second = module.time_hessian(*p, x, t_x, T)
    h = 1e-4
    times = lambda a, b: module.log_likelihood_and_gradients(*p, x, a, b)[2]  # noqa: E731
    num = np.stack(
        [
            (times(t_x + h, T)[:, 0] - times(t_x - h, T)[:, 0]) / (2 * h),
            (times(t_x, T + h)[:, 0] - times(t_x, T - h)[:, 0]) / (2 * h),
            (times(t_x, T + h)[:, 1] - times(t_x, T - h)[:, 1]) / (2 * h),
        ],
        axis=1,
    )
    np.testing.assert_allclose(second[inside], num[inside], rtol=1e-4, atol=1e-7)


def _pareto_closed_form(r, alpha, s, beta, x, t_x, T):
    """The Pareto/NBD log-likelihood in Fader & Hardie's closed form (2005 note, eq. 19-22), with Gauss'
    2F1, as lifetimes writes it: an independent check of the quadrature in `paretonbd`."""
    from scipy.special import gammaln, hyp2f1

    rsx = r + s + x
    big, second = (alpha, s + 1.0) if alpha >= beta else (beta, r + x)
    gap = abs(alpha - beta)
    l1 = np.log(hyp2f1(rsx, second, rsx + 1.0, gap / (big + t_x))) - rsx * np.log(big + t_x)
    l2 = np.log(hyp2f1(rsx, second, rsx + 1.0, gap / (big + T))) - rsx * np.log(big + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a0 = np.where(T > t_x, l1 + np.log1p(-np.exp(np.minimum(l2 - l1, 0.0))), -np.inf)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    return head + np.logaddexp(alive, np.log(s) - np.log(rsx) + a0)


@pytest.mark.parametrize(
    "params",
    [(0.55, 10.6, 0.61, 11.7), (0.61, 95.3, 0.31, 43.0), (0.57, 94.4, 0.41, 86.4), (2.0, 20.0, 3.0, 500.0)],
)
def test_pareto_quadrature_is_the_closed_form(params):
    """CDNOW's summary in weeks (first two) and a day-resolution CDNOW export (the rest: the fitted values of
    `benchmarks/calibrate.py` and a far corner where beta is 25 times alpha)."""
    x, t_x, T = _cdnow_summary()
    if params[1] > 50:
        x, t_x, T = x, 7.0 * t_x, 7.0 * T
    np.testing.assert_allclose(
        paretonbd.log_likelihood(*params, x, t_x, T), _pareto_closed_form(*params, x, t_x, T), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("params", [(0.57, 94.4, 0.41, 86.4), (0.61, 40.0, 0.31, 95.0)])
def test_pareto_quadrature_in_blocks_is_that_of_each_customer_alone(params):
    """`_dropout` works through blocks of customers (speed): across block boundaries, and with none or one
    customer, each customer's values are those it has alone; the table of ln G and psi over the counts is exact."""
    x, t_x, T = _cdnow_summary()
    x, t_x, T = (np.tile(v, 2)[: 2 * paretonbd.BLOCK + 17] for v in (x, 7.0 * t_x, 7.0 * T))
    together = paretonbd._dropout(*params, x, t_x, T)
    for i in [0, 1, paretonbd.BLOCK - 1, paretonbd.BLOCK, 2 * paretonbd.BLOCK + 16] + list(range(0, len(x), 97)):
        alone = paretonbd._dropout(*params, x[i], t_x[i], T[i])
        np.testing.assert_array_equal([v[i] for v in together], [v[0] for v in alone])
    assert all(len(v) == 0 for v in paretonbd._dropout(*params, x[:0], t_x[:0], T[:0]))
    for xs in (x, x + 0.5):  # counts (the table) and not (each customer's own)
        lg, dg = paretonbd._gamma_terms(params[0], xs)
        np.testing.assert_array_equal(lg, gammaln(params[0] + xs) - gammaln(params[0]))
        np.testing.assert_array_equal(dg, digamma(params[0] + xs) - digamma(params[0]))


@pytest.mark.parametrize("module", [bgnbd, mbgnbd, paretonbd])
def test_closed_forms_agree_with_posterior_simulation(module):
    """p_alive and the conditional expectation against draws from `draw_posterior` + `simulate_after`."""
    params = {bgnbd: (0.5, 40.0, 0.8, 2.5), mbgnbd: (0.5, 40.0, 0.8, 2.5), paretonbd: (0.5, 40.0, 0.7, 90.0)}[module]
    x = np.repeat([0.0, 1.0, 4.0, 10.0], 20000)
    t_x = np.repeat([0.0, 30.0, 200.0, 300.0], 20000)
    T = np.full(len(x), 365.0)
    rng = np.random.default_rng(1)
    active, lam, drop = module.draw_posterior(*params, x, t_x, T, rng)
    who, day = module.simulate_after(active, lam, drop, 180.0, rng)
    counts = np.bincount(who, minlength=len(x))
    for g in range(4):
        sl = slice(20000 * g, 20000 * (g + 1))
        alive = module.p_alive(*params, x[sl][:1], t_x[sl][:1], T[sl][:1])[0]
        assert abs(active[sl].mean() - alive) < 4 * np.sqrt(alive * (1 - alive) / 20000) + 1e-9
        expect = module.conditional_expected_purchases(180.0, x[sl][:1], t_x[sl][:1], T[sl][:1], *params)[0]
        se = counts[sl].std() / np.sqrt(20000)
        assert abs(counts[sl].mean() - expect) < 4 * se + 0.01 * expect, (g, counts[sl].mean(), expect)


def test_day_summary_of_raw_cdnow_sample_gives_the_same_fit_in_days():
    """Our transaction summary (days) of the raw CDNOW sample gives the same estimates, alpha x 7, once its age is
    counted as lifetimes counts it (to the start of the cut-off day, one day less: see `summarize`)."""
    raw = pd.read_csv(
        lifetimes_dataset("CDNOW_sample.txt"), sep=r"\s+", header=None, names=["id", "id2", "date", "n", "value"]
    )
    tx = pd.DataFrame(
        {"customer_id": raw["id"].astype(str), "date": pd.to_datetime(raw["date"].astype(str)), "amount": raw["value"]}
    )
    tx = tx[tx["date"] <= "1997-09-30"].groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    s = summarize(tx, pd.Timestamp("1997-09-30"))
    assert (s["age"] >= 1).all()
    fit = MBGNBDFitter().fit(s["frequency"].to_numpy(), s["recency"].to_numpy(), s["age"].to_numpy() - 1)
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


@pytest.mark.parametrize(
    "module, truth",
    [
        (bgnbd, {"r": 0.7, "alpha": 120.0, "a": 1.4, "b": 4.0}),  # rarer buying: few same-day merges
        (paretonbd, {"r": 0.7, "alpha": 120.0, "s": 0.8, "beta": 200.0}),
    ],
)
def test_other_families_recover_simulated_parameters(module, truth):
    rng = np.random.default_rng(12)
    cust, day = module.simulate_transactions(20_000, *truth.values(), 540, rng)
    tx = pd.DataFrame({"customer_id": cust.astype(str), "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")})
    tx = tx.drop_duplicates().assign(amount=1.0)
    s = summarize(tx, pd.Timestamp("2024-01-01") + pd.Timedelta(days=539))
    cls = {bgnbd: bgnbd.BGNBDFitter, paretonbd: paretonbd.ParetoNBDFitter}[module]
    fit = cls().fit(s["frequency"].to_numpy(), s["recency"].to_numpy(), s["age"].to_numpy())
    for k, v in truth.items():
        assert abs(fit.params_[k] - v) < 3 * fit.standard_errors_[k], (k, fit.params_[k], fit.standard_errors_[k])


def test_fit_recovers_simulated_parameters_within_three_standard_errors():
    rng = np.random.default_rng(11)
    truth = {"r": 0.7, "alpha": 50.0, "a": 1.4, "b": 4.0}
    cust, day = mbgnbd.simulate_transactions(20_000, *truth.values(), 540, rng)
    tx = pd.DataFrame({"customer_id": cust.astype(str), "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")})
    tx = tx.drop_duplicates().assign(amount=1.0)
    s = summarize(tx, pd.Timestamp("2024-01-01") + pd.Timedelta(days=539))
    fit = MBGNBDFitter().fit(s["frequency"].to_numpy(), s["recency"].to_numpy(), s["age"].to_numpy())
    assert fit.collapsed_ == []  # heterogeneous truth: nothing pinned
    for k, v in truth.items():
        assert abs(fit.params_[k] - v) < 3 * fit.standard_errors_[k], (k, fit.params_[k], fit.standard_errors_[k])


def _alike_dropout_export(family: str, seed: int, n: int = 2000, days: int = 540):
    """(x, t_x, T) of customers with a Gamma(0.7, 50) purchase rate and one dropout for all: p = 0.2 after each
    order (MBG/NBD) or a lifetime of mean 150 days (Pareto/NBD), first purchases over 240 days."""
    rng = np.random.default_rng(seed)
    if family == "pareto":
        lam = rng.gamma(0.7, 1.0 / 50.0, size=n)
        start = rng.uniform(0.0, 240.0, size=n)
        end = np.minimum(start + rng.exponential(150.0, size=n), days)
        counts = rng.poisson(lam * (end - start))
        buyer = np.repeat(np.arange(n), counts)  # a Poisson process's purchases fall uniformly in its lifetime
        later = start[buyer] + rng.uniform(0.0, 1.0, counts.sum()) * (end - start)[buyer]
        cust, when = np.concatenate([np.arange(n), buyer]), np.concatenate([start, later])
    else:
        cust, when = mbgnbd.simulate_transactions(n, 0.7, 50.0, 2e5, 8e5, days, rng, acquisition_days=240)
    tx = pd.DataFrame({"customer_id": cust, "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.floor(when), "D")})
    s = summarize(tx.drop_duplicates().assign(amount=1.0), pd.Timestamp("2024-01-01") + pd.Timedelta(days=days - 1))
    return s["frequency"].to_numpy(), s["recency"].to_numpy(), s["age"].to_numpy()


@pytest.mark.parametrize("family", ["mbgnbd", "pareto"])
def test_a_dropout_alike_for_every_customer_is_a_limit_not_a_failure(family):
    """Every customer with the same dropout: on about half of such exports (seed 4 here) the likelihood rises
    towards a Beta or Gamma collapsed to a point, a ridge the fit pins at a finite concentration (same mean,
    same likelihood) with the covariance of the free directions, instead of stopping with "the likelihood is
    flat"; the mean dropout is recovered and the model's mixing classes of the pinned values are finite."""
    from sim.model.repeat import latent_classes

    fit = families.FITTERS[family]().fit(*_alike_dropout_export(family, seed=4))
    assert fit.collapsed_ == ["dropout"], (fit.params_, fit.collapsed_)
    cov = fit.log_covariance_
    assert np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > -1e-12)
    p = fit.params_
    if family == "pareto":
        mean_truth, mean, slope = 1.0 / 150.0, p["s"] / p["beta"], 1.0
    else:
        mean_truth, mean = 0.2, p["a"] / (p["a"] + p["b"])
        slope = 1.0 - mean  # d log(mean) / d log a = -d log(mean) / d log b
    se_mean = mean * slope * np.sqrt(cov[2, 2] + cov[3, 3] - 2.0 * cov[2, 3])  # delta method
    assert se_mean > 0 and abs(mean - mean_truth) < 3.5 * se_mean, (mean, se_mean)
    assert abs(p["r"] - 0.7) < 3 * fit.standard_errors_["r"]
    _, drop_k, w_k = latent_classes(family, p["r"], p["alpha"], *(p[k] for k in fit.param_names[2:]))
    assert np.all(np.isfinite(drop_k)) and np.all(np.isfinite(w_k)) and abs(w_k.sum() - 1) < 1e-9
    assert np.all(np.isfinite(fit.draw_params(50, np.random.default_rng(0))))


def test_a_collapsed_dropout_survives_the_seasonal_fit_and_the_engine_runs_it(tmp_path):
    """18 months of an export whose customers share one dropout chance: the joint seasonal fit pins the Beta
    on its ridge too (unpinned it ran to a, b ~ 1e6, where the model's quadrature overflows), and the written
    scenario runs in the fast engine with finite flows."""
    from sim.engines import get_engine

    rng = np.random.default_rng(4)
    cust, day = mbgnbd.simulate_transactions(2000, 0.7, 50.0, 2e5, 8e5, 540, rng, acquisition_days=240)
    tx = pd.DataFrame({"customer_id": cust, "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")})
    tx = tx.drop_duplicates()
    tx["amount"] = np.round(10_000 + rng.gamma(2.0, 5_000.0, len(tx)))
    tx.to_csv(tmp_path / "orders.csv", index=False)
    cal = calibrate(tmp_path / "orders.csv", assumptions=Assumptions(currency="KRW"), model="mbgnbd")
    assert cal.seasonality is not None and cal.repeat.collapsed_ == ["dropout"]
    assert cal.repeat.params_["a"] + cal.repeat.params_["b"] == pytest.approx(
        1000.0, rel=0.01
    )  # the pinned concentration
    assert any("the same for every customer" in w for w in cal.warnings)
    assert np.all(np.isfinite(cal.repeat.log_covariance_))
    path, _ = write_calibration(cal, tmp_path / "alike.yaml")
    assert path.read_text(encoding="utf-8").count("pinned: the data show no spread between customers") == 2  # a, b
    scenario = load_scenario(path).with_changes({"simulation.horizon_months": 2})
    daily = get_engine("fast").run(scenario, 1, keep_orders=False).daily
    assert np.all(np.isfinite(daily[["customer", "orders", "revenue"]].to_numpy()))
    assert daily["orders"].sum() > 0


# -- the sample client export ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_cal():
    return calibrate(EXPORT / "orders.csv", spend=EXPORT / "spend.csv", assumptions=Assumptions(currency="KRW"), seed=3)


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
    choice = d["model_choice"]
    # the export was generated by MBG/NBD: it forecasts the held-out months best
    assert choice["chosen"] == "mbgnbd" and choice["best_out_of_sample"] == "mbgnbd"
    # the best family was also tried with a never-dropout segment; the truth has none, and it did not win
    assert set(choice["families"]) == {"mbgnbd", "bgnbd", "pareto", "mbgnbd+stayers"}
    for name, fam in choice["families"].items():
        assert (fam["fitted"] and abs(fam["total_error"]) < 0.1) or name.endswith("+stayers"), name
    # the backtest is out of sample: months after the split, forecast from the fit up to it
    months = [row["month"] for row in choice["backtest"]]
    assert months[0] > choice["split"][:7] or months[0] == choice["split"][:7]
    errors = [
        abs(r["repeat_orders_forecast"] / r["repeat_orders"] - 1)
        for r in choice["backtest"]
        if r["repeat_orders"] >= 50
    ]
    assert np.mean(errors) < 0.1
    # a real mean interval: E[1/lambda] = alpha/(r-1), undefined (null) for r <= 1
    r, alpha = d["repeat_purchase"]["params"]["r"], d["repeat_purchase"]["params"]["alpha"]
    mean_interval = d["repeat_purchase"]["mean_purchase_interval_days"]
    assert (mean_interval is None) == (r <= 1) and (
        mean_interval is None or abs(mean_interval - alpha / (r - 1)) < 1e-3 * mean_interval
    )
    # iterations count every start and restart of the optimizer
    assert d["repeat_purchase"]["iterations"] >= 3


def test_written_scenario_validates_runs_and_continues_the_same_customers(sample_cal, tmp_path):
    out = tmp_path / "client.yaml"
    yaml_path, snap_path = write_calibration(sample_cal, out)
    assert snap_path.name == "client.customers.csv"
    snap = pd.read_csv(snap_path, dtype={"customer_id": str})
    assert list(snap.columns) == [
        "customer_id",
        "frequency",
        "recency",
        "age",
        "order_value",
        "recency_clock",
        "age_clock",
    ]
    np.testing.assert_allclose(snap["order_value"], sample_cal.value.mean_)  # one shared Gamma fits better here
    assert len(snap) == TRUTH["data"]["customers"]
    assert (snap["recency"] <= snap["age"]).all()
    s = load_scenario(yaml_path)
    assert s.market.existing.snapshot == "client.customers.csv"
    assert str(s.simulation.start_date) == "2026-01-01"
    assert s.calibration["model_choice"]["chosen"] == "mbgnbd"
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
    cal = calibrate(EXPORT / "orders.csv", until="2025-06-30", assumptions=Assumptions(currency="KRW"))
    assert cal.diagnostics["cutoff"] == "2025-06-30"
    assert str(cal.scenario["simulation"]["start_date"]) == "2025-07-01"
    assert cal.log.transactions["date"].max() <= pd.Timestamp("2025-06-30")
    assert (cal.snapshot["age"] >= 0).all()
    assert "unattributed" in cal.scenario["channels"]
    plan = cal.diagnostics["plan"]
    assert plan["status"] == "missing" and "--budget" in plan["needs"]
    assert cal.scenario["budget"]["totals"] == 0.0


def _leaf_paths(data, prefix=""):
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaf_paths(value, path + ".")
        else:
            yield path


def test_every_field_of_the_written_scenario_says_where_it_came_from(sample_cal, tmp_path):
    """Each field carries a comment; what an order log cannot show is marked as an assumption to set."""
    out, _ = write_calibration(sample_cal, tmp_path / "c.yaml")
    text = out.read_text(encoding="utf-8")
    body = {k: v for k, v in sample_cal.scenario.items() if k not in ("calibration", "archetype", "description")}
    commented = sample_cal.comments
    missing = [
        p
        for p in _leaf_paths(body)
        if p not in commented
        and not p.endswith(".label")
        and not any(p.startswith(q + ".") for q in ("budget.purpose_split", "budget.channel_split"))
    ]
    assert not missing, missing
    for path in ("market.size", "market.initially_aware", "economics.gross_margin", "retention.dropout_reduction_max"):
        assert "ASSUMPTION" in sample_cal.comments[path], path
    for path in ("experience", "loyalty", "referral", "winback"):
        assert "ASSUMPTION" in sample_cal.comments[path], path
    assert "fitted, se" in sample_cal.comments["repeat_purchase.r"]
    assert "fitted (Gamma ML), se" in sample_cal.comments["economics.order_value_mean"]
    assert "from the spend log" in sample_cal.comments["budget.totals"]
    assert yaml.safe_load(text)["repeat_purchase"]["r"] == sample_cal.scenario["repeat_purchase"]["r"]
    assert "  r: " in text and "# [1] Gamma shape of the purchase rate; fitted, se" in text


def test_currency_is_never_guessed(tmp_path):
    result = runner.invoke(app, ["calibrate", str(EXPORT / "orders.csv"), "--out", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2 and "currency is not known" in result.stderr and "--currency" in result.stderr
    assert not (tmp_path / "c.yaml").exists()
    marked = tmp_path / "won.csv"
    orders = pd.read_csv(EXPORT / "orders.csv", dtype=str)
    orders["amount"] = orders["amount"] + "원"
    orders.to_csv(marked, index=False)
    result = runner.invoke(app, ["calibrate", str(marked), "--out", str(tmp_path / "w.yaml")])
    assert result.exit_code == 0, result.output
    assert load_scenario(tmp_path / "w.yaml").economics.currency == "KRW"
    dollars = tmp_path / "usd.csv"
    orders["amount"] = "$" + orders["amount"].str.rstrip("원")
    orders.to_csv(dollars, index=False)
    result = runner.invoke(app, ["calibrate", str(dollars), "--out", str(tmp_path / "d.yaml")])
    assert result.exit_code == 2 and "'$'" in result.stderr, result.stderr


def test_market_and_plan_come_from_the_flags(tmp_path):
    out = tmp_path / "plan.yaml"
    args = [
        "calibrate", str(EXPORT / "orders.csv"), "--currency", "KRW", "--out", str(out), "--until", "2025-09-30",
        "--market-size", "2000000", "--aware", "5000", "--budget", "30000000",
        "--split", "front=0.6,back=0.3,winback=0.1",
        "--channel-split", "front:unattributed=1,back:crm_email=1,winback:crm_email=1",
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    s = load_scenario(out)
    assert s.market.size == 2_000_000 and s.market.initially_aware == 5000
    assert s.budget.totals == [30_000_000.0]
    assert s.budget.purpose_split == {"front": 0.6, "back": 0.3, "winback": 0.1}
    assert s.budget.channel_split["back"] == {"crm_email": 1.0}
    assert "crm_email" in s.channels
    assert s.calibration["plan"]["status"] == "given"
    assert "assumption to set" not in result.stdout.split("market size")[0]
    bad = runner.invoke(app, [*args[:6], "--budget", "1", "--split", "front=0.6,back=0.3"])
    assert bad.exit_code == 2 and "--split" in bad.stderr and "add up to 0.9" in bad.stderr


def test_warns_about_too_few_repeat_buyers_and_survives_constant_amounts(tmp_path):
    rng = np.random.default_rng(0)
    cust, day = mbgnbd.simulate_transactions(150, 0.5, 60.0, 1.0, 1.0, 150, rng)
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D")
    path = tmp_path / "few.csv"
    pd.DataFrame({"customer_id": cust, "order_date": dates.strftime("%Y-%m-%d"), "amount": 10.0}).to_csv(
        path, index=False
    )
    cal = calibrate(path, assumptions=Assumptions(currency="USD"))
    warnings = cal.diagnostics["warnings"]
    assert any(w.startswith("too few repeat buyers (23") for w in warnings), warnings
    assert cal.value.mean_ == pytest.approx(10.0, rel=0.02)  # same-day orders merge into 20s
    assert 0 < cal.value.cv_ < 0.5
