"""`python -m sim lab`: JupyterLab rooted at the checkout, the course language for the kernels, clear errors.

Only the command line is built here (`lab_command`); the browser test starts the real server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.errors import UserInputError
from sim.learn.lab import find_root, lab_command, notebook_path

ROOT = Path(__file__).resolve().parents[1]


def test_the_server_is_rooted_at_the_checkout_so_chapter_links_resolve():
    command = lab_command(None, "ko", port=8899, open_browser=False, root=ROOT, environ={"PYTHONPATH": "/elsewhere"})
    assert f"--ServerApp.root_dir={ROOT}" in command.argv
    assert "--ServerApp.ip=127.0.0.1" in command.argv and "--ServerApp.port=8899" in command.argv
    assert "--ServerApp.open_browser=False" in command.argv
    assert "--LabApp.default_url=/lab/tree/notebooks/learn" in command.argv
    assert command.env["SIM_LANG"] == "ko"
    assert command.env["PYTHONPATH"].split(os.pathsep) == [str(ROOT), "/elsewhere"]  # this checkout's sim first
    chapter = ROOT / "notebooks" / "learn" / "01_front_back_marketing.ipynb"
    assert (chapter.parent / "../../playbook/01_front_back_marketing.md").resolve().is_relative_to(command.root)


@pytest.mark.parametrize(
    ("which", "opens"),
    [
        ("3", "notebooks/learn/03_measure_manage_improve.ipynb"),
        ("03", "notebooks/learn/03_measure_manage_improve.ipynb"),
        ("09_splitting_the_budget", "notebooks/learn/09_splitting_the_budget.ipynb"),
        ("what-if", "notebooks/what_if.ipynb"),
        (None, "notebooks/learn"),
    ],
)
def test_a_notebook_is_chosen_by_number_or_name(which, opens):
    assert notebook_path(ROOT, which).as_posix() == opens


def test_the_root_is_found_from_a_subfolder(tmp_path):
    assert find_root(ROOT / "notebooks" / "learn") == ROOT


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["12"], "NOTEBOOK: no such notebook (found: 12); allowed: 1, 2, 3, 4, 5, 6, 7, 8, 9, what-if"),
        (["--lang", "fr"], "--lang: unknown language (found: fr); allowed: en, ko"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, says):
    run = subprocess.run([sys.executable, "-m", "sim", "lab", *args], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {says}"


def test_outside_a_checkout_it_says_where_to_run_it(tmp_path, monkeypatch):
    import sim.learn.lab as lab

    monkeypatch.setattr(lab, "__file__", str(tmp_path / "site-packages" / "sim" / "learn" / "lab.py"))
    with pytest.raises(UserInputError, match="run this inside a checkout"):
        find_root(tmp_path)
