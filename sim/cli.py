"""The `sim` command line: thin commands that call the library.

Every user error (bad scenario, bad CSV, bad flag) ends as one line on stderr and exit code 2.
Outputs are written to temporary files and renamed into place, so nothing half-written is left.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from sim.errors import UserInputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Simulate front-end vs back-end e-commerce marketing and write strategy reports.",
)


def fail(error: UserInputError | str, code: int = 2) -> None:
    """Print one clear line and exit (2 = bad input)."""
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code)


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
) -> None:
    """Check a scenario file; exit 0 if it is valid, else print the problem and exit 2."""
    from sim.scenario import load_scenario

    try:
        s = load_scenario(scenario)
    except UserInputError as exc:
        fail(exc)
    typer.echo(
        f"{scenario}: valid scenario {s.name!r} ({len(s.channels)} channels, {s.simulation.horizon_months} months)"
    )


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    engine: Annotated[str, typer.Option("--engine", help="Simulation engine: agent or fast.")] = "agent",
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; default: the scenario's seed.")] = None,
    replications: Annotated[int, typer.Option("--replications", help="Seeded replications; >1 adds 5%/95% bands.")] = 1,
    workers: Annotated[int, typer.Option("--workers", help="Processes for replications.")] = 1,
    marginal: Annotated[
        bool, typer.Option("--marginal/--no-marginal", help="Also compute marginal ROIs (extra runs).")
    ] = True,
) -> None:
    """Simulate a scenario: writes timeseries.csv, kpis.json and (agent engine) orders.csv to OUT."""
    from sim.engines import engine_names, simulate
    from sim.io import write_run_outputs
    from sim.kpis import compute_kpis, marginal_rois
    from sim.scenario import load_scenario

    try:
        if engine not in engine_names():
            raise UserInputError("unknown engine", location="--engine", found=engine, allowed=", ".join(engine_names()))
        if replications < 1:
            raise UserInputError("must be at least 1", location="--replications", found=str(replications))
        if workers < 1:
            raise UserInputError("must be at least 1", location="--workers", found=str(workers))
        if seed is not None and seed < 0:
            raise UserInputError("must be >= 0", location="--seed", found=str(seed))
        s = load_scenario(scenario)
        # the fast engine's replications are Monte Carlo draws; its single run is the expected value
        extra = {"mode": "sampled"} if engine == "fast" and replications > 1 else {}
        result = simulate(
            s, engine=engine, seed=seed, replications=replications, workers=workers, progress=True, **extra
        )
        # marginal ROIs from the fast engine's expected values: deterministic, no Monte Carlo noise
        rois = marginal_rois(s, engine="fast", seed=seed) if marginal else None
        kpis = compute_kpis(result, rois)
        written = write_run_outputs(result, kpis, out)
    except UserInputError as exc:
        fail(exc)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(json.dumps({k: kpis[k] for k in ("cac", "clv", "ltv_cac", "cumulative_contribution")}, default=str))


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
    from sim.calibrate import calibrate as run_calibration
    from sim.calibrate import format_report, write_calibration

    try:
        if not 0.0 <= gross_margin <= 1.0:
            raise UserInputError("must be between 0 and 1", location="--gross-margin", found=str(gross_margin))
        if backtest not in ("auto", "engine", "closed", "none"):
            raise UserInputError(
                "unknown method", location="--backtest", found=backtest, allowed="auto, engine, closed, none"
            )
        if seed < 0:
            raise UserInputError("must be >= 0", location="--seed", found=str(seed))
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
        )
        written = write_calibration(cal, out)
    except UserInputError as exc:
        fail(exc)
    typer.echo(format_report(cal))
    for path in written:
        typer.echo(f"wrote {path}")


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
    from sim.forecast import forecast as run_forecast
    from sim.io import write_csv
    from sim.scenario import load_scenario

    try:
        if seed is not None and seed < 0:
            raise UserInputError("must be >= 0", location="--seed", found=str(seed))
        if workers < 1:
            raise UserInputError("must be at least 1", location="--workers", found=str(workers))
        if out.exists() and out.is_dir():
            raise UserInputError("is a folder, expected a CSV file name", location="--out", found=str(out))
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


@app.command()
def batch(
    scenarios: Annotated[list[str], typer.Argument(help="Scenario files, folders (their *.yaml) or globs.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the reports, summary.csv and index.html.")],
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes on this machine; default: the number of cores.")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address (tcp://HOST:PORT); default: run on this machine."),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Report language: en or ko.")] = "en",
    replications: Annotated[
        int | None, typer.Option("--replications", help="Replications per report; default: the report's own.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; default: each scenario's seed.")] = None,
    timeout: Annotated[
        int, typer.Option("--timeout", help="Seconds one report may take before it is stopped (retried once).")
    ] = 900,
    force: Annotated[bool, typer.Option("--force", help="Redo every report, even those up to date.")] = False,
) -> None:
    """One report per scenario, DIR/summary.csv and DIR/index.html; exit 1 if any scenario failed."""
    from sim.batch import run_batch

    try:
        result = run_batch(
            scenarios,
            out,
            workers=workers,
            scheduler=scheduler,
            lang=lang,
            replications=replications,
            seed=seed,
            timeout=timeout,
            force=force,
        )
    except UserInputError as exc:
        fail(exc)
    for outcome in result.failed:
        typer.echo(f"failed: {outcome.one_line()}", err=True)
    typer.echo(
        f"{len(result.done)} reports written, {len(result.skipped)} up to date, {len(result.failed)} failed"
        f" in {result.seconds:.0f} s -> {result.index_html}"
    )
    if result.failed:
        raise typer.Exit(1)


@app.command()
def report(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: <slug>.html, <slug>.ipynb and <slug>_data/.")],
    lang: Annotated[str, typer.Option("--lang", help="Report language: en or ko.")] = "en",
    replications: Annotated[
        int, typer.Option("--replications", help="Monte Carlo replications for the optimizer's bands.")
    ] = 100,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; default: the scenario's seed.")] = None,
    client: Annotated[
        str | None, typer.Option("--client", help="Client name shown in the report; default: the scenario's.")
    ] = None,
    timeout: Annotated[int, typer.Option("--timeout", help="Longest a notebook cell may run, in seconds.")] = 900,
    kernel: Annotated[str, typer.Option("--kernel", help="Jupyter kernel that runs the notebook.")] = "python3",
) -> None:
    """Write the strategy report of a scenario: OUT/<slug>.html (no code, images embedded) + executed .ipynb."""
    from sim.report import ReportError, render_report

    try:
        result = render_report(
            scenario,
            out,
            lang,
            replications=replications,
            seed=seed,
            client_name=client,
            timeout=timeout,
            kernel_name=kernel,
        )
    except UserInputError as exc:
        fail(exc)
    except ReportError as exc:
        fail(f"report failed: {exc}", code=1)
    typer.echo(f"wrote {result.html}")
    typer.echo(f"wrote {result.notebook}")
    typer.echo(f"wrote {result.data_dir}/")


@app.command()
def optimize(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    objective: Annotated[
        str, typer.Option("--objective", help="contribution (default), npv, revenue or customers (at the horizon).")
    ] = "contribution",
    constraints: Annotated[
        Path | None, typer.Option("--constraints", help="YAML/JSON file of constraints (see sim.optimize.Constraints).")
    ] = None,
    min_share: Annotated[
        list[str] | None, typer.Option("--min-share", help="PURPOSE=SHARE, e.g. back=0.1 (repeatable).")
    ] = None,
    max_share: Annotated[list[str] | None, typer.Option("--max-share", help="PURPOSE=SHARE (repeatable).")] = None,
    min_channel: Annotated[
        list[str] | None, typer.Option("--min-channel", help="CHANNEL=SPEND per month (repeatable).")
    ] = None,
    max_channel: Annotated[
        list[str] | None,
        typer.Option("--max-channel", help="CHANNEL=SPEND per month, e.g. search_ads=5000000 (repeatable)."),
    ] = None,
    monthly_cap: Annotated[float | None, typer.Option("--monthly-cap", help="Most spend in any one month.")] = None,
    min_payback_months: Annotated[
        float | None,
        typer.Option("--min-payback-months", help="Acquired customers must pay back front-end spend within N months."),
    ] = None,
    replications: Annotated[int, typer.Option("--replications", help="Monte Carlo runs for the bands.")] = 100,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; default: the scenario's seed.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for the sweeps and replications.")] = 1,
) -> None:
    """Best split of the budget between acquisition, retention and win-back (and channels), with bands."""
    from sim.optimize import Constraints, load_constraints, optimize_budget, parse_assignments
    from sim.scenario import load_scenario

    try:
        if workers < 1:
            raise UserInputError("must be at least 1", location="--workers", found=str(workers))
        if seed is not None and seed < 0:
            raise UserInputError("must be >= 0", location="--seed", found=str(seed))
        s = load_scenario(scenario)
        limits = load_constraints(constraints) if constraints is not None else Constraints()
        limits = limits.merged(
            Constraints(
                min_share=parse_assignments(min_share or [], "--min-share"),
                max_share=parse_assignments(max_share or [], "--max-share"),
                min_channel=parse_assignments(min_channel or [], "--min-channel"),
                max_channel=parse_assignments(max_channel or [], "--max-channel"),
                monthly_cap=monthly_cap,
                payback_within_months=min_payback_months,
            )
        )
        result = optimize_budget(
            s, objective, limits, replications=replications, seed=seed, workers=workers, progress=True
        )
        written = result.to_files(out)
    except UserInputError as exc:
        fail(exc)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(
        json.dumps(
            {
                "recommended_split": {k: round(v, 4) for k, v in result.recommended_split.items()},
                "uplift_mean": result.uplift_mean,
                "uplift_p05": result.uplift_p05,
                "uplift_p95": result.uplift_p95,
            }
        )
    )


def main() -> None:
    """Entry point for `sim` and `python -m sim`."""
    try:
        app()
    except UserInputError as exc:  # a library error that escaped a command
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
