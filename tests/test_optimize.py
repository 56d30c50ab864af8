"""The budget-split optimizer: as good as a brute-force grid, inside every constraint, clear when no
plan can meet the constraints, and files ready for the report notebook."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, small

from sim.analysis.optimize import (
    Constraints,
    OptimizationResult,
    _plans_from_shares,
    _purpose_grid,
    optimize_budget,
    plan_of,
    scenario_with_plan,
)
from sim.engines.fast import horizon_value, run_fast, simulate_batch
from sim.errors import UserInputError
from sim.model import budget
from sim.model.kpis import compute_kpis
from sim.model.scenario import PURPOSES

MONTHS = 12


@pytest.fixture(scope="module")
def scenario():
    return small("early_stage_d2c", factor=0.1, months=MONTHS)


@pytest.fixture(scope="module")
def result(scenario) -> OptimizationResult:
    return optimize_budget(scenario, replications=10, seed=3)


CONSTRAINTS = Constraints(
    min_share={"back": 0.2},
    max_share={"winback": 0.03},
    max_channel={"search_ads": 400_000.0},
    min_channel={"kakao_crm": 100_000.0},
    monthly_cap=2_500_000.0,
    payback_within_months=12,
)


@pytest.fixture(scope="module")
def constrained(scenario) -> OptimizationResult:
    return optimize_budget(scenario, constraints=CONSTRAINTS, replications=10, seed=3)


def _grid_values(scenario, plans: np.ndarray) -> np.ndarray:
    totals = budget.monthly_budget(scenario)
    spend = totals[None, :, None, None] * np.transpose(plans, (0, 2, 1))[:, None]
    return horizon_value(simulate_batch(scenario, spend), "contribution")


def test_optimum_is_within_one_percent_of_a_brute_force_grid(scenario, result):
    channels = list(scenario.channels)
    mix = plan_of(scenario)
    mix = mix / mix.sum(axis=1, keepdims=True)
    # purposes on a 2% grid, each with the plan's channel mix
    values = _grid_values(scenario, _plans_from_shares(_purpose_grid(0.02), mix))
    # front-end channels on a 10% grid at the recommended purpose shares
    shares = np.array([result.recommended_split[p] for p in PURPOSES])
    front = [c for c in channels if scenario.channels[c].reach.max_reach > 0]
    rec = result.recommended_plan
    inside = rec / np.maximum(rec.sum(axis=1, keepdims=True), 1e-12)
    plans = []
    for w in _purpose_grid(0.1) if len(front) == 3 else []:
        y = shares[:, None] * inside
        y[0] = 0.0
        for c, share in zip(front, w, strict=True):
            y[0, channels.index(c)] = shares[0] * share
        plans.append(y)
    if plans:
        values = np.concatenate([values, _grid_values(scenario, np.array(plans))])
    best = values.max()
    assert result.recommended_value >= best - 0.01 * abs(best)
    assert result.recommended_value >= result.current_value - 1e-6 * abs(result.current_value)
    # the reported value is what the recommended plan gives when simulated again (the search runs lean
    # sweeps, which pool the lapsed people's win-back weights: equal to ~1e-7)
    again = compute_kpis(run_fast(scenario_with_plan(scenario, rec, result.monthly_totals)))
    assert again["cumulative_contribution"] == pytest.approx(result.recommended_value, rel=1e-6)


def test_result_has_the_agreed_shape(result):
    assert set(result.recommended_split) == set(PURPOSES)
    assert sum(result.recommended_split.values()) == pytest.approx(1.0)
    for split in result.recommended_channel_split.values():
        assert sum(split.values()) == pytest.approx(1.0)
    assert result.uplift_p05 <= result.uplift_mean <= result.uplift_p95
    assert list(result.curve.columns[:4]) == ["retention_share", "value_mean", "value_p05", "value_p95"]
    assert result.curve["retention_share"].is_monotonic_increasing
    assert (result.curve["value_p05"] <= result.curve["value_p95"]).all()
    # the curve's best point cannot beat the optimum (it holds the recommended mix otherwise)
    assert result.curve["value_mean"].max() <= result.recommended_value * (1 + 1e-9)
    assert set(result.marginal_roi) == set(PURPOSES)
    assert list(result.sensitivity.columns) == [
        "parameter",
        "label",
        "base_value",
        "low_value",
        "high_value",
        "low_optimum_back_share",
        "high_optimum_back_share",
    ]
    conversion = result.sensitivity.set_index("parameter").loc["first_purchase.monthly_conversion"]
    assert conversion["low_value"] < conversion["base_value"] < conversion["high_value"]


def test_to_files_writes_report_ready_files(result, tmp_path):
    written = result.to_files(tmp_path / "opt")
    assert sorted(p.name for p in written) == [
        "curve.csv",
        "marginal_roi.json",
        "recommendation.json",
        "sensitivity.csv",
    ]
    rec = json.loads((tmp_path / "opt" / "recommendation.json").read_text())
    assert rec["recommended_split"] == pytest.approx(result.recommended_split)
    assert rec["uplift_p05"] <= rec["uplift_p95"]
    assert len(pd.read_csv(tmp_path / "opt" / "curve.csv")) == len(result.curve)
    assert not list((tmp_path / "opt").glob(".*tmp"))  # atomic writes leave no temporary files


def test_constraints_are_respected_in_every_returned_plan(scenario, constrained):
    y = constrained.recommended_plan
    shares = y.sum(axis=1)
    assert shares[PURPOSES.index("back")] >= 0.2 - 1e-9
    assert shares[PURPOSES.index("winback")] <= 0.03 + 1e-9
    totals = constrained.monthly_totals
    assert totals.max() <= CONSTRAINTS.monthly_cap + 1e-6
    assert totals.sum() == pytest.approx(budget.monthly_budget(scenario).sum())
    channels = list(scenario.channels)
    per_channel = totals[:, None] * y.sum(axis=0)[None, :]  # (M, C) spend per month
    assert per_channel[:, channels.index("search_ads")].max() <= 400_000.0 + 1e-6
    assert per_channel[:, channels.index("kakao_crm")].min() >= 100_000.0 - 1e-6
    kpis = compute_kpis(run_fast(scenario_with_plan(scenario, y, totals)))
    assert kpis["payback_months"] is not None and kpis["payback_months"] <= 12
    # the sensitivity optima were searched inside the same constraints
    assert (constrained.sensitivity[["low_optimum_back_share", "high_optimum_back_share"]] >= 0.2 - 1e-9).all().all()
    assert (constrained.curve.loc[constrained.curve["retention_share"] < 0.2, "feasible"] == False).all()  # noqa: E712


@pytest.mark.parametrize(
    "limits",
    [
        {"min_share": {"front": 0.7, "back": 0.5}},
        {"max_share": {"front": 0.3, "back": 0.3, "winback": 0.3}},
        {"max_channel": {c: 1.0 for c in ("search_ads", "sns_content", "influencer", "kakao_crm")}},
        {"monthly_cap": 1.0},
        {"min_share": {"retention": 0.2}},
        {"min_share": {"front": 0.5}, "max_share": {"front": 0.4}},
        {"min_channel": {"search_ads": 2_000_000.0, "kakao_crm": 2_000_000.0}},
    ],
)
def test_infeasible_constraints_are_a_clear_user_error(scenario, limits):
    with pytest.raises(UserInputError) as err:
        optimize_budget(scenario, constraints=limits, replications=2)
    assert str(err.value)


def test_unreachable_payback_is_a_clear_user_error(scenario):
    with pytest.raises(UserInputError, match="pays back"):
        optimize_budget(scenario, constraints={"payback_within_months": 0.5}, replications=2)


@pytest.fixture(scope="module")
def scenario_file(scenario, tmp_path_factory):
    path = tmp_path_factory.mktemp("scen") / "small.yaml"
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", "optimize", *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


def test_cli_infeasible_constraints_exit_2_with_one_line(scenario_file, tmp_path):
    proc = _cli(str(scenario_file), "--out", str(tmp_path / "o"), "--min-share", "front=0.7", "--min-share", "back=0.5")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "min_share" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o" / "recommendation.json").exists()


def test_cli_bad_option_value_exit_2(scenario_file, tmp_path):
    proc = _cli(str(scenario_file), "--out", str(tmp_path / "o"), "--max-channel", "search_ads")
    assert proc.returncode == 2 and "NAME=VALUE" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_writes_the_files(scenario_file, tmp_path):
    constraints = tmp_path / "limits.yaml"
    constraints.write_text("min_share: {back: 0.1}\nmax_channel: {search_ads: 900000}\n")
    proc = _cli(
        str(scenario_file), "--out", str(tmp_path / "o"), "--constraints", str(constraints), "--replications", "4"
    )
    assert proc.returncode == 0, proc.stderr
    rec = json.loads((tmp_path / "o" / "recommendation.json").read_text())
    assert rec["recommended_split"]["back"] >= 0.1 - 1e-9
    assert rec["constraints"]["max_channel"] == {"search_ads": 900000.0}
    assert (tmp_path / "o" / "sensitivity.csv").exists() and (tmp_path / "o" / "marginal_roi.json").exists()
