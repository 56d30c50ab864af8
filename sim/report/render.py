"""The strategy report: a parameterized notebook, executed by papermill, converted to one HTML file.

A report is a pipeline of three stages, each its own module; this one only calls them in order:
*simulate* (`sim.report.data`: the library computes every figure's data, outside the notebook kernel),
*execute* (`sim.report.execute`: papermill runs the package's `strategy_report.ipynb` with the report's
parameters; the notebook only reads the data, plots it and explains it in the chosen language) and
*convert* (`sim.report.convert`: nbconvert writes a self-contained HTML page without code).

Each language has its own file names, so an English and a Korean report share one output folder:

    DIR/<slug>.html          DIR/<slug>.ko.html         the report (images embedded, no code)
    DIR/<slug>.ipynb         DIR/<slug>.ko.ipynb        the executed notebook
    DIR/<slug>_data/         DIR/<slug>.ko_data/        kpis.json, summary.json, each figure's data

Everything is written into a hidden stage and put in place as one set (`sim.io.output_set`, the HTML
last), so a killed or failed run leaves no partial report and never a report beside another run's data. A second language rendered
into the same folder reuses the first one's data when its manifest matches (same scenario, inputs, seed,
replications and code), so it does not simulate again.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import sim
from sim.errors import ReportError, UserInputError
from sim.report.i18n import LANGUAGES

NOTEBOOK_NAME = "strategy_report.ipynb"
# what the report notebook imports: the kernel imports them while the simulation runs (sim.report.kernel_launcher)
NOTEBOOK_IMPORTS = tuple(
    f"sim.report.{name}" for name in ("data", "markup", "plots", "recommendation", "render", "rules", "i18n")
) + ("sim.model.scenario", "IPython.display")
KERNEL_LOG = ".kernel.log"  # inside the staging folder: what the kernel process printed


@dataclass
class ReportOutput:
    """What `render_report` wrote, and the figures a batch summary needs."""

    html: Path
    notebook: Path
    data_dir: Path
    kpis: dict
    summary: dict
    timings: dict = field(default_factory=dict)


# -- names and places -------------------------------------------------------------------------------


def report_stem(slug: str, lang: str) -> str:
    """The file stem of a report: `<slug>` in English, `<slug>.<lang>` in any other language."""
    return slug if lang == "en" else f"{slug}.{lang}"


def report_files(slug: str, lang: str) -> dict[str, str]:
    """The names a report writes in its folder: html, notebook and data folder."""
    stem = report_stem(slug, lang)
    return {"html": f"{stem}.html", "notebook": f"{stem}.ipynb", "data": f"{stem}_data"}


def report_notebook_path() -> Path:
    """The report notebook shipped inside the package (`sim/report/strategy_report.ipynb`)."""
    from importlib.resources import files

    path = Path(str(files("sim.report") / NOTEBOOK_NAME))
    if not path.is_file():
        raise ReportError(f"report notebook {NOTEBOOK_NAME} is missing from the sim.report package", step="notebook")
    return path


def source_root() -> Path | None:
    """The source checkout `sim` runs from (editable install or PYTHONPATH), or None in a regular install."""
    root = Path(sim.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "sim").is_dir() else None


def playbook_dir(lang: str) -> Path | None:
    """The playbook's folder in the report's language when this machine has one (a source checkout)."""
    root = source_root()
    if root is None:
        return None
    folder = root / "playbook" if lang == "en" else root / "playbook" / lang
    return folder if folder.is_dir() else None


def resolve_scenario_path(path: str | Path, start: Path | None = None) -> Path:
    """A scenario path as given, else relative to `start` (cwd) and its parents, else to the source checkout.

    So the notebook's default `data/samples/...` works when run from the repository root and from
    `notebooks/` alike.
    """
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    here = (start or Path.cwd()).resolve()
    root = source_root()
    for folder in (here, *here.parents, *([root] if root else [])):
        if (folder / p).exists():
            return folder / p
    return p  # load_scenario reports it as not found


# -- progress ---------------------------------------------------------------------------------------


class Stages:
    """Times the pipeline's stages; with a stream (a terminal), writes one line per stage with its seconds."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, label: str) -> Iterator[None]:
        if self.stream is not None:
            self.stream.write(f"{label:<44}")
            self.stream.flush()
        start = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            self.timings[name] = seconds = time.perf_counter() - start
            if self.stream is not None:
                self.stream.write(f"{seconds:6.1f} s\n" if ok else "  failed\n")
                self.stream.flush()


def terminal_stream(stream: TextIO | None = None) -> TextIO | None:
    """`stream` (default stderr) if it is a terminal, else None: stage lines only for people watching."""
    stream = sys.stderr if stream is None else stream
    try:
        return stream if stream.isatty() else None
    except (AttributeError, ValueError):
        return None


# -- the pipeline ---------------------------------------------------------------------------------------


def _check_options(lang: str, replications: int, seed: int | None, timeout: float, client_name: str | None) -> None:
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
    progress: TextIO | None = None,
) -> ReportOutput:
    """Write the strategy report of one scenario to `out_dir` (`<slug>.html` in English, `<slug>.ko.html`
    in Korean, with the executed notebook and the data folder beside it).

    `timeout` bounds each notebook cell's execution [seconds]; `progress` (a terminal) receives one line
    per stage. Bad input (scenario, language, replications, seed, kernel) raises `UserInputError`; a
    failing notebook raises `ReportError`.
    """
    from sim.analysis.optimize import check_planning
    from sim.engines import get_engine
    from sim.io import ensure_output_dir, output_set
    from sim.model.scenario import load_scenario, scenario_slug
    from sim.report.convert import notebook_to_html
    from sim.report.data import plan_to_split, prepare_report_data, reuse_report_data, summary_row
    from sim.report.execute import check_kernel, check_parameters, execute_notebook, report_kernel

    _check_options(lang, replications, seed, timeout, client_name)
    scenario = load_scenario(scenario_path)
    check_kernel(kernel_name)
    get_engine("agent").check_memory(scenario)  # the report runs the agent engine once: refuse up front
    if plan_to_split(scenario):  # planning rules no plan can meet: refused before any run
        check_planning(scenario)
    notebook = report_notebook_path()
    folder = ensure_output_dir(out_dir).resolve()
    slug = scenario_slug(scenario)
    targets = {kind: _inside(folder, name) for kind, name in report_files(slug, lang).items()}
    stages = Stages(progress)
    # one set, staged whole and swapped in (sim.io.output_set): never a report beside another run's data
    with output_set(folder, "report", [t.name for t in targets.values()]) as outs:
        staging = outs.stage
        staged_data = outs.stage_path(targets["data"].name)
        others = [x for x in LANGUAGES if x != lang]
        siblings = [folder / report_files(slug, x)["data"] for x in (lang, *others)]
        reused = reuse_report_data(scenario, staged_data, siblings, replications=replications, seed=seed)
        label = "simulate (reused the data beside it)" if reused else "simulate: optimizer, levers, order log"
        executed = outs.stage_path(targets["notebook"].name)
        log = staging / KERNEL_LOG
        # the kernel starts, and imports the notebook's libraries, while the simulation runs
        with report_kernel(staging, kernel_name=kernel_name, log_file=log, preload=NOTEBOOK_IMPORTS) as kernel:
            with stages.stage("simulation", label):
                data = prepare_report_data(scenario, staged_data, replications=replications, seed=seed, progress=False)

            parameters = {
                "scenario_path": str(Path(scenario_path).resolve()),
                "lang": lang,
                "replications": replications,
                "seed": -1 if seed is None else seed,
                "output_dir": str(staging),
                "client_name": client_name or "",
            }
            check_parameters(notebook, parameters)
            with stages.stage("notebook", "execute: the report notebook"):
                execute_notebook(
                    notebook,
                    executed,
                    parameters,
                    kernel_name=kernel_name,
                    timeout=timeout,
                    scenario=scenario.name,
                    log_file=log,
                    kernel=kernel,
                )
                _point_parameters_at(executed, str(staging), str(folder))
        log.unlink(missing_ok=True)  # not part of the set

        with stages.stage("html", "convert: one HTML page"):
            page = notebook_to_html(executed, title=_title(scenario, client_name, lang), lang=lang)
            outs.stage_path(targets["html"].name).write_text(page, encoding="utf-8")
    return ReportOutput(
        html=targets["html"],
        notebook=targets["notebook"],
        data_dir=targets["data"],
        kpis=dict(data.kpis),
        summary=summary_row(data, client_name),
        timings=stages.timings,
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
