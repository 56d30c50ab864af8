"""The budget optimizer: `optimize`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sim.cli.app import app, check_run_flags, fail
from sim.errors import UserInputError

if TYPE_CHECKING:
    from sim.analysis.constraints import Constraints
    from sim.model.scenario import Scenario

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
        float | None,
        typer.Option(
            "--hurdle",
            help="Spend a unit only where it earns at least this much contribution, e.g. 0.2; default: the"
            " scenario's planning -> hurdle_rate, else 0.",
        ),
    ] = None,
    budget_cap: Annotated[
        float | None,
        typer.Option("--budget-cap", help="Let the budget level of each period change, up to this much a month."),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="How often the split may change: month, quarter, half or year; default: the scenario's"
            " planning -> period, else quarter.",
        ),
    ] = None,
    breakevens: Annotated[
        bool, typer.Option("--breakevens/--no-breakevens", help="Also find what one must believe (break-evens).")
    ] = True,
    replications: Annotated[int, typer.Option("--replications", help="Monte Carlo runs for the bands.")] = 100,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; default: the scenario's seed.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for the sweeps and replications.")] = 1,
) -> None:
    """Best plan over time: the split between acquisition, retention and win-back per period, the channel mix
    (and with --budget-cap the budget level), where the gain comes from, both plans' KPIs, break-evens, bands."""
    from sim.analysis.optimize import Constraints, load_constraints, optimize_budget
    from sim.io import check_output_folder, output_set
    from sim.model.scenario import load_scenario

    try:
        workers = check_run_flags(replications=replications, workers=workers, seed=seed)
        check_output_folder(out)
        s = load_scenario(scenario)
        from_file = load_constraints(constraints) if constraints is not None else Constraints()
        flags = Constraints(
            min_share=_assignments(min_share, "--min-share"),
            max_share=_assignments(max_share, "--max-share"),
            min_channel=_assignments(min_channel, "--min-channel"),
            max_channel=_assignments(max_channel, "--max-channel"),
            monthly_cap=monthly_cap,
            payback_within_months=min_payback_months,
            hurdle_rate=hurdle or 0.0,
            budget_cap=budget_cap,
        )
        _check_flags(flags, s)
        # the scenario's planning section, then the --constraints file, then the flags (an explicit --hurdle 0 too)
        limits = Constraints.of_scenario(s).merged(from_file).merged(flags)
        if hurdle is not None:
            limits = replace(limits, hurdle_rate=hurdle)
        try:
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
        except UserInputError as exc:
            raise _blamed(exc, flags, constraints, from_file, s) from None
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
                "current_budget_per_month": result.budget_per_month("current"),
                "recommended_budget_per_month": result.budget_per_month("recommended"),
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


def _assignments(items: list[str] | None, flag: str) -> dict[str, float]:
    """NAME=VALUE flags as a dict, refusing a name given twice (which value was meant?) and saying how to
    write a value such as `30%` or `5,000,000`."""
    from sim.analysis.optimize import parse_assignments
    from sim.model.scenario import number_hint

    seen: dict[str, str] = {}
    out: dict[str, float] = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if name.strip() in seen:
            first = seen[name.strip()]
            raise UserInputError(
                f"{name.strip()} is given twice ({first.partition('=')[2]} and {value}); give it once",
                location=flag,
                found=f"{flag} {first} {flag} {item}",
            )
        seen[name.strip()] = item
        try:
            out.update(parse_assignments([item], flag))
        except UserInputError as exc:
            hint = number_hint(value).strip(" ()")
            raise UserInputError(exc.message, location=flag, found=exc.found, allowed=hint or exc.allowed) from None
    return out


def _given(flags: Constraints, key: str) -> bool:
    """Whether the optimize flag behind constraint `key` was given on the command line."""
    value = getattr(flags, key, None)
    if isinstance(value, dict):
        return bool(value)
    if key == "hurdle_rate":
        return value not in (None, 0.0)
    return value is not None


def _blamed(
    exc: UserInputError, flags: Constraints, constraints: Path | None, from_file: Constraints, scenario: Scenario
) -> UserInputError:
    """A constraint nobody can meet (found while planning) named as the user gave it: the flag (`--min-share`),
    else the --constraints file, else the scenario's planning section; other errors unchanged."""
    from sim.analysis.constraints import planning_error

    key = (exc.location or "").partition(" -> ")[0]
    if exc.file is not None or key not in _CONSTRAINT_FLAGS and key != "constraints":
        return exc
    message = exc.message
    if key != "constraints" and _given(flags, key):
        for name, flag in _CONSTRAINT_FLAGS.items():
            message = message.replace(name, flag)
        location = f"{_CONSTRAINT_FLAGS[key]} (constraint {exc.location})"  # its name in a --constraints file too
        return UserInputError(message, location=location, found=exc.found, allowed=exc.allowed)
    if constraints is not None and (key == "constraints" or _given(from_file, key)):
        return UserInputError(
            message, file=str(constraints), location=exc.location, found=exc.found, allowed=exc.allowed
        )
    planned = planning_error(exc, scenario)
    if planned is not exc:
        return planned
    if key == "constraints":
        return UserInputError(message, location="the optimize flags", found=exc.found, allowed=exc.allowed)
    return exc
