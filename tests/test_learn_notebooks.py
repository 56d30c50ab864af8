"""The learning notebooks as stored: executed, with outputs, figures that match the chapters, a static plot
before every slider, plots with titles, axis labels and legends, and exercises with check cells.

`pytest notebooks/learn/` (nbval-lax, from pyproject's addopts) re-executes them; these checks read the
stored files only and take a second.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from sim.learn import figures as pf

LEARN = Path(__file__).resolve().parents[1] / "notebooks" / "learn"
NOTEBOOKS = sorted(LEARN.glob("[0-9][0-9]_*.ipynb"))


def _code(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_there_is_a_notebook_per_chapter():
    assert [p.stem for p in NOTEBOOKS] == [
        p.stem for p in sorted((LEARN.parents[1] / "playbook").glob("[0-9][0-9]_*.md"))
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_with_outputs_and_no_errors(path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in _code(nb):
        assert cell.execution_count is not None, f"{path.name}: a code cell was never executed"
        assert all(o.output_type != "error" for o in cell.outputs), f"{path.name}: stored error output"
    assert any("image/png" in o.get("data", {}) for c in _code(nb) for o in c.outputs), "no stored plot"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checked_figures_are_the_chapters(path: Path):
    nb = nbformat.read(path, as_version=4)
    checked = [c for c in _code(nb) if c.source.startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked, f"{path.name}: no cell marked # NBVAL_CHECK_OUTPUT"
    for cell in checked:
        for line in _text(cell).splitlines():
            name, value = line.split(maxsplit=1)
            assert value == pf.compute(name), f"{path.name}: stored {name} = {value!r}; rebuild the notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_sliders_have_a_static_fallback_and_exercises_a_check(path: Path):
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in _code(nb)]
    widget = [i for i, s in enumerate(sources) if "interact(" in s]
    assert widget, f"{path.name}: no slider"
    for i in widget:
        assert sources[i].startswith("if interact is None:"), "a widget cell must run without ipywidgets"
    first_static = next(i for i, s in enumerate(sources) if "plt.show()" in s and "interact(" not in s)
    assert first_static < widget[0], f"{path.name}: the static plot must come before the sliders"
    assert sum("check_answer(" in s for s in sources) >= 2
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_plot_has_title_labels_and_legend(path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in _code(nb):
        s = cell.source
        if not re.search(r"plt\.subplots|\.plot(\.|\()", s):
            continue
        assert "plt.show()" in s, f"{path.name}: a plot cell must end with plt.show()"
        for word in ("title", "xlabel", "ylabel", "legend"):
            assert word in s, f"{path.name}: a plot without {word}:\n{s[:200]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_slider_plots_were_drawn_without_errors(path: Path):
    """An error inside an `interact` callback does not fail the cell; it lands in the Output widget's
    stored state, which is checked here (every slider drew its plot at the default values)."""
    nb = nbformat.read(path, as_version=4)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [m["state"].get("outputs", []) for m in state.values() if m["model_name"] == "OutputModel"]
    assert outputs, f"{path.name}: no widget output stored"
    for out in outputs:
        assert all(o["output_type"] != "error" for o in out), f"{path.name}: a slider callback failed"
        assert any("image/png" in o.get("data", {}) for o in out), f"{path.name}: a slider drew no plot"
