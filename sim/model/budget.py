"""The marketing plan, compiled once: a scenario's budget (totals per period, split by purpose, then by
channel) turned into the monthly spend and the daily drivers both engines read (reach, win-back contacts,
back-end spend)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model.acquisition import reach_per_month
from sim.model.scenario import PURPOSES, Scenario


@dataclass(frozen=True)
class Plan:
    """A scenario's calendar and budget turned into arrays both engines read."""

    dates: pd.DatetimeIndex
    month_starts: pd.DatetimeIndex  # (M,) first day of each plan month
    month_of_day: np.ndarray  # (D,) month index of each day
    days_in_month: np.ndarray  # (M,)
    channels: tuple[str, ...]
    spend_month: np.ndarray  # (M, C, 3) spend by month, channel, purpose (front, back, winback)
    front_contacts_day: np.ndarray  # (D, C) people reached per day by each channel
    winback_contacts_day: np.ndarray  # (D,) win-back contacts per day
    backend_spend_month_effective: np.ndarray  # (M,) back-end spend weighted by channel efficiency
    spend_day: np.ndarray  # (D, 3) spend per day by purpose

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def n_months(self) -> int:
        return len(self.days_in_month)


def monthly_budget(scenario: Scenario) -> np.ndarray:
    """Total marketing budget of each simulated month."""
    b = scenario.budget
    months = scenario.simulation.horizon_months
    totals = b.totals
    per = 3 if b.period == "quarter" else 1
    out = np.empty(months)
    for m in range(months):
        idx = min(m // per, len(totals) - 1)
        out[m] = totals[idx] / per
    return out


def spend_by_month(scenario: Scenario) -> np.ndarray:
    """(M, C, 3) spend by month, channel and purpose."""
    channels = list(scenario.channels)
    total = monthly_budget(scenario)
    out = np.zeros((len(total), len(channels), len(PURPOSES)))
    for j, purpose in enumerate(PURPOSES):
        share = scenario.budget.purpose_split.get(purpose, 0.0)
        for name, cshare in scenario.budget.channel_split.get(purpose, {}).items():
            out[:, channels.index(name), j] = total * share * cshare
    return out


def build_plan(scenario: Scenario, spend_month: np.ndarray | None = None) -> Plan:
    """Compile the scenario's calendar and budget (or an explicit (M, C, 3) spend) to daily arrays."""
    sim = scenario.simulation
    start = pd.Timestamp(sim.start_date)
    end = start + pd.DateOffset(months=sim.horizon_months)
    dates = pd.date_range(start, end - pd.Timedelta(days=1), freq="D")
    # plan months run from the start date by anniversary (a start on the 17th gives months 17th-16th)
    month_starts = pd.DatetimeIndex([start + pd.DateOffset(months=m) for m in range(sim.horizon_months)])
    month_of_day = (
        np.searchsorted(month_starts.values.astype("datetime64[D]"), dates.values.astype("datetime64[D]"), side="right")
        - 1
    )
    days_in_month = np.bincount(month_of_day, minlength=sim.horizon_months).astype(float)
    spend = spend_by_month(scenario) if spend_month is None else np.asarray(spend_month, dtype=float)
    channels = tuple(scenario.channels)
    reach_month = np.zeros(spend.shape[:2])
    cost = np.zeros(len(channels))
    eff = np.zeros(len(channels))
    for c, name in enumerate(channels):
        ch = scenario.channels[name]
        reach_month[:, c] = reach_per_month(
            spend[:, c, 0], ch.reach.max_reach, ch.reach.half_saturation, ch.reach.shape, ch.reach.kind
        )
        cost[c] = ch.winback_cost_per_contact
        eff[c] = ch.backend_efficiency
    per_day = 1.0 / days_in_month[month_of_day]
    front_contacts_day = reach_month[month_of_day] * per_day[:, None]
    winback_contacts_day = (spend[:, :, 2] / cost).sum(axis=1)[month_of_day] * per_day
    backend_eff = (spend[:, :, 1] * eff).sum(axis=1)
    spend_day = spend.sum(axis=1)[month_of_day] * per_day[:, None]
    return Plan(
        dates=dates,
        month_starts=month_starts,
        month_of_day=month_of_day,
        days_in_month=days_in_month,
        channels=channels,
        spend_month=spend,
        front_contacts_day=front_contacts_day,
        winback_contacts_day=winback_contacts_day,
        backend_spend_month_effective=backend_eff,
        spend_day=spend_day,
    )
