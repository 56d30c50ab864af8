"""Commands that start from a client's order export: `calibrate`, `forecast`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.cli.app import app, check_run_flags, fail
from sim.errors import UserInputError


@app.command()
def calibrate(
    orders: Annotated[Path, typer.Argument(help="Order export (CSV): customer id, order date, amount.")],
    out: Annotated[Path, typer.Option("--out", help="Scenario YAML to write (a <name>.customers.csv goes beside it).")],
    spend: Annotated[
        Path | None, typer.Option("--spend", help="Spend log (CSV): month or date, channel, amount.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Cut-off date: orders after it are ignored (holdout checks).")
    ] = None,
    customer_col: Annotated[
        str | None, typer.Option("--customer-col", help="Header of the customer id column.")
    ] = None,
    date_col: Annotated[str | None, typer.Option("--date-col", help="Header of the order date column.")] = None,
    amount_col: Annotated[str | None, typer.Option("--amount-col", help="Header of the amount column.")] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="ISO currency code; default: KRW for Korean exports, else USD.")
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            help="How the order log writes dates, when it cannot be told (03/04/2024): e.g. %d/%m/%Y or %m/%d/%Y.",
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
    gross_margin: Annotated[
        float, typer.Option("--gross-margin", help="Gross margin share (not in an order log).")
    ] = 0.5,
    backtest: Annotated[
        str, typer.Option("--backtest", help="auto, engine, closed or none: how to replay the history.")
    ] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the backtest and of the written scenario.")] = 42,
    name: Annotated[
        str | None, typer.Option("--name", help="Scenario name; default: 'Calibrated: <file name>'.")
    ] = None,
) -> None:
    """Fit a scenario to a client's order export (MBG/NBD, order value, acquisition) and backtest it."""
    from sim.calibration.calibrate import calibrate as run_calibration
    from sim.calibration.calibrate import format_report, write_calibration
    from sim.io import check_output_file

    try:
        if not 0.0 <= gross_margin <= 1.0:
            raise UserInputError("must be between 0 and 1", location="--gross-margin", found=str(gross_margin))
        if backtest not in ("auto", "engine", "closed", "none"):
            raise UserInputError(
                "unknown method", location="--backtest", found=backtest, allowed="auto, engine, closed, none"
            )
        check_run_flags(seed=seed)
        if decimal is not None and decimal not in (".", ","):
            raise UserInputError("unknown decimal mark", location="--decimal", found=decimal, allowed="'.' or ','")
        if spend_gaps not in ("error", "zero"):
            raise UserInputError("unknown choice", location="--spend-gaps", found=spend_gaps, allowed="error, zero")
        for flag, fmt in (("--date-format", date_format), ("--spend-date-format", spend_date_format)):
            _check_date_format(flag, fmt)
        check_output_file(out)
        if currency is not None and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            raise UserInputError("not an ISO 4217 code", location="--currency", found=currency, allowed="e.g. KRW, USD")
        cal = run_calibration(
            orders,
            spend=spend,
            until=until,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            currency=currency,
            gross_margin=gross_margin,
            backtest=backtest,
            seed=seed,
            name=name,
            date_format=date_format,
            spend_date_format=spend_date_format,
            decimal=decimal,
            spend_gaps=spend_gaps,
        )
        written = write_calibration(cal, out)
    except UserInputError as exc:
        fail(exc)
    typer.echo(format_report(cal))
    for path in written:
        typer.echo(f"wrote {path}")


def _check_date_format(flag: str, fmt: str | None) -> None:
    """A strftime format with a year, a month and (for order dates) a day, that reads back what it writes."""
    if fmt is None:
        return
    from datetime import datetime

    sample = datetime(2024, 3, 15, 13, 45, 30)
    try:
        text = sample.strftime(fmt)
        back = datetime.strptime(text, fmt)
    except (ValueError, TypeError):
        back = None
    if back is None or "%Y" not in fmt or "%m" not in fmt and "%b" not in fmt and "%B" not in fmt:
        raise UserInputError(
            "not a date format with a 4-digit year and a month",
            location=flag,
            found=fmt,
            allowed="strftime codes such as %d/%m/%Y, %m/%d/%Y or %Y-%m-%d",
        )


@app.command()
def forecast(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (usually written by `sim calibrate`).")],
    weeks: Annotated[int, typer.Option("--weeks", help="Weeks to forecast from the scenario's start date.")],
    out: Annotated[Path, typer.Option("--out", help="Forecast CSV to write (one row a week).")],
    replications: Annotated[
        int, typer.Option("--replications", help="Seeded engine runs for new customers and the 5%/95% bands.")
    ] = 20,
    engine: Annotated[str | None, typer.Option("--engine", help="agent or fast; default: fast when installed.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; default: the scenario's seed.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for replications.")] = 1,
) -> None:
    """Weekly forecast: repeat orders of the existing base, new customers, orders, revenue, with bands."""
    from sim.analysis.forecast import forecast as run_forecast
    from sim.io import check_output_file, write_csv
    from sim.model.scenario import load_scenario

    try:
        workers = check_run_flags(replications=replications, workers=workers, seed=seed, jobs=replications)
        if out.exists() and out.is_dir():
            raise UserInputError("is a folder, expected a CSV file name", location="--out", found=str(out))
        check_output_file(out)
        s = load_scenario(scenario)
        table = run_forecast(s, weeks, replications=replications, engine=engine, seed=seed, workers=workers)
        write_csv(out, table, float_format="%.6g")
    except UserInputError as exc:
        fail(exc)
    total = table[["base_repeat_orders", "new_customers", "orders", "revenue"]].sum()
    typer.echo(
        f"{weeks} weeks from {table['week_start'].iloc[0]}: base repeat orders {total['base_repeat_orders']:.1f},"
        f" new customers {total['new_customers']:.1f}, orders {total['orders']:.1f}, revenue {total['revenue']:,.0f}"
        f" ({table.attrs.get('engine')} engine, {table.attrs.get('replications')} replications)"
    )
    typer.echo(f"wrote {out}")
