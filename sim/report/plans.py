"""Both plans side by side, as the report shows them: the current plan and the optimizer's recommendation.

The optimizer (`sim.analysis.optimize`) gives the recommended plan over time, its gain in parts with bands,
both plans' marginal ROIs and its budget advice. This module turns that into the report's tables, each row
labelled with its plan and period: the spend a month by purpose in every period of both plans (the plan over
time), the gain's parts, both plans' KPIs from one fast-engine run each (the same function the KPI table
uses), both plans' retention cohorts (to explain a 12-month retention that moves against the spend), and the
front-end spend each plan makes (a CAC is not defined where it is zero).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.io import finite_or_none as _num
from sim.io import plain
from sim.model import budget
from sim.model.calendar import calendar
from sim.model.kpis import compute_kpis
from sim.model.scenario import PURPOSES, Scenario

PLANS = ("current", "recommended")
PATH_COLUMNS = ["plan", "period", "start", "end", "budget_per_month", *(f"{p}_per_month" for p in PURPOSES)]
GAIN_COLUMNS = ["part", "value", "p05", "p95"]
# KPIs a zero front-end spend leaves undefined: no money was spent to win the customers that came
FRONT_KPIS = ("cac", "ltv_cac", "payback_months")


def recommended_scenario(scenario: Scenario, opt) -> Scenario:
    """The scenario with its budget replaced by the optimizer's recommended plan over time (what the optimizer
    itself evaluates as "recommended")."""
    from sim.analysis.optimize import fixed_spend
    from sim.analysis.plans import scenario_with_path

    return scenario_with_path(fixed_spend(scenario), opt.recommended_path)


def plan_rows(path: pd.DataFrame | None, plan: str) -> pd.DataFrame | None:
    """One plan's rows ("current" or "recommended") of a `plan_path` table, in period order; None without one."""
    if path is None or path.empty:
        return None
    return path[path["plan"] == plan].reset_index(drop=True)


def plan_path(scenario: Scenario, recommended: Scenario, period_months: int) -> pd.DataFrame:
    """Spend a month by purpose in each period of both plans (the periods the optimizer searched: quarters by
    default), from the spend tables both engines read; one row per plan and period."""
    cal = calendar(scenario)
    months = cal.n_months
    period = np.arange(months) // period_months
    rows = []
    for name, s in (("current", scenario), ("recommended", recommended)):
        by_month = budget.spend_by_month(s).sum(axis=1)  # (M, 3)
        for k in range(int(period.max()) + 1):
            idx = np.flatnonzero(period == k)
            end = cal.month_starts[idx[-1]] + pd.DateOffset(months=1) - pd.Timedelta(days=1)
            spend = by_month[idx].mean(axis=0)
            row = {
                "plan": name,
                "period": k + 1,
                "start": cal.month_starts[idx[0]].date().isoformat(),
                "end": end.date().isoformat(),
                "budget_per_month": float(spend.sum()),
            }
            row.update({f"{p}_per_month": float(spend[j]) for j, p in enumerate(PURPOSES)})
            rows.append(row)
    return pd.DataFrame(rows, columns=PATH_COLUMNS)


def gain_parts(opt) -> pd.DataFrame:
    """The gain of the recommended plan over the current one in parts (budget level, purpose split on average,
    its timing, channel mix), each with its 90% band, as the optimizer measured them."""
    if opt is None or getattr(opt, "decomposition", None) is None:
        return pd.DataFrame(columns=GAIN_COLUMNS)
    return opt.decomposition[GAIN_COLUMNS].reset_index(drop=True).astype({"value": float, "p05": float, "p95": float})


def plan_figures(current_run, recommended_run, opt, current_kpis: dict[str, Any]) -> dict[str, Any]:
    """Both plans' KPIs, marginal ROIs, retention cohorts and front-end spend, plus the optimizer's advice, as
    one JSON-able dict. The current plan's KPIs are the KPI table's (`current_kpis`); the recommended plan's
    come from its own run through the same KPI function."""
    rec_kpis = clean_kpis(compute_kpis(recommended_run, opt.marginal_roi.get("recommended")))
    rec_kpis = undefined_without_front(rec_kpis, front_spend(recommended_run))
    return {
        "kpis": {"current": current_kpis, "recommended": rec_kpis},
        "marginal_roi": {name: {p: _num(opt.marginal_roi.get(name, {}).get(p)) for p in PURPOSES} for name in PLANS},
        "marginal_step": {
            name: {p: _num((getattr(opt, "marginal_step", None) or {}).get(name, {}).get(p)) for p in PURPOSES}
            for name in PLANS
        },
        "front_spend": {"current": front_spend(current_run), "recommended": front_spend(recommended_run)},
        "back_spend": {
            "current": purpose_spend(current_run, "back"),
            "recommended": purpose_spend(recommended_run, "back"),
        },
        "cohort": {"current": _cohort(current_run), "recommended": _cohort(recommended_run)},
        "recommended_budget_mean": _spent(recommended_run) / recommended_run.scenario.simulation.horizon_months,
        "advice": plain(opt.advice),
        "hurdle_rate": float(opt.hurdle_rate),
        "period": opt.period,
        "budget_level_free": opt.constraints.budget_cap is not None,
        "constraints": plain(opt.constraints.as_dict()),  # the rules the plan keeps (the scenario's planning)
    }


def _spent(run) -> float:
    """What a run spends on marketing (the three purposes) over the horizon."""
    return float(sum(purpose_spend(run, p) for p in PURPOSES))


def front_spend(run) -> float:
    return purpose_spend(run, "front")


def purpose_spend(run, purpose: str) -> float:
    """What a run spends on one purpose over the horizon."""
    return float(run.daily[f"spend_{purpose}"].sum())


def undefined_without_front(kpis: dict[str, Any], spent_front: float) -> dict[str, Any]:
    """The KPIs with CAC, LTV:CAC and payback set to None (not defined) when the plan spends nothing on the
    front end: customers still come (word of mouth, promotions), but none was bought, so their cost is not 0."""
    if spent_front > 0:
        return kpis
    return {k: (None if k in FRONT_KPIS else v) for k, v in kpis.items()}


def clean_kpis(kpis: dict[str, Any]) -> dict[str, float | None]:
    """Every KPI a finite float or None (NaN and infinity never reach a file or a page)."""
    return {k: _num(v) for k, v in kpis.items()}


def _cohort(run) -> dict[str, float | None]:
    """The retention cohort of a run: people active 12 months before the end and those still active at it."""
    return {"start": _num(run.cohort.get("start")), "retained": _num(run.cohort.get("retained"))}
