"""Strategy reports: one (`report`) or many (`batch`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.app import app, check_run_flags, fail, note
from sim.errors import UserInputError


def _bands_need_two(replications: int | None) -> None:
    """A report's 90% bands need two replications at least, as `sim optimize` says: one would be shown as a
    band while the optimizer silently ran two."""
    if replications is not None and replications < 2:
        raise UserInputError(
            "at least 2 replications are needed for the report's 90% bands",
            location="--replications",
            found=str(replications),
            allowed="2 or more (the default, 100, gives steady bands)",
        )


@contextlib.contextmanager
def _no_empty_folder_left(out: Path) -> Iterator[None]:
    """Remove the output folder the command created if it ends empty (interrupted, failed): "nothing was
    written" leaves nothing behind, not even the folder."""
    created = []  # the folders the command may create: `out` and its missing parents, deepest first
    folder = Path(os.path.abspath(out))
    while not os.path.lexists(folder) and folder != folder.parent:
        created.append(folder)
        folder = folder.parent
    try:
        yield
    except BaseException:
        for folder in created:
            try:
                os.rmdir(folder)  # only an empty folder goes
            except OSError:
                break
        raise


@app.command()
def report(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder: <slug>.html, <slug>.ipynb and <slug>_data/ in English; <slug>.ko.html, "
            "<slug>.ko.ipynb and <slug>.ko_data/ in Korean.",
        ),
    ],
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
    """Write the strategy report of a scenario: OUT/<slug>.html (English) or OUT/<slug>.ko.html (Korean),
    one page without code, images embedded, with the executed notebook and the figures' data beside it."""
    from sim.errors import ReportError
    from sim.report.render import render_report, terminal_stream

    try:
        check_run_flags(replications=replications, seed=seed)
        _bands_need_two(replications)
        with _no_empty_folder_left(out):
            result = render_report(
                scenario,
                out,
                lang,
                replications=replications,
                seed=seed,
                client_name=client,
                timeout=timeout,
                kernel_name=kernel,
                progress=terminal_stream(),
            )
    except UserInputError as exc:
        fail(exc)
    except ReportError as exc:
        fail(f"report failed: {exc}", code=1)
    typer.echo(f"wrote {result.html}")
    typer.echo(f"wrote {result.notebook}")
    typer.echo(f"wrote {result.data_dir}/")


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
    from sim.batch.runner import repeats_note, run_batch

    try:
        check_run_flags(replications=replications, seed=seed)
        _bands_need_two(replications)
        if workers is not None:
            workers = check_run_flags(workers=workers)
        repeated = repeats_note(scenarios)  # shown after the run: a refusal stays one line
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
    note(repeated)
    for outcome in result.failed:
        typer.echo(f"failed: {outcome.one_line()}", err=True)
    typer.echo(
        f"{len(result.done)} reports written, {len(result.skipped)} up to date, {len(result.failed)} failed"
        f" in {result.seconds:.0f} s -> {result.index_html}"
    )
    if result.failed:
        raise typer.Exit(1)
