"""The course in JupyterLab: `lab`."""

from __future__ import annotations

from typing import Annotated

import typer

from sim.cli.app import app, fail
from sim.errors import UserInputError


@app.command()
def lab(
    notebook: Annotated[
        str | None,
        typer.Argument(help="A chapter's notebook by number (1-9) or name, or 'what-if'; default: all of them."),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Course language of the notebooks: en or ko.")] = "en",
    port: Annotated[int | None, typer.Option("--port", help="Port of the server; default: the first free one.")] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Start the server without opening a browser.")
    ] = False,
) -> None:
    """Open the learning notebooks in JupyterLab, rooted at the repository so every chapter link works."""
    from sim.learn.lab import lab_command, launch

    try:
        if port is not None and not 1 <= port <= 65535:
            raise UserInputError(
                "is not a TCP port",
                location="--port",
                found=str(port),
                allowed="1 to 65535 (leave --port out for the first free one)",
            )
        command = lab_command(notebook, lang, port=port, open_browser=not no_browser)
    except UserInputError as exc:
        fail(exc)
    typer.echo(f"JupyterLab at {command.root} (language {lang}), opening {command.opens}; Ctrl-C stops it", err=True)
    raise typer.Exit(launch(command))
