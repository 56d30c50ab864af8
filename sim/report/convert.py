"""The report pipeline's third stage: nbconvert turns the executed notebook into one HTML page.

`jupyter nbconvert --to html --no-input` with the package's own template (`templates/report.html.j2`:
JupyterLab's page without any script from a CDN), images embedded and the Korean glyphs the page uses
embedded as a font subset, so the page is self-contained and reads the same on any machine, offline.
"""

from __future__ import annotations

import site
import sys
from importlib.resources import as_file, files
from pathlib import Path

from sim.errors import ReportError

TEMPLATE_FILE = "report.html.j2"
NBCONVERT_ALT = "No description has been provided for this image"


def nbconvert_template_dirs() -> list[str]:
    """The folders holding nbconvert's own templates ("lab", which the report's template extends).

    nbconvert installs them as data files under `<prefix>/share/jupyter`, and looks only in the running
    environment's prefix; in a virtual environment that uses the base interpreter's packages
    (`--system-site-packages`), they sit under the base prefix. So every prefix nbconvert may have been
    installed into is tried: this environment's, the base interpreter's, the user's, and nbconvert's own.
    """
    import nbconvert

    prefixes = [sys.prefix, sys.base_prefix, sys.exec_prefix, site.getuserbase()]
    prefixes.append(str(Path(nbconvert.__file__).resolve().parents[3]))  # <prefix>/lib/pythonX.Y/site-packages
    found: list[str] = []
    for prefix in prefixes:
        folder = Path(prefix) / "share" / "jupyter" / "nbconvert" / "templates"
        if (folder / "lab").is_dir() and str(folder) not in found:
            found.append(str(folder))
    if not found:
        raise ReportError(
            "nbconvert's 'lab' template is not installed; reinstall it with: pip install --force-reinstall nbconvert",
            step="html",
        )
    return found


def notebook_to_html(executed: Path, *, title: str, lang: str = "en") -> str:
    """The executed notebook as one self-contained HTML page without code or notes."""
    import logging

    import nbformat
    from nbconvert import HTMLExporter

    from sim.report.i18n import t
    from sim.report.markup import embedded_font_css, html_text

    nb = without_stderr(nbformat.read(str(executed), as_version=4))
    font_css = embedded_font_css(_output_text(nb) + title)
    nbconvert_dirs = nbconvert_template_dirs()
    with as_file(files("sim.report") / "templates") as template_dir:
        exporter = HTMLExporter(
            template_name="lab",
            template_file=TEMPLATE_FILE,
            extra_template_paths=[str(template_dir), *nbconvert_dirs],  # also for 'base/null.j2' and the like
            extra_template_basedirs=nbconvert_dirs,
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


def without_stderr(nb):
    """The notebook without what its cells wrote to stderr (a library's warning, a log line): the page shows what
    the report says to the client; the executed notebook beside it keeps everything, for whoever debugs it."""
    for cell in nb.cells:
        if "outputs" in cell:
            cell["outputs"] = [
                o for o in cell["outputs"] if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    return nb


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
