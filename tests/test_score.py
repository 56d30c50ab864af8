"""Customer scores: one row per snapshot customer, consistent with the forecast's closed form and with the
segment rules, and the CLI's CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.analysis.forecast import expected_base_repeat
from sim.analysis.score import ACTIONS, SCORE_COLUMNS, score_customers
from sim.calibration.calibrate import Assumptions, calibrate
from sim.calibration.writer import write_calibration
from sim.cli import app
from sim.model.scenario import load_scenario

EXPORT = Path(__file__).resolve().parents[1] / "data" / "samples" / "client_export"
runner = CliRunner()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    cal = calibrate(EXPORT / "orders.csv", until="2025-09-30", assumptions=Assumptions(currency="KRW"))
    path, _ = write_calibration(cal, folder / "client.yaml")
    return load_scenario(path)


def test_scores_add_up_to_the_forecast_and_follow_the_segment_rules(scenario):
    table = score_customers(scenario, 13)
    assert list(table.columns) == SCORE_COLUMNS
    assert len(table) == scenario.market.existing.customers
    total = float(expected_base_repeat(scenario, np.array([91.0]))[0])
    assert table["expected_orders"].sum() == pytest.approx(total, rel=1e-9)
    assert ((table["p_alive"] >= 0) & (table["p_alive"] <= 1)).all()
    one_time = table["frequency"] == 0
    assert (table.loc[one_time & (table["p_alive"] >= 0.3), "segment"] == "one-time, hesitating").all()
    assert (table.loc[table["p_alive"] < 0.3, "segment"] == "lapsed").all()
    assert (table.loc[~one_time & (table["p_alive"] >= 0.7), "segment"] == "active").all()
    assert set(table["segment"]) == set(ACTIONS)
    assert (table["action"] == table["segment"].map(ACTIONS)).all()
    # CLV rises with expected orders for customers of the same value
    assert np.corrcoef(table["clv"], table["expected_orders"])[0, 1] > 0.9
    assert (table["clv"] >= 0).all()


def test_more_recent_buyers_are_more_likely_alive(scenario):
    table = score_customers(scenario, 4)
    repeaters = table[table["frequency"] == 3]
    gap = repeaters["age_days"] - repeaters["recency_days"]
    assert np.corrcoef(gap, repeaters["p_alive"])[0, 1] < -0.5


def test_cli_score_writes_one_row_per_customer(scenario, tmp_path):
    out = tmp_path / "customers.csv"
    result = runner.invoke(app, ["score", str(scenario.source_path), "--weeks", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert len(table) == scenario.market.existing.customers and table["customer_id"].is_unique
    assert "one-time, hesitating" in result.stdout and "e+" not in result.stdout
