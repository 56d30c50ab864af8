"""Forecasts: the weeks after a calibrated cut-off, in closed form where the model has one, else simulated.

The customers who existed at the cut-off (the snapshot) keep buying as the fitted repeat-purchase family says;
their expected repeat orders in each coming week have a closed form (the family module's
`conditional_expected_purchases`: Fader, Hardie & Lee 2005 eq. 10 for BG/NBD, Batislam et al. 2007 for
MBG/NBD, Schmittlein et al. 1987 for Pareto/NBD), so no engine runs for them. Their bands are honest: each of
`draws` parameter sets is drawn from the fitted parameters' sampling distribution (normal in
log-parameters, the covariance in the calibration block), then each customer from its posterior under that
set, then their purchases; the 5%/95% points of those futures hold both the parameters' uncertainty and
the customers' own randomness. New customers under the plan depend on reach, awareness and conversion,
which have no closed form: the fast engine gives their expected values (one run in its expected mode), their
bands are Poisson around them (the acquisition curves' own uncertainty is not carried), and no engine runs
when the plan acquires nobody. A plan that changes the existing customers (back-end or win-back spend,
active experience or loyalty levers) or a scenario without a snapshot runs the engine for everything.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.calibration import families
from sim.errors import UserInputError
from sim.model.scenario import Scenario

FORECAST_COLUMNS = ["week_start", "base_repeat_orders", "new_customers", "orders", "revenue"]
MAX_WEEKS = 500


def family_of(scenario: Scenario) -> str:
    """The repeat-purchase family of a scenario (MBG/NBD when the scenario does not name one)."""
    return getattr(scenario.repeat_purchase, "model", None) or families.DEFAULT


def closed_form_applies(scenario: Scenario) -> bool:
    """True when the plan leaves the existing customers' fitted model untouched, so its closed forms describe
    them: a snapshot, no back-end or win-back spend, and loyalty and experience that change nothing."""
    if scenario.market.existing.snapshot is None:
        return False
    b = scenario.budget
    splits = getattr(b, "purpose_splits", None) or [b.purpose_split]
    per_customer = any(getattr(b, "back_per_customer", None) or [])
    no_backend = all(s.get("back", 0.0) == 0.0 and s.get("winback", 0.0) == 0.0 for s in splits) and not per_customer
    loy, e = scenario.loyalty, scenario.experience
    neutral_loyalty = (loy.purchase_rate_multiplier == 1.0 and loy.dropout_multiplier == 1.0) or (
        loy.step_probability_satisfied == 0.0 and loy.step_probability_delighted == 0.0
    )
    neutral_experience = e.dissatisfied_dropout_multiplier == 1.0 and e.delighted_dropout_multiplier == 1.0
    no_extra = scenario.market.existing.loyal == 0 and scenario.market.existing.lapsed == 0
    return no_backend and neutral_loyalty and neutral_experience and no_extra


def snapshot_histories(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """(x, t_x, T, order value per customer, snapshot) of the scenario's snapshot customers."""
    from sim.model.base import load_snapshot

    snap = load_snapshot(scenario)
    x, t_x, T = (snap[c].to_numpy(dtype=float) for c in ("frequency", "recency", "age"))
    values = _order_values(scenario, snap)
    return x, t_x, T, values, snap


def _order_values(scenario: Scenario, snap: pd.DataFrame) -> np.ndarray:
    """Each customer's expected order value: the snapshot's Gamma-Gamma value if calibration wrote one."""
    path = scenario.resolve(scenario.market.existing.snapshot)
    try:
        head = pd.read_csv(path, nrows=0).columns
    except (OSError, ValueError):
        head = []
    if "order_value" in head:
        v = pd.read_csv(path, usecols=["order_value"])["order_value"].to_numpy(dtype=float)
        if len(v) == len(snap) and np.all(np.isfinite(v)) and np.all(v > 0):
            return v
    return np.full(len(snap), scenario.economics.order_value_mean)


def expected_base_repeat(scenario: Scenario, days: np.ndarray, params: tuple[float, ...] | None = None) -> np.ndarray:
    """Expected cumulative repeat orders of the snapshot customers at each of `days` after the start.

    The sum over customers of the family's conditional expectation; customers with identical (x, t_x, T)
    are computed once (a speed trick).
    """
    from sim.calibration.btyd import _unique_histories

    family = family_of(scenario)
    module = families.module(family)
    theta = params if params is not None else families.params_of(scenario.repeat_purchase)
    x, t_x, T, _, _ = snapshot_histories(scenario)
    ux, ut, uT, w = _unique_histories(x, t_x, T)
    days = np.asarray(days, dtype=float)
    per = module.conditional_expected_purchases(days[None, :], ux[:, None], ut[:, None], uT[:, None], *theta)
    return w @ per


def parameter_draws(scenario: Scenario, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """n parameter sets from the fitted parameters' sampling distribution, and what they rest on.

    The calibration block's covariance of the log-parameters if present; else independent log-normal draws
    from the standard errors; else the point estimate only (a scenario without a calibration block).
    """
    family = family_of(scenario)
    names = families.FITTERS[family].param_names
    theta = np.log(np.array(families.params_of(scenario.repeat_purchase)))
    rp = (scenario.calibration or {}).get("repeat_purchase", {})
    fitted_family = rp.get("family", family)
    cov = rp.get("log_covariance") if fitted_family == family else None
    fitted = rp.get("params", {})
    same = fitted_family == family and all(
        k in fitted and fitted[k] and abs(math.log(fitted[k]) - t) < 1e-4 for k, t in zip(names, theta, strict=True)
    )
    if cov is not None and same:
        c = np.array(cov, dtype=float)
        if c.shape == (len(names), len(names)) and np.all(np.isfinite(c)):
            return np.exp(rng.multivariate_normal(theta, c, size=n, method="eigh")), "fitted covariance"
    se = rp.get("standard_errors", {})
    if same and all(se.get(k) for k in names):
        sd = np.array([se[k] / math.exp(t) for k, t in zip(names, theta, strict=True)])
        return np.exp(theta + rng.standard_normal((n, len(names))) * sd), "fitted standard errors"
    return np.exp(np.tile(theta, (n, 1))), "no standard errors (edited or uncalibrated parameters): process noise only"


def simulate_base(
    scenario: Scenario, n_days: int, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, str]:
    """(draws, n_days) repeat orders and revenue of the snapshot customers, one future per parameter draw."""
    module = families.module(family_of(scenario))
    x, t_x, T, values, _ = snapshot_histories(scenario)
    params, basis = parameter_draws(scenario, draws, rng)
    orders, revenue = futures(module, params, x, t_x, T, values, n_days, rng)
    return orders, revenue, basis


def futures(module, params: np.ndarray, x, t_x, T, values, n_days: int, rng: np.random.Generator):
    """(draws, n_days) orders and revenue: for each parameter set, every customer drawn from its posterior
    (`draw_posterior`), then their purchases after the cut-off (`simulate_after`)."""
    draws = len(params)
    orders = np.zeros((draws, n_days))
    revenue = np.zeros((draws, n_days))
    for d in range(draws):
        active, lam, dropout = module.draw_posterior(*params[d], x, t_x, T, rng)
        who, day = module.simulate_after(active, lam, dropout, float(n_days), rng)
        orders[d] = np.bincount(day, minlength=n_days)[:n_days]
        revenue[d] = np.bincount(day, weights=values[who], minlength=n_days)[:n_days]
    return orders, revenue


def _engine_ready(scenario: Scenario, weeks: int) -> tuple[Scenario, int]:
    """A copy that covers `weeks` and starts on the first of a month, and the day offset of the real start.

    The engines' plan counts months from the start date; the calibrated start (the day after the cut-off)
    may fall inside a month. The copy starts on the 1st of that month; the days before the real start are
    simulated and dropped (only the calendar of monthly spend moves).
    """
    start = pd.Timestamp(scenario.simulation.start_date)
    offset = start.day - 1
    days = 7 * weeks + offset
    months = min(120, math.ceil(days / 28.0) + 1)
    changes: dict[str, object] = {"simulation.horizon_months": months}
    if offset:
        changes["simulation.start_date"] = start.replace(day=1).date()
    return scenario.with_changes(changes), offset


def acquires(scenario: Scenario) -> bool:
    """Whether the plan spends on front-end marketing (else no new customers, and no engine to run)."""
    b = scenario.budget
    splits = getattr(b, "purpose_splits", None) or [b.purpose_split]
    return any(t > 0 for t in b.totals) and any(s.get("front", 0.0) > 0 for s in splits)


def _engine_runs(scenario: Scenario, weeks: int, engine: str, seed: int, base_included: bool) -> dict[str, np.ndarray]:
    """Daily flows (1, days) of one engine run over the forecast weeks: expected values where the engine has
    them (the fast engine), else one seeded draw. Without the base, the run holds only new customers."""
    from sim.engines import engine_names, get_engine

    if engine not in engine_names():
        raise UserInputError("unknown engine", location="--engine", found=engine, allowed=", ".join(engine_names()))
    run_scenario, offset = _engine_ready(scenario, weeks)
    if not base_included:
        run_scenario = run_scenario.with_changes(
            {
                "market.existing.snapshot": None,
                "market.existing.customers": 0,
                "market.existing.loyal": 0,
                "market.existing.lapsed": 0,
            }
        )
    chosen = get_engine(engine)
    result = chosen.run(run_scenario, seed, sampled=False if chosen.expected_mode else True, keep_orders=False)
    n_days = 7 * weeks
    cols = ("new_customers", "orders", "revenue", "orders_acquired", "reactivations")
    return {c: result.daily[c].to_numpy()[None, offset : offset + n_days] for c in cols}


def _poisson_band(mean: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, weeks) Poisson counts around expected weekly counts (the noise of single futures)."""
    return rng.poisson(np.maximum(mean, 0.0), size=(draws, len(mean))).astype(float)


def forecast(
    scenario: Scenario,
    weeks: int,
    *,
    draws: int = 100,
    engine: str = "fast",
    seed: int | None = None,
) -> pd.DataFrame:
    """One row a week from the scenario's start: expected values and 5%/95% bands.

    Columns: week_start, base_repeat_orders, new_customers, orders, revenue, each followed by `_p05` and
    `_p95`; then `base_repeat_method` ("closed form" or the engine's name). `orders` = base repeat orders +
    orders of new customers; `revenue` the same orders' value. `attrs["method"]` says what ran.
    """
    if not 1 <= weeks <= MAX_WEEKS:
        raise UserInputError("out of range", location="--weeks", found=str(weeks), allowed=f"1 to {MAX_WEEKS}")
    if draws < 20:
        raise UserInputError("must be at least 20 for 5%/95% bands", location="--draws", found=str(draws))
    seed = scenario.simulation.seed if seed is None else seed
    rng = np.random.default_rng(seed)
    n_days = 7 * weeks
    week_of_day = np.arange(n_days) // 7

    def weekly(a: np.ndarray) -> np.ndarray:  # (runs, days) -> (runs, weeks)
        return np.stack([np.bincount(week_of_day, weights=row, minlength=weeks) for row in np.atleast_2d(a)])

    closed = closed_form_applies(scenario)
    methods = []
    if closed:
        cum = expected_base_repeat(scenario, 7.0 * np.arange(weeks + 1))
        base_mean = np.diff(cum)
        _, _, _, values, _ = snapshot_histories(scenario)
        cum_rev = _expected_base_revenue(scenario, 7.0 * np.arange(weeks + 1), values)
        base_rev_mean = np.diff(cum_rev)
        b_orders, b_rev, basis = simulate_base(scenario, n_days, draws, rng)
        base_draws, base_rev_draws = weekly(b_orders), weekly(b_rev)
        methods.append(f"existing customers: closed form, bands from {draws} parameter draws ({basis})")
    new = None
    if acquires(scenario) or not closed:
        new = {k: weekly(v) for k, v in _engine_runs(scenario, weeks, engine, seed, base_included=not closed).items()}
        what = "new customers" if closed else "everything (the plan changes the existing customers)"
        methods.append(f"{what}: {engine} engine, expected values, Poisson bands")
    zeros = np.zeros((1, weeks))
    new_cust = (new["new_customers"] if new is not None else zeros)[0]
    if closed:
        new_orders = (new["orders"] if new is not None else zeros)[0]
        new_rev = (new["revenue"] if new is not None else zeros)[0]
        orders_mean, revenue_mean = base_mean + new_orders, base_rev_mean + new_rev
        new_draws = _poisson_band(new_orders, draws, rng)  # new customers' futures: Poisson around the expectation
        total_orders = base_draws + new_draws
        total_rev = base_rev_draws + new_draws * _per_order(new_rev, new_orders)
    else:
        assert new is not None
        orders_mean, revenue_mean = new["orders"][0], new["revenue"][0]
        base_mean = orders_mean - new["orders_acquired"][0] - new["reactivations"][0]
        base_draws = _poisson_band(base_mean, draws, rng)
        total_orders = _poisson_band(orders_mean, draws, rng)
        total_rev = total_orders * _per_order(revenue_mean, orders_mean)
    means = {
        "base_repeat_orders": base_mean,
        "new_customers": new_cust,
        "orders": orders_mean,
        "revenue": revenue_mean,
    }
    bands = {
        "base_repeat_orders": base_draws,
        "new_customers": _poisson_band(new_cust, draws, rng),
        "orders": total_orders,
        "revenue": total_rev,
    }
    start = pd.Timestamp(scenario.simulation.start_date)
    out = pd.DataFrame({"week_start": [(start + pd.Timedelta(days=7 * w)).date().isoformat() for w in range(weeks)]})
    for col in FORECAST_COLUMNS[1:]:
        out[col] = means[col]
        out[f"{col}_p05"] = np.percentile(bands[col], 5, axis=0)
        out[f"{col}_p95"] = np.percentile(bands[col], 95, axis=0)
    out["base_repeat_method"] = "closed form" if closed else engine
    out.attrs["method"] = "; ".join(methods)
    out.attrs["engine_ran"] = new is not None
    out.attrs["base_total_draws"] = base_draws.sum(axis=1)
    return out


def _per_order(revenue: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Revenue per order, week by week (0 in weeks without orders)."""
    return np.divide(revenue, orders, out=np.zeros(len(orders)), where=orders > 0)


def _expected_base_revenue(scenario: Scenario, days: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Expected cumulative revenue of the snapshot customers: each one's expected orders x expected value."""
    family = family_of(scenario)
    module = families.module(family)
    theta = families.params_of(scenario.repeat_purchase)
    x, t_x, T, _, snap = snapshot_histories(scenario)
    if np.all(values == values[0]):
        return expected_base_repeat(scenario, days) * values[0]
    per = module.conditional_expected_purchases(np.asarray(days)[None, :], x[:, None], t_x[:, None], T[:, None], *theta)
    return values @ per
