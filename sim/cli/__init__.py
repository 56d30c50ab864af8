"""The `sim` command line: thin commands that call the library, one module per group of commands.

Every user error (bad scenario, bad CSV, bad flag) ends as one line on stderr and exit code 2.
"""

# ruff: noqa: I001
from __future__ import annotations

import sys

import typer

# each module registers its commands, in the order `sim --help` lists them
from sim.cli import simulate  # noqa: F401
from sim.cli import calibrate  # noqa: F401
from sim.cli import analysis  # noqa: F401
from sim.cli import reports  # noqa: F401
from sim.cli import learn  # noqa: F401
from sim.cli.app import app
from sim.errors import UserInputError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point for `sim` and `python -m sim`."""
    try:
        app()
    except UserInputError as exc:  # a library error that escaped a command
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
