"""Batch end to end with real reports (papermill + nbconvert): the command line, a Dask cluster that loses
a worker, a killed batch, broken scenarios, and 50 reports without a kernel start failure.

Reports are kept cheap: the samples scaled down to 1% of their market and 6 months, 2 replications.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest
import yaml

pytest.importorskip("sim.report.render")

from hostile import is_kernel  # noqa: E402
from test_batch import DaskCluster  # noqa: E402

from sim.batch.runner import run_batch  # noqa: E402
from sim.model.scaling import scaled  # noqa: E402
from sim.model.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "data" / "samples" / "scenarios").glob("*.yaml"))
REPLICATIONS = 2
pytestmark = pytest.mark.slow


def small_scenarios(folder: Path, n: int, prefix: str = "Client") -> list[Path]:
    """`n` cheap scenarios made from the samples in turn, each with its own name and budget."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        sample = load_scenario(SAMPLES[i % len(SAMPLES)])
        data = scaled(sample, 0.01, 6).model_dump(mode="json", exclude_none=True)
        data["name"] = f"{prefix} {i:02d} {sample.name}"
        data["client"] = f"{prefix} {i:02d}"
        data["budget"]["totals"] = [t * (1 + 0.02 * i) for t in data["budget"]["totals"]]
        path = folder / f"{prefix.lower()}_{i:02d}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def sim_batch(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sim", "batch", *args, "--replications", str(REPLICATIONS)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def reports(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*.html") if p.name != "index.html")


def assert_whole(out: Path) -> None:
    """Every report, notebook and manifest present in `out` is complete."""
    for html in reports(out):
        with contextlib.suppress(FileNotFoundError):  # replaced by a newer one while we look
            assert html.read_text(encoding="utf-8").rstrip().endswith("</html>"), f"partial report {html}"
    for nb in out.glob("*.ipynb"):
        with contextlib.suppress(FileNotFoundError):
            nbformat.read(str(nb), as_version=4)
    for manifest in (out / ".batch").glob("*.json"):
        with contextlib.suppress(FileNotFoundError):
            json.loads(manifest.read_text(encoding="utf-8"))


def assert_summary_matches_reports(out: Path, n: int) -> None:
    """summary.csv: one row per report, with exactly the figures of each report's own summary.json."""
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == n
    for row in summary.to_dict("records"):
        assert (out / row["report"]).is_file()
        stored = json.loads((out / f"{row['slug']}_data" / "summary.json").read_text(encoding="utf-8"))
        kpis = json.loads((out / f"{row['slug']}_data" / "kpis.json").read_text(encoding="utf-8"))
        for key, value in stored.items():
            if isinstance(value, float):
                assert row[key] == value, (row["slug"], key)
        for key in ("cac", "clv", "ltv_cac", "npv", "cumulative_contribution"):
            assert row[key] == kpis[key], (row["slug"], key)


def test_cli_ten_scenarios_two_workers(tmp_path):
    small_scenarios(tmp_path / "in", 10)
    out = tmp_path / "out"
    res = sim_batch(str(tmp_path / "in" / "*.yaml"), "--out", str(out), "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert "10 reports written, 0 up to date, 0 failed" in res.stdout
    assert len(reports(out)) == 10
    assert_summary_matches_reports(out, 10)
    assert pd.read_csv(out / "failures.csv").empty
    index = (out / "index.html").read_text(encoding="utf-8")
    for html in reports(out):
        assert f'href="{html.name}"' in index
    assert "Recommended split" in index and "LTV:CAC" in index
    assert not (out / ".batch" / "staging").exists()

    again = sim_batch(str(tmp_path / "in"), "--out", str(out), "--workers", "2")
    assert again.returncode == 0 and "0 reports written, 10 up to date" in again.stdout


def test_cli_two_broken_among_eight(tmp_path):
    paths = small_scenarios(tmp_path / "in", 8)
    paths[1].write_text(paths[1].read_text().replace("gross_margin:", "gross_margin: 1.5\n  old_margin:"))
    paths[6].write_text("name: [unclosed\n")
    out = tmp_path / "out"
    res = sim_batch(str(tmp_path / "in"), "--out", str(out), "--workers", "2")
    assert res.returncode == 1
    failures = [line for line in res.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failures) == 2
    assert paths[1].name in failures[0] and paths[6].name in failures[1]
    assert "6 reports written, 0 up to date, 2 failed" in res.stdout
    assert len(reports(out)) == 6
    assert_summary_matches_reports(out, 6)
    assert len(pd.read_csv(out / "failures.csv")) == 2
    assert "Failed (2)" in (out / "index.html").read_text(encoding="utf-8")


def test_dask_cluster_loses_a_worker(tmp_path):
    small_scenarios(tmp_path / "in", 6)
    out = tmp_path / "out"
    cluster = DaskCluster(tmp_path, 2)
    try:
        cmd = [sys.executable, "-m", "sim", "batch", str(tmp_path / "in"), "--out", str(out)]
        cmd += ["--scheduler", cluster.address, "--replications", str(REPLICATIONS)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not list((out / ".batch").glob("*.json")):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        time.sleep(2)  # both workers are busy with their next report
        cluster.kill_tree(cluster.workers[0])
        stdout, stderr = proc.communicate(timeout=400)
        assert proc.returncode == 0, stderr
        assert "6 reports written, 0 up to date, 0 failed" in stdout
    finally:
        cluster.close()
    assert len(reports(out)) == 6
    assert_whole(out)
    assert_summary_matches_reports(out, 6)
    hosts = {json.loads(p.read_text())["host"] for p in (out / ".batch").glob("*.json")}
    assert hosts  # written by the workers themselves


def test_sigkill_mid_run_then_resume(tmp_path):
    small_scenarios(tmp_path / "in", 6)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sim", "batch", str(tmp_path / "in"), "--out", str(out), "--workers", "2"]
    cmd += ["--replications", str(REPLICATIONS)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    family: list[psutil.Process] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list((out / ".batch").glob("*.json"))) < 2:
        if out.exists():
            assert_whole(out)
        with contextlib.suppress(psutil.Error):
            family = psutil.Process(proc.pid).children(recursive=True) or family
        assert proc.poll() is None
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.stem for p in (out / ".batch").glob("*.json")}
    assert 2 <= len(finished) < 6
    assert_whole(out)
    _, alive = psutil.wait_procs(family, timeout=20)  # workers and their kernels go with the batch
    assert not alive, alive

    res = sim_batch(str(tmp_path / "in"), "--out", str(out), "--workers", "2")
    assert res.returncode == 0, res.stderr
    written = int(res.stdout.split(" reports written")[0].split()[-1])
    assert f"{6 - written} up to date" in res.stdout and 6 - written >= len(finished)
    assert len(reports(out)) == 6
    assert_whole(out)
    assert_summary_matches_reports(out, 6)


def counting_render_job(scenario_path: Path, out_dir: Path, lang: str = "en", **options):
    """`render_job`, logging every papermill run and every failure of one (a kernel start failure
    would show: `sim.report.render` retries a kernel start once, silently)."""
    import papermill

    from sim.batch.runner import render_job

    log = Path(scenario_path).parent / "papermill.log"
    original = papermill.execute_notebook

    def counted(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except BaseException as exc:
            with open(log, "a") as fh:
                fh.write(f"FAIL {Path(scenario_path).name} {type(exc).__name__}: {exc}\n".replace("\n", " ") + "\n")
            raise
        finally:
            with open(log, "a") as fh:
                fh.write(f"RUN {Path(scenario_path).name}\n")

    papermill.execute_notebook = counted
    try:
        return render_job(scenario_path, out_dir, lang, **options)
    finally:
        papermill.execute_notebook = original


@pytest.mark.timeout(900)
def test_fifty_reports_without_a_kernel_start_failure(tmp_path):
    small_scenarios(tmp_path / "in", 50)
    out = tmp_path / "out"
    result = run_batch(
        [tmp_path / "in"], out, workers=2, replications=REPLICATIONS, job=counting_render_job, progress=False
    )
    log = (tmp_path / "in" / "papermill.log").read_text().splitlines()
    assert [line for line in log if line.startswith("FAIL")] == []
    assert len([line for line in log if line.startswith("RUN")]) == 50  # one kernel per report, no retry
    assert [o.status for o in result.outcomes] == ["done"] * 50
    assert {o.attempts for o in result.outcomes} == {1}
    assert len(reports(out)) == 50
    assert_summary_matches_reports(out, 50)
    leftovers = [p for p in psutil.Process().children(recursive=True) if is_kernel(" ".join(p.cmdline()))]
    assert leftovers == []
