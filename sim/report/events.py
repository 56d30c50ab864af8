"""The calendar where it matters: orders against the fulfilment team's capacity, and what each promotion did.

A shop's fulfilment team ships a fixed number of orders a day; a seasonal peak or a sale can push the day's
orders past it, parcels leave late, late parcels disappoint, and disappointed customers leave. The report
shows, for the current plan (fast engine, expected values, the figures of every other current-plan view):

- each plan month's orders a day on average and on its busiest day, against the capacity a day;
- for each promotion, the same run without it (a counterfactual): the orders it added, its discount and
  fixed cost, the delay and the dissatisfied share of orders over the event and the fortnight after it, what
  it earned over the horizon after its discount and cost, and the customers lost to late parcels: the
  difference the promotion makes to the customers at the horizon with the shop's capacity, less the
  difference it would make if the team could ship any number of orders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.model.calendar import calendar
from sim.model.scenario import MAX_PER_DAY, Scenario

AFTERMATH_DAYS = 14  # a backlog outlives the sale: delays and disappointment are counted over the event and 14 days
# orders a day: a team that never queues (the counterfactual for customers lost), at the schema's own bound
UNLIMITED_CAPACITY = MAX_PER_DAY
MONTH_COLUMNS = [
    "month",
    "orders",
    "orders_per_day",
    "peak_day_orders",
    "capacity_per_day",
    "days_over_capacity",
    "delay_days",
    "dissatisfied_share",
    "events",
]
EVENT_COLUMNS = [
    "name",
    "start",
    "end",
    "orders",
    "extra_orders",
    "peak_day_orders",
    "capacity_per_day",
    "over_capacity",
    "discounts",
    "fixed_cost",
    "delay_days",
    "delay_days_without",
    "dissatisfied_share",
    "dissatisfied_share_without",
    "contribution_effect",
    "customers_effect",
    "customers_lost",
]


def events_in_horizon(scenario: Scenario) -> list[int]:
    """Indexes of the scenario's promotions that start inside the simulated horizon."""
    dates = calendar(scenario).dates
    first, last = dates[0].date(), dates[-1].date()
    return [i for i, e in enumerate(scenario.events) if e.start <= last and e.end >= first]


def capacity_months(run) -> pd.DataFrame:
    """One row per plan month of a run: orders, orders a day on average and on the busiest day, the
    fulfilment capacity a day, days over it, the mean delay per order, the dissatisfied share and the
    promotions running that month."""
    s = run.scenario
    cal = calendar(s)
    d = run.daily
    orders = d["orders"].to_numpy(dtype=float)
    capacity = float(s.operations.fulfilment_capacity_per_day)
    month = cal.month_of_day
    rows = []
    for m, first in enumerate(cal.month_starts):
        day = month == m
        n_orders = float(orders[day].sum())
        delay = float((d["fulfilment_delay_days"].to_numpy()[day] * orders[day]).sum())
        bad = float(d["dissatisfied"].to_numpy()[day].sum())
        last = first + pd.DateOffset(months=1) - pd.Timedelta(days=1)
        names = sorted({e.name for e in s.events if e.start <= last.date() and e.end >= first.date()})
        rows.append(
            {
                "month": first,
                "orders": n_orders,
                "orders_per_day": n_orders / max(int(day.sum()), 1),
                "peak_day_orders": float(orders[day].max()) if day.any() else 0.0,
                "capacity_per_day": capacity,
                "days_over_capacity": int((orders[day] > capacity).sum()),
                "delay_days": delay / n_orders if n_orders > 0 else 0.0,
                "dissatisfied_share": bad / n_orders if n_orders > 0 else 0.0,
                "events": " · ".join(names),
            }
        )
    return pd.DataFrame(rows, columns=MONTH_COLUMNS)


def counterfactual_scenarios(scenario: Scenario, overloaded: list[int]) -> list[Scenario]:
    """The runs the promotions' effects need, in order: the plan without each promotion in the horizon; then,
    when some promotion exceeds capacity, the plan with unlimited capacity, and without each of those with it."""
    events = [e.model_dump(mode="python") for e in scenario.events]
    inside = events_in_horizon(scenario)
    out = [scenario.with_changes({"events": [e for j, e in enumerate(events) if j != i]}) for i in inside]
    if overloaded:
        free = scenario.with_changes({"operations.fulfilment_capacity_per_day": UNLIMITED_CAPACITY})
        out.append(free)
        out += [free.with_changes({"events": [e for j, e in enumerate(events) if j != i]}) for i in overloaded]
    return out


def overloaded_events(run) -> list[int]:
    """The promotions in the horizon on whose days, or the fortnight after, orders exceed capacity."""
    s = run.scenario
    orders = run.daily["orders"]
    capacity = float(s.operations.fulfilment_capacity_per_day)
    return [i for i in events_in_horizon(s) if float(orders[_window(run.daily.index, s.events[i])].max()) > capacity]


def event_effects(run, variants: list) -> pd.DataFrame:
    """One row per promotion in the horizon (see the module docstring), from the current plan's run and the
    counterfactual runs of `counterfactual_scenarios(run.scenario, overloaded_events(run))`, in that order."""
    s = run.scenario
    inside = events_in_horizon(s)
    overloaded = overloaded_events(run)
    without = dict(zip(inside, variants[: len(inside)], strict=True))
    free, free_without = None, {}
    if overloaded:
        free = variants[len(inside)]
        free_without = dict(zip(overloaded, variants[len(inside) + 1 :], strict=True))
    capacity = float(s.operations.fulfilment_capacity_per_day)
    d = run.daily
    rows = []
    for i in inside:
        e = s.events[i]
        sale = _window(d.index, e, aftermath=0)
        after = _window(d.index, e)
        other = without[i].daily
        lost = 0.0
        if i in free_without:
            lost = (_customers(free) - _customers(free_without[i])) - (_customers(run) - _customers(without[i]))
        rows.append(
            {
                "name": e.name,
                "start": e.start.isoformat(),
                "end": e.end.isoformat(),
                "orders": float(d["orders"][sale].sum()),
                "extra_orders": float(d["orders"][sale].sum() - other["orders"][sale].sum()),
                "peak_day_orders": float(d["orders"][after].max()),
                "capacity_per_day": capacity,
                "over_capacity": i in overloaded,
                "discounts": float(d["discounts"][sale].sum()),
                "fixed_cost": float(d["event_cost"][after].sum() - other["event_cost"][after].sum()),
                "delay_days": _delay(d, after),
                "delay_days_without": _delay(other, after),
                "dissatisfied_share": _dissatisfied(d, after),
                "dissatisfied_share_without": _dissatisfied(other, after),
                "contribution_effect": float(d["contribution"].sum() - other["contribution"].sum()),
                "customers_effect": _customers(run) - _customers(without[i]),
                "customers_lost": float(lost),
            }
        )
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def _window(index: pd.DatetimeIndex, event, aftermath: int = AFTERMATH_DAYS) -> np.ndarray:
    """Days of the event (and `aftermath` days after it) inside the horizon, as a boolean mask."""
    start = pd.Timestamp(event.start)
    end = pd.Timestamp(event.end) + pd.Timedelta(days=aftermath)
    return np.asarray((index >= start) & (index <= end))


def _delay(daily: pd.DataFrame, days: np.ndarray) -> float:
    orders = daily["orders"].to_numpy()[days]
    total = float(orders.sum())
    return float((daily["fulfilment_delay_days"].to_numpy()[days] * orders).sum() / total) if total > 0 else 0.0


def _dissatisfied(daily: pd.DataFrame, days: np.ndarray) -> float:
    total = float(daily["orders"].to_numpy()[days].sum())
    return float(daily["dissatisfied"].to_numpy()[days].sum() / total) if total > 0 else 0.0


def _customers(run) -> float:
    """Active customers at the horizon (customers and loyal)."""
    last = run.daily.iloc[-1]
    return float(last["customer"] + last["loyal"])
