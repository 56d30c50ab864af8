"""Common random numbers that hold: the fast engine's sampled counts are quantiles of their own uniforms
(`sim.engines.fast.inversion`), so two plans run with the same seed share their luck cell by cell and the
optimizer's bands of a difference (the gain and its parts) carry little of the simulation's noise.

With NumPy's samplers the same seed did not couple two plans: their runs fell out of step after the first
draw that differed (correlation 0.06 between two plans 1% apart, on the early-stage sample).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from conftest import sample

from sim.analysis.evaluate import FastEvaluator
from sim.analysis.marginal import purpose_channel_weights
from sim.analysis.optimize import fixed_spend
from sim.analysis.plans import from_scenario, spends
from sim.engines.fast import inversion, simulate_batch
from sim.model import budget
from sim.model.scenario import PURPOSES

U = np.random.default_rng(20261202).random(4000)


@pytest.mark.parametrize("n", [1, 3, 40, 1000, 10**5, 10**7])
@pytest.mark.parametrize("p", [1e-6, 1e-3, 0.03, 0.3, 0.5, 0.8, 0.999])
def test_binomial_counts_are_the_quantiles_of_their_uniforms(n, p):
    ours = inversion.binomials(U, n, p)
    exact = st.binom.ppf(U, n, p)
    if n * min(p, 1 - p) <= inversion.EXACT_MEAN:
        assert np.array_equal(ours, exact)
    else:
        assert np.abs(ours - exact).max() <= 1  # Cornish-Fisher: within one count
    assert ours.dtype == np.int64 and ours.min() >= 0 and ours.max() <= n


@pytest.mark.parametrize("lam", [0.0, 1e-4, 0.7, 12.0, 30.0, 31.0, 400.0, 1e6])
def test_poisson_counts_are_the_quantiles_of_their_uniforms(lam):
    ours = inversion.poissons(U, lam)
    exact = st.poisson.ppf(U, lam) if lam > 0 else np.zeros_like(U)
    tolerance = 0 if lam <= inversion.EXACT_MEAN else 1
    assert np.abs(ours - exact).max() <= tolerance


def test_counts_grow_with_the_uniform_and_with_the_chance():
    """A quantile function: a larger uniform or a larger chance never gives a smaller count (the coupling)."""
    u = np.sort(U)
    for n, p in [(50, 0.1), (10**6, 0.002)]:
        low, high = inversion.binomials(u, n, p), inversion.binomials(u, n, p * 1.01)
        assert np.all(np.diff(low) >= 0) and np.all(high >= low)


@pytest.mark.parametrize("k", [0.11, 0.5, 1.0, 2.5, 4.0, 30.0, 2000.0])
def test_gamma_sums_follow_their_gamma(k):
    v = np.random.default_rng(7).random((2, 20000))
    draws = inversion.gammas(v[0], v[1], k)
    assert abs(draws.mean() / k - 1) < 4 * np.sqrt(1 / k / 20000)
    assert st.kstest(draws, st.gamma(k).cdf).statistic < 0.02


def test_multinomial_counts_keep_every_person():
    rng = np.random.default_rng(3)
    n = rng.integers(0, 10**6, 200)
    p = rng.random((200, 32))
    drawn = inversion.multinomials(rng.random((200, 32)), n, p)
    assert np.array_equal(drawn.sum(axis=1), n) and drawn.min() >= 0
    means = inversion.multinomials(rng.random((200, 32)), np.full(200, 10**7), np.tile(p[0], (200, 1))).mean(axis=0)
    assert np.allclose(means / 10**7, p[0] / p[0].sum(), rtol=1e-3)


def _two_close_plans(name: str):
    scenario = fixed_spend(sample(name))
    current = from_scenario(scenario, 3, np.stack([purpose_channel_weights(scenario, p) for p in PURPOSES]))
    shares = current.shares.copy()
    shares[:, 0] -= 0.01
    shares[:, 1] += 0.01
    return scenario, spends([current, current.with_shares(shares)], budget.monthly_budget(scenario))


@pytest.mark.parametrize("name", ["early_stage_d2c", "mature_marketplace"])
def test_two_plans_with_the_same_seed_share_their_luck(name):
    """1% of the budget moved from front-end to back-end: the two plans' sampled values move together, so
    the difference's spread is a small part of either plan's (before: correlation 0.06 and a difference
    spread larger than a plan's)."""
    scenario, plans = _two_close_plans(name)
    draws = FastEvaluator(scenario).draws(plans, 30, 11)
    assert np.corrcoef(draws)[0, 1] > 0.95
    assert (draws[1] - draws[0]).std() < 0.25 * draws[0].std()


def test_sampled_runs_still_average_to_the_expected_values():
    """The coupled draws are unbiased: the sampled mean of a plan matches the expected run within its error."""
    scenario = sample("early_stage_d2c")
    spend = np.repeat(budget.spend_by_month(scenario)[None], 60, axis=0)
    sampled = simulate_batch(scenario, spend, mode="sampled", seed=5, detail=False).kpi_vectors()
    expected = simulate_batch(scenario, spend[:1], mode="expected", detail=False).kpi_vectors()
    for kpi in ("cumulative_contribution", "revenue", "new_customers", "orders"):
        values = sampled[kpi]
        assert abs(values.mean() - expected[kpi][0]) < 4 * values.std() / np.sqrt(len(values)) + 1e-3 * abs(
            expected[kpi][0]
        ), kpi


def test_a_plans_replications_do_not_depend_on_the_plans_beside_it():
    """The plans of one call share their chunks' uniforms: plan A's replications are the same alone or
    beside another plan, and every replication differs from the others."""
    scenario, plans = _two_close_plans("early_stage_d2c")
    evaluator = FastEvaluator(scenario)
    together = evaluator.draws(plans, 12, 5)
    alone = evaluator.draws(plans[:1], 12, 5)
    np.testing.assert_allclose(together[0], alone[0], rtol=1e-12)
    assert len(np.unique(together[0])) == 12


@pytest.mark.parametrize(
    "draw",
    [
        lambda: inversion.binomials(U[:3], 10, np.array([0.1, np.nan, 0.2])),
        lambda: inversion.binomials(U[:2], np.array([5, -1]), 0.5),
        lambda: inversion.poissons(U[:2], np.array([1.0, np.inf])),
        lambda: inversion.poissons(U[:2], np.array([np.nan, 1.0])),
    ],
)
def test_what_has_no_count_is_refused_not_drawn_as_zero(draw):
    with pytest.raises(ValueError, match="has no count"):
        draw()
