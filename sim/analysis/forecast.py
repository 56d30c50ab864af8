"""Forecasts: the weeks after a calibrated cut-off, in closed form where the model has one, else simulated.

The customers who existed at the cut-off (the snapshot) keep buying as the fitted repeat-purchase family says;
their expected repeat orders in each coming week have a closed form (the family module's
`conditional_expected_purchases`: Fader, Hardie & Lee 2005 eq. 10 for BG/NBD, Batislam et al. 2007 for
MBG/NBD, Schmittlein et al. 1987 for Pareto/NBD), so no engine runs for them.

The calendar: the scenario's seasonal index and its events' purchase-rate uplifts multiply each active
customer's rate on each day, m(d) (`sim.model.calendar.day_factors`, as in both engines). A Poisson process
with rate lambda * m(t) is a rate-lambda process on the clock C(t) = int_0^t m (a time change), so
E[X(t) | history] is the closed form at C(t) instead of t: the cumulative intensity (`clock_at`). The history
is read on the seasonal clock the parameters were fitted on (`recency_clock`, `age_clock` of the snapshot;
Pareto/NBD's dropout runs on the same clock, as in its seasonal fit). Events' discounts lower what each order
pays on their days (revenue), not how many orders come.

Bands are honest: each of `draws` parameter sets is drawn from the fitted parameters' sampling
distribution (normal in log-parameters, the covariance in the calibration block), then each customer from
its posterior under that set, then their purchases on the same clock; the 5%/95% points of those futures
hold both the parameters' uncertainty and the customers' own randomness. New customers under the plan depend
on reach, awareness and conversion, which have no closed form: the fast engine gives their expected values
(its expected mode, with the scenario's calendar), and no engine runs when the plan acquires nobody. Their
bands hold the acquisition curves' uncertainty too: the same number of curve sets is drawn from the fitted
curves' covariance (`acquisition -> log_covariance`: the spend-response fit, or the Poisson count of recent
new customers without a spend log), the fast engine runs them all in one expected-value batch, and each
draw's expectation gets a single future's Poisson noise. A plan that changes the existing customers
(back-end or win-back spend, active experience or loyalty levers) or a scenario without a snapshot runs the
engine for everything, its batch rows drawing the repeat-purchase parameters as well.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.calibration import families
from sim.calibration.btyd import alive_parts, expected_total
from sim.errors import UserInputError
from sim.model.scenario import Scenario

FORECAST_COLUMNS = ["week_start", "base_repeat_orders", "new_customers", "orders", "revenue"]
MAX_WEEKS = 520  # ten years of weeks, as `sim score` allows


def family_of(scenario: Scenario) -> str:
    """The repeat-purchase family of a scenario (MBG/NBD when the scenario does not name one; `+stayers` with a
    never-dropout share)."""
    return families.family_of(scenario.repeat_purchase)


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
    """(x, t_x, T, order value per customer, snapshot) of the scenario's snapshot customers.

    t_x and T are on the seasonal clock the parameters were fitted on (`recency_clock`, `age_clock`, written by
    `sim calibrate` with a seasonal index), else in days."""
    from sim.model.base import load_snapshot

    snap = load_snapshot(scenario)
    extra = _snapshot_extra(scenario, snap, ("order_value", "recency_clock", "age_clock"))
    x = snap["frequency"].to_numpy(dtype=float)
    if "recency_clock" in extra and "age_clock" in extra:
        t_x, T = extra["recency_clock"], extra["age_clock"]
    else:
        t_x, T = (snap[c].to_numpy(dtype=float) for c in ("recency", "age"))
    values = extra.get("order_value")
    if values is None or not np.all(values > 0):
        values = np.full(len(snap), scenario.economics.order_value_mean)
    return x, t_x, T, values, snap


def _snapshot_extra(scenario: Scenario, snap: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The optional snapshot columns present and usable (finite, one value per customer, >= 0)."""
    path = scenario.resolve(scenario.market.existing.snapshot)
    try:
        head = pd.read_csv(path, nrows=0).columns
    except (OSError, ValueError):
        return {}
    present = [c for c in columns if c in head]
    if not present:
        return {}
    frame = pd.read_csv(path, usecols=present)
    out = {}
    for c in present:
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        if len(v) == len(snap) and np.all(np.isfinite(v)) and np.all(v >= 0):
            out[c] = v
    return out


def future_days(scenario: Scenario, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(repeat-purchase multiplier, price share) of each of the `n_days` days from the scenario's start: the
    scenario's seasonal index and events as the engines apply them (`sim.model.calendar.day_factors`)."""
    from sim.model.calendar import day_factors

    months = min(120, math.ceil(n_days / 28.0) + 1)
    extended = scenario.with_changes({"simulation.horizon_months": months})
    factors = day_factors(extended)
    return factors.repeat_purchase[:n_days].astype(float), factors.price[:n_days].astype(float)


def clock_at(days: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
    """The seasonal clock at each of `days` after the start: the day multipliers summed up to that moment.

    A Poisson process whose rate is lambda * m(t) is a rate-lambda process on the clock C(t) = int_0^t m, so the
    families' closed forms hold with t replaced by C(t) (a time change); with every m = 1, C(t) = t.
    """
    edges = np.concatenate([[0.0], np.cumsum(multiplier)])
    return np.interp(np.asarray(days, dtype=float), np.arange(len(edges), dtype=float), edges)


def expected_base_repeat(scenario: Scenario, days: np.ndarray, params: tuple[float, ...] | None = None) -> np.ndarray:
    """Expected cumulative repeat orders of the snapshot customers at each of `days` after the start.

    The sum over customers of the family's conditional expectation at the seasonal clock of each day (`clock_at`:
    the scenario's index and events' purchase-rate uplifts).
    """
    return _expected_base(scenario, days, params)[0]


def _expected_base(
    scenario: Scenario, days: np.ndarray, params: tuple[float, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(expected cumulative repeat orders, the same orders' list-price value) at each of `days`."""
    module = families.module(family_of(scenario))
    theta = params if params is not None else families.params_of(scenario.repeat_purchase)
    x, t_x, T, values, _ = snapshot_histories(scenario)
    days = np.asarray(days, dtype=float)
    multiplier, _ = future_days(scenario, int(math.ceil(days.max())) if len(days) else 1)
    t = clock_at(days, multiplier)
    orders = expected_total(module, theta, x, t_x, T, t)
    value = expected_total(module, theta, x, t_x, T, t, weights=values)
    return orders, value


def parameter_draws(scenario: Scenario, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """n parameter sets from the fitted parameters' sampling distribution, and what they rest on.

    The calibration block's covariance of the log-parameters if present; else independent log-normal draws
    from the standard errors; else the point estimate only (a scenario without a calibration block).
    """
    family = family_of(scenario)
    names = families.fitter(family).param_names
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
    """(draws, n_days) repeat orders and revenue of the snapshot customers, one future per parameter draw, on the
    scenario's seasonal clock, each order paying its day's price share (events' discounts)."""
    module = families.module(family_of(scenario))
    x, t_x, T, values, _ = snapshot_histories(scenario)
    params, basis = parameter_draws(scenario, draws, rng)
    multiplier, price = future_days(scenario, n_days)
    orders, revenue = futures(module, params, x, t_x, T, values, n_days, rng, np.cumsum(multiplier), price)
    return orders, revenue, basis


FUTURES_CHUNK = 2_000_000  # customers x parameter draws simulated together (memory: a few arrays of this size)


def futures(
    module, params: np.ndarray, x, t_x, T, values, n_days: int, rng: np.random.Generator, clock=None, price=None
):
    """(draws, n_days) orders and revenue: for each parameter set, every customer drawn from its posterior
    (`draw_posterior`), then their purchases after the cut-off (`simulate_after`, on the seasonal `clock` if
    given: its value at the end of each day); an order on day d pays values x price[d].

    Speed: the customers of many parameter draws are simulated together, as one population (chunks of
    `FUTURES_CHUNK` customer-draws), so the loop over purchases runs once per chunk, not once per draw.
    """
    draws, n = len(params), len(x)
    orders = np.zeros((draws, n_days))
    revenue = np.zeros((draws, n_days))
    price = np.ones(n_days) if price is None else np.asarray(price, dtype=float)
    step = max(1, FUTURES_CHUNK // max(n, 1))
    for lo in range(0, draws, step):
        block = range(lo, min(lo + step, draws))
        drawn = [module.draw_posterior(*params[d], x, t_x, T, rng, dead=False) for d in block]
        active, lam, dropout = (np.concatenate([p[i] for p in drawn]) for i in range(3))
        who, day = module.simulate_after(active, lam, dropout, float(n_days), rng, clock)
        row = lo + who // n
        cell = row * n_days + np.minimum(day, n_days - 1)
        pay = values[who % n] * price[np.minimum(day, n_days - 1)]
        orders.ravel()[:] += np.bincount(cell, minlength=draws * n_days)
        revenue.ravel()[:] += np.bincount(cell, weights=pay, minlength=draws * n_days)
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


ENGINE_FLOWS = ("new_customers", "orders", "revenue", "orders_acquired", "reactivations")


def acquisition_draws(scenario: Scenario, n: int, rng: np.random.Generator) -> tuple[list[dict[str, float]], str]:
    """n sets of the front-end curves' fitted values (as dotted changes) drawn from their sampling distribution
    (normal in log-parameters, the calibration block's `acquisition -> log_covariance`), and what they rest on.

    None when the curves were not fitted by `sim calibrate` or have been edited since (then only the noise of
    single futures is in the bands, and the method says so)."""
    acq = (scenario.calibration or {}).get("acquisition") or {}
    names, fitted, cov = acq.get("parameters"), acq.get("fitted_values"), acq.get("log_covariance")
    if not names or fitted is None or cov is None:
        return [], "no fitted acquisition curves"
    paths, current = [], []
    for name in names:
        channel, field = name.split(".")
        if channel not in scenario.channels:
            return [], "the acquisition curves were edited"
        paths.append(f"channels.{channel}.reach.{field}")
        current.append(float(getattr(scenario.channels[channel].reach, field)))
    current = np.array(current)
    if not np.allclose(current, np.array(fitted, dtype=float), rtol=1e-4):
        return [], "the acquisition curves were edited"
    c = np.array(cov, dtype=float)
    if c.shape != (len(names), len(names)) or not np.all(np.isfinite(c)):
        return [], "no usable covariance of the acquisition curves"
    values = np.exp(rng.multivariate_normal(np.log(current), c, size=n, method="eigh"))
    return [dict(zip(paths, (float(v) for v in row), strict=True)) for row in values], "fitted acquisition curves"


def _engine_runs(
    scenario: Scenario, weeks: int, engine: str, seed: int, base_included: bool, variants: list[dict] | None = None
) -> dict[str, np.ndarray]:
    """Daily flows (rows, days) over the forecast weeks: row 0 the scenario's own expected values (or one seeded
    draw where the engine has no expected mode), then one row per variant (dotted changes: parameter draws),
    all in one expected-value batch, when the engine simulates batches. Without the base, the runs hold only
    new customers."""
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
    n_days = 7 * weeks
    if variants and chosen.batch and chosen.expected_mode:
        from sim.engines.fast import simulate_batch

        rows = [run_scenario, *(run_scenario.with_changes(v) for v in variants)]
        batch = simulate_batch(rows, mode="expected", seed=seed, keep_daily=True)
        # speed: the flows read straight from the batch's daily array (they are raw columns of the day's step);
        # a SimulationResult per row would build 400 pandas tables to read the same five columns
        return {c: batch.daily_column(c)[:, offset : offset + n_days] for c in ENGINE_FLOWS}
    else:
        results = [chosen.run(run_scenario, seed, sampled=False if chosen.expected_mode else True, keep_orders=False)]
    return {c: np.stack([r.daily[c].to_numpy()[offset : offset + n_days] for r in results]) for c in ENGINE_FLOWS}


def _poisson(mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts around expected counts (the noise of single futures), same shape."""
    return rng.poisson(np.maximum(mean, 0.0)).astype(float)


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
        base_mean, base_rev_mean = _weekly_base(scenario, weeks)
        b_orders, b_rev, basis = simulate_base(scenario, n_days, draws, rng)
        base_draws, base_rev_draws = weekly(b_orders), weekly(b_rev)
        methods.append(f"existing customers: closed form, bands from {draws} parameter draws ({basis})")
    new = None
    if acquires(scenario) or not closed:
        variants, acquisition_basis = acquisition_draws(scenario, draws, rng)
        # what the draws vary, and why the acquisition curves do not when they are fixed
        varies = [acquisition_basis] if variants else []
        if not closed:  # the engine simulates the existing customers too: their parameters vary with the curves
            repeat_sets, basis = parameter_draws(scenario, draws, rng)
            family = family_of(scenario)
            repeat = [
                {f"repeat_purchase.{k}": v for k, v in families.scenario_fields(family, row).items()}
                for row in repeat_sets
            ]
            variants = [{**a, **b} for a, b in zip(variants or [{}] * draws, repeat, strict=True)]
            varies.append(f"repeat-purchase parameters ({basis})")
        new = {k: weekly(v) for k, v in _engine_runs(scenario, weeks, engine, seed, not closed, variants).items()}
        varied = len(new["orders"]) > 1
        what = "new customers" if closed else "everything (the plan changes the existing customers)"
        fixed = (
            ""
            if not varied or acquisition_basis == "fitted acquisition curves"
            else f"; acquisition curves fixed: {acquisition_basis}"
        )
        methods.append(
            f"{what}: {engine} engine, expected values, bands from "
            + (
                f"{draws} draws of the {' and the '.join(varies)} and the noise of single futures{fixed}"
                if varied
                else f"the noise of single futures only ({acquisition_basis})"
            )
        )
    zeros = np.zeros((1, weeks))
    new_cust = (new["new_customers"] if new is not None else zeros)[0]
    spread = {k: v[1:] if len(v) > 1 else np.repeat(v, draws, axis=0) for k, v in (new or {}).items()}
    if closed:
        new_orders = (new["orders"] if new is not None else zeros)[0]
        new_rev = (new["revenue"] if new is not None else zeros)[0]
        orders_mean, revenue_mean = base_mean + new_orders, base_rev_mean + new_rev
        # new customers' futures: each draw's expectation, then a single future's Poisson noise around it
        drawn_orders = spread.get("orders", np.zeros((draws, weeks)))
        new_draws = _poisson(drawn_orders, rng)
        total_orders = base_draws + new_draws
        total_rev = base_rev_draws + new_draws * _per_order(spread.get("revenue", drawn_orders), drawn_orders)
        new_cust_draws = _poisson(spread.get("new_customers", np.zeros((draws, weeks))), rng)
    else:
        assert new is not None
        orders_mean, revenue_mean = new["orders"][0], new["revenue"][0]
        base_mean = orders_mean - new["orders_acquired"][0] - new["reactivations"][0]
        base_draws = _poisson(spread["orders"] - spread["orders_acquired"] - spread["reactivations"], rng)
        total_orders = _poisson(spread["orders"], rng)
        total_rev = total_orders * _per_order(spread["revenue"], spread["orders"])
        new_cust_draws = _poisson(spread["new_customers"], rng)
    means = {
        "base_repeat_orders": base_mean,
        "new_customers": new_cust,
        "orders": orders_mean,
        "revenue": revenue_mean,
    }
    bands = {
        "base_repeat_orders": base_draws,
        "new_customers": new_cust_draws,
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
    out.attrs["new_customers_total_draws"] = new_cust_draws.sum(axis=1)
    return out


def _per_order(revenue: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Revenue per order, week by week (0 in weeks without orders), same shape."""
    return np.divide(revenue, orders, out=np.zeros(np.shape(orders)), where=orders > 0)


def customer_pieces(scenario: Scenario, x, t_x, T, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's expected orders in the pieces between 0 and the given day boundaries, split further
    wherever the price share changes: (orders (customers, pieces), first day of each piece, its price share).

    On the scenario's seasonal clock; P(active) is computed once per customer (speed)."""
    module = families.module(family_of(scenario))
    theta = families.params_of(scenario.repeat_purchase)
    ends = np.asarray(ends, dtype=float)
    n_days = int(math.ceil(ends.max()))
    multiplier, price = future_days(scenario, n_days)
    changes = (np.flatnonzero(np.diff(price) != 0) + 1).astype(float)
    knots = np.unique(np.concatenate([[0.0], ends, changes]))
    clock = clock_at(knots, multiplier)[None, :]
    pieces = np.zeros((len(x), len(knots) - 1))
    for alive, if_active in alive_parts(module, theta, x, t_x, T):
        pieces += np.diff(if_active(clock, x[:, None], T[:, None]), axis=1) * alive[:, None]
    start = knots[:-1].astype(int)
    return pieces, start, price[start]


def _weekly_base(scenario: Scenario, weeks: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected repeat orders and revenue of the snapshot customers in each week, in closed form.

    The cumulative orders and their list-price value are evaluated at every week boundary and at every change
    of the price share (an event's first day and the day after its last), so that each piece between two
    such days has one price share; a week's revenue adds up its pieces' value times their price share.
    """
    n_days = 7 * weeks
    _, price = future_days(scenario, n_days)
    changes = np.flatnonzero(np.diff(price) != 0) + 1
    knots = np.unique(np.concatenate([7.0 * np.arange(weeks + 1), changes.astype(float)]))
    orders, value = _expected_base(scenario, knots)
    piece_orders, piece_value = np.diff(orders), np.diff(value)
    start = knots[:-1].astype(int)
    week = start // 7
    mean_orders = np.bincount(week, weights=piece_orders, minlength=weeks)
    mean_revenue = np.bincount(week, weights=piece_value * price[start], minlength=weeks)
    return mean_orders, mean_revenue
