"""`sim report` as a person at a terminal sees it: one line per stage with its seconds, no kernel noise,
English and Korean reports side by side in one folder, `sim --version`; and output files at full precision.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, SAMPLES
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.errors import plain_number

NOISE = ("TCP", "encryption", "KeyboardInterrupt", "WARNING", "Traceback", "IPKernelApp")


def small_scenario(folder: Path) -> Path:
    """The early-stage sample at a tenth of its size over 12 months (a report in seconds)."""
    data = yaml.safe_load((SAMPLES / "early_stage_d2c.yaml").read_text(encoding="utf-8"))
    data["market"]["size"] = 40000
    data["market"]["initially_aware"] = 400
    data["market"]["existing"] = {"customers": 90, "loyal": 12, "lapsed": 25}
    data["simulation"]["horizon_months"] = 12
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _env(tmp: Path) -> dict[str, str]:
    """The test's environment with a private temporary folder (to see what the kernels leave in it)."""
    tmp.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}


def run_in_terminal(cmd: list[str], env: dict[str, str], timeout: float = 600) -> tuple[int, str]:
    """Run `cmd` with stdout and stderr on a pseudo-terminal; its exit code and everything it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                raise TimeoutError(f"no output for {timeout} s from {cmd}")
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closed: the process ended
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")


@pytest.fixture(scope="module")
def both_languages(tmp_path_factory):
    """The small scenario rendered in English at a terminal, then in Korean piped, into one folder."""
    root = tmp_path_factory.mktemp("cli")
    scenario = small_scenario(root)
    out = root / "reports"
    env = _env(root / "tmp")
    base = [sys.executable, "-m", "sim", "report", str(scenario), "--out", str(out), "--replications", "2"]
    code, terminal = run_in_terminal(base, env)
    assert code == 0, terminal
    piped = subprocess.run([*base, "--lang", "ko"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert piped.returncode == 0, piped.stderr
    return out, terminal, piped, root / "tmp"


@pytest.mark.slow
def test_terminal_shows_one_line_per_stage_and_no_kernel_noise(both_languages):
    _, terminal, _, _ = both_languages
    # what the reader sees: colour resets (SGR codes, invisible) that a kernel's exit may send are not lines
    terminal = re.sub(r"\x1b\[[0-9;]*m", "", terminal)
    lines = [line for line in terminal.splitlines() if line.strip()]
    stages = [line for line in lines if re.search(r"\d+\.\d s$", line)]
    assert [line.split(":")[0].split()[0] for line in stages] == ["simulate", "execute", "convert"], terminal
    assert len(lines) == 6 and all(line.startswith("wrote ") for line in lines[3:]), terminal
    assert not [word for word in NOISE if word in terminal], terminal


@pytest.mark.slow
def test_piped_output_is_only_what_was_written(both_languages):
    out, _, piped, _ = both_languages
    assert piped.stderr == ""
    assert [line.split()[0] for line in piped.stdout.splitlines()] == ["wrote"] * 3
    assert piped.stdout.splitlines()[0].endswith(".ko.html")


@pytest.mark.slow
def test_english_and_korean_reports_share_one_folder(both_languages):
    out, _, _, _ = both_languages
    names = sorted(p.name for p in out.iterdir())
    slug = "early-stage-d2c-skincare"
    assert names == sorted(
        [f"{slug}.html", f"{slug}.ipynb", f"{slug}_data", f"{slug}.ko.html", f"{slug}.ko.ipynb", f"{slug}.ko_data"]
    )
    assert 'lang="en"' in (out / f"{slug}.html").read_text(encoding="utf-8")
    assert 'lang="ko"' in (out / f"{slug}.ko.html").read_text(encoding="utf-8")
    # the Korean report reused the English one's figures (same scenario, seed, replications, code)
    for name in ("kpis.json", "meta.json", "summary.json", "contribution_curve.csv"):
        assert (out / f"{slug}_data" / name).read_bytes() == (out / f"{slug}.ko_data" / name).read_bytes(), name


@pytest.mark.slow
def test_kernels_leave_no_sockets_or_files_behind(both_languages):
    _, _, _, tmp = both_languages
    assert [p.name for p in tmp.iterdir()] == []


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sim {sim.__version__}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (24_000_000.0, "24,000,000"),
        (42_320.4, "42,320.4"),
        (1.2e-05, "0.000012"),
        (900, "900"),
        (-3.14159265, "-3.14159"),
    ],
)
def test_messages_print_numbers_without_scientific_notation(value, text):
    assert plain_number(value) == text


def test_report_data_files_keep_full_precision(tmp_path):
    """Every CSV and JSON of a report's data folder reads back to the very same floats."""
    from sim.report.data import FRAME_FILES, ReportData, load_report_data

    rng = np.random.default_rng(7)
    frames = {name: pd.DataFrame({"x": rng.lognormal(15, 3, 20), "y": rng.normal(0, 1e-7, 20)}) for name in FRAME_FILES}
    kpis = {"cumulative_contribution": float(rng.lognormal(20, 1)), "cac": float(rng.lognormal(9, 1))}
    data = ReportData(meta={"currency": "KRW"}, kpis=kpis, plan={"v": 1.0 / 3.0}, summary={}, **frames)
    data.write(tmp_path)
    back = load_report_data(tmp_path)
    for name in FRAME_FILES:
        pd.testing.assert_frame_equal(getattr(back, name), frames[name], check_exact=True)
    assert back.kpis == kpis and back.plan == {"v": 1.0 / 3.0}


def test_run_timeseries_keeps_full_precision(tmp_path):
    """`sim run`'s timeseries.csv holds every digit the engine computed (no rounding to 6 digits)."""
    from sim.engines import simulate
    from sim.model.scenario import load_scenario

    path = small_scenario(tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--engine", "fast"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "timeseries.csv")
    expected = simulate(load_scenario(path), "fast").timeseries_frame()
    for column in ("revenue", "contribution", "aware", "customer"):
        np.testing.assert_array_equal(written[column].to_numpy(), expected[column].to_numpy(), err_msg=column)
    assert json.loads((out / "kpis.json").read_text())["cumulative_contribution"] == pytest.approx(
        float(expected["contribution"].sum()), rel=1e-12
    )


def test_a_second_language_shows_the_figures_of_the_data_beside_it(tmp_path):
    """Korean after English into one folder: the notebook reads the data folder the command prepared (a copy of
    the English one), so both pages show the same figures and the second language computes nothing again."""
    from sim.report.render import render_report

    scenario = small_scenario(tmp_path)
    first = render_report(scenario, tmp_path / "out", "en", replications=2)
    meta_file = first.data_dir / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["created_utc"] = "1999-01-01 00:00 UTC"  # a mark only the English data folder carries
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    second = render_report(scenario, tmp_path / "out", "ko", replications=2)
    assert second.data_dir.name.endswith(".ko_data")
    assert json.loads((second.data_dir / "meta.json").read_text(encoding="utf-8"))["created_utc"] == meta["created_utc"]
    assert "1999-01-01 00:00 UTC" in second.html.read_text(encoding="utf-8")
    folders = {p.name for p in (tmp_path / "out").iterdir() if p.name.endswith("_data")}
    assert folders == {first.data_dir.name, second.data_dir.name}


def test_the_page_never_shows_what_a_cell_wrote_to_stderr(tmp_path):
    """A library's warning (a cell's stderr) stays in the executed notebook and never reaches the client's page."""
    import nbformat

    from sim.report.convert import notebook_to_html

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="UserWarning: Attempting to set identical low and high xlims"
        ),
        nbformat.v4.new_output("stream", name="stdout", text="the report's words"),
    ]
    nb.cells = [cell]
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    page = notebook_to_html(path, title="t", lang="en")
    assert "the report's words" in page and "UserWarning" not in page
    assert "UserWarning" in path.read_text(encoding="utf-8")  # the notebook keeps it


def test_a_one_month_report_reads_right_and_says_its_horizon_is_short(tmp_path):
    """A horizon of one month: English counts agree ('over 1 month'), the plan caption has one period, the page
    says the horizon undervalues acquisition and retention, and no library warning reaches the client."""
    from path_fixtures import html_text

    from sim.report.i18n import t
    from sim.report.render import render_report

    data = yaml.safe_load(small_scenario(tmp_path).read_text(encoding="utf-8"))
    data["simulation"]["horizon_months"] = 1
    path = tmp_path / "one_month.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    page = html_text(render_report(path, tmp_path / "out", "en", replications=2).html)
    assert "1 months" not in page and "over 1 month" in page
    assert t("summary.short_horizon", "en", months=1, enough=12) in page
    assert "Warning" not in page and "site-packages" not in page
    assert "one period from" in page
