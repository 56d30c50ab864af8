"""The `sim` Typer application and the one way a command fails on bad input (`fail`).

Every user error (bad scenario, bad CSV, bad flag) ends as one line on stderr and exit code 2.
Outputs are written to temporary files and renamed into place, so nothing half-written is left.
"""

from __future__ import annotations

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
