"""The strategy report: a parameterized notebook, executed by papermill, converted to one HTML file.

A report is a pipeline of three stages, each its own step here: the library computes every figure's
data (`sim.report.data`, outside the notebook kernel), papermill executes `notebooks/strategy_report.ipynb`
with the report's parameters (the notebook only reads the data, plots it and explains it in the chosen
language), and nbconvert turns the executed notebook into a self-contained HTML page without code.

Everything is written into a hidden stage and swapped into place as one set (`sim.io.output_set`), so a
killed or failed run leaves no partial report and never a report beside the data of another run:

    DIR/<slug>.html        the report (images embedded, no code)
    DIR/<slug>.ipynb       the executed notebook
    DIR/<slug>_data/       kpis.json, summary.json and each figure's data as CSV/JSON

The HTML pieces the notebook writes are in `sim.report.html`.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sim
from sim.errors import ReportError, UserInputError
from sim.report.i18n import LANGUAGES

NOTEBOOK_NAME = "strategy_report.ipynb"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_FILE = "report.html.j2"
KERNEL_START_TIMEOUT = 120  # seconds for the kernel to answer its first request
NBCONVERT_ALT = "No description has been provided for this image"


@dataclass
class ReportOutput:
    """What `render_report` wrote, and the figures a batch summary needs."""

    html: Path
    notebook: Path
    data_dir: Path
    kpis: dict
    summary: dict
    timings: dict = field(default_factory=dict)


# -- locating things ---------------------------------------------------------------------------------


def repository_root() -> Path:
    """The folder above the `sim` package: the source tree's root in a checkout or editable install (where
    `data/` and `playbook/` live); in a regular install, site-packages (so relative paths simply do not resolve)."""
    return Path(sim.__file__).resolve().parent.parent


def report_notebook_path() -> Path:
    """The report notebook shipped inside the package (`sim/report/strategy_report.ipynb`)."""
    from importlib.resources import files

    path = Path(str(files("sim.report") / NOTEBOOK_NAME))
    if not path.is_file():
        raise ReportError(f"report notebook {NOTEBOOK_NAME} is missing from the sim.report package", step="notebook")
    return path


def resolve_scenario_path(path: str | Path, start: Path | None = None) -> Path:
    """A scenario path as given, else relative to `start` (cwd) and its parents, else to the repository.

    So the notebook's default `data/samples/...` works when run from the repository root and from
    `notebooks/` alike.
    """
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents, repository_root()):
        if (folder / p).exists():
            return folder / p
    return p  # load_scenario reports it as not found


# -- parameters and kernel ----------------------------------------------------------------------------


def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The notebook's declared parameters (name -> type, default, help), from its `parameters` cell."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Unknown parameter names are errors, not papermill's warning (a typo would silently be ignored)."""
    declared = notebook_parameters(notebook)
    for name in parameters:
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UserInputError(
                f"unknown report parameter {name!r}{hint}",
                file=str(notebook),
                location="parameters",
                found=name,
                allowed=", ".join(declared),
            )


def check_kernel(kernel_name: str) -> None:
    """A clear error when the Jupyter kernel is not installed, with the command that installs it."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(kernel_name)
    except NoSuchKernel:
        installed = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise UserInputError(
            f"Jupyter kernel not found; install it with: python -m ipykernel install --user --name {kernel_name}",
            location="--kernel",
            found=kernel_name,
            allowed=installed,
        ) from None


# -- the pipeline ---------------------------------------------------------------------------------------


def render_report(
    scenario_path: Path,
    out_dir: Path,
    lang: str = "en",
    *,
    replications: int = 100,
    seed: int | None = None,
    client_name: str | None = None,
    timeout: int = 900,
    kernel_name: str = "python3",
) -> ReportOutput:
    """Write the strategy report of one scenario to `out_dir/<slug>.html` (+ `.ipynb` and `_data/`).

    `timeout` bounds each notebook cell's execution [seconds]. Bad input (scenario, language,
    replications, seed, kernel) raises `UserInputError`; a failing notebook raises `ReportError`.
    """
    from sim.io import ensure_output_dir, output_set
    from sim.model.scenario import load_scenario, scenario_slug
    from sim.report.data import prepare_report_data, summary_row

    if lang not in LANGUAGES:
        raise UserInputError(
            "unknown report language", location="--lang", found=str(lang), allowed=", ".join(LANGUAGES)
        )
    if not isinstance(replications, int) or replications < 1:
        raise UserInputError("must be at least 1", location="--replications", found=str(replications))
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise UserInputError("must be >= 0", location="--seed", found=str(seed))
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise UserInputError("must be > 0 seconds", location="--timeout", found=str(timeout))
    if client_name is not None and len(client_name) > 200:
        raise UserInputError("client name is longer than 200 characters", location="--client")
    scenario = load_scenario(scenario_path)
    check_kernel(kernel_name)
    from sim.engines import get_engine

    get_engine("agent").check_memory(scenario)  # the report runs the agent engine once: refuse up front
    notebook = report_notebook_path()
    folder = ensure_output_dir(out_dir).resolve()
    slug = scenario_slug(scenario)
    targets = {
        "html": _inside(folder, f"{slug}.html"),
        "notebook": _inside(folder, f"{slug}.ipynb"),
        "data": _inside(folder, f"{slug}_data"),
    }
    timings: dict[str, float] = {}
    with output_set(folder, "report", [t.name for t in targets.values()]) as outs:
        staging = outs.stage
        clock = time.perf_counter()
        data = prepare_report_data(
            scenario, outs.stage_path(targets["data"].name), replications=replications, seed=seed, progress=False
        )
        timings["simulation"] = time.perf_counter() - clock

        parameters = {
            "scenario_path": str(Path(scenario_path).resolve()),
            "lang": lang,
            "replications": replications,
            "seed": -1 if seed is None else seed,
            "output_dir": str(staging),
            "client_name": client_name or "",
        }
        check_parameters(notebook, parameters)
        clock = time.perf_counter()
        executed = outs.stage_path(targets["notebook"].name)
        execute_notebook(
            notebook, executed, parameters, kernel_name=kernel_name, timeout=timeout, scenario=scenario.name
        )
        _point_parameters_at(executed, str(staging), str(folder))
        timings["notebook"] = time.perf_counter() - clock

        clock = time.perf_counter()
        title = _title(scenario, client_name, lang)
        html_text_ = notebook_to_html(executed, title=title, lang=lang)
        outs.stage_path(targets["html"].name).write_text(html_text_, encoding="utf-8")
        timings["html"] = time.perf_counter() - clock
    return ReportOutput(
        html=targets["html"],
        notebook=targets["notebook"],
        data_dir=targets["data"],
        kpis=dict(data.kpis),
        summary=summary_row(data, client_name),
        timings=timings,
    )


def _inside(folder: Path, name: str) -> Path:
    """`folder/name`, refusing any name that would land outside `folder` (defence in depth: slugs are safe)."""
    target = (folder / name).resolve()
    if target.parent != folder or name in ("", ".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise UserInputError("output name would leave the output folder", location="--out", found=name)
    return target


def _title(scenario, client_name: str | None, lang: str) -> str:
    from sim.report.i18n import t

    return t("report.html_title", lang, client=client_name or scenario.display_name)


def execute_notebook(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    *,
    kernel_name: str = "python3",
    timeout: float = 900,
    scenario: str | None = None,
) -> None:
    """Run the notebook with papermill; retry once if the kernel fails to start (papermill issue 511)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    def run() -> None:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name=kernel_name,
            execution_timeout=timeout,
            start_timeout=KERNEL_START_TIMEOUT,
            progress_bar=False,
            log_output=False,
            cwd=str(notebook.parent),
        )

    try:
        try:
            run()
        except (RuntimeError, OSError) as exc:  # kernel start-up trouble (port collision, slow start)
            if isinstance(exc, PapermillExecutionError) or _executed_any(output):
                raise
            run()
    except PapermillExecutionError as exc:
        raise ReportError(
            f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}", scenario=scenario, step="notebook"
        ) from None
    except TimeoutError as exc:
        raise ReportError(
            f"a notebook cell ran longer than {timeout:g} s ({exc})", scenario=scenario, step="notebook"
        ) from None
    except Exception as exc:  # papermill wraps kernel deaths and timeouts in several types
        name = type(exc).__name__
        if "Timeout" in name or "timed out" in str(exc).lower():
            raise ReportError(
                f"a notebook cell ran longer than {timeout:g} s", scenario=scenario, step="notebook"
            ) from None
        raise ReportError(
            f"{name}: {str(exc).splitlines()[0] if str(exc) else ''}", scenario=scenario, step="notebook"
        ) from None


def _executed_any(output: Path) -> bool:
    if not output.exists():
        return False
    try:
        nb = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(c.get("execution_count") for c in nb.get("cells", []))


def _point_parameters_at(executed: Path, staging: str, final: str) -> None:
    """The executed notebook names its output folder; make it the final folder, not the staging one."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = cell.source.replace(repr(staging), repr(final)).replace(staging, final)
    papermill_meta = nb.metadata.get("papermill", {})
    for key in ("parameters", "default_parameters"):
        params = papermill_meta.get(key) or {}
        for name, value in list(params.items()):
            if isinstance(value, str) and staging in value:
                params[name] = value.replace(staging, final)
    for key in ("output_path", "input_path"):
        if isinstance(papermill_meta.get(key), str):
            papermill_meta[key] = papermill_meta[key].replace(staging, final)
    nbformat.write(nb, str(executed))


def notebook_to_html(executed: Path, *, title: str, lang: str = "en") -> str:
    """`jupyter nbconvert --to html --no-input`, as one self-contained page (no CDN scripts)."""
    import logging

    import nbformat
    from nbconvert import HTMLExporter

    from sim.report.html import embedded_font_css, html_text
    from sim.report.i18n import t

    nb = nbformat.read(str(executed), as_version=4)
    font_css = embedded_font_css(_output_text(nb) + title)
    exporter = HTMLExporter(
        template_name="lab",
        template_file=TEMPLATE_FILE,
        extra_template_paths=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_markdown=True,  # the notebook's own notes for whoever opens it; not part of the report
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code=lang,
    )
    exporter.log.setLevel(logging.ERROR)  # its "alternative text is missing" warning is handled below
    resources = {"metadata": {"name": title}, "language_code": lang, "report_font_css": font_css}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    # nbconvert gives every image an English placeholder alt text; say it in the report's language
    return body.replace(f'alt="{NBCONVERT_ALT}"', f'alt="{html_text(t("report.figure_alt", lang))}"')


def _output_text(nb) -> str:
    """All text the report shows (HTML and plain-text outputs), to know which glyphs the page needs."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in ("text/html", "text/plain"):
                if mime in data:
                    value = data[mime]
                    parts.append("".join(value) if isinstance(value, list) else str(value))
            if "text" in output:
                parts.append(str(output["text"]))
    return "".join(parts)
