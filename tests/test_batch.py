"""Batch mechanics with a tiny job instead of a real report: outputs, resume, retries, failure isolation,
timeouts, a killed batch, and a Dask cluster that loses a worker.

The tiny job (`toy_job`) behaves like `sim.report.render_report`: it writes `<slug>.html`, `<slug>.ipynb`
and `<slug>_data/kpis.json` (`<slug>.ko.html`, ... in Korean) into the folder it is given and returns those paths with the KPIs and a
summary row. What it does besides is set by a line in the scenario's description, e.g. `toy: sleep=0.5`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import yaml
from typer.testing import CliRunner

from sim.batch import runner as batch_mod
from sim.batch.runner import expand_scenarios, run_batch
from sim.errors import UserInputError
from sim.model.scenario import load_scenario, scenario_slug
from sim.report.render import report_files

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "scenarios" / "early_stage_d2c.yaml"
TESTS = Path(__file__).resolve().parent


# -- the tiny job ---------------------------------------------------------------------------------


@dataclass
class ToyOutput:
    html: Path
    notebook: Path
    data_dir: Path
    kpis: dict
    summary: dict


def _directives(description: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in description.splitlines():
        if line.strip().startswith("toy:"):
            for word in line.split(":", 1)[1].split():
                key, _, value = word.partition("=")
                out[key] = value
    return out


def toy_job(scenario_path: Path, out_dir: Path, lang: str = "en", **options) -> ToyOutput:
    scenario = load_scenario(scenario_path)
    todo = _directives(scenario.description)
    slug = scenario_slug(scenario)
    log = scenario_path.parent / "calls.log"
    with open(log, "a") as fh:  # one line per call: which scenario, which process
        fh.write(f"{slug} {os.getpid()}\n")
    if "reject" in todo:
        raise UserInputError("the report cannot use this scenario", file=str(scenario_path), location="description")
    if "flaky" in todo:
        marker = scenario_path.with_suffix(".failed-once")
        if not marker.exists():
            marker.write_text("x")
            raise RuntimeError("Kernel died before replying to kernel_info")
    if "child" in todo:  # a stand-in for a kernel that hangs: the guard must kill it
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        scenario_path.with_suffix(".child").write_text(str(proc.pid))
    if "stuck" in todo:  # busy in Python (like a client waiting on its kernel): the guard can interrupt it
        for _ in range(6000):
            time.sleep(0.1)
    if "deaf" in todo:  # ignores SIGALRM: only the outside guard can stop it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
    if "noisy" in todo:  # like a kernel's warnings on stderr
        os.write(2, f"noise from {slug}\n".encode())
    if "crash" in todo:
        os._exit(3)
    rng = np.random.default_rng(int(scenario.content_hash(), 16) % 2**32)
    kpis = {
        "cac": float(rng.uniform(5_000, 50_000)),
        "clv": float(rng.uniform(20_000, 200_000)),
        "ltv_cac": float(rng.uniform(0.5, 6.0)),
        "retention_12m": float(rng.uniform(0.1, 0.7)),
        "npv": float(rng.normal(1e8, 3e7)),
    }
    front = float(rng.uniform(0.3, 0.8))
    summary = {"scenario": scenario.name, "client": scenario.display_name, "slug": slug, **kpis}
    summary |= {"recommended_share_front": front, "recommended_share_back": 1 - front, "uplift_mean": 1e6 * front}
    names = report_files(slug, lang)
    data_dir = Path(out_dir) / names["data"]
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "kpis.json").write_text(json.dumps(kpis))
    notebook = Path(out_dir) / names["notebook"]
    notebook.write_text(json.dumps({"cells": [], "metadata": {"lang": lang, "options": options}}))
    html = Path(out_dir) / names["html"]
    with open(html, "w") as fh:  # written slowly, so that a kill can land in the middle of it
        fh.write(f"<!DOCTYPE html><html><body><h1>{scenario.display_name}</h1>")
        fh.flush()
        time.sleep(float(todo.get("sleep", 0)))
        fh.write("</body></html>\n")
    return ToyOutput(html, notebook, data_dir, kpis, summary)


def write_scenarios(
    folder: Path, n: int, directives: dict[int, str] | None = None, prefix: str = "Client"
) -> list[Path]:
    """`n` scenario files made from the sample, each with its own name and budget."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    paths = []
    for i in range(n):
        data = json.loads(json.dumps(raw, default=str))
        data["name"] = f"{prefix} {i:03d}"
        data["client"] = f"{prefix} {i:03d} Ltd"
        data["budget"]["totals"] = 20_000_000 + 1_000_000 * i
        data["description"] = f"toy: {(directives or {}).get(i, '')}"
        path = folder / f"{prefix.lower()}_{i:03d}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    return log.read_text().split("\n")[:-1] if log.exists() else []


def assert_complete_reports(out: Path) -> None:
    """Every published report is whole: HTML closed, manifest valid JSON, no staging leftovers beside them."""
    for html in out.glob("*.html"):
        if html.name == "index.html":
            continue
        assert html.read_text().endswith("</html>\n"), f"partial report {html}"
    for manifest in (out / ".batch").glob("*.json"):
        json.loads(manifest.read_text())
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# -- finding scenarios ----------------------------------------------------------------------------


def test_expand_files_folders_globs(tmp_path):
    paths = write_scenarios(tmp_path / "a", 3)
    write_scenarios(tmp_path / "b", 2, prefix="Other")
    (tmp_path / "a" / "notes.txt").write_text("not a scenario")
    got = expand_scenarios([tmp_path / "a", str(tmp_path / "b" / "*.yaml"), paths[0]])
    assert [p.name for p in got] == [p.name for p in paths] + ["other_000.yaml", "other_001.yaml"]
    got = expand_scenarios([str(tmp_path / "**" / "*.yaml")])
    assert len(got) == 5
    with pytest.raises(UserInputError, match="no such file"):
        expand_scenarios([tmp_path / "missing.yaml"])
    with pytest.raises(UserInputError, match="glob matches no files"):
        expand_scenarios([str(tmp_path / "*.yml")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserInputError, match="no scenario files"):
        expand_scenarios([tmp_path / "empty"])


# -- a batch and its ledger -----------------------------------------------------------------------


def test_ten_scenarios_two_workers_write_reports_summary_index(tmp_path):
    paths = write_scenarios(tmp_path / "in", 10, {3: "sleep=0.3"})
    out = tmp_path / "out"
    result = run_batch([tmp_path / "in"], out, workers=2, job=toy_job, progress=False)
    assert [o.status for o in result.outcomes] == ["done"] * 10
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 10
    assert list(summary.columns[:4]) == ["scenario_file", "slug", "report", "lang"]
    for path, row in zip(paths, summary.to_dict("records"), strict=True):
        slug = scenario_slug(load_scenario(path))
        assert row["slug"] == slug and row["report"] == f"{slug}.html"
        assert (out / f"{slug}.html").is_file() and (out / f"{slug}.ipynb").is_file()
        stored = json.loads((out / f"{slug}_data" / "kpis.json").read_text())
        for key, value in stored.items():
            assert row[key] == value  # exact: the CSV carries the report's own figures
    assert pd.read_csv(out / "failures.csv").empty
    index = (out / "index.html").read_text()
    assert index.count('<a href="client-') == 20  # client name and report name both link
    assert "LTV:CAC" in index and "Recommended split" in index and "<script>" in index
    assert not (out / ".batch" / "staging").exists()
    assert len({line.split()[1] for line in calls(tmp_path / "in")}) <= 2  # two worker processes


def test_worker_output_goes_to_the_log_not_the_terminal(tmp_path, capfd):
    paths = write_scenarios(tmp_path / "in", 2, {0: "noisy", 1: "noisy"})
    out = tmp_path / "out"
    run_batch(paths, out, workers=2, job=toy_job, progress=False)
    log = (out / ".batch" / "workers.log").read_text()
    assert "noise from client-000" in log and "noise from client-001" in log
    assert "noise" not in capfd.readouterr().err


def test_index_escapes_user_text(tmp_path):
    paths = write_scenarios(tmp_path / "in", 1)
    data = yaml.safe_load(paths[0].read_text())
    data["name"] = "Evil <script>alert(1)</script>"
    data["client"] = 'A & B "quoted" <b>'
    paths[0].write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    run_batch(paths, out, workers=1, job=toy_job, progress=False)
    index = (out / "index.html").read_text()
    assert "<script>alert" not in index and "&lt;b&gt;" in index and "A &amp; B" in index


def test_resume_skips_finished_and_redoes_changed(tmp_path):
    paths = write_scenarios(tmp_path / "in", 4)
    out = tmp_path / "out"
    first = run_batch(paths, out, workers=2, job=toy_job, progress=False)
    assert len(first.done) == 4 and len(calls(tmp_path / "in")) == 4
    second = run_batch(paths, out, workers=2, job=toy_job, progress=False)
    assert len(second.skipped) == 4 and len(calls(tmp_path / "in")) == 4
    assert len(pd.read_csv(out / "summary.csv")) == 4  # skipped reports keep their row

    data = yaml.safe_load(paths[1].read_text())
    data["budget"]["totals"] = 1_234_567
    paths[1].write_text(yaml.safe_dump(data))  # content changed: only this one is redone
    third = run_batch(paths, out, workers=2, job=toy_job, progress=False)
    assert [o.status for o in third.outcomes] == ["skipped", "done", "skipped", "skipped"]

    (out / f"{third.outcomes[2].slug}.html").unlink()  # report deleted: redone
    fourth = run_batch(paths, out, workers=2, job=toy_job, progress=False)
    assert [o.status for o in fourth.outcomes] == ["skipped", "skipped", "done", "skipped"]

    assert [o.status for o in run_batch(paths, out, lang="ko", job=toy_job, progress=False).outcomes] == ["done"] * 4
    assert len(run_batch(paths, out, lang="ko", replications=7, job=toy_job, progress=False).done) == 4
    assert len(run_batch(paths, out, lang="ko", replications=7, job=toy_job, progress=False).skipped) == 4
    assert len(run_batch(paths, out, lang="ko", replications=7, force=True, job=toy_job, progress=False).done) == 4


def test_both_languages_share_one_folder(tmp_path):
    """An English and a Korean batch into one folder: each language keeps its own files and manifest, a re-run
    of either redoes nothing, and both indexes link both reports."""
    paths = write_scenarios(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert len(run_batch(paths, out, lang="en", job=toy_job, progress=False).done) == 2
    assert len(run_batch(paths, out, lang="ko", job=toy_job, progress=False).done) == 2
    slugs = [scenario_slug(load_scenario(p)) for p in paths]
    for slug in slugs:
        for name in (f"{slug}.html", f"{slug}.ipynb", f"{slug}.ko.html", f"{slug}.ko.ipynb"):
            assert (out / name).is_file(), name
        assert (out / f"{slug}_data").is_dir() and (out / f"{slug}.ko_data").is_dir()
        assert (out / ".batch" / f"{slug}.json").is_file() and (out / ".batch" / f"{slug}.ko.json").is_file()
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["report"]) == [f"{s}.ko.html" for s in slugs] and set(summary["lang"]) == {"ko"}
    index = (out / "index.html").read_text()
    for slug in slugs:
        assert f'href="{slug}.ko.html"' in index and f'href="{slug}.html" hreflang="en"' in index
    assert len(run_batch(paths, out, lang="ko", job=toy_job, progress=False).skipped) == 2
    assert len(run_batch(paths, out, lang="en", job=toy_job, progress=False).skipped) == 2
    assert len(calls(tmp_path / "in")) == 4
    index = (out / "index.html").read_text()
    assert all(f'href="{slug}.ko.html" hreflang="ko"' in index for slug in slugs)


def test_version_change_redoes(tmp_path, monkeypatch):
    paths = write_scenarios(tmp_path / "in", 2)
    out = tmp_path / "out"
    run_batch(paths, out, workers=1, job=toy_job, progress=False)
    import sim

    monkeypatch.setattr(sim, "__version__", sim.__version__ + ".post1")
    assert len(run_batch(paths, out, workers=1, job=toy_job, progress=False).done) == 2


# -- failures -------------------------------------------------------------------------------------


def test_two_broken_among_eight(tmp_path):
    paths = write_scenarios(tmp_path / "in", 8, {5: "reject"})
    paths[2].write_text("name: [unclosed\n")  # not YAML at all: fails while planning
    out = tmp_path / "out"
    result = run_batch(paths, out, workers=2, job=toy_job, progress=False)
    assert len(result.done) == 6 and len(result.failed) == 2
    failed = {Path(o.scenario).name: o for o in result.failed}
    assert set(failed) == {paths[2].name, paths[5].name}
    assert failed[paths[5].name].attempts == 1  # a bad scenario is not retried
    assert "not valid YAML" in failed[paths[2].name].error
    assert len(pd.read_csv(out / "summary.csv")) == 6
    failures = pd.read_csv(out / "failures.csv")
    assert sorted(Path(f).name for f in failures["scenario_file"]) == sorted(failed)
    index = (out / "index.html").read_text()
    assert "Failed (2)" in index and "the report cannot use this scenario" in index
    assert len(list(out.glob("client-*.html"))) == 6


def test_planning_rules_no_plan_can_meet_fail_that_scenario_before_it_runs(tmp_path):
    """Each client's rules live in its scenario's planning section: one nobody can meet (a budget cap below
    the budget) fails that scenario while the batch is planned, naming the key; the others are written."""
    paths = write_scenarios(tmp_path / "in", 3)
    data = yaml.safe_load(paths[1].read_text())
    data["planning"] = {"budget_cap": 1000}
    paths[1].write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    result = run_batch(paths, out, workers=1, job=toy_job, progress=False)
    assert [o.status for o in result.outcomes] == ["done", "failed", "done"]
    assert "planning -> budget_cap" in result.outcomes[1].error
    assert result.outcomes[1].attempts == 0 and len(calls(paths[0].parent)) == 2  # never started


def test_duplicate_report_names_fail_the_second(tmp_path):
    paths = write_scenarios(tmp_path / "in", 2)
    data = yaml.safe_load(paths[1].read_text())
    data["name"] = yaml.safe_load(paths[0].read_text())["name"]
    paths[1].write_text(yaml.safe_dump(data))
    result = run_batch(paths, tmp_path / "out", workers=1, job=toy_job, progress=False)
    assert [o.status for o in result.outcomes] == ["done", "failed"]
    assert "give the scenario another name" in result.outcomes[1].error


def test_flaky_job_is_retried_once(tmp_path):
    paths = write_scenarios(tmp_path / "in", 3, {1: "flaky"})
    result = run_batch(paths, tmp_path / "out", workers=2, job=toy_job, progress=False)
    assert [o.status for o in result.outcomes] == ["done"] * 3
    assert [o.attempts for o in result.outcomes] == [1, 2, 1]


def test_stuck_job_times_out_is_retried_then_failed_and_its_child_killed(tmp_path):
    paths = write_scenarios(tmp_path / "in", 4, {0: "child stuck"})
    started = time.monotonic()
    result = run_batch(paths, tmp_path / "out", workers=2, timeout=2, job=toy_job, progress=False)
    assert time.monotonic() - started < 30
    stuck = result.outcomes[0]
    assert stuck.status == "failed" and stuck.error_type == "JobTimeout" and stuck.attempts == 2
    assert [o.status for o in result.outcomes[1:]] == ["done"] * 3
    child = int(paths[0].with_suffix(".child").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_job_deaf_to_signals_is_killed_from_outside(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_mod, "HARD_GRACE", 1.0)
    paths = write_scenarios(tmp_path / "in", 4, {1: "deaf", 2: "sleep=0.5"})
    started = time.monotonic()
    # the limit leaves room for a worker to start and load a scenario on a busy machine (the others must pass)
    result = run_batch(paths, tmp_path / "out", workers=2, timeout=8, job=toy_job, progress=False)
    assert time.monotonic() - started < 120
    assert [o.status for o in result.outcomes] == ["done", "failed", "done", "done"]
    assert result.outcomes[1].error_type == "JobTimeout" and result.outcomes[1].attempts == 2


def test_crashing_worker_fails_only_its_scenario(tmp_path):
    paths = write_scenarios(tmp_path / "in", 4, {2: "crash"})
    result = run_batch(paths, tmp_path / "out", workers=1, job=toy_job, progress=False)
    assert [o.status for o in result.outcomes] == ["done", "done", "failed", "done"]
    assert result.outcomes[2].error_type == "WorkerDied" and result.outcomes[2].attempts == 2


def test_pool_is_recycled(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_mod, "RECYCLE_AFTER", 2)
    write_scenarios(tmp_path / "in", 9)
    result = run_batch([tmp_path / "in"], tmp_path / "out", workers=2, job=toy_job, progress=False)
    assert len(result.done) == 9
    assert len({line.split()[1] for line in calls(tmp_path / "in")}) >= 3  # new processes after 4 jobs


def test_second_batch_on_same_folder_is_refused(tmp_path):
    paths = write_scenarios(tmp_path / "in", 2, {0: "sleep=3"})
    out = tmp_path / "out"
    errors = []
    worker = threading.Thread(target=lambda: run_batch(paths, out, workers=1, job=toy_job, progress=False))
    worker.start()
    time.sleep(0.5)
    try:
        run_batch(paths, out, workers=1, job=toy_job, progress=False)
    except UserInputError as exc:
        errors.append(str(exc))
    worker.join()
    assert errors and "another batch" in errors[0]


# -- a killed batch -------------------------------------------------------------------------------

_RUNNER = """
import sys
sys.path.insert(0, {tests!r})
from test_batch import toy_job
from sim.batch.runner import run_batch
result = run_batch([{folder!r}], {out!r}, workers=2, job=toy_job, progress=False)
print("done", len(result.done), "skipped", len(result.skipped), "failed", len(result.failed))
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_mid_run_then_resume(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    write_scenarios(folder, 12, {i: "sleep=0.6" for i in range(12)})
    code = _RUNNER.format(tests=str(TESTS), folder=str(folder), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    workers: list[psutil.Process] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert_complete_reports(out) if out.exists() else None
        with contextlib.suppress(psutil.Error):
            workers = psutil.Process(proc.pid).children(recursive=True) or workers
        if len(list((out / ".batch").glob("*.json"))) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    finished_before = {p.stem for p in (out / ".batch").glob("*.json")}
    assert 3 <= len(finished_before) < 12
    assert_complete_reports(out)
    _, alive = psutil.wait_procs(workers, timeout=10)  # worker processes die with the batch
    assert not alive
    n_calls = len(calls(folder))

    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    done, skipped = int(again.stdout.split()[1]), int(again.stdout.split()[3])
    assert skipped >= len(finished_before) and done + skipped == 12
    assert len(calls(folder)) - n_calls == done  # nothing finished was redone
    assert_complete_reports(out)
    assert len(pd.read_csv(out / "summary.csv")) == 12
    assert not (out / ".batch" / "staging").exists()


# -- a Dask cluster -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies, so no cluster outlives a test."""
    import ctypes

    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class DaskCluster:
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, on random free ports."""

    def __init__(self, workdir: Path, n_workers: int = 2, pythonpath: str = "") -> None:
        self.workdir = workdir
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p))
        self.procs: list[subprocess.Popen] = []
        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self.scheduler = self._start(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"], "scheduler"
        )
        self.workers = [self.add_worker(i) for i in range(n_workers)]
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(n_workers, timeout=60)

    def _start(self, cmd: list[str], name: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir, preexec_fn=_die_with_parent
        )
        self.procs.append(proc)
        return proc

    def add_worker(self, i: int) -> subprocess.Popen:
        local = self.workdir / f"worker-{i}"
        local.mkdir(exist_ok=True)
        cmd = ["dask", "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"]
        cmd += ["--local-directory", str(local), "--name", f"w{i}"]
        return self._start(cmd, f"worker-{i}")

    @staticmethod
    def kill_tree(proc: subprocess.Popen) -> None:
        try:
            parent = psutil.Process(proc.pid)
            family = parent.children(recursive=True) + [parent]
        except psutil.Error:
            return
        for p in family:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(family, timeout=10)

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.kill_tree(proc)
            proc.wait(timeout=10)


@pytest.fixture
def toy_cluster(tmp_path):
    cluster = DaskCluster(tmp_path, 2, pythonpath=str(TESTS))
    yield cluster
    cluster.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dask_cluster_survives_losing_a_worker(tmp_path, toy_cluster):
    folder, out = tmp_path / "in", tmp_path / "out"
    write_scenarios(folder, 10, {i: "sleep=1.5" for i in range(10)})
    box: dict = {}
    runner = threading.Thread(
        target=lambda: box.setdefault("result", run_batch([folder], out, scheduler=toy_cluster.address, job=toy_job))
    )
    runner.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(calls(folder)) < 3:
        time.sleep(0.05)
    assert len(calls(folder)) >= 3, "jobs did not start on the cluster"
    toy_cluster.kill_tree(toy_cluster.workers[0])  # a worker dies while jobs are running
    runner.join(timeout=180)
    assert not runner.is_alive()
    result = box["result"]
    assert [o.status for o in result.outcomes] == ["done"] * 10
    assert len(list(out.glob("client-*.html"))) == 10
    assert_complete_reports(out)
    assert len(pd.read_csv(out / "summary.csv")) == 10
    assert len({line.split()[1] for line in calls(folder)}) >= 2  # ran on more than one worker


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dask_stuck_job_is_retried_then_failed(tmp_path, toy_cluster):
    paths = write_scenarios(tmp_path / "in", 3, {0: "child stuck"})
    result = run_batch(paths, tmp_path / "out", scheduler=toy_cluster.address, timeout=2, job=toy_job, progress=False)
    assert [o.status for o in result.outcomes] == ["failed", "done", "done"]
    assert result.outcomes[0].error_type == "JobTimeout"
    assert len(calls(tmp_path / "in")) == 2 + 2  # the stuck job ran twice
    child = int(paths[0].with_suffix(".child").read_text())
    time.sleep(1)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    paths = write_scenarios(tmp_path / "in", 1)
    with pytest.raises(UserInputError, match="cannot connect to the Dask scheduler"):
        run_batch(
            paths,
            tmp_path / "out",
            scheduler=f"tcp://127.0.0.1:{_free_port()}",
            connect_timeout=2,
            job=toy_job,
            progress=False,
        )


# -- the command line -----------------------------------------------------------------------------


def test_cli_bad_arguments_exit_2(tmp_path):
    from sim.cli import app

    runner = CliRunner()
    paths = write_scenarios(tmp_path / "in", 1)
    cases = [
        [str(tmp_path / "missing.yaml")],
        [str(tmp_path / "in" / "*.yml")],
        [str(paths[0]), "--lang", "fr"],
        [str(paths[0]), "--workers", "0"],
    ]
    for args in cases:
        res = runner.invoke(app, ["batch", *args, "--out", str(tmp_path / "out")])
        assert res.exit_code == 2, (args, res.output)
        assert "error:" in res.output and "Traceback" not in res.output


def test_cli_reports_failures_and_exit_1(tmp_path, monkeypatch):
    from sim.cli import app

    monkeypatch.setattr(batch_mod, "render_job", toy_job)
    write_scenarios(tmp_path / "in", 3, {1: "reject"})
    res = CliRunner().invoke(app, ["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--workers", "2"])
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("failed: ")]
    assert len(lines) == 1 and "client_001.yaml" in lines[0] and "cannot use this scenario" in lines[0]
    assert "2 reports" in res.output
    res = CliRunner().invoke(app, ["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "2 up to date" in res.output
