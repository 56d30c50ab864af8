"""Calibration: turn a client's order export (and spend log, campaign calendar, lift test) into a scenario.

Consultants arrive with an order export, not with parameters. This orchestrator only calls the stages in
order, each in its own module:

1. read the export (`orderlog`) and summarize each customer at the cut-off (`summary`);
2. choose the repeat-purchase family by out-of-sample accuracy inside the window (`backtest`: fit BG/NBD,
   MBG/NBD and Pareto/NBD on the earlier part, forecast the later part; the best of them also with a segment
   that never drops out, `stayers`), unless `model` forces one, and fit it on
   the whole window (`bgnbd`, `mbgnbd`, `paretonbd`);
3. with 12 months or more, the monthly seasonal index and the events' uplifts, jointly with that family
   (`seasonality`);
4. order values: one Gamma or Gamma-Gamma, whichever fits better (`ordervalue`);
5. acquisition: each channel's response to spend, with a spend log (`acquisition`);
6. retention effects from a CRM holdout test, with one (`lifttest`);
7. the scenario, its comments and the customer snapshot (`writer`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration import backtest, families
from sim.calibration.btyd import RepeatPurchaseFitter
from sim.calibration.orderlog import OrderLog, read_orders, read_spend
from sim.calibration.ordervalue import OrderValueFit
from sim.calibration.summary import summarize
from sim.errors import DataError, UserInputError

MIN_CUSTOMERS = 100  # below this the four parameters of a family are not identified
MIN_REPEAT_BUYERS = 30  # below this dropout is barely identified: warn
DEFAULT_GROSS_MARGIN = 0.5
DUPLICATE_ORDERS = ("error", "drop", "keep")  # --duplicate-orders: rows repeating an order id in every cell
REFUNDS = ("error", "net", "drop")  # --refunds: rows with a negative amount
ORDER_AMOUNTS = ("error", "total", "lines")  # --order-amount: one amount on every line of an order


@dataclass(frozen=True)
class Plan:
    """The plan to test, from the command line: a monthly total, a split by purpose and one by channel."""

    budget: float | None = None
    purpose_split: dict[str, float] | None = None
    channel_split: dict[str, dict[str, float]] | None = None


@dataclass(frozen=True)
class Assumptions:
    """What an order log cannot show and the consultant may state: market, awareness, margin, currency."""

    currency: str | None = None
    market_size: int | None = None
    aware: int | None = None
    gross_margin: float | None = None


@dataclass
class Calibration:
    """What `calibrate` produces: the fitted pieces, the scenario (mapping and comments) and the snapshot."""

    log: OrderLog
    summary: pd.DataFrame
    cutoff: pd.Timestamp
    repeat: RepeatPurchaseFitter
    family_choice: dict[str, Any]
    value: OrderValueFit
    currency: str
    currency_source: str
    spend: pd.DataFrame | None = None
    seasonality: Any = None
    lift: Any = None
    events: Any = None
    warnings: list[str] = field(default_factory=list)
    scenario: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    snapshot: pd.DataFrame | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)


def calibrate(
    orders: str | Path,
    *,
    spend: str | Path | None = None,
    events: str | Path | None = None,
    lift_test: str | Path | None = None,
    until: date | str | None = None,
    customer_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    order_col: str | None = None,
    assumptions: Assumptions = Assumptions(),
    plan: Plan = Plan(),
    model: str | None = None,
    name: str | None = None,
    seed: int = 42,
    today: date | None = None,
    date_format: str | None = None,
    spend_date_format: str | None = None,
    decimal: str | None = None,
    spend_gaps: str = "error",
    duplicate_orders: str = "error",
    refunds: str = "error",
    order_amount: str = "error",
) -> Calibration:
    """Calibrate a scenario from an order export; raises `UserInputError` (one clear line) on bad input.

    `until` cuts the history (later orders are ignored); `model` forces a family (bgnbd, mbgnbd, pareto, each
    also with `+stayers`) instead of choosing it by holdout accuracy. `date_format`, `spend_date_format` and
    `decimal` say how to read dates and amounts where the files cannot tell; `spend_gaps="zero"` reads months
    missing from the spend log as no spend; `duplicate_orders` ("drop" or "keep") says what rows repeating an
    order id in every cell are, `refunds` ("net" or "drop") what rows with a negative amount are,
    `order_amount` ("total" or "lines") what one amount on every line of an order is, and `order_col` which
    column holds the order id (see `orderlog.read_orders`).
    """
    from sim.calibration import writer

    t0 = time.perf_counter()
    _check_choices(model, duplicate_orders, refunds, order_amount)
    cut = _parse_until(until, date_format)
    log = read_orders(
        orders,
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        order_col=order_col,
        until=cut,
        today=today,
        date_format=date_format,
        decimal=decimal,
        duplicate_orders=duplicate_orders,
        refunds=refunds,
        order_amount=order_amount,
    )
    currency, currency_source = _currency(log, assumptions.currency)
    cutoff, warnings = _cutoff(log, cut)
    # the other exports are read before any fitting: a bad spend log or calendar is refused in seconds
    spend_table = _read_spend_log(spend, cutoff, spend_date_format, decimal, spend_gaps, warnings)
    calendar = _read_calendar(events)
    summary = summarize(log.transactions, cutoff)
    _enough_customers(summary, str(orders), warnings, cut)
    repeat, choice, seasonal, event_fit = _fit_purchases_and_calendar(
        log, summary, cutoff, model, calendar, str(orders), warnings
    )
    value = _fit_order_values(log, summary, warnings)
    cal = Calibration(
        log=log,
        summary=summary,
        cutoff=cutoff,
        repeat=repeat,
        family_choice=choice,
        value=value,
        currency=currency,
        currency_source=currency_source,
        spend=spend_table,
        seasonality=seasonal,
        lift=_fit_lift_test(lift_test, repeat, summary),
        events=event_fit,
        warnings=warnings,
    )
    writer.build(
        cal,
        assumptions=assumptions,
        plan=plan,
        name=name,
        seed=seed,
        orders_source=str(orders),
        spend_source=None if spend is None else str(spend),
    )
    cal.diagnostics["seconds"] = round(time.perf_counter() - t0, 3)
    return cal


def _check_choices(model: str | None, duplicate_orders: str, refunds: str, order_amount: str = "error") -> None:
    """The flags that choose among names (--model, --duplicate-orders, --refunds, --order-amount), before any
    file is read."""
    if model is not None and model not in families.supported():
        raise UserInputError("unknown model", location="--model", found=model, allowed=", ".join(families.supported()))
    for flag, value, allowed in (
        ("--duplicate-orders", duplicate_orders, DUPLICATE_ORDERS),
        ("--refunds", refunds, REFUNDS),
        ("--order-amount", order_amount, ORDER_AMOUNTS),
    ):
        if value not in allowed:
            raise UserInputError("unknown choice", location=flag, found=repr(value), allowed=", ".join(allowed))


def _cutoff(log: OrderLog, cut: pd.Timestamp | None) -> tuple[pd.Timestamp, list[str]]:
    """The day the history ends (--until, else the last order) and the warnings so far: the export's, and one
    when --until lies a month or more after the last order (an export cut short?)."""
    warnings = list(log.warnings)
    if cut is None:
        return log.last_date, warnings
    if (cut - log.last_date).days > 30:
        warnings.append(
            f"--until {cut.date()} is {(cut - log.last_date).days} days after the last order ({log.last_date.date()}):"
            " every customer looks inactive since; is the export complete?"
        )
    return cut, warnings


def _read_calendar(events: str | Path | None) -> Any:
    """The campaign calendar (--events), or None without one."""
    if events is None:
        return None
    from sim.calibration import seasonality

    return seasonality.read_events(events)


def _fit_purchases_and_calendar(
    log: OrderLog,
    summary: pd.DataFrame,
    cutoff: pd.Timestamp,
    model: str | None,
    calendar: Any,
    source: str,
    warnings: list[str],
) -> tuple[RepeatPurchaseFitter, dict[str, Any], Any, Any]:
    """Repeat purchasing (the family chosen out of sample) and, with 12 months or more, the seasonal index and
    the events' uplifts jointly with it: (the fit, the family comparison, the seasonality, the events)."""
    from sim.calibration import seasonality

    seasonal_fit = seasonality.identified(log.transactions, cutoff)
    repeat, choice = fit_repeat_purchase(
        log.transactions, summary, cutoff, model, source, warnings, full_fit=not seasonal_fit
    )
    seasonal, event_fit, repeat = seasonality.estimate(
        log.transactions, summary, cutoff, repeat, calendar, source, warnings
    )
    _check_fit(repeat, warnings)
    return repeat, choice, seasonal, event_fit


def _fit_order_values(log: OrderLog, summary: pd.DataFrame, warnings: list[str]) -> OrderValueFit:
    """Order values: one Gamma or Gamma-Gamma, whichever fits better; transactions of 0 are said to be left out."""
    value = OrderValueFit().fit(summary, log.transactions["amount"].to_numpy(dtype=float))
    if value.zero_values_:
        warnings.append(f"{value.zero_values_} transactions of amount 0 were left out of the order-value fit")
    return value


def _fit_lift_test(lift_test: str | Path | None, repeat: RepeatPurchaseFitter, summary: pd.DataFrame) -> Any:
    """The retention effects from a CRM holdout test (--lift-test), or None without one."""
    if lift_test is None:
        return None
    from sim.calibration import lifttest

    return lifttest.fit_lift_test(lift_test, repeat, summary)


def _read_spend_log(
    spend: str | Path | None,
    cutoff: pd.Timestamp,
    date_format: str | None,
    decimal: str | None,
    spend_gaps: str,
    warnings: list[str],
) -> pd.DataFrame | None:
    """The spend log up to the cut-off (None without one); months read as zero spend are said in a warning."""
    if spend is None:
        return None
    table = read_spend(spend, until=cutoff, date_format=date_format, decimal=decimal, fill_gaps=spend_gaps == "zero")
    filled = table.attrs.get("filled_months") or []
    if filled:
        warnings.append(
            f"{len(filled)} months without rows in the spend log were read as zero spend (--spend-gaps zero):"
            f" {', '.join(filled[:6])}{' ...' if len(filled) > 6 else ''}"
        )
    return table


def fit_repeat_purchase(
    transactions: pd.DataFrame,
    summary: pd.DataFrame,
    cutoff: pd.Timestamp,
    model: str | None,
    source: str,
    warnings: list[str],
    full_fit: bool = True,
) -> tuple[RepeatPurchaseFitter, dict[str, Any]]:
    """The family to use (forced, or the best holdout forecaster) fitted on the whole window, and the comparison.

    The whole-window fit starts from the family's fit on the earlier part of the time split. With
    `full_fit=False` (the seasonal fit follows and refits the family jointly with the index) the earlier
    part's fit is returned as the starting point instead, when there is one."""
    split = backtest.time_split(transactions, cutoff)
    candidates = families.FITTERS if model is None else {model: families.fitter(model)}
    choice: dict[str, Any] = {"forced": model is not None}
    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, RepeatPurchaseFitter] = {}
    if split is not None and len(split.summary) >= MIN_CUSTOMERS:
        results, fitted = backtest.compare_families(candidates, split, source)
        if model is None:  # what else the data may support: the best family with a never-dropout segment
            backtest.compare_stayers(backtest.choose(results, families.DEFAULT), results, fitted, split, source)
        chosen = model or backtest.choose(results, families.DEFAULT)
        choice["best_out_of_sample"] = chosen
        choice.update(
            {
                "method": (
                    "time split inside the calibration window: each family fitted on the history up to"
                    f" {split.split.date()} and its forecast of those customers' repeat transactions over the next"
                    f" {split.days} days compared with what they did; chosen by the smallest tracking error (mean"
                    " gap between the forecast and actual cumulative curves, over the actual total); the best family"
                    " is also tried with a segment that never drops out (`<family>+stayers`, carried by the scenario"
                    " as repeat_purchase.never_dropout_share)"
                ),
                "split": str(split.split.date()),
                "holdout_days": split.days,
            }
        )
        if chosen in fitted:
            choice["backtest"] = backtest.monthly_table(fitted[chosen], split, results[chosen]["cumulative_forecast"])
    else:
        chosen = model or families.DEFAULT
        choice["method"] = "no comparison: the history is too short to hold a part out"
        warnings.append(
            f"the history is too short to compare repeat-purchase models out of sample (under {backtest.MIN_SPAN_DAYS}"
            f" days): {families.fitter(chosen).label} is used"
        )
    choice["chosen"] = chosen
    choice["families"] = {
        k: {kk: vv for kk, vv in v.items() if not isinstance(vv, np.ndarray)} for k, v in results.items()
    }
    x, t_x, T = backtest.histories(summary)
    start = fitted[chosen].params_ if chosen in fitted else None
    if not full_fit and start is not None:
        return families.fitter_from_params(chosen, start), choice
    fitter = families.fitter(chosen)().fit(x, t_x, T, source=source, start=start)
    return fitter, choice


def _check_fit(fit: RepeatPurchaseFitter, warnings: list[str]) -> None:
    if not fit.converged_:
        warnings.append(f"the optimizer reported: {fit.message_}")
    for label in fit.collapsed_:
        warnings.append(
            f"the {label} looks the same for every customer (its Gamma or Beta collapsed to a point): its two"
            " parameters are pinned at a large concentration with the fitted mean, and their standard errors"
            " describe only that mean"
        )
    rel = {k: fit.standard_errors_[k] / fit.params_[k] for k in fit.params_}
    if any(not np.isfinite(v) for v in rel.values()):
        warnings.append("the Hessian is not positive definite: standard errors are unavailable (a flat likelihood)")
    elif max(rel.values()) > 0.5:
        worst = max(rel, key=rel.get)
        warnings.append(f"parameter {worst} has a standard error above 50% of its value: the data say little about it")


def _enough_customers(
    summary: pd.DataFrame, source: str, warnings: list[str], until: pd.Timestamp | None = None
) -> None:
    """Refuse a log with too few customers to fit (saying whether --until cut them); warn when the repeat
    buyers are few (a log without any is refused by the fit, in its own words)."""
    n = len(summary)
    within = f" on or before --until {until.date()}" if until is not None else ""
    if n < MIN_CUSTOMERS:
        raise DataError(
            f"too few customers to fit: {n}{within}",
            file=source,
            allowed=f"an export with at least {MIN_CUSTOMERS} customers (several hundred give usable standard errors)",
        )
    repeat_buyers = int(np.sum(summary["frequency"].to_numpy() > 0))
    if repeat_buyers < MIN_REPEAT_BUYERS:
        warnings.append(
            f"too few repeat buyers ({repeat_buyers}, fewer than {MIN_REPEAT_BUYERS}): the dropout parameters are"
            " poorly determined; use a longer history"
        )


def _currency(log: OrderLog, given: str | None) -> tuple[str, str]:
    """The currency: the flag, else what the file states; never guessed (one clear line asking for it)."""
    if given is not None:
        if log.currency is not None and log.currency != given:
            raise UserInputError(
                f"the export states {log.currency} ({log.currency_evidence}) but --currency says {given}",
                location="--currency",
                found=given,
                allowed=log.currency,
            )
        return given, "--currency"
    if log.currency is not None:
        return log.currency, f"from the export ({log.currency_evidence})"
    raise UserInputError(
        f"the currency is not known ({log.currency_evidence}): give it with --currency",
        file=log.source,
        allowed="an ISO 4217 code, e.g. --currency KRW or --currency USD",
    )


def _parse_until(until: date | str | None, date_format: str | None = None) -> pd.Timestamp | None:
    """--until as a day, read like the order log's dates: year first (2024-06-30), or a day or month first only
    where it leaves no doubt (30.06.2024, 06/30/2024; 03/04/2024 is refused), or with --date-format."""
    if until is None:
        return None
    if isinstance(until, date):
        return pd.Timestamp(until).normalize()
    from sim.calibration.orderlog import parse_dates

    text = str(until).strip()
    for fmt in (None, date_format) if date_format else (None,):
        try:
            return parse_dates(pd.Series([text]), "--until", "--until", date_format=fmt).iloc[0]
        except DataError as exc:
            ambiguous = "ambiguous" in str(exc)
    raise UserInputError(
        "ambiguous date: month first or day first?" if ambiguous else "not a date",
        location="--until",
        found=text,
        allowed="a date written year first, such as 2024-06-30",
    )


def rounded(v: float | None, digits: int = 6) -> float | None:
    """A float for YAML: `digits` significant digits, NaN as null."""
    if v is None:
        return None
    v = float(v)
    return float(f"{v:.{digits}g}") if math.isfinite(v) else None


def format_report(cal: Calibration) -> str:
    """A short plain-text summary for the terminal (money and counts without scientific notation)."""
    d = cal.diagnostics
    rp = d["repeat_purchase"]
    ov = d["order_value"]
    se = rp["standard_errors"]
    data = d["data"]
    lines = [
        f"data: {data['transactions']:,} transactions of {data['customers']:,} customers"
        f" ({data['repeat_buyers']:,} repeat buyers), {data['first_order']} .. {d['cutoff']}",
        f"{rp['label']} (days): "
        + ", ".join(f"{k}={_num(rp['params'][k])} (se {_num(se[k])})" for k in rp["params"])
        + f", log-likelihood {rp['log_likelihood']:,.1f}",
    ]
    fam = d["model_choice"]
    scored = {k: v for k, v in fam["families"].items() if v.get("fitted")}
    if scored:
        lines.append(
            "holdout tracking error: "
            + ", ".join(f"{k} {v['tracking_error']:.1%}" for k, v in scored.items() if v["tracking_error"] is not None)
            + f" -> {fam['chosen']}"
            + (" (forced by --model)" if fam["forced"] else "")
        )
    lines.append(
        f"order value: mean {ov['mean']:,.2f} {cal.currency} (se {ov['standard_errors'].get('mean', 0):,.2f}),"
        f" cv {ov['cv']:.3f}; better fit: {ov['model']}"
    )
    lines.append(
        f"new customers: {d['acquisition']['monthly_new_customers']:,.1f} a month ({d['acquisition']['method']})"
    )
    for w in cal.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _num(v: float | None) -> str:
    """A parameter for people: 4 significant digits, never in scientific notation."""
    if v is None or not math.isfinite(v):
        return "n/a"
    if v == 0:
        return "0"
    digits = max(0, 3 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{digits}f}"
