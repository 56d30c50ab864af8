"""Commands that start from a client's order export: `calibrate`, `forecast`, `score`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.cli.app import app, check_run_flags, fail
from sim.errors import UserInputError

PURPOSES = ("front", "back", "winback")


def parse_split(text: str | None) -> dict[str, float] | None:
    """`front=0.6,back=0.3,winback=0.1` -> {purpose: share}; shares must add up to 1."""
    if text is None:
        return None
    out: dict[str, float] = {}
    for item in (t.strip() for t in text.split(",") if t.strip()):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in PURPOSES:
            raise UserInputError(
                "not a purpose share", location="--split", found=item, allowed="front=0.6,back=0.3,winback=0.1"
            )
        out[key] = _share(value, "--split", item)
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise UserInputError(
            f"shares add up to {sum(out.values()):g}", location="--split", found=text, allowed="shares adding up to 1"
        )
    return out


def parse_channel_split(text: str | None) -> dict[str, dict[str, float]] | None:
    """`front:search_ads=0.5,front:sns_content=0.5,back:crm=1` -> {purpose: {channel: share}}, each adding up to 1."""
    if text is None:
        return None
    out: dict[str, dict[str, float]] = {}
    for item in (t.strip() for t in text.split(",") if t.strip()):
        head, sep, value = item.partition("=")
        purpose, colon, channel = head.partition(":")
        purpose, channel = purpose.strip(), channel.strip()
        if not sep or not colon or purpose not in PURPOSES or not channel:
            raise UserInputError(
                "not a purpose:channel=share item",
                location="--channel-split",
                found=item,
                allowed="front:search_ads=0.5,front:sns_content=0.5,back:crm=1",
            )
        if not all(ch.isalnum() or ch in "_-" for ch in channel):
            raise UserInputError(
                "channel ids hold only letters, digits, '_' and '-'", location="--channel-split", found=channel
            )
        out.setdefault(purpose, {})[channel] = _share(value, "--channel-split", item)
    for purpose, split in out.items():
        if abs(sum(split.values()) - 1.0) > 1e-6:
            raise UserInputError(
                f"the {purpose} shares add up to {sum(split.values()):g}",
                location="--channel-split",
                found=text,
                allowed="shares adding up to 1 within each purpose",
            )
    return out


def _share(value: str, flag: str, item: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise UserInputError("not a number", location=flag, found=item, allowed="a share between 0 and 1") from None
    if not 0.0 <= v <= 1.0:
        raise UserInputError("share out of range", location=flag, found=item, allowed="between 0 and 1")
    return v


CALIBRATE_HELP = """Fit a scenario to a client's order export and write it, every field commented.

The repeat-purchase family (BG/NBD, MBG/NBD or Pareto/NBD) is chosen by out-of-sample accuracy inside the
history (fit on the earlier part, forecast the later part); --model forces one. Order values: one Gamma or
Gamma-Gamma, whichever fits better. With a spend log, each channel's response curve is fitted. With 12
months or more, a monthly seasonal index (and with --events each event's uplift) is fitted with the model.

The currency is never guessed: give --currency unless the export states it (a currency column, or one
currency's marks such as ₩ or 원 in the amounts).

Exports as shops write them: line items of one order id are added up, or, where only an order's first line
has the amount (Shopify's export: Name, Email, Created at, Total), read as one order with that total; a totals
row at the foot (no date, no customer, the sum of the rows above) is left out. Refunds written as negative
rows are refused unless --refunds net or --refunds drop says what to do with them. An export where every
order of several lines carries one amount on all its lines (the total repeated on each line?) is refused
unless --order-amount total or --order-amount lines says which. Shopify's 'Cancelled at' leaves an order out
and its 'Refunded Amount' lowers the order's total.

The plan to test: --budget (a monthly total) with --split by purpose and --channel-split by channel, e.g.

  --budget 30000000 --split front=0.6,back=0.3,winback=0.1
  --channel-split front:search_ads=0.5,front:sns_content=0.5,back:crm=1,winback:crm=1

Front-end channels must have a reach curve (from the spend log, or 'unattributed' without one); back-end and
win-back budgets go to a channel named 'crm' unless --channel-split names others. Without --budget the plan
is today's spend from the spend log, or, without a spend log, none (budget 0: set it in the YAML later).
"""


@app.command(help=CALIBRATE_HELP)
def calibrate(
    orders: Annotated[Path, typer.Argument(help="Order export (CSV): customer id, order date, amount.")],
    out: Annotated[Path, typer.Option("--out", help="Scenario YAML to write (a <name>.customers.csv goes beside it).")],
    spend: Annotated[
        Path | None, typer.Option("--spend", help="Spend log (CSV): month or date, channel, amount.")
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="Campaign calendar (CSV): name, start, end; uplifts are fitted.")
    ] = None,
    lift_test: Annotated[
        Path | None,
        typer.Option(
            "--lift-test",
            help="CRM holdout test (CSV): group (treated/control), spend per treated customer, orders, revenue;"
            " per customer or one row per group (with a customers column). Fits the retention effects.",
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Cut-off date: orders after it are ignored (holdout checks).")
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="ISO 4217 code (KRW, USD, ...); needed unless the export states it."),
    ] = None,
    market_size: Annotated[
        int | None,
        typer.Option("--market-size", help="People who could ever buy (an assumption; default 50x the base)."),
    ] = None,
    aware: Annotated[
        int | None, typer.Option("--aware", help="People aware of the brand who have not bought yet.")
    ] = None,
    gross_margin: Annotated[
        float | None, typer.Option("--gross-margin", help="Gross margin share (not in an order log; default 0.5).")
    ] = None,
    budget: Annotated[
        float | None, typer.Option("--budget", help="Monthly marketing budget of the plan to test.")
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Budget shares by purpose: front=0.6,back=0.3,winback=0.1.")
    ] = None,
    channel_split: Annotated[
        str | None,
        typer.Option("--channel-split", help="Shares by channel within each purpose: front:search_ads=0.5,back:crm=1."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Force the repeat-purchase family: bgnbd, mbgnbd or pareto, each also as <family>+stayers (with a segment that never drops out).",
        ),
    ] = None,
    customer_col: Annotated[
        str | None, typer.Option("--customer-col", help="Header of the customer id column.")
    ] = None,
    date_col: Annotated[str | None, typer.Option("--date-col", help="Header of the order date column.")] = None,
    amount_col: Annotated[str | None, typer.Option("--amount-col", help="Header of the amount column.")] = None,
    order_col: Annotated[
        str | None,
        typer.Option(
            "--order-col",
            help="Header of the order id column, when it is not recognized (order_id, invoice, 주문번호, Shopify's"
            " Name): the rows of one order id are its lines.",
        ),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            help="How the order log writes dates, when it cannot be told (03/04/2024): e.g. %d/%m/%Y or %m/%d/%Y;"
            " 'excel' reads Excel's day numbers (45717) in its 1900 date system.",
        ),
    ] = None,
    spend_date_format: Annotated[
        str | None, typer.Option("--spend-date-format", help="The same for the spend log's dates.")
    ] = None,
    decimal: Annotated[
        str | None,
        typer.Option("--decimal", help="Decimal mark of the amounts, when it cannot be told (1.234): '.' or ','."),
    ] = None,
    spend_gaps: Annotated[
        str,
        typer.Option(
            "--spend-gaps", help="Months missing from the spend log: 'error' (default) or 'zero' (read as no spend)."
        ),
    ] = "error",
    duplicate_orders: Annotated[
        str,
        typer.Option(
            "--duplicate-orders",
            help="Rows repeating an order id in every cell: 'error' (default), 'drop' (a duplicated export: read"
            " each once) or 'keep' (separate order lines: added up; also skips the order id checks).",
        ),
    ] = "error",
    refunds: Annotated[
        str,
        typer.Option(
            "--refunds",
            help="Rows with a negative amount (refunds): 'error' (default), 'net' (each subtracted from the order"
            " with its order id; an order refunded in full is left out) or 'drop' (left out; orders count in full).",
        ),
    ] = "error",
    order_amount: Annotated[
        str,
        typer.Option(
            "--order-amount",
            help="What the amount on the lines of an order is, when every order of several lines carries one"
            " amount on all of them: 'error' (default), 'total' (the order's total repeated on each line: read once)"
            " or 'lines' (each line's own amount: added up).",
        ),
    ] = "error",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the written scenario.")] = 42,
    name: Annotated[
        str | None, typer.Option("--name", help="Scenario name; default: 'Calibrated: <file name>'.")
    ] = None,
) -> None:
    from sim.calibration.calibrate import Assumptions, Plan, format_report
    from sim.calibration.calibrate import calibrate as run_calibration
    from sim.calibration.orderlog import check_export
    from sim.calibration.writer import check_scenario_out, write_calibration

    try:
        check_run_flags(seed=seed)
        check_scenario_out(out)
        for path, what in (
            (orders, "order log"),
            (spend, "spend log"),
            (events, "event calendar"),
            (lift_test, "lift test"),
        ):
            if path is not None:
                check_export(path, what)  # before any fitting: a missing spend log is not found after minutes
        if decimal is not None and decimal not in (".", ","):
            raise UserInputError(
                "unknown decimal mark", location="--decimal", found=repr(decimal), allowed="'.' or ','"
            )
        if spend_gaps not in ("error", "zero"):
            raise UserInputError(
                "unknown choice", location="--spend-gaps", found=repr(spend_gaps), allowed="error, zero"
            )
        for flag, fmt in (("--date-format", date_format), ("--spend-date-format", spend_date_format)):
            _check_date_format(flag, fmt)
        if gross_margin is not None and not 0.0 <= gross_margin <= 1.0:
            raise UserInputError("must be between 0 and 1", location="--gross-margin", found=str(gross_margin))
        if seed < 0:
            raise UserInputError("must be >= 0", location="--seed", found=str(seed))
        if currency is not None and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            raise UserInputError("not an ISO 4217 code", location="--currency", found=currency, allowed="e.g. KRW, USD")
        for flag, v in (("--market-size", market_size), ("--aware", aware)):
            if v is not None and v < 0:
                raise UserInputError("must be >= 0", location=flag, found=str(v))
        if market_size is not None and market_size == 0:
            raise UserInputError("must be > 0", location="--market-size", found="0")
        if budget is not None and not budget >= 0:
            raise UserInputError("must be >= 0", location="--budget", found=str(budget))
        if (split or channel_split) and budget is None:
            raise UserInputError("a split needs a budget to split", location="--split", allowed="add --budget X")
        plan = Plan(budget=budget, purpose_split=parse_split(split), channel_split=parse_channel_split(channel_split))
        cal = run_calibration(
            orders,
            spend=spend,
            events=events,
            lift_test=lift_test,
            until=until,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            order_col=order_col,
            assumptions=Assumptions(currency=currency, market_size=market_size, aware=aware, gross_margin=gross_margin),
            plan=plan,
            model=model,
            seed=seed,
            name=name,
            date_format=date_format,
            spend_date_format=spend_date_format,
            decimal=decimal,
            spend_gaps=spend_gaps,
            duplicate_orders=duplicate_orders,
            refunds=refunds,
            order_amount=order_amount,
        )
        written = write_calibration(cal, out)
    except UserInputError as exc:
        fail(exc)
    typer.echo(format_report(cal))
    for path in written:
        typer.echo(f"wrote {path}")


def _check_date_format(flag: str, fmt: str | None) -> None:
    """A strftime format with a 4-digit year and a month, that reads back what it writes."""
    if fmt is None or fmt == "excel":  # excel: Excel's day numbers (1900 date system)
        return
    from datetime import datetime

    sample = datetime(2024, 3, 15, 13, 45, 30)
    try:
        back = datetime.strptime(sample.strftime(fmt), fmt)
    except (ValueError, TypeError):
        back = None
    has_month = any(code in fmt for code in ("%m", "%b", "%B"))
    if back is None or "%Y" not in fmt or not has_month:
        raise UserInputError(
            "not a date format with a 4-digit year and a month",
            location=flag,
            found=repr(fmt),
            allowed="strftime codes such as %d/%m/%Y, %m/%d/%Y or %Y-%m-%d, or excel (Excel's day numbers)",
        )


@app.command(
    help="""Weekly forecast: repeat orders of the existing base, new customers, orders, revenue, with 5%/95% bands.

The existing customers' expected repeat orders come from the fitted model's closed form (no simulation), on
the scenario's seasonal index and events, and their bands from parameter draws (the fitted parameters'
sampling distribution) and each customer's own randomness. New customers under the plan have no closed form:
the fast engine simulates them (expected mode), with the acquisition curves drawn from their fitted
uncertainty for the bands; no engine runs when the plan acquires nobody. --engine agent uses one seeded
agent-engine run instead (its bands then hold only the noise of single futures).
"""
)
def forecast(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (usually written by `sim calibrate`).")],
    weeks: Annotated[int, typer.Option("--weeks", help="Weeks to forecast from the scenario's start date.")],
    out: Annotated[Path, typer.Option("--out", help="Forecast CSV to write (one row a week).")],
    draws: Annotated[int, typer.Option("--draws", help="Parameter draws for the bands.")] = 100,
    engine: Annotated[
        str, typer.Option("--engine", help="Engine for new customers: fast (default) or agent.")
    ] = "fast",
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; default: the scenario's seed.")] = None,
) -> None:
    from sim.analysis.forecast import forecast as run_forecast
    from sim.io import check_output_file, write_csv
    from sim.limits import check_replications
    from sim.model.scenario import load_scenario

    try:
        check_run_flags(seed=seed)
        check_replications(draws, "--draws")
        if out.exists() and out.is_dir():
            raise UserInputError("is a folder, expected a CSV file name", location="--out", found=str(out))
        check_output_file(out)
        s = load_scenario(scenario)
        table = run_forecast(s, weeks, draws=draws, engine=engine, seed=seed)
        write_csv(out, table)
    except UserInputError as exc:
        fail(exc)
    total = table[["base_repeat_orders", "new_customers", "orders", "revenue"]].sum()
    typer.echo(
        f"{weeks} weeks from {table['week_start'].iloc[0]}: base repeat orders {total['base_repeat_orders']:,.0f},"
        f" new customers {total['new_customers']:,.0f}, orders {total['orders']:,.0f},"
        f" revenue {total['revenue']:,.0f} {s.economics.currency} ({table.attrs['method']})"
    )
    typer.echo(f"wrote {out}")


@app.command(
    help="""Score every customer of the scenario's snapshot for the CRM team: one row per customer.

Columns: customer_id, p_alive, expected_orders and expected_revenue in the next N weeks, clv (discounted
margin over the scenario's horizon), segment (active, at risk, lapsed, one-time and hesitating) and the
back-end or win-back action the playbook suggests for that segment. Closed forms of the fitted model.
"""
)
def score(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML written by `sim calibrate` (it has a snapshot).")],
    weeks: Annotated[int, typer.Option("--weeks", help="Weeks ahead for expected orders and revenue.")],
    out: Annotated[Path, typer.Option("--out", help="Customer CSV to write.")],
) -> None:
    from sim.analysis.score import score_customers, segment_counts
    from sim.io import check_output_file, write_csv
    from sim.model.scenario import load_scenario

    try:
        if out.exists() and out.is_dir():
            raise UserInputError("is a folder, expected a CSV file name", location="--out", found=str(out))
        check_output_file(out)
        s = load_scenario(scenario)
        table = score_customers(s, weeks)
        write_csv(out, table)
    except UserInputError as exc:
        fail(exc)
    counts = segment_counts(table)
    typer.echo(
        f"{len(table):,} customers: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + f"; expected orders in {weeks} weeks {table['expected_orders'].sum():,.0f},"
        f" revenue {table['expected_revenue'].sum():,.0f} {s.economics.currency}"
    )
    typer.echo(f"wrote {out}")
