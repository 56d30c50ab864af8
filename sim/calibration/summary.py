"""The customer summary of an order log: what the repeat-purchase models see of each customer.

Each customer is reduced to x (repeat transactions), t_x (days from the first to the last transaction) and
T (days from the first transaction to the cut-off), plus the count, sum and sum of logs of transaction
values (for the order-value models). A time split cuts the same log at an earlier date to check forecasts
out of sample inside the calibration window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 365.25 / 12.0


def summarize(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """One row per customer: frequency x (repeat transactions), recency t_x and age T in days.

    Same conventions as Fader, Hardie & Lee (2005) and lifetimes' `summary_data_from_transaction_data`:
    t_x = last - first transaction day, T = cut-off - first transaction day. Also the count, sum and sum
    of logs of transaction values (for the order-value models).
    """
    tx = transactions
    day = ((tx["date"] - cutoff) / pd.Timedelta(days=1)).to_numpy()
    codes, uniques = pd.factorize(tx["customer_id"], sort=True)
    n = np.bincount(codes)
    first = np.full(len(uniques), np.inf)
    last = np.full(len(uniques), -np.inf)
    np.minimum.at(first, codes, day)
    np.maximum.at(last, codes, day)
    amount = tx["amount"].to_numpy(dtype=float)
    positive = amount > 0
    logs = np.where(positive, np.log(np.where(positive, amount, 1.0)), 0.0)
    return pd.DataFrame(
        {
            "customer_id": np.asarray(uniques, dtype=object),
            "frequency": n - 1,
            "recency": (last - first).astype(np.int64),
            "age": (-first).astype(np.int64),
            "n_positive": np.bincount(codes, weights=positive.astype(float)).astype(np.int64),
            "value_sum": np.bincount(codes, weights=amount),
            "log_value_sum": np.bincount(codes, weights=logs),
            "first_day": first.astype(np.int64),
        }
    )


def month_index(dates: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The calendar month (its first day) of each date: how an order log's own history is tabulated."""
    return pd.DatetimeIndex(pd.DatetimeIndex(dates).to_period("M").to_timestamp())


def repeat_transactions(transactions: pd.DataFrame) -> pd.DataFrame:
    """The transactions that are not a customer's first (date, customer_id, amount)."""
    first = transactions.groupby("customer_id")["date"].transform("min")
    return transactions[transactions["date"] > first]
