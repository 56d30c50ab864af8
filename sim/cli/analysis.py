"""The budget optimizer: `optimize`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.app import app, check_run_flags, fail
from sim.errors import UserInputError

OPTIMIZE_OUTPUTS = (  # the set `optimize` writes (sensitivity.csv: an older version's, removed by a re-run)
    "recommendation.json",
    "path.csv",
    "decomposition.csv",
    "curve.csv",
    "breakevens.csv",
    "marginal_roi.json",
    "sensitivity.csv",
)


@app.command()
def optimize(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    objective: Annotated[
        str, typer.Option("--objective", help="contribution (default), npv, revenue or customers (at the horizon).")
    ] = "contribution",
    constraints: Annotated[
        Path | None,
        typer.Option("--constraints", help="YAML/JSON file of constraints (see sim.analysis.constraints.Constraints)."),
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
    hurdle: Annotated[
        float,
        typer.Option("--hurdle", help="Spend a unit only where it earns at least this much contribution, e.g. 0.2."),
    ] = 0.0,
    budget_cap: Annotated[
        float | None,
        typer.Option("--budget-cap", help="Let the budget level of each period change, up to this much a month."),
    ] = None,
    period: Annotated[
        str, typer.Option("--period", help="How often the split may change: month, quarter (default), half or year.")
    ] = "quarter",
    breakevens: Annotated[
        bool, typer.Option("--breakevens/--no-breakevens", help="Also find what one must believe (break-evens).")
    ] = True,
    replications: Annotated[int, typer.Option("--replications", help="Monte Carlo runs for the bands.")] = 100,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; default: the scenario's seed.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for the sweeps and replications.")] = 1,
) -> None:
    """Best plan over time: the split between acquisition, retention and win-back per period, the channel mix
    (and with --budget-cap the budget level), where the gain comes from, both plans' KPIs, break-evens, bands."""
    from sim.analysis.optimize import Constraints, load_constraints, optimize_budget, parse_assignments
    from sim.io import check_output_folder, output_set
    from sim.model.scenario import load_scenario

    try:
        workers = check_run_flags(replications=replications, workers=workers, seed=seed)
        check_output_folder(out)
        s = load_scenario(scenario)
        limits = load_constraints(constraints) if constraints is not None else Constraints()
        flags = Constraints(
            min_share=parse_assignments(min_share or [], "--min-share"),
            max_share=parse_assignments(max_share or [], "--max-share"),
            min_channel=parse_assignments(min_channel or [], "--min-channel"),
            max_channel=parse_assignments(max_channel or [], "--max-channel"),
            monthly_cap=monthly_cap,
            payback_within_months=min_payback_months,
            hurdle_rate=hurdle,
            budget_cap=budget_cap,
        )
        _check_flags(flags, s)
        limits = limits.merged(flags)
        result = optimize_budget(
            s,
            objective,
            limits,
            replications=replications,
            seed=seed,
            workers=workers,
            progress=True,
            period=period,
            find_breakevens=breakevens,
        )
        with output_set(out, "optimize", OPTIMIZE_OUTPUTS) as outs:
            staged = result.to_files(outs.stage)
        written = [outs.folder / p.name for p in staged]
    except UserInputError as exc:
        fail(exc)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(
        json.dumps(
            {
                "recommended_split": {k: round(v, 4) for k, v in result.recommended_split.items()},
                "current_value": result.current_value,
                "recommended_value": result.recommended_value,
                "uplift_mean": result.uplift_mean,
                "uplift_p05": result.uplift_p05,
                "uplift_p95": result.uplift_p95,
            }
        )
    )


# the constraint each optimize flag sets (a bad value is blamed on the flag the user typed)
_CONSTRAINT_FLAGS = {
    "min_share": "--min-share",
    "max_share": "--max-share",
    "min_channel": "--min-channel",
    "max_channel": "--max-channel",
    "monthly_cap": "--monthly-cap",
    "payback_within_months": "--min-payback-months",
    "hurdle_rate": "--hurdle",
    "budget_cap": "--budget-cap",
}


def _check_flags(flags, scenario) -> None:
    """The constraints given as flags checked on their own, each error naming its flag."""
    try:
        flags.check(scenario, source=None)
    except UserInputError as exc:
        key, _, rest = (exc.location or "").partition(" -> ")
        flag = _CONSTRAINT_FLAGS.get(key, key)
        raise UserInputError(
            exc.message, location=flag, found=f"{rest}={exc.found}" if rest else exc.found, allowed=exc.allowed
        ) from None
