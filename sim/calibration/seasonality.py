"""The calendar of demand, estimated jointly with the repeat-purchase model: a monthly index and event uplifts.

Dividing raw monthly order counts by their mean confounds the season with the base's growth and decay (a
young shop has more orders every month). Here the season multiplies each active customer's purchase rate
instead: on day d the rate is lambda * m(d), m(d) = index[month of d] * (1 + uplift of an event on d). A
Poisson process with a time-varying rate is a homogeneous one on the clock C(d) = sum of m up to d, so each
customer's history is the family's likelihood at the clock's times (x, C(last) - C(first), C(cut-off) -
C(first)) times the product of m at the repeat purchases (the density of the event times). The index (mean
1, 11 free values), the events' uplifts and the family's parameters are fitted together by maximum
likelihood, with standard errors from the joint Hessian. The dropout clock of Pareto/NBD runs on the same
seasonal clock (an approximation: the season moves buying, not leaving, much).

With under 12 months the index is not identified (each month seen once at most is confounded with the
trend): it is flat and a one-line warning says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from sim.calibration.btyd import RepeatPurchaseFitter, hessian_from_gradient
from sim.errors import DataError

MIN_MONTHS = 12
EVENT_NAMES = ("name", "event", "campaign", "이벤트", "행사", "캠페인", "이름")
EVENT_START_NAMES = ("start", "startdate", "from", "begin", "시작", "시작일")
EVENT_END_NAMES = ("end", "enddate", "to", "until", "종료", "종료일")


@dataclass
class EventCalendar:
    """Dated campaigns from --events (name, start, end), with each past one's fitted uplifts."""

    source: str
    names: list[str]
    starts: list[pd.Timestamp]
    ends: list[pd.Timestamp]
    uplift: dict[int, tuple[float, float]] = field(default_factory=dict)  # event -> (uplift, se) on repeat buying
    uplift_aware: dict[int, tuple[float, float]] = field(default_factory=dict)  # on first purchases

    def future_events(self, cutoff: pd.Timestamp) -> list[dict[str, Any]]:
        """Events after the cut-off as scenario `events`, with the uplift fitted for the same name."""
        by_name = {self.names[i]: v for i, v in self.uplift.items()}
        aware = {self.names[i]: v for i, v in self.uplift_aware.items()}
        out = []
        for i, name in enumerate(self.names):
            if self.ends[i] <= cutoff or name not in by_name:
                continue
            out.append(
                {
                    "name": name,
                    "start": self.starts[i].date(),
                    "end": self.ends[i].date(),
                    "uplift_customers": round(max(by_name[name][0], 0.0), 4),
                    "uplift_aware": round(max(aware.get(name, (0.0, 0.0))[0], 0.0), 4),
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "source": Path(self.source).name,
            "fitted": [
                {
                    "name": self.names[i],
                    "start": str(self.starts[i].date()),
                    "end": str(self.ends[i].date()),
                    "uplift_customers": float(u),
                    "uplift_customers_se": float(se),
                    "uplift_aware": float(self.uplift_aware.get(i, (np.nan, np.nan))[0]),
                    "uplift_aware_se": float(self.uplift_aware.get(i, (np.nan, np.nan))[1]),
                }
                for i, (u, se) in self.uplift.items()
            ],
            "not_in_history": [n for i, n in enumerate(self.names) if i not in self.uplift],
        }


@dataclass
class SeasonalIndex:
    """A fitted monthly index (January .. December, mean 1) with standard errors."""

    index: np.ndarray
    standard_errors: np.ndarray
    months_observed: int

    def summary(self) -> dict[str, Any]:
        return {
            "method": "joint maximum likelihood with the repeat-purchase model (seasonal clock)",
            "index": [float(v) for v in self.index],
            "standard_errors": [float(v) for v in self.standard_errors],
            "months_observed": self.months_observed,
        }


def read_events(path: str | Path) -> EventCalendar:
    """A campaign calendar CSV: name, start, end (inclusive), one row per event."""
    from sim.calibration.orderlog import find_column, parse_dates, read_table

    source = str(path)
    frame, _ = read_table(path, "event calendar")
    ncol = find_column(frame, EVENT_NAMES, None, "event name", "a 'name' header", source)
    scol = find_column(frame, EVENT_START_NAMES, None, "start date", "a 'start' header", source)
    ecol = find_column(frame, EVENT_END_NAMES, None, "end date", "an 'end' header", source)
    if frame.empty:
        raise DataError("has a header but no events", file=source, location="row 2")
    starts = parse_dates(frame[scol], source, scol)
    ends = parse_dates(frame[ecol], source, ecol)
    bad = (ends < starts).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            "event ends before it starts",
            file=source,
            location=f"row {i + 2}",
            found=f"{starts.iloc[i].date()} .. {ends.iloc[i].date()}",
            allowed="end on or after start",
        )
    names = frame[ncol].astype(str).str.strip().tolist()
    return EventCalendar(source, names, list(starts), list(ends))


def estimate(
    transactions: pd.DataFrame,
    summary: pd.DataFrame,
    cutoff: pd.Timestamp,
    fitter: RepeatPurchaseFitter,
    events_path: str | Path | None,
    source: str,
    warnings: list[str],
) -> tuple[SeasonalIndex | None, EventCalendar | None, RepeatPurchaseFitter]:
    """The seasonal index and event uplifts fitted jointly with `fitter`'s family (or none, said in one line)."""
    calendar = read_events(events_path) if events_path is not None else None
    start = transactions["date"].min()
    days = pd.date_range(start, cutoff, freq="D")
    months = len(pd.period_range(start, cutoff, freq="M"))
    if (cutoff - start).days + 1 < 365:
        warnings.append(
            f"the order log spans under 12 months ({(cutoff - start).days + 1} days): the seasonal index is flat"
            " (not estimated)" + ("; event uplifts are not estimated either" if calendar is not None else "")
        )
        return None, calendar, fitter
    event_days = _event_days(calendar, days) if calendar is not None else []
    active = [i for i, d in enumerate(event_days) if d.any()]
    joint = _JointFit(transactions, summary, cutoff, days, fitter, [event_days[i] for i in active])
    theta, cov = joint.fit(source)
    k = len(fitter.param_names)
    params = np.exp(theta[:k])
    fitter.params_ = dict(zip(fitter.param_names, (float(v) for v in params), strict=True))
    fitter.standard_errors_ = dict(
        zip(fitter.param_names, (float(v) for v in params * np.sqrt(np.diag(cov)[:k])), strict=True)
    )
    fitter.log_covariance_ = cov[:k, :k]
    fitter.log_likelihood_ = joint.log_likelihood_
    fitter.iterations_ += joint.iterations_
    index, index_se = joint.index_with_se(theta, cov)
    seasonal = SeasonalIndex(index, index_se, months)
    if calendar is not None:
        for j, i in enumerate(active):
            u = float(np.exp(theta[k + 11 + j]) - 1.0)
            se = float(np.exp(theta[k + 11 + j]) * np.sqrt(cov[k + 11 + j, k + 11 + j]))
            calendar.uplift[i] = (u, se)
            calendar.uplift_aware[i] = _first_purchase_uplift(summary, cutoff, days, event_days[i])
        past_missing = [
            n for i, n in enumerate(calendar.names) if i not in calendar.uplift and calendar.starts[i] <= cutoff
        ]
        if past_missing:
            warnings.append(f"events outside the order log's days were not estimated: {', '.join(past_missing[:5])}")
    return seasonal, calendar, fitter


def _event_days(calendar: EventCalendar, days: pd.DatetimeIndex) -> list[np.ndarray]:
    return [np.asarray((days >= s) & (days <= e)) for s, e in zip(calendar.starts, calendar.ends, strict=True)]


def _first_purchase_uplift(summary, cutoff, days, on_event: np.ndarray) -> tuple[float, float]:
    """Uplift of first purchases during an event against the 28 days either side: a Poisson rate ratio - 1,
    se by the delta method (sqrt(1/n_in + 1/n_out) on the log scale)."""
    first_day = (cutoff + pd.to_timedelta(summary["first_day"].to_numpy(), unit="D") - days[0]).days.to_numpy()
    counts = np.bincount(first_day, minlength=len(days))[: len(days)].astype(float)
    idx = np.flatnonzero(on_event)
    lo, hi = max(idx[0] - 28, 0), min(idx[-1] + 29, len(days))
    around = np.zeros(len(days), dtype=bool)
    around[lo:hi] = True
    around &= ~on_event
    n_in, n_out = counts[on_event].sum(), counts[around].sum()
    if n_in == 0 or n_out == 0 or not around.any():
        return float("nan"), float("nan")
    ratio = (n_in / on_event.sum()) / (n_out / around.sum())
    return float(ratio - 1.0), float(ratio * np.sqrt(1.0 / n_in + 1.0 / n_out))


class _JointFit:
    """The joint log-likelihood of family parameters, 11 free log-index values and log(1 + uplift) per event.

    Speed: the clock is a cumulative sum over the log's days, and its derivatives are cumulative sums of the
    day's share of each parameter, so a customer's clock times and their derivatives are differences of two
    rows; d loglik / d clock time comes from the family's likelihood by central differences (vectorized).
    """

    def __init__(self, transactions, summary, cutoff, days, fitter, event_days):
        self.fitter = fitter
        self.ll = type(fitter).log_likelihood
        self.k = len(fitter.param_names)
        self.n_days = len(days)
        self.moy = (days.month.to_numpy() - 1).astype(int)
        self.events = np.array(event_days, dtype=float).reshape(len(event_days), self.n_days)
        d0 = days[0]
        first = (cutoff + pd.to_timedelta(summary["first_day"].to_numpy(), unit="D") - d0).days.to_numpy()
        last = first + summary["recency"].to_numpy()
        self.x = summary["frequency"].to_numpy(dtype=float)
        self.first, self.last, self.cut = first.astype(int), last.astype(int), self.n_days - 1
        firsts = transactions.groupby("customer_id")["date"].transform("min")
        rep = transactions[transactions["date"] > firsts]
        rep_day = (rep["date"] - d0).dt.days.to_numpy()
        self.rep_counts = np.bincount(rep_day, minlength=self.n_days)[: self.n_days].astype(float)
        self.n = float(len(self.x))
        self.iterations_ = 0
        self.log_likelihood_ = float("nan")

    def _day_multiplier(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """m(d), the index of each month and d m(d) / d (index logits, event logs) as (P, days)."""
        logits = np.concatenate([phi[:11], [0.0]])
        w = np.exp(logits - logits.max())
        index = 12.0 * w / w.sum()
        ev = phi[11:]
        factor = np.exp(ev @ self.events) if len(ev) else np.ones(self.n_days)
        m = index[self.moy] * factor
        # d index_j / d logit_i = index_j (delta_ij - w_i / sum w)
        share = w / w.sum()
        onehot = (self.moy[None, :] == np.arange(11)[:, None]).astype(float)
        d_logits = m[None, :] * (onehot - share[:11, None])
        d_events = m[None, :] * self.events
        return m, index, np.vstack([d_logits, d_events])

    def _value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        k = self.k
        params = np.exp(np.clip(theta[:k], -30.0, 30.0))
        phi = theta[k:]
        m, _, dm = self._day_multiplier(phi)
        clock = np.concatenate([[0.0], np.cumsum(m)])  # clock[d] = sum of m over days before d
        dclock = np.concatenate([np.zeros((len(phi), 1)), np.cumsum(dm, axis=1)], axis=1)
        tx = clock[self.last] - clock[self.first]
        tT = clock[self.cut] - clock[self.first]
        with np.errstate(all="ignore"):
            ll = self.ll(*params, self.x, tx, tT)
            value = float(ll.sum() + self.rep_counts @ np.log(m))
            g_fam = self._family_gradient(theta[:k], tx, tT)
            h = 1e-4 * np.maximum(tT, 1.0)
            d_tx = (self.ll(*params, self.x, np.minimum(tx + h, tT), tT) - ll) / (np.minimum(tx + h, tT) - tx)
            d_tT = (self.ll(*params, self.x, tx, tT + h) - self.ll(*params, self.x, tx, tT - h)) / (2 * h)
        d_tx = np.where(np.isfinite(d_tx), d_tx, 0.0)
        g_phi = (
            (dclock[:, self.last] - dclock[:, self.first]) @ d_tx
            + (dclock[:, self.cut][:, None] - dclock[:, self.first]) @ d_tT
            + dm @ (self.rep_counts / m)
        )
        grad = np.concatenate([g_fam, g_phi])
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e10, np.zeros_like(theta)
        return -value / self.n, -grad / self.n

    def _family_gradient(self, logp: np.ndarray, tx: np.ndarray, tT: np.ndarray) -> np.ndarray:
        """d loglik / d log-parameters: the family's analytic gradient if it has one, else central differences."""
        grad = type(self.fitter).gradient_fn
        params = np.exp(logp)
        if grad is not None:
            return grad(*params, self.x, tx, tT).sum(axis=0) * params
        out = np.zeros(self.k)
        for i in range(self.k):
            e = np.zeros(self.k)
            e[i] = 1e-5
            up = self.ll(*np.exp(logp + e), self.x, tx, tT).sum()
            dn = self.ll(*np.exp(logp - e), self.x, tx, tT).sum()
            out[i] = (up - dn) / 2e-5
        return out

    def fit(self, source: str) -> tuple[np.ndarray, np.ndarray]:
        start = np.concatenate([np.log(self.fitter.values), np.zeros(11 + len(self.events))])
        res = optimize.minimize(
            self._value_and_grad, start, jac=True, method="BFGS", options={"gtol": 1e-8, "maxiter": 3000}
        )
        self.iterations_ = int(res.nit)
        theta = res.x
        hess = hessian_from_gradient(lambda t: self._value_and_grad(t)[1], theta, step=1e-4) * self.n
        try:
            cov = np.linalg.inv(hess)
        except np.linalg.LinAlgError:
            cov = np.full_like(hess, np.nan)
        if not np.all(np.isfinite(np.diag(cov))) or np.any(np.diag(cov) < 0):
            raise DataError(
                "the seasonal index could not be estimated (the likelihood is flat)",
                file=source,
                allowed="an order log covering 12 months or more with repeat purchases in most months",
            )
        self.log_likelihood_ = float(-res.fun * self.n)
        return theta, cov

    def index_with_se(self, theta: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The index and its standard errors (delta method through the softmax)."""
        k = self.k
        logits = np.concatenate([theta[k : k + 11], [0.0]])
        w = np.exp(logits - logits.max())
        share = w / w.sum()
        index = 12.0 * share
        jac = index[:, None] * (np.eye(12)[:, :11] - share[None, :11])  # d index_j / d logit_i
        c = cov[k : k + 11, k : k + 11]
        se = np.sqrt(np.maximum(np.einsum("ji,ik,jk->j", jac, c, jac), 0.0))
        return index, se
