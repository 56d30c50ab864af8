"""The `sim` Typer application, the one way a command fails on bad input (`fail`), and the checks of the
flags every simulating command shares (`check_run_flags`).

Every user error (bad scenario, bad CSV, bad flag) ends as one line on stderr and exit code 2.
Outputs are staged and swapped into place as one set (`sim.io`), so nothing half-written is left.
"""

from __future__ import annotations

import dataclasses
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
    if isinstance(error, UserInputError):
        error = with_scenario_file(error)
    text = " ".join(str(error).split())  # one line, whatever the message held
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(code)


def with_scenario_file(error: UserInputError) -> UserInputError:
    """The error naming the scenario file when it is about a place in the scenario but names no file (a check
    made after loading, e.g. `budget -> totals: the budget is zero`): every error names its file."""
    from sim.model.scenario import is_scenario_place, last_loaded_file

    source = last_loaded_file()
    if error.file is None and source is not None and is_scenario_place(error.location):
        return dataclasses.replace(error, file=source)
    return error


def note(text: str) -> None:
    """One line of information on stderr (not an error)."""
    if text:
        typer.echo(text, err=True)


def check_run_flags(
    *, replications: int | None = None, workers: int | None = None, seed: int | None = None, jobs: int | None = None
) -> int | None:
    """Refuse out-of-range --replications and --seed; cap --workers at the cores (one note line) and at the
    number of jobs. Returns the workers to use."""
    from sim.limits import check_replications, check_seed, check_workers

    check_replications(replications)
    check_seed(seed)
    used, message = check_workers(workers, jobs=jobs)
    note(message)
    return used


def _print_version(value: bool) -> None:
    if value:
        import sim

        typer.echo(f"sim {sim.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """Simulate front-end vs back-end e-commerce marketing and write strategy reports."""
