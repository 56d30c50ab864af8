"""docs/validation.md's figures do not get worse: refit every family on the same CDNOW cut and compare with
docs/validation.json (written by `python docs/validation.py`), and check the document matches the file."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from sim.calibration import backtest, families

DOCS = Path(__file__).resolve().parents[1] / "docs"
RECORDED = json.loads((DOCS / "validation.json").read_text())


@pytest.fixture(scope="module")
def validation():
    if importlib.util.find_spec("lifetimes") is None:
        pytest.skip("lifetimes (dev extra) is not installed: pip install lifetimes==0.11.3")
    sys.path.insert(0, str(DOCS))
    try:
        import validation as module
    finally:
        sys.path.remove(str(DOCS))
    return module


@pytest.mark.slow
def test_cdnow_figures_do_not_get_worse(validation):
    split = validation.split_of(validation.cdnow_transactions())
    results, _ = backtest.compare_families(families.FITTERS, split, "CDNOW")
    for name, rec in RECORDED["ours"].items():
        got = results[name]
        assert abs(got["total_error"]) <= abs(rec["total_error"]) + 0.002, (name, got["total_error"])
        assert got["tracking_error"] <= rec["tracking_error"] + 0.002, (name, got["tracking_error"])
        assert got["individual_mae"] <= rec["individual_mae"] + 0.002, (name, got["individual_mae"])
        # as good as lifetimes' fitter of the same family on the same cut
        assert got["individual_mae"] <= RECORDED["lifetimes"][name]["individual_mae"] + 0.002
    assert backtest.choose(results, families.DEFAULT) == RECORDED["chosen"] == "pareto"


def test_document_shows_the_recorded_figures(validation):
    assert (DOCS / "validation.md").read_text(encoding="utf-8") == validation.render(RECORDED)
    assert (DOCS / "validation_weekly.png").stat().st_size > 10_000
