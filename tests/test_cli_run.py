"""`sim run` writes the contract files; the same seed gives the same bytes."""

from __future__ import annotations

import json

import pandas as pd
import yaml
from conftest import small
from typer.testing import CliRunner

from sim.cli import app
from sim.model.kpis import KPI_NAMES
from sim.model.result import ORDER_COLUMNS, TIMESERIES_COLUMNS

runner = CliRunner()


def _small_file(tmp_path, name="early_stage_d2c", months=8):
    s = small(name, months=months)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(s.model_dump(mode="json"), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_run_writes_contract_files(tmp_path):
    path = _small_file(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--no-marginal"])
    assert result.exit_code == 0, result.output
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns[: len(TIMESERIES_COLUMNS)]) == TIMESERIES_COLUMNS
    stages = ts[["unaware", "aware", "customer", "loyal", "lapsed"]].sum(axis=1)
    assert (stages == small("early_stage_d2c").market.size).all()
    orders = pd.read_csv(out / "orders.csv")
    assert list(orders.columns) == ORDER_COLUMNS
    assert len(orders) == ts["orders"].sum()
    kpis = json.loads((out / "kpis.json").read_text())
    for name in KPI_NAMES:
        assert name in kpis
    assert kpis["cumulative_contribution"] == ts["contribution"].sum() or abs(
        kpis["cumulative_contribution"] - ts["contribution"].sum()
    ) < 1e-3 * abs(ts["contribution"].sum())
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary files left"


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    path = _small_file(tmp_path, "mature_marketplace", months=6)
    outs = []
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        out = tmp_path / name
        result = runner.invoke(app, ["run", str(path), "--out", str(out), "--seed", seed, "--no-marginal"])
        assert result.exit_code == 0, result.output
        outs.append(out)
    for f in ("timeseries.csv", "orders.csv", "kpis.json"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    assert (outs[0] / "timeseries.csv").read_bytes() != (outs[2] / "timeseries.csv").read_bytes()


def test_replications_write_means_and_bands(tmp_path):
    path = _small_file(tmp_path, months=4)
    out = tmp_path / "rep"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--replications", "5", "--no-marginal"])
    assert result.exit_code == 0, result.output
    ts = pd.read_csv(out / "timeseries.csv")
    for col in ("orders", "revenue", "customer"):
        assert f"{col}_p05" in ts and f"{col}_p95" in ts
        assert (ts[f"{col}_p05"] <= ts[col] + 1e-9).all() and (ts[col] <= ts[f"{col}_p95"] + 1e-9).all()
    assert ts["orders_p95"].sum() > ts["orders_p05"].sum()
