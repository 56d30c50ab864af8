"""Retention effects from a lift test: the shipped sample (generated from known effects) is recovered within
its standard errors, per customer and as a per-group summary, and calibrate writes them into the retention block."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.calibrate import Assumptions, calibrate
from sim.calibration.families import fitter_from_params
from sim.calibration.lifttest import fit_lift_test, simulate_lift_test

EXPORT = Path(__file__).resolve().parents[1] / "data" / "samples" / "client_export"
TRUTH = json.loads((EXPORT / "TRUE_PARAMETERS.json").read_text())


def _check(fit, tolerance=3.0):
    truth = TRUTH["lift_test"]
    for name, (v, se) in (
        ("purchase_rate_uplift", fit.purchase_rate_uplift),
        ("dropout_reduction", fit.dropout_reduction),
        ("order_value_uplift", fit.order_value_uplift),
    ):
        assert se > 0 and abs(v - truth[name]) <= tolerance * se, (name, v, se, truth[name])


def test_sample_lift_test_effects_are_recovered_with_the_calibrated_model():
    cal = calibrate(EXPORT / "orders.csv", lift_test=EXPORT / "lift_test.csv", assumptions=Assumptions(currency="KRW"))
    _check(cal.lift)
    block = cal.scenario["retention"]
    values = cal.lift.retention_values()
    assert block["purchase_rate_uplift_max"] == pytest.approx(values["purchase_rate_uplift_max"][0], rel=1e-5)
    assert "fitted from the lift test" in cal.comments["retention.purchase_rate_uplift_max"]
    assert cal.diagnostics["lift_test"]["treated_customers"] == 5000
    # what a lift test does not measure is said to be an assumption, never "fitted" with a zero error
    assert "ASSUMPTION" in cal.comments["retention.half_saturation_per_customer"]
    assert "se 0" not in cal.comments["retention.half_saturation_per_customer"]
    assert "does not measure it" in cal.comments["retention.first_party_data_share"]


def test_measured_back_end_effects_are_a_fitted_input_of_the_break_evens():
    """With a lift test the back-end effect sizes are fitted: the break-even search tries them within their
    standard errors (the largest relative error of the three effects), and the report's table says fitted."""
    from sim.analysis.breakeven import standard_error
    from sim.model.scenario import parse_scenario

    cal = calibrate(EXPORT / "orders.csv", lift_test=EXPORT / "lift_test.csv", assumptions=Assumptions(currency="KRW"))
    at = cal.diagnostics["lift_test"]["at_tested_spend"]
    relative = [at[f"{k}_se"] / at[k] for k in ("purchase_rate_uplift", "dropout_reduction", "order_value_uplift")]
    scenario = parse_scenario(cal.scenario)
    assert standard_error(scenario, "retention.effect") == pytest.approx(max(relative))
    # an older calibration block without the written error reads it from the effects themselves
    older = {
        **cal.diagnostics,
        "lift_test": {k: v for k, v in cal.diagnostics["lift_test"].items() if k != "standard_errors"},
    }
    assert standard_error(parse_scenario({**cal.scenario, "calibration": older}), "retention.effect") == pytest.approx(
        max(relative)
    )
    # without a lift test the effect sizes stay an assumption
    bare = calibrate(EXPORT / "orders.csv", assumptions=Assumptions(currency="KRW"))
    assert standard_error(parse_scenario(bare.scenario), "retention.effect") is None


def test_per_group_summary_gives_the_same_effects(tmp_path):
    per = pd.read_csv(EXPORT / "lift_test.csv")
    rows = []
    for g, part in per.groupby("group"):
        rows.append(
            {
                "group": g,
                "customers": len(part),
                "buyers": int((part["orders"] > 0).sum()),
                "orders": int(part["orders"].sum()),
                "revenue": float(part["revenue"].sum()),
                "spend": float(part["spend"].iloc[0]),
                "days": float(part["days"].iloc[0]),
            }
        )
    path = tmp_path / "summary.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    fitter = fitter_from_params("mbgnbd", {k: TRUTH["repeat_purchase"][k] for k in ("r", "alpha", "a", "b")})
    fit = fit_lift_test(path, fitter)
    assert fit.treated == 5000 and fit.spend_per_customer == 4000.0
    _check(fit)


def test_no_effect_gives_effects_near_zero(tmp_path):
    rng = np.random.default_rng(8)
    table = simulate_lift_test(4000, 0.9, 72.0, 1.2, 5.0, 120.0, 0.0, 0.0, 0.0, 1000.0, rng)
    path = tmp_path / "null.csv"
    table.to_csv(path, index=False)
    fit = fit_lift_test(path, fitter_from_params("mbgnbd", {"r": 0.9, "alpha": 72.0, "a": 1.2, "b": 5.0}))
    assert abs(fit.purchase_rate_uplift[0]) < 3 * fit.purchase_rate_uplift[1]
    assert abs(fit.order_value_uplift[0]) < 3 * fit.order_value_uplift[1]


def test_a_fitted_effect_is_capped_where_the_scenario_schema_caps_it():
    """The caps are read from the schema: a scenario with an effect at its cap validates, one above is refused."""
    from sim.calibration.lifttest import EFFECT_CAPS
    from sim.model.scenario import Retention

    for name, cap in EFFECT_CAPS.items():
        assert getattr(Retention(**{name: cap}), name) == cap
        with pytest.raises(ValueError):
            Retention(**{name: cap * 1.01})
