"""The model's one calendar: days, plan months and plan periods, for every layer that counts by month.

A plan month runs from the start date's day of month to the day before it in the next month (a start on
the 17th gives months 17th to 16th), so that a horizon of N months is exactly N plan months. KPIs, result
tables, the optimizer, reports and forecasts all group days by these months, never by calendar months.
"""

from __future__ import annotations

DAYS_PER_MONTH = 365.25 / 12.0  # average days in a month: monthly rates become daily hazards with it
