"""One number per quantity: every figure of the current plan in a report's data comes from the same run
(the fast engine's expected values, what the optimizer compares plans with), so the text, the charts and
the KPI table cannot disagree; the order log only adds what needs single customers' histories."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from sim.report.data import FRAME_FILES, build_report_data, current_plan_run, frame_columns


@pytest.fixture(scope="module")
def early():
    scenario = small("early_stage_d2c", 0.1, 24)
    return scenario, build_report_data(scenario, replications=2, parallel=False)


def test_current_plan_value_is_the_kpi_tables_contribution(early):
    _, data = early
    assert data.plan["current_value"] == data.kpis["cumulative_contribution"]
    assert data.summary["cumulative_contribution"] == data.kpis["cumulative_contribution"]


def test_current_plan_run_is_what_the_optimizer_evaluates(early):
    """The optimizer values a plan by the fast engine's expected flows over the horizon; the report's
    current-plan run is that very evaluation, so the recommendation's baseline is the KPI table's figure."""
    from sim.engines.fast import horizon_value, simulate_batch
    from sim.model import budget

    scenario, data = early
    spend = budget.spend_by_month(scenario)[None]
    value = float(horizon_value(simulate_batch(scenario, spend, mode="expected"), "contribution")[0])
    assert value == pytest.approx(data.kpis["cumulative_contribution"], rel=1e-9)
    run = current_plan_run(scenario, scenario.simulation.seed)
    assert float(run.daily["contribution"].sum()) == pytest.approx(value, rel=1e-9)


def test_charts_show_the_kpi_tables_figures(early):
    _, data = early
    k = data.kpis
    end = data.stages.iloc[-1]
    assert end["customer"] + end["loyal"] == pytest.approx(k["active_customers_end"], rel=1e-9)
    assert end["lapsed"] == pytest.approx(k["lapsed_customers_end"], rel=1e-9)
    revenue = data.revenue["revenue_new"].sum() + data.revenue["revenue_returning"].sum()
    assert revenue == pytest.approx(k["revenue"], rel=1e-9)
    assert data.revenue["new_customers"].sum() == pytest.approx(k["new_customers"], rel=1e-9)
    funnel = data.funnel.set_index("step")
    assert funnel.loc["first_purchase", "count"] == pytest.approx(k["new_customers"], rel=1e-9)
    assert funnel.loc["first_purchase", "rate_from_previous"] == pytest.approx(k["first_purchase_conversion"])
    assert list(funnel["source"]) == ["plan", "plan", "order_log", "order_log"]
    current = data.levers[data.levers["current"].astype(bool)]
    assert np.allclose(current["contribution"], k["cumulative_contribution"], rtol=1e-9)
    assert data.meta["sources"]["kpis"] == data.meta["sources"]["stages"] == "plan"


def test_monthly_tables_follow_the_plan_months():
    """A start date that is not the 1st: months run from the 17th, in the stages, revenue and cohort tables."""
    scenario = small("early_stage_d2c", 0.1, 14).with_changes({"simulation.start_date": "2027-01-17"})
    data = build_report_data(scenario, replications=2, parallel=False)
    assert list(data.stages["month"].dt.day.unique()) == [17] and len(data.stages) == 14
    assert list(data.revenue["month"].dt.day.unique()) == [17]
    assert data.cohorts["cohort"].str.endswith("-17").all() and not data.cohorts.empty


def test_both_plans_figures_are_the_optimizers(early):
    """The recommended plan's KPI column is the run the optimizer values it by; the gain's parts add up to the
    gain; the current plan's column, marginal ROIs and spend over time are the KPI table's and the run's."""
    from sim.model.scenario import PURPOSES

    scenario, data = early
    plans, k = data.plans, data.kpis
    assert plans["kpis"]["current"] == k
    rec = plans["kpis"]["recommended"]
    assert rec["cumulative_contribution"] == pytest.approx(data.plan["recommended_value"], rel=1e-6)
    assert data.gain["value"].sum() == pytest.approx(data.plan["uplift_mean"], rel=1e-6)
    roi = data.marginal.set_index(["plan", "purpose"])["roi"]
    for p in PURPOSES:
        assert k[f"marginal_roi_{p}"] == roi["current", p] == plans["marginal_roi"]["current"][p]
        assert rec[f"marginal_roi_{p}"] == roi["recommended", p]
    months = scenario.simulation.horizon_months
    for name in ("current", "recommended"):
        path = data.path[data.path["plan"] == name]
        spent = (path["budget_per_month"] * 3).sum()  # quarters of three months
        assert spent == pytest.approx(data.plan["monthly_budget_mean"] * months, rel=1e-9), name
    assert plans["front_spend"]["current"] > 0 and {a["purpose"] for a in plans["advice"]} == set(PURPOSES)


def test_report_data_of_both_plans_and_the_calendar_are_finite(early):
    """No NaN or infinity in the new tables and dicts (None marks a figure that is not defined)."""
    _, data = early

    def finite(value):
        return value is None or isinstance(value, str | bool) or np.isfinite(value)

    def walk(node):
        if isinstance(node, dict):
            return all(walk(v) for v in node.values())
        if isinstance(node, list):
            return all(walk(v) for v in node)
        return finite(node)

    assert walk(data.plans) and walk(data.kpis)
    for frame in (data.path, data.gain, data.capacity, data.events):
        numbers = frame.select_dtypes("number")
        assert not frame.empty and np.isfinite(numbers.to_numpy(dtype=float)).all()
    assert len(data.capacity) == 24 and (data.capacity["capacity_per_day"] > 0).all()
    assert len(data.events) == 6  # the sample's six promotions inside 24 months


def test_every_table_has_the_columns_the_data_folder_promises(early):
    """`frame_columns` (the header written for a table the report lacks) is what a full report writes."""
    _, data = early
    for name in FRAME_FILES:
        frame = getattr(data, name)
        if not frame.columns.empty:
            assert list(frame.columns) == frame_columns(name), name
