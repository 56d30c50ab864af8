"""A report from an order log alone: a calibrated scenario without a plan to split (zero budget) still gets
the existing customers' forecast, value and segments, and one line saying which fields the split needs.
With a plan, a calibrated scenario's report adds its customers' segments to the plan's figures."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from sim.analysis.score import SEGMENTS
from sim.cli import app
from sim.model.kpis import KPI_NAMES
from sim.model.scenario import load_scenario
from sim.report.customers import segment_key
from sim.report.data import FRAME_FILES, build_report_data, frame_columns, load_report_data
from sim.report.i18n import LANGUAGES, has, t
from sim.report.render import render_report

EXPORT = ROOT / "data" / "samples" / "client_export"


def calibrate(tmp_path, *extra: str):
    out = tmp_path / "client.yaml"
    args = ["calibrate", str(EXPORT / "orders.csv"), "--currency", "KRW", "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def order_log_alone(tmp_path_factory):
    path = calibrate(tmp_path_factory.mktemp("alone"))
    scenario = load_scenario(path)
    return path, scenario, build_report_data(scenario, replications=2, parallel=False)


def test_every_segment_has_words_in_both_languages():
    for lang in LANGUAGES:
        for name in SEGMENTS:
            assert has(f"segment.{segment_key(name)}", lang) and has(f"segment_action.{segment_key(name)}", lang)


def test_no_plan_means_no_plan_figures(order_log_alone):
    _, _, data = order_log_alone
    assert data.plan["has_plan"] is False and data.plan["recommended_split"] is None
    assert all(data.kpis[k] is None for k in KPI_NAMES), "no KPI of a plan that spends nothing"
    assert "optimize" not in data.timings and data.funnel.empty and data.curve.empty
    assert data.summary["has_plan"] is False and data.summary["base_customers"] == data.base["customers"]


def test_tables_the_report_does_not_have_are_written_as_their_header(order_log_alone, tmp_path):
    """No empty file: a figure without data is its header line, which reads back as the same empty table."""
    _, _, data = order_log_alone
    data.write(tmp_path / "data")
    for name, filename in FRAME_FILES.items():
        header = (tmp_path / "data" / filename).read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == frame_columns(name), filename
    back = load_report_data(tmp_path / "data")
    assert back.funnel.empty and list(back.funnel.columns) == frame_columns("funnel")
    assert len(back.segments) == len(data.segments)


def test_forecast_scores_and_segments_tell_one_story(order_log_alone):
    """The weekly forecast's total, the customers' scores and the segment table are the same figures."""
    _, scenario, data = order_log_alone
    base, seg, fc = data.base, data.segments, data.forecast
    assert base["customers"] == seg["customers"].sum() > 0
    assert list(seg["segment"]) == list(SEGMENTS)
    assert seg["share"].sum() == pytest.approx(1.0)
    assert fc["base_repeat_orders"].sum() == pytest.approx(base["expected_orders"], rel=1e-9)
    assert seg["expected_orders"].sum() == pytest.approx(base["expected_orders"], rel=1e-9)
    assert fc["revenue"].sum() == pytest.approx(base["expected_revenue"], rel=1e-9)
    assert base["expected_orders_p05"] < base["expected_orders"] < base["expected_orders_p95"]
    assert 0 < base["expected_active"] < base["customers"]
    assert len(fc) == base["weeks"] and (fc["base_repeat_orders_p05"] <= fc["base_repeat_orders_p95"]).all()


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_of_an_order_log_alone(order_log_alone, tmp_path, lang):
    path, _, _ = order_log_alone
    out = render_report(path, tmp_path / "report", lang, replications=2)
    page = out.html.read_text(encoding="utf-8")
    for section in ("summary", "forecast", "customers", "playbook", "assumptions"):
        assert f'id="sec-{section}"' in page, section
    for section in ("funnel", "curve", "roi", "breakevens", "kpis"):
        assert f'id="sec-{section}"' not in page, section
    needs = t("summary.needs", lang, file=path.name)
    assert needs in page.replace("&gt;", ">")
    assert all(field in needs for field in ("budget → totals", "budget → purpose_split", "budget → channel_split"))
    assert len(re.findall(r'<tr data-segment="', page)) == len(SEGMENTS)
    assert len(re.findall(r"<img[^>]+src=[\"']data:image/png;base64,", page)) == 2  # forecast and segments
    assert "Traceback" not in page
    assert json.loads((out.data_dir / "base.json").read_text())["customers"] > 0


def test_calibrated_plan_report_adds_the_segments(tmp_path):
    """With a plan (a spend log), the report has the plan's figures and the customers' segments; the segment
    table shows no money (what these customers buy under the plan is in the plan's figures)."""
    path = calibrate(tmp_path, "--spend", str(EXPORT / "spend.csv"), "--market-size", "60000")
    scenario = load_scenario(path).with_changes({"simulation.horizon_months": 12})
    data = build_report_data(scenario, replications=2, parallel=False)
    assert data.plan["has_plan"] and data.kpis["cumulative_contribution"] is not None
    assert data.segments["customers"].sum() == data.base["customers"] > 0
    assert data.forecast.empty, "the plan's own figures, not a forecast without marketing"
