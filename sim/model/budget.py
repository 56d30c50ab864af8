"""The marketing plan, compiled once: a scenario's budget (totals per period, split by purpose, then by
channel, either of which may change from one split period to the next) turned into the monthly spend and
the monthly drivers both engines read (reach, win-back contacts, back-end spend per customer).

A plan is a spend table (M, C, 3): plan month, channel, purpose (front, back, winback). Back-end spend may
instead be set per active customer (`budget.back_per_customer`): then its amount follows the base day by
day, and the table holds no back-end spend for those months; `back_per_customer` (M,) holds the amount
(NaN in months planned the usual way) and `back_shares` (M, C) the channels that carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.model import acquisition
from sim.model.scenario import PURPOSES, Scenario


def monthly_budget(scenario: Scenario) -> np.ndarray:
    """Total marketing budget of each simulated month (a quarter's total is spread over its three months)."""
    b = scenario.budget
    months = scenario.simulation.horizon_months
    per = 3 if b.period == "quarter" else 1
    idx = np.minimum(np.arange(months) // per, len(b.totals) - 1)
    return np.asarray(b.totals, dtype=float)[idx] / per


def spend_by_month(scenario: Scenario) -> np.ndarray:
    """(M, C, 3) spend by plan month, channel and purpose, each month split as the plan says for it."""
    channels = list(scenario.channels)
    total = monthly_budget(scenario)
    out = np.zeros((len(total), len(channels), len(PURPOSES)))
    b = scenario.budget
    for m in range(len(total)):
        split, csplit = b.purpose_split_in(m), b.channel_split_in(m)
        for j, purpose in enumerate(PURPOSES):
            share = split.get(purpose, 0.0)
            for name, cshare in csplit.get(purpose, {}).items():
                out[m, channels.index(name), j] = total[m] * share * cshare
    return out


def back_per_customer(scenario: Scenario) -> np.ndarray:
    """(M,) back-end spend per active customer per month where the plan sets it so, NaN elsewhere."""
    b = scenario.budget
    months = scenario.simulation.horizon_months
    return np.array([np.nan if b.back_per_customer_in(m) is None else b.back_per_customer_in(m) for m in range(months)])


def back_shares(scenario: Scenario) -> np.ndarray:
    """(M, C) channel shares of back-end spend in each month (its `channel_split -> back`)."""
    channels = list(scenario.channels)
    months = scenario.simulation.horizon_months
    out = np.zeros((months, len(channels)))
    for m in range(months):
        for name, share in scenario.budget.channel_split_in(m).get("back", {}).items():
            out[m, channels.index(name)] = share
    return out


@dataclass(frozen=True)
class MonthlyDrivers:
    """What a batch of plans (S rows) sets for each plan month: (S, M) arrays, spend per day (S, M, 3)."""

    reach_by_channel: np.ndarray  # (S, M, C) people reached per month by each channel's front-end spend
    winback_contacts: np.ndarray  # (S, M) win-back contacts per month
    backend_effective: np.ndarray  # (S, M) back-end spend per month, weighted by channel efficiency
    per_customer: np.ndarray  # (S, M) back-end spend per active customer per month; NaN = a fixed amount
    per_customer_efficiency: np.ndarray  # (S, M) channel efficiency of that per-customer spend
    spend_day: np.ndarray  # (S, M, 3) fixed spend per day by purpose (per-customer back-end spend excluded)

    @property
    def reach(self) -> np.ndarray:
        """(S, M) people reached per month, all channels."""
        return self.reach_by_channel.sum(axis=2)

    @property
    def any_per_customer(self) -> bool:
        return bool(np.isfinite(self.per_customer).any())


def monthly_drivers(
    scenarios: Sequence[Scenario],
    spend: np.ndarray,
    days_in_month: np.ndarray,
    per_customer: np.ndarray | None = None,
    per_customer_shares: np.ndarray | None = None,
) -> MonthlyDrivers:
    """Reach, win-back contacts and back-end spend of each month of S plans (S, M, C, 3) of scenarios that
    share channels; `per_customer` (S, M) and `per_customer_shares` (S, M, C) as in `back_per_customer` and
    `back_shares` (default: each scenario's own)."""
    channels = list(scenarios[0].channels)
    S, M, C, _ = spend.shape
    reach = np.zeros((S, M, C))
    cost = np.zeros((S, C))
    eff = np.zeros((S, C))
    for c, name in enumerate(channels):
        chans = [s.channels[name] for s in scenarios]
        cost[:, c] = [ch.winback_cost_per_contact for ch in chans]
        eff[:, c] = [ch.backend_efficiency for ch in chans]
        kinds = np.array([ch.reach.kind for ch in chans])
        for kind in np.unique(kinds):
            rows = kinds == kind
            sel = [ch for ch, k in zip(chans, rows, strict=True) if k]
            reach[rows, :, c] = acquisition.reach_per_month(
                spend[rows, :, c, 0],
                np.array([ch.reach.max_reach for ch in sel])[:, None],
                np.array([ch.reach.half_saturation for ch in sel])[:, None],
                np.array([ch.reach.shape for ch in sel])[:, None],
                str(kind),
            )
    if per_customer is None:  # each scenario's own (speed: a scenario repeated over rows is read once)
        unique = {id(s): s for s in scenarios}  # (a comprehension over the rows would read each row again)
        own = {key: (back_per_customer(s), back_shares(s)) for key, s in unique.items()}
        per_customer = np.stack([own[id(s)][0] for s in scenarios])
        per_customer_shares = np.stack([own[id(s)][1] for s in scenarios])
    elif per_customer_shares is None:
        raise ValueError("per_customer needs per_customer_shares: the channels that carry it")
    return MonthlyDrivers(
        reach_by_channel=reach,
        winback_contacts=(spend[:, :, :, 2] / cost[:, None, :]).sum(axis=2),
        backend_effective=(spend[:, :, :, 1] * eff[:, None, :]).sum(axis=2),
        per_customer=np.asarray(per_customer, dtype=float),
        per_customer_efficiency=(np.asarray(per_customer_shares, dtype=float) * eff[:, None, :]).sum(axis=2),
        spend_day=spend.sum(axis=2) / days_in_month[None, :, None],
    )


def backend_today(drivers_effective, per_customer, per_customer_efficiency, active):
    """(effective back-end spend per active customer per month, back-end spend per month) of a month's plan
    and the morning's active customers: a fixed amount shared by the base, or an amount per customer
    (`per_customer` NaN, or None for every row, means a fixed amount; its spend is then the plan's, None)."""
    if type(active) is not np.ndarray:  # speed: scalar branch (the agent engine, once a day)
        if per_customer is None or per_customer != per_customer:  # NaN: a fixed amount this month
            return drivers_effective / max(active, 1.0), None
        return per_customer * per_customer_efficiency, per_customer * active
    if per_customer is None:  # speed: no row of the batch sets its back-end spend per customer
        return drivers_effective / np.maximum(active, 1.0), None
    fixed = np.isnan(per_customer)
    per = np.where(fixed, drivers_effective / np.maximum(active, 1.0), per_customer * per_customer_efficiency)
    return per, np.where(fixed, np.nan, per_customer * active)
