"""Scaling a scenario down (or up) while keeping its per-person dynamics: for tests, teaching and demos.

Market counts, reach, budgets and capacities scale together, so shares, rates, CAC and per-customer
economics stay roughly the same while the agent engine has fewer people to simulate.
"""

from __future__ import annotations

from sim.model.scenario import Scenario


def scaled(scenario: Scenario, factor: float, horizon_months: int | None = None) -> Scenario:
    """A copy of `scenario` with the market, reach, budget, promotions' reach and cost, and capacities multiplied
    by `factor`."""
    if factor <= 0:
        raise ValueError('"factor" must be > 0')
    data = scenario.model_dump(mode="python")
    m = data["market"]
    m["size"] = max(1, int(round(m["size"] * factor)))
    m["initially_aware"] = int(round(m["initially_aware"] * factor))
    for key in ("customers", "loyal", "lapsed"):
        m["existing"][key] = int(round(m["existing"][key] * factor))
    for ch in data["channels"].values():
        ch["reach"]["max_reach"] *= factor
        ch["reach"]["half_saturation"] *= factor
    b = data["budget"]
    b["totals"] = [t * factor for t in b["totals"]]
    for event in data["events"]:  # a promotion's reach and cost scale with the market
        event["extra_reach"] *= factor
        event["fixed_cost"] *= factor
    ops = data["operations"]
    ops["fulfilment_capacity_per_day"] = max(1.0, ops["fulfilment_capacity_per_day"] * factor)
    ops["service_capacity_per_day"] = max(1.0, ops["service_capacity_per_day"] * factor)
    if horizon_months is not None:
        data["simulation"]["horizon_months"] = horizon_months
    copy = Scenario.model_validate(data)
    copy._source = scenario.source_path
    return copy
