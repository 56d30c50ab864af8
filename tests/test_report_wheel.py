"""A regular install renders a report from any folder: the wheel carries the notebook, the template, the
catalogs and everything the report shows; nothing is looked up in a source tree.

The wheel is built from a copy of the sources (so the checkout gets no build/ or egg-info folders) and
installed into a fresh virtual environment that sees this machine's packages (`--system-site-packages`,
so no dependency is downloaded); the report is rendered in a temporary folder outside the checkout,
with no PYTHONPATH, by the venv's own interpreter (which also runs the notebook's kernel).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_report_cli import small_scenario

from sim.report.i18n import t


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "sim", source / "sim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-q", "-w", wheels])
    (wheel,) = wheels.glob("*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv])
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel], env=env)
    return python, env


@pytest.mark.slow
def test_installed_wheel_renders_a_report_anywhere(venv_python, tmp_path):
    python, env = venv_python
    where = _run([python, "-c", "import sim; print(sim.__file__)"], env=env, cwd=tmp_path).stdout.strip()
    assert Path(where).is_relative_to(python.parents[1]), f"the venv imports {where}, not its own install"
    scenario = small_scenario(tmp_path)
    out = tmp_path / "client" / "report"
    cmd = [python, "-m", "sim", "report", scenario.name, "--out", out, "--replications", "2", "--lang", "ko"]
    proc = _run(cmd, env=env, cwd=tmp_path)
    assert proc.stderr == ""
    page = (out / "early-stage-d2c-skincare.ko.html").read_text(encoding="utf-8")
    assert 'id="sec-playbook"' in page and t("chapter.1", "ko") in page and t("chapter_idea.1", "ko") in page
    assert "playbook/" not in page, "no file of a source tree is named by an installed package's report"
    assert "@font-face" in page, "the Korean glyphs come with the installed packages"
    executed = (out / "early-stage-d2c-skincare.ko.ipynb").read_text(encoding="utf-8")
    assert '"output_type": "error"' not in executed
