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
        result = simulate(s, engine=engine, seed=seed, replications=replications, workers=workers, progress=True)
        rois = marginal_rois(s, engine=engine, seed=seed, replications=min(replications, 4)) if marginal else None
        kpis = compute_kpis(result, rois)
        written = write_run_outputs(result, kpis, out)
    except UserInputError as exc:
        fail(exc)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(json.dumps({k: kpis[k] for k in ("cac", "clv", "ltv_cac", "cumulative_contribution")}, default=str))


def main() -> None:
    """Entry point for `sim` and `python -m sim`."""
    try:
        app()
    except UserInputError as exc:  # a library error that escaped a command
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
