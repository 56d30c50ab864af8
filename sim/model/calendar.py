"""The model's one calendar: days, plan months, plan periods, the seasons and the promotions.

A plan month runs from the start date's day of month to the day before it in the next month (a start on
the 17th gives months 17th to 16th), so that a horizon of N months is exactly N plan months. KPIs, result
tables, the optimizer, reports and forecasts all group days by these months (`Calendar.month_sums`), never
by calendar months. Demand, though, follows the calendar: the seasonal index is read by each day's calendar
month, and promotions by their dates (`day_factors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from sim.model.scenario import Scenario

DAYS_PER_MONTH = 365.25 / 12.0  # average days in a month: monthly rates become daily hazards with it


@dataclass(frozen=True)
class Calendar:
    """Every simulated day and the plan month it belongs to."""

    dates: pd.DatetimeIndex  # (D,) the simulated days
    month_starts: pd.DatetimeIndex  # (M,) first day of each plan month
    month_of_day: np.ndarray  # (D,) plan month of each day (0 = the first)
    days_in_month: np.ndarray  # (M,) days of each plan month
    calendar_month: np.ndarray  # (D,) calendar month of each day, 0 = January (for the seasonal index)

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def n_months(self) -> int:
        return len(self.days_in_month)

    def month_sums(self, daily: np.ndarray) -> np.ndarray:
        """Sums by plan month of a (D, ...) array of daily flows: (M, ...)."""
        x = np.asarray(daily, dtype=float)
        out = np.zeros((self.n_months, *x.shape[1:]))
        np.add.at(out, self.month_of_day, x)
        return out

    def month_ends(self, daily: np.ndarray) -> np.ndarray:
        """Values on the last day of each plan month of a (D, ...) array of daily stocks: (M, ...)."""
        last = np.cumsum(self.days_in_month).astype(np.int64) - 1
        return np.asarray(daily)[last]

    def months_of_periods(self, months_per_period: int) -> np.ndarray:
        """(M,) index of the plan period (of `months_per_period` months) each plan month belongs to."""
        return np.arange(self.n_months) // months_per_period


@lru_cache(maxsize=64)
def _calendar(start: date, horizon_months: int) -> Calendar:
    begin = pd.Timestamp(start)
    end = begin + pd.DateOffset(months=horizon_months)
    dates = pd.date_range(begin, end - pd.Timedelta(days=1), freq="D")
    month_starts = pd.DatetimeIndex([begin + pd.DateOffset(months=m) for m in range(horizon_months)])
    day = dates.values.astype("datetime64[D]")
    month_of_day = np.searchsorted(month_starts.values.astype("datetime64[D]"), day, side="right") - 1
    days_in_month = np.bincount(month_of_day, minlength=horizon_months).astype(float)
    for arr in (month_of_day, days_in_month):
        arr.setflags(write=False)
    calendar_month = (dates.month.to_numpy() - 1).astype(np.int64)
    calendar_month.setflags(write=False)
    return Calendar(dates, month_starts, month_of_day, days_in_month, calendar_month)


def calendar(scenario: Scenario) -> Calendar:
    """The calendar of a scenario's horizon (worked out once per start date and horizon)."""
    return _calendar(scenario.simulation.start_date, scenario.simulation.horizon_months)


@dataclass(frozen=True)
class DayFactors:
    """What the season and the promotions do to each day (D,): multipliers of 1 and zeros on plain days."""

    first_purchase: np.ndarray  # multiplier of aware people's first-purchase hazard
    repeat_purchase: np.ndarray  # multiplier of active customers' purchase rates
    reach: np.ndarray  # multiplier of front-end reach
    extra_reach: np.ndarray  # people reached by promotions, on top of the plan's reach [people per day]
    price: np.ndarray  # share of the list price an order pays (1 - discount)
    event_cost: np.ndarray  # promotions' fixed cost [currency per day]

    @property
    def plain(self) -> bool:
        """No season and no promotion: every multiplier 1 and nothing extra."""
        return bool(
            (self.first_purchase == 1.0).all()
            and (self.repeat_purchase == 1.0).all()
            and (self.reach == 1.0).all()
            and not self.extra_reach.any()
            and (self.price == 1.0).all()
            and not self.event_cost.any()
        )


def seasonal_index(scenario: Scenario, cal: Calendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first purchase, repeat purchase, reach) multipliers of each day from the monthly demand index."""
    ones = np.ones(cal.n_days)
    season = scenario.seasonality
    if season is None:
        return ones, ones, ones
    by_day = np.asarray(season.index, dtype=float)[cal.calendar_month]
    return (
        by_day if season.first_purchases else ones,
        by_day if season.repeat_purchases else ones,
        by_day if season.reach else ones,
    )


def day_factors(scenario: Scenario, cal: Calendar | None = None) -> DayFactors:
    """The season's and the promotions' effect on each simulated day.

    Overlapping promotions compound their uplifts and their discounts (20% off, then 10% off the rest, is 28%
    off) and add their reach and costs. A promotion's extra reach and fixed cost are spread evenly over its
    days; days outside the horizon are not simulated.
    """
    cal = cal or calendar(scenario)
    first, repeat, reach = seasonal_index(scenario, cal)
    first, repeat = first.copy(), repeat.copy()
    extra = np.zeros(cal.n_days)
    price = np.ones(cal.n_days)
    cost = np.zeros(cal.n_days)
    day0 = cal.dates[0]
    for event in scenario.events:
        lo = (pd.Timestamp(event.start) - day0).days
        hi = (pd.Timestamp(event.end) - day0).days + 1
        n_event_days = hi - lo
        lo, hi = max(lo, 0), min(hi, cal.n_days)
        if hi <= lo:
            continue
        days = slice(lo, hi)
        first[days] *= 1.0 + event.uplift_aware
        repeat[days] *= 1.0 + event.uplift_customers
        extra[days] += event.extra_reach / n_event_days
        price[days] *= 1.0 - event.discount
        cost[days] += event.fixed_cost / n_event_days
    return DayFactors(first, repeat, reach, extra, price, cost)
