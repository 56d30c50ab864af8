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

from sim.calibration.btyd import RepeatPurchaseFitter, inverse_curvature, unique_rows
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
    rows: list[int] = field(default_factory=list)  # each event's row in the file (header = 1)

    def row(self, i: int) -> int:
        """The file row of event `i` (header = 1), for messages."""
        return self.rows[i] if i < len(self.rows) else i + 2

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
    # each customer's recency and age on the fitted seasonal clock (aligned with the summary): the times the
    # fitted parameters describe, which forecasts and scores condition on (`sim.analysis.forecast`)
    recency_clock: np.ndarray | None = None
    age_clock: np.ndarray | None = None
    covariance: np.ndarray | None = None  # (12, 12) of the index (rank 11: the values have mean 1)

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
            location=f"row {int(frame.index[i]) + 2}",
            found=f"{starts.iloc[i].date()} .. {ends.iloc[i].date()}",
            allowed="end on or after start",
        )
    names = frame[ncol].astype(str).str.strip().tolist()
    rows = [int(r) + 2 for r in frame.index]
    return EventCalendar(source, names, list(starts), list(ends), rows=rows)


def identified(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> bool:
    """Whether the log spans the 12 months the index needs (else it is flat and not estimated)."""
    return (cutoff - transactions["date"].min()).days + 1 >= 365


def estimate(
    transactions: pd.DataFrame,
    summary: pd.DataFrame,
    cutoff: pd.Timestamp,
    fitter: RepeatPurchaseFitter,
    events: str | Path | EventCalendar | None,
    source: str,
    warnings: list[str],
) -> tuple[SeasonalIndex | None, EventCalendar | None, RepeatPurchaseFitter]:
    """The seasonal index and event uplifts fitted jointly with `fitter`'s family (or none, said in one line).

    `events` is a calendar already read (`read_events`, so that a bad file is refused before any fitting) or
    its path."""
    calendar = read_events(events) if isinstance(events, (str, Path)) else events
    start = transactions["date"].min()
    days = pd.date_range(start, cutoff, freq="D")
    months = len(pd.period_range(start, cutoff, freq="M"))
    if not identified(transactions, cutoff):
        warnings.append(
            f"the order log spans under 12 months ({(cutoff - start).days + 1} days): the seasonal index is flat"
            " (not estimated)" + ("; event uplifts are not estimated either" if calendar is not None else "")
        )
        return None, calendar, fitter
    event_days = _event_days(calendar, days) if calendar is not None else []
    active = [i for i, d in enumerate(event_days) if d.any()]
    if calendar is not None:
        _refuse_confounded_events(calendar, active, event_days, days)
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
    fitter.converged_ = joint.converged_
    fitter.message_ = joint.message_
    fitter.n_customers_ = int(joint.n)
    index, index_se = joint.index_with_se(theta, cov)
    recency_clock, age_clock = joint.clock_times(theta)
    seasonal = SeasonalIndex(index, index_se, months, recency_clock, age_clock, joint.index_covariance(theta, cov))
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
        _warn_future_without_namesake(calendar, cutoff, warnings)
    return seasonal, calendar, fitter


def _warn_future_without_namesake(calendar: EventCalendar, cutoff: pd.Timestamp, warnings: list[str]) -> None:
    """Events after the cut-off go into the scenario with the uplift fitted for their name; one whose name no
    past event has has no uplift to carry: say it is left out (not silently dropped)."""
    fitted = {calendar.names[i] for i in calendar.uplift}
    lost = [n for i, n in enumerate(calendar.names) if calendar.ends[i] > cutoff and n not in fitted]
    if lost:
        warnings.append(
            f"future events with no past event of the same name are not in the scenario (no fitted uplift to"
            f" carry): {', '.join(lost[:5])}; name each after the past event it repeats, or add it to the"
            " scenario's events with an assumed uplift"
        )


def _refuse_confounded_events(
    calendar: EventCalendar, active: list[int], event_days: list[np.ndarray], days: pd.DatetimeIndex
) -> None:
    """Refuse events whose uplift the log cannot tell apart: on the same days as another event, or on days
    the other events and the calendar months already cover together (the likelihood would be flat)."""
    moy = days.month.to_numpy()
    columns = [(moy == m).astype(float) for m in np.unique(moy)]
    rank = np.linalg.matrix_rank(np.stack(columns, axis=1))
    kept: list[int] = []
    for i in active:
        trial = np.stack([*columns, *(event_days[j] for j in kept), event_days[i]], axis=1).astype(float)
        if np.linalg.matrix_rank(trial) > rank:
            rank += 1
            kept.append(i)
            continue
        same = next((j for j in kept if np.array_equal(event_days[j], event_days[i])), None)
        on = days[event_days[i]]
        where = f"{on[0].date()} to {on[-1].date()}"
        if same is not None:
            what = (
                f"events {calendar.names[same]!r} (row {calendar.row(same)}) and {calendar.names[i]!r} (row"
                f" {calendar.row(i)}) fall on the same days of the order log ({where}): their uplifts cannot be"
                " told apart"
            )
        else:
            what = (
                f"event {calendar.names[i]!r} (row {calendar.row(i)}, {where} in the order log) covers only days"
                " that other events and whole calendar months already cover: its uplift cannot be told apart"
            )
        raise DataError(
            what,
            file=calendar.source,
            allowed="one row per distinct campaign period: merge such events into one row, or remove one",
        )


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
    """The joint log-likelihood of the family's parameters, 11 free log-index values and log(1 + uplift) per
    event, with its analytic gradient.

    Speed: customers who share the first and last purchase day and the count are one history (weighted);
    the clock is a cumulative sum over the log's days; the family's analytic derivatives with respect to
    its clock times (`gradients_fn`) are gathered onto the days where each history starts, ends and is cut
    off, so the gradient in the index and the events is one product of the day multipliers' derivatives
    with a reversed cumulative sum (no (parameters x customers) matrix is formed).
    """

    def __init__(self, transactions, summary, cutoff, days, fitter, event_days):
        self.fitter = fitter
        self.both = type(fitter).gradients_fn
        self.k = len(fitter.param_names)
        self.n_days = len(days)
        self.moy = (days.month.to_numpy() - 1).astype(int)
        self.events = np.array(event_days, dtype=float).reshape(len(event_days), self.n_days)
        d0 = days[0]
        first = (cutoff + pd.to_timedelta(summary["first_day"].to_numpy(), unit="D") - d0).days.to_numpy()
        last = first + summary["recency"].to_numpy()
        x = summary["frequency"].to_numpy(dtype=float)
        keys = np.stack([first, last, x.astype(np.int64)], axis=1)
        uniq, inverse = unique_rows(keys)
        counts = np.bincount(inverse, minlength=len(uniq))
        self.first, self.last, self.x = uniq[:, 0].astype(int), uniq[:, 1].astype(int), uniq[:, 2].astype(float)
        self.w = counts.astype(float)
        self.inverse = inverse  # each customer's history
        self.end = self.n_days  # the clock at the end of the cut-off day (T runs to its end: `summary`)
        firsts = transactions.groupby("customer_id")["date"].transform("min")
        rep = transactions[transactions["date"] > firsts]
        rep_day = (rep["date"] - d0).dt.days.to_numpy()
        self.rep_counts = np.bincount(rep_day, minlength=self.n_days)[: self.n_days].astype(float)
        self.n = float(self.w.sum())
        self.iterations_ = 0
        self.converged_ = False
        self.message_ = ""
        self.log_likelihood_ = float("nan")

    def multiplier(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """m(d) of each day and the index (12,): index[month of d] * exp(sum of the day's event log-uplifts)."""
        logits = np.concatenate([phi[:11], [0.0]])
        w = np.exp(logits - logits.max())
        index = 12.0 * w / w.sum()
        ev = phi[11:]
        factor = np.exp(ev @ self.events) if len(ev) else np.ones(self.n_days)
        return index[self.moy] * factor, index

    def _d_multiplier(self, phi: np.ndarray, m: np.ndarray) -> np.ndarray:
        """d m(d) / d (index logits, event logs), shape (11 + events, days)."""
        logits = np.concatenate([phi[:11], [0.0]])
        w = np.exp(logits - logits.max())
        share = w / w.sum()
        onehot = (self.moy[None, :] == np.arange(11)[:, None]).astype(float)
        return np.vstack([m[None, :] * (onehot - share[:11, None]), m[None, :] * self.events])

    def clock_times(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(t_x, T) of every customer on the seasonal clock at `theta` (in the order of the summary)."""
        m, _ = self.multiplier(theta[self.k :])
        clock = np.concatenate([[0.0], np.cumsum(m)])  # clock[d]: the start of day d
        tx = clock[self.last] - clock[self.first]
        tT = clock[self.end] - clock[self.first]
        return tx[self.inverse], tT[self.inverse]

    def _value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        k = self.k
        params = np.exp(np.clip(theta[:k], -30.0, 30.0))
        phi = theta[k:]
        m, _ = self.multiplier(phi)
        clock = np.concatenate([[0.0], np.cumsum(m)])
        tx = clock[self.last] - clock[self.first]
        tT = clock[self.end] - clock[self.first]
        with np.errstate(all="ignore"):
            ll, d_params, d_times = self.both(*params, self.x, tx, tT)
            # speed: einsum, not BLAS: OpenBLAS splits a dot over more than 10,000 histories across threads, whose
            # wake-up on a busy machine cost milliseconds an evaluation (more than the likelihood itself)
            value = float(np.einsum("i,i->", self.w, ll) + self.rep_counts @ np.log(m))
            g_fam = np.einsum("i,ij->j", self.w, d_params) * params
            g_phi = self._d_multiplier(phi, m) @ self._per_day(d_times, m)
        grad = np.concatenate([g_fam, g_phi])
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e10, np.zeros_like(theta)
        return -value / self.n, -grad / self.n

    def start(self) -> np.ndarray:
        """A starting point near the maximum: the family's flat fit and, for the index and the events, the
        ratio of observed repeat purchases to those the flat fit expects on each day (the first purchases'
        daily counts convolved with the expected repeat purchases of a new customer)."""
        fam = np.log(self.fitter.values)
        new = np.bincount(self.first, weights=self.w, minlength=self.n_days)[: self.n_days]
        cum = self.fitter.expected_repeat_purchases(np.arange(self.n_days + 1, dtype=float))
        expected = np.convolve(new, np.diff(cum))[: self.n_days] + 1e-9
        ratio_by_month = np.bincount(self.moy, weights=self.rep_counts, minlength=12) / np.maximum(
            np.bincount(self.moy, weights=expected, minlength=12), 1e-9
        )
        index = np.clip(ratio_by_month, 0.2, 5.0)
        index = index / index.mean()
        logits = np.log(index[:11]) - np.log(index[11])
        ups = []
        for e in self.events.astype(bool):
            ratio = self.rep_counts[e].sum() / max(float((expected * index[self.moy])[e].sum()), 1e-9)
            ups.append(float(np.log(np.clip(ratio, 0.2, 20.0))))
        return np.concatenate([fam, logits, ups])

    def outer_product(self, theta: np.ndarray) -> np.ndarray:
        """The outer product of the per-history scores (BHHH) of the mean log-likelihood at `theta`, the
        repeat purchases counted as observations of the day multipliers: BFGS's first curvature estimate."""
        k = self.k
        params = np.exp(theta[:k])
        phi = theta[k:]
        m, _ = self.multiplier(phi)
        clock = np.concatenate([[0.0], np.cumsum(m)])
        tx = clock[self.last] - clock[self.first]
        tT = clock[self.end] - clock[self.first]
        with np.errstate(all="ignore"):
            _, d_params, d_times = self.both(*params, self.x, tx, tT)
        dm = self._d_multiplier(phi, m)
        dclock = np.concatenate([np.zeros((len(phi), 1)), np.cumsum(dm, axis=1)], axis=1)
        g_phi = d_times[:, :1] * (dclock[:, self.last] - dclock[:, self.first]).T + d_times[:, 1:] * (
            dclock[:, self.end][None, :] - dclock[:, self.first].T
        )
        scores = np.concatenate([d_params * params, g_phi], axis=1)
        q = np.vstack([np.zeros((k, self.n_days)), dm / m])  # the purchases' scores: the multipliers only
        out = (scores * self.w[:, None]).T @ scores + (q * self.rep_counts) @ q.T
        return np.where(np.isfinite(out), out, 0.0) / self.n

    def fit(self, source: str) -> tuple[np.ndarray, np.ndarray]:
        start = self.start()
        opts = {"gtol": 1e-8, "maxiter": 3000}
        # speed: BFGS started from the BHHH curvature needs a fraction of the iterations of one started from I
        opts["hess_inv0"] = inverse_curvature(self.outer_product(start))
        res = optimize.minimize(self._value_and_grad, start, jac=True, method="BFGS", options=opts)
        before = self.fitter.iterations_
        self.fitter.message_ = str(res.message)
        # a dropout or rate alike for every customer: the family's mixing distribution pinned on its ridge
        # (`RepeatPurchaseFitter._pin_collapsed`), the covariance that of the directions left free
        plain = {k: v for k, v in opts.items() if k != "hess_inv0"}
        theta, basis, value = self.fitter._pin_collapsed(self._value_and_grad, res.x, float(res.fun), plain)
        grad = self._value_and_grad(theta)[1]
        self.iterations_ = int(res.nit) + self.fitter.iterations_ - before
        self.fitter.iterations_ = before  # `estimate` adds the joint fit's iterations
        self.converged_ = bool(res.success or np.max(np.abs(basis.T @ grad)) < 1e-6)
        self.message_ = self.fitter.message_
        hess = basis.T @ self.hessian(theta, grad) @ basis * self.n
        try:
            cov = basis @ np.linalg.inv(hess) @ basis.T
        except np.linalg.LinAlgError:
            cov = np.full((len(theta), len(theta)), np.nan)
        if not np.all(np.isfinite(np.diag(cov))) or np.any(np.diag(cov) < 0):
            raise DataError(
                "the seasonal index could not be estimated (the likelihood is flat)",
                file=source,
                allowed="an order log covering 12 months or more with repeat purchases in most months",
            )
        self.log_likelihood_ = float(-value * self.n)
        return theta, cov

    def hessian(self, theta: np.ndarray, grad: np.ndarray, step: float = 1e-5) -> np.ndarray:
        """Hessian of the mean negative log-likelihood at `theta` (`grad`: its gradient there).

        The family's columns (and so the cross terms) by forward differences of the analytic gradient; the
        block of the index and the events analytically, from the family's second derivatives in its clock
        times (`time_hessian_fn`) and the day multipliers' first and second derivatives (speed: 4 gradient
        evaluations instead of 15 or more):

            d2 V = sum_i w_i [J_i' H_i J_i] + sum_d c_d d2 m_d - sum_d n_d q_d q_d',

        J_i the derivatives of customer i's clock times, H_i its time Hessian, c_d = dV/dm_d, n_d the day's
        repeat purchases and q_d = d log m_d; d2 m_d = m_d (q_d q_d' - S) with S the softmax's covariance
        (diag(share) - share share') on the index logits.
        """
        k = self.k
        out = np.zeros((len(theta), len(theta)))
        for j in range(k):
            e = np.zeros(len(theta))
            e[j] = step
            out[:, j] = (self._value_and_grad(theta + e)[1] - grad) / step
        params = np.exp(theta[:k])
        phi = theta[k:]
        m, _ = self.multiplier(phi)
        clock = np.concatenate([[0.0], np.cumsum(m)])
        tx = clock[self.last] - clock[self.first]
        tT = clock[self.end] - clock[self.first]
        with np.errstate(all="ignore"):
            _, _, d_times = self.both(*params, self.x, tx, tT)
            h = type(self.fitter).time_hessian_fn(*params, self.x, tx, tT)
        dm = self._d_multiplier(phi, m)
        dclock = np.concatenate([np.zeros((len(phi), 1)), np.cumsum(dm, axis=1)], axis=1)
        j_tx = (dclock[:, self.last] - dclock[:, self.first]).T
        j_T = (dclock[:, [self.end]] - dclock[:, self.first]).T
        cross = (j_tx * (self.w * h[:, 1])[:, None]).T @ j_T
        clock_part = (
            (j_tx * (self.w * h[:, 0])[:, None]).T @ j_tx
            + (j_T * (self.w * h[:, 2])[:, None]).T @ j_T
            + cross
            + cross.T
        )
        c = self._per_day(d_times, m)
        q = dm / m
        second = (q * (c * m)) @ q.T - (q * self.rep_counts) @ q.T
        logits = np.concatenate([phi[:11], [0.0]])
        share = np.exp(logits - logits.max())
        share = (share / share.sum())[:11]
        second[:11, :11] -= float(c @ m) * (np.diag(share) - np.outer(share, share))
        out[k:, k:] = -(clock_part + second) / self.n
        out[:k, k:] = out[k:, :k].T
        return 0.5 * (out + out.T)

    def _per_day(self, d_times: np.ndarray, m: np.ndarray) -> np.ndarray:
        """dV/dm(i) of every day: the clock terms gathered on the days where the histories start, end and are cut
        off, then summed over the later day boundaries (d clock[j] / d m(i) = [i < j]), plus the purchases'."""
        wt = self.w * d_times[:, 0]
        wT = self.w * d_times[:, 1]
        n_b = self.n_days + 1
        on_clock = (
            np.bincount(self.last, weights=wt, minlength=n_b)
            - np.bincount(self.first, weights=wt + wT, minlength=n_b)
            + np.bincount(np.full(len(wT), self.end), weights=wT, minlength=n_b)
        )
        return np.cumsum(on_clock[::-1])[::-1][1:] + self.rep_counts / m

    def index_with_se(self, theta: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The index and its standard errors (delta method through the softmax)."""
        _, index = self.multiplier(theta[self.k :])
        return index, np.sqrt(np.maximum(np.diag(self.index_covariance(theta, cov)), 0.0))

    def index_covariance(self, theta: np.ndarray, cov: np.ndarray) -> np.ndarray:
        """(12, 12) covariance of the index, J C J' with J = d index / d logits (the delta method)."""
        k = self.k
        _, index = self.multiplier(theta[k:])
        share = index / 12.0
        jac = index[:, None] * (np.eye(12)[:, :11] - share[None, :11])  # d index_j / d logit_i
        return jac @ cov[k : k + 11, k : k + 11] @ jac.T
