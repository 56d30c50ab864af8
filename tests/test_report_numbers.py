"""One number per quantity: every figure of the current plan in a report's data comes from the same run
(the fast engine's expected values, what the optimizer compares plans with), so the text, the charts and
the KPI table cannot disagree; the order log only adds what needs single customers' histories."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from sim.report.data import build_report_data, current_plan_run


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
