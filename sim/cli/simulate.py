"""Commands that read and simulate one scenario: `validate`, `run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sim.cli.app import app, check_run_flags, fail, note
from sim.errors import UserInputError

if TYPE_CHECKING:
    from sim.model.scenario import Scenario


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
) -> None:
    """Check a scenario file; exit 0 if it is valid, else print the problem and exit 2."""
    from sim.model.scenario import load_scenario

    try:
        s = load_scenario(scenario)
    except UserInputError as exc:
        fail(exc)
    months = s.simulation.horizon_months
    typer.echo(
        f"{scenario}: valid scenario {s.name!r} ({len(s.channels)} channels, {months} month{'s' * (months != 1)})"
    )
    note(_events_after_the_horizon(s))


def _events_after_the_horizon(s: Scenario) -> str:
    """A note naming the events that start after the horizon ends (they change nothing), or ""."""
    from sim.model.calendar import calendar

    last = calendar(s).dates[-1].date()
    late = [e for e in s.events if e.start > last]
    if not late:
        return ""
    named = ", ".join(f"{e.name} ({e.start})" for e in late[:3]) + (", ..." if len(late) > 3 else "")
    return (
        f"note: {len(late)} of the {len(s.events)} events start after the horizon ends ({last}) and change nothing:"
        f" {named}"
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
    from sim.analysis.marginal import marginal_rois
    from sim.engines import engine_names, simulate
    from sim.io import check_output_folder, write_run_outputs
    from sim.model.kpis import compute_kpis
    from sim.model.scenario import load_scenario

    try:
        if engine not in engine_names():
            raise UserInputError("unknown engine", location="--engine", found=engine, allowed=", ".join(engine_names()))
        workers = check_run_flags(replications=replications, workers=workers, seed=seed, jobs=replications)
        check_output_folder(out)
        s = load_scenario(scenario)
        # one run is the engine's default (expected values where it has them); replications are draws
        result = simulate(s, engine=engine, seed=seed, replications=replications, workers=workers, progress=True)
        # marginal ROIs from the fast engine's expected values: deterministic, no Monte Carlo noise
        rois = marginal_rois(s, engine="fast", seed=seed) if marginal else None
        kpis = compute_kpis(result, rois)
        written = write_run_outputs(result, kpis, out)
    except UserInputError as exc:
        fail(exc)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(json.dumps({k: kpis[k] for k in ("cac", "clv", "ltv_cac", "cumulative_contribution")}, default=str))
