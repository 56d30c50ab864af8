"""The customer base a scenario starts with: who is active, loyal or lapsed, and how each one buys.

Each existing customer gets a purchase rate and a dropout (chance per order, or hazard) drawn from the
scenario's repeat-purchase family (`sim.model.repeat`), so that engines continue with heterogeneous people,
not with averages.

With a snapshot (`market.existing.snapshot`, written by `sim calibrate`) the base is the client's own
customers: each one's history (frequency x, recency t_x, age T in days) gives a posterior, and the
engines continue each customer drawn from it (the family's `draw_posterior` in `sim.calibration`): active or
not at the cut-off, and, given that, lambda and the dropout (e.g. Batislam, Denizel & Filiztekin 2007).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import ScenarioError
from sim.model import repeat
from sim.model.scenario import RepeatPurchase, Scenario

SNAPSHOT_COLUMNS = ("customer_id", "frequency", "recency", "age")
DAYS_PER_MONTH = 365.25 / 12.0

PRIOR_ORDERS_CUSTOMER = 1  # an active, non-loyal customer has bought at least once
PRIOR_ORDERS_LOYAL = 3  # a loyal customer is a repeat buyer


@dataclass(frozen=True)
class ExistingCustomers:
    """Arrays with one entry per existing customer (active, loyal or lapsed)."""

    purchase_rate: np.ndarray  # orders per day while active
    dropout: np.ndarray  # chance of dropping out after an order
    stage: np.ndarray  # 0 customer, 1 loyal, 2 lapsed
    prior_orders: np.ndarray  # orders before the start
    lapsed_months_ago: np.ndarray  # months since lapsing (lapsed only; 0 otherwise)
    customer_id: np.ndarray | None = field(default=None)  # client ids (snapshot only)
    p_alive: np.ndarray | None = field(default=None)  # P(active at the start | history) (snapshot only)

    def __len__(self) -> int:
        return len(self.stage)


def existing_customers(scenario: Scenario, rng: np.random.Generator) -> ExistingCustomers:
    """The starting base: from the snapshot's posteriors if one is set, else drawn from the priors."""
    ex = scenario.market.existing
    if ex.snapshot is not None:
        return _from_snapshot(scenario, rng)
    n_c, n_l, n_x = ex.customers, ex.loyal, ex.lapsed
    n = n_c + n_l + n_x
    lam, p = repeat.draw_people(scenario.repeat_purchase, n, rng)
    stage = np.repeat(np.array([0, 1, 2], dtype=np.int8), [n_c, n_l, n_x])
    prior = np.repeat(np.array([PRIOR_ORDERS_CUSTOMER, PRIOR_ORDERS_LOYAL, PRIOR_ORDERS_CUSTOMER]), [n_c, n_l, n_x])
    months_ago = np.zeros(n, dtype=np.int64)
    if n_x:
        months_ago[n_c + n_l :] = rng.integers(1, ex.lapsed_months_ago_max + 1, size=n_x)
    return ExistingCustomers(lam, p, stage, prior, months_ago)


def load_snapshot(scenario: Scenario) -> pd.DataFrame:
    """The scenario's customer snapshot: customer_id, frequency, recency, age (days), checked."""
    snap = scenario.market.existing.snapshot
    if snap is None:
        raise ScenarioError("the scenario has no customer snapshot", location="market -> existing -> snapshot")
    path = scenario.resolve(snap)
    try:
        stat = path.stat()
    except OSError:
        raise ScenarioError(
            "customer snapshot file not found", location="market -> existing -> snapshot", found=str(path)
        ) from None
    return _read_snapshot(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _read_snapshot(path: str, _mtime: int, _size: int) -> pd.DataFrame:
    """Read once per file version (replications and engines re-read the same snapshot)."""
    try:
        frame = pd.read_csv(path, dtype={"customer_id": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ScenarioError(f"cannot read the customer snapshot: {exc}", file=path) from None
    missing = [c for c in SNAPSHOT_COLUMNS if c not in frame.columns]
    if missing:
        raise ScenarioError(
            f"customer snapshot lacks column {missing[0]!r}",
            file=path,
            location="row 1",
            allowed=", ".join(SNAPSHOT_COLUMNS),
        )
    nums = frame[["frequency", "recency", "age"]].apply(pd.to_numeric, errors="coerce")
    bad = nums.isna().any(axis=1) | (nums < 0).any(axis=1) | (nums["recency"] > nums["age"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ScenarioError(
            "bad snapshot row: frequency, recency and age must be numbers >= 0 with recency <= age",
            file=path,
            location=f"row {i + 2}",
        )
    out = nums.astype(float)
    out.insert(0, "customer_id", frame["customer_id"].astype(str).to_numpy())
    return out


def _from_snapshot(scenario: Scenario, rng: np.random.Generator) -> ExistingCustomers:
    """Snapshot customers drawn from the family's posterior (active ones stage 0, dropped-out ones
    lapsed since their last purchase), followed by any loyal/lapsed counts drawn from the priors."""
    ex = scenario.market.existing
    rp = scenario.repeat_purchase
    posterior, params = family_posterior(rp)
    snap = load_snapshot(scenario)
    x = snap["frequency"].to_numpy()
    t_x = snap["recency"].to_numpy()
    T = snap["age"].to_numpy()
    active, lam, p = posterior.draw_posterior(*params, x, t_x, T, rng)
    alive = posterior.p_alive(*params, x, t_x, T)
    stage = np.where(active, 0, 2).astype(np.int8)
    prior = (x + 1).astype(np.int64)
    months_ago = np.where(active, 0, np.clip(np.round((T - t_x) / DAYS_PER_MONTH), 1, 120)).astype(np.int64)
    n_l, n_x = ex.loyal, ex.lapsed
    if n_l or n_x:
        lam2, p2 = repeat.draw_people(scenario.repeat_purchase, n_l + n_x, rng)
        lam = np.concatenate([lam, lam2])
        p = np.concatenate([p, p2])
        stage = np.concatenate([stage, np.repeat(np.array([1, 2], dtype=np.int8), [n_l, n_x])])
        prior = np.concatenate([prior, np.repeat([PRIOR_ORDERS_LOYAL, PRIOR_ORDERS_CUSTOMER], [n_l, n_x])])
        extra_months = np.zeros(n_l + n_x, dtype=np.int64)
        if n_x:
            extra_months[n_l:] = rng.integers(1, ex.lapsed_months_ago_max + 1, size=n_x)
        months_ago = np.concatenate([months_ago, extra_months])
    ids = np.concatenate([snap["customer_id"].to_numpy(dtype=object), np.full(n_l + n_x, None, dtype=object)])
    alive = np.concatenate([alive, np.where(np.arange(n_l + n_x) < n_l, 1.0, 0.0)])
    return ExistingCustomers(lam, p, stage, prior, months_ago, ids, alive)


def family_posterior(rp: RepeatPurchase):
    """The module with the posterior of a scenario's repeat-purchase family (`p_alive`, `draw_posterior`), and
    its parameters: it lives beside the family's likelihood in `sim.calibration` (`families.module`), so the
    posterior and the fit cannot disagree (with a never-dropout share, the mixture's `stayers.Mixture`)."""
    from sim.calibration import families

    return families.module(families.family_of(rp)), families.params_of(rp)


def snapshot_path(scenario: Scenario) -> Path | None:
    """Where the scenario's snapshot lives, if it has one."""
    snap = scenario.market.existing.snapshot
    return None if snap is None else scenario.resolve(snap)
