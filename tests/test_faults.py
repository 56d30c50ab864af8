"""Faults: a full disk, a read-only folder, a file-size limit, stale leftovers, and commands killed at chosen
moments. Nothing partial and no orphaned process may remain, and an interrupt ends in one line.

Moments are chosen without timers: either by waiting for a state that can be observed (worker processes
exist, a notebook kernel runs) or by the commit's fault points (`SIM_FAULT_POINT`, see `sim.io`), where the
command waits to be killed. Leftover processes are found by a marker in their environment
(`SIM_TEST_MARKER`), which every child inherits.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import small
from hostile import ROOT, assert_no_stage_left, assert_refused, is_kernel, run_cli, snapshot

EXPORT = ROOT / "data" / "samples" / "client_export"
WAIT = 300.0  # seconds: the most any state below takes to appear on a busy machine (a hang fails the test)


def _tiny(folder: Path, months: int = 3, factor: float = 0.01, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = small("early_stage_d2c", factor, months).model_dump(mode="json")
    if name:
        data["name"] = name
    path = folder / f"{name or 'tiny'}.yaml".replace(" ", "_")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# -- output faults in this process -------------------------------------------------------------------------


def test_a_full_disk_while_writing_leaves_the_previous_run_untouched(tmp_path, monkeypatch):
    scenario, out = _tiny(tmp_path), tmp_path / "out"
    assert run_cli(["run", scenario, "--out", out, "--no-marginal"]).code == 0
    before = snapshot(out)
    real = pd.DataFrame.to_csv

    def full(self, path=None, *args, **kwargs):
        if path is not None and str(path).endswith("orders.csv"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    outcome = run_cli(["run", scenario, "--out", out, "--no-marginal", "--seed", "5"])
    assert_refused(outcome, "--out", "the disk is full", "nothing was written")
    assert snapshot(out) == before
    assert_no_stage_left(out)


def test_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    scenario, out = _tiny(tmp_path), tmp_path / "out"
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if ".sim-stage" in self.name:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    outcome = run_cli(["run", scenario, "--out", out, "--no-marginal"])
    assert_refused(outcome, "--out", "read-only")
    assert not out.exists() or snapshot(out) == {}


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_really_full_disk(tmp_path):
    """On a 256 KiB file system the agent engine's order log does not fit: one line, and the earlier (fast
    engine) outputs stay as they were, complete."""
    scenario = _tiny(tmp_path, months=12, factor=0.05)
    with _tmpfs(tmp_path / "disk", "256k") as disk:
        out = disk / "out"
        assert run_cli(["run", scenario, "--out", out, "--engine", "fast", "--no-marginal"]).code == 0
        before = snapshot(out)
        outcome = run_cli(["run", scenario, "--out", out, "--engine", "agent", "--no-marginal"])
        assert_refused(outcome, "--out", "the disk is full")
        assert snapshot(out) == before
        assert_no_stage_left(out)


def test_a_really_read_only_folder(tmp_path):
    scenario = _tiny(tmp_path)
    with _tmpfs(tmp_path / "disk", "4m") as disk:
        (disk / "out").mkdir()
        if subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        outcome = run_cli(["run", scenario, "--out", disk / "out", "--no-marginal"])
        assert_refused(outcome, "--out")
        assert list((disk / "out").iterdir()) == []
        for args in (["forecast", scenario, "--weeks", "4", "--out", disk / "f.csv"],):
            assert_refused(run_cli(args), "--out")


def test_a_file_size_limit_in_a_real_process(tmp_path):
    """RLIMIT_FSIZE makes writes past 64 KiB fail with EFBIG (SIGXFSZ ignored): one line, nothing partial."""
    scenario, out = _tiny(tmp_path, months=12, factor=0.05), tmp_path / "out"
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536));"
        "from sim.cli import main; sys.argv = ['sim'] + sys.argv[1:]; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", str(scenario), "--out", str(out), "--no-marginal"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=WAIT,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--out" in proc.stderr
    assert not out.exists() or snapshot(out) == {}


def test_stale_leftovers_of_dead_runs_are_cleaned_and_live_ones_kept(tmp_path):
    scenario, out = _tiny(tmp_path), tmp_path / "out"
    out.mkdir()
    dead = out / ".sim-stage.run.99999.dead"
    dead.mkdir()
    (dead / ".lock").write_text("")
    (dead / "timeseries.csv").write_text("half")
    legacy = out / ".timeseries.csv.ab12cd.tmp"
    legacy.write_text("half")
    old = time.time() - 7200
    os.utime(legacy, (old, old))
    live = out / ".sim-stage.run.1.live"
    live.mkdir()
    fd = os.open(live / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a concurrent run still writing
    try:
        assert run_cli(["run", scenario, "--out", out, "--no-marginal"]).code == 0
        assert not dead.exists() and not legacy.exists()
        assert live.exists()
    finally:
        os.close(fd)
    assert run_cli(["run", scenario, "--out", out, "--no-marginal"]).code == 0
    assert not live.exists()
    assert_no_stage_left(out)


def test_a_rerun_never_leaves_files_of_two_runs_side_by_side(tmp_path):
    scenario, out = _tiny(tmp_path), tmp_path / "out"
    assert run_cli(["run", scenario, "--out", out, "--engine", "agent", "--no-marginal"]).code == 0
    assert (out / "orders.csv").is_file()
    assert run_cli(["run", scenario, "--out", out, "--engine", "fast", "--no-marginal"]).code == 0
    assert sorted(p.name for p in out.iterdir()) == ["kpis.json", "timeseries.csv"]  # the agent's orders are gone
    (out / "notes.txt").write_text("mine")  # a folder shared with the user's own file
    assert run_cli(["run", scenario, "--out", out, "--engine", "agent", "--no-marginal"]).code == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "orders.csv").is_file()
    assert_no_stage_left(out)


def test_the_replaced_folder_keeps_its_permissions_and_the_current_folder_is_not_swapped(tmp_path, monkeypatch):
    """A folder swapped in as a whole gets the old one's permissions (a group-shared folder stays shared);
    `--out .` is written file by file, so the shell sitting there is not left in a deleted folder."""
    scenario, out = _tiny(tmp_path), tmp_path / "out"
    assert run_cli(["run", scenario, "--out", out, "--no-marginal"]).code == 0
    os.chmod(out, 0o2750)
    first = os.stat(out).st_ino
    assert run_cli(["run", scenario, "--out", out, "--no-marginal", "--seed", "3"]).code == 0
    assert os.stat(out).st_ino != first  # swapped as a whole ...
    assert oct(os.stat(out).st_mode & 0o7777) == oct(0o2750)  # ... with the old folder's permissions
    monkeypatch.chdir(out)
    kept, old_kpis = os.stat(out).st_ino, os.stat(out / "kpis.json").st_ino
    assert run_cli(["run", scenario, "--out", ".", "--no-marginal", "--seed", "7"]).code == 0
    assert os.stat(out).st_ino == kept  # the folder the shell sits in was not replaced ...
    assert os.path.samefile(os.getcwd(), out)
    assert os.stat(out / "kpis.json").st_ino != old_kpis  # ... and holds the new run's files
    assert_no_stage_left(out)


# -- killed processes ------------------------------------------------------------------------------------


def _marked(marker: str) -> list[int]:
    """Pids of living processes that carry the marker in their environment."""
    found = []
    needle = f"SIM_TEST_MARKER={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[-1].split()[0]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != b"Z":
            found.append(int(entry))
    return found


def _children_cmdlines(pid: int) -> list[str]:
    import psutil

    try:
        return [" ".join(p.cmdline()) for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


class Command:
    """A `python -m sim ...` process with a marker, killed when the test is done with it."""

    def __init__(self, args: list, tmp_path: Path, fault: str | None = None, new_group: bool = False) -> None:
        self.marker = uuid.uuid4().hex
        self.ready = tmp_path / f"ready-{self.marker}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SIM_TEST_MARKER": self.marker}
        env.pop("SIM_REPORT_WORKERS", None)
        if args[0] == "report":  # a report's own Monte Carlo workers, to be left behind by no kill
            env["SIM_REPORT_WORKERS"] = "2"
        if fault:
            env.update({"SIM_FAULT_POINT": fault, "SIM_FAULT_READY": str(self.ready)})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sim", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
            start_new_session=new_group,  # its own process group, as a terminal gives a command
        )

    def wait_until(self, condition, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"ended before {what}: {self.proc.returncode} {self.proc.stderr.read()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"never reached: {what}")
            time.sleep(0.05)

    def wait_for_fault_point(self) -> None:
        self.wait_until(self.ready.exists, "the fault point")

    def kill(self, signum: int = signal.SIGKILL, group: bool = False) -> None:
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=WAIT)
        return self.proc.returncode, out, err

    def assert_no_orphans(self) -> None:
        deadline = time.monotonic() + 30.0
        while _marked(self.marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _marked(self.marker) == [], "processes of the killed command are still running"


def _workers_running(cmd: Command, n: int = 1):
    return lambda: len([p for p in _marked(cmd.marker) if p != cmd.proc.pid]) >= n


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["started", "workers", "staged"])
def test_killed_run_leaves_no_worker_and_no_partial_output(tmp_path, moment):
    scenario, out = _tiny(tmp_path, months=6), tmp_path / "out"  # work enough to be caught midway
    assert run_cli(["run", scenario, "--out", out, "--engine", "fast", "--no-marginal"]).code == 0
    before = snapshot(out)
    args = ["run", scenario, "--out", out, "--engine", "agent", "--replications", "8", "--workers", "2"]
    cmd = Command(args, tmp_path, fault="staged" if moment == "staged" else None)
    if moment == "workers":
        cmd.wait_until(_workers_running(cmd, 2), "two worker processes")
    elif moment == "staged":
        cmd.wait_for_fault_point()
    cmd.kill(signal.SIGKILL)
    cmd.finish()
    cmd.assert_no_orphans()
    assert snapshot(out) == before  # the earlier complete set, untouched
    assert run_cli(["run", scenario, "--out", out, "--engine", "fast", "--no-marginal"]).code == 0
    assert_no_stage_left(out)


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, code, name, to_group",
    [
        (signal.SIGINT, 130, "Ctrl-C", False),
        (signal.SIGINT, 130, "Ctrl-C", True),
        (signal.SIGTERM, 143, "SIGTERM", False),
    ],
    ids=["ctrl-c-root", "ctrl-c-terminal", "sigterm"],
)
def test_interrupted_run_says_in_one_line_what_was_written(tmp_path, signum, code, name, to_group):
    scenario, out = _tiny(tmp_path, months=6), tmp_path / "out"  # work enough to be caught midway
    args = ["run", scenario, "--out", out, "--engine", "agent", "--replications", "8", "--workers", "2"]
    cmd = Command(args, tmp_path, new_group=to_group)
    cmd.wait_until(_workers_running(cmd, 2), "two worker processes")
    cmd.kill(signum, group=to_group)
    returncode, _, err = cmd.finish()
    assert returncode == code, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == [f"interrupted ({name}): nothing was written"], lines
    cmd.assert_no_orphans()
    assert not out.exists() or snapshot(out) == {}


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> tuple[Path, Path]:
    """(a small order export, a folder holding its calibration): 600 customers of the sample export (their
    whole histories), calibrated once for the module; each test copies the calibration into its own folder."""
    folder = tmp_path_factory.mktemp("calibrated")
    orders = pd.read_csv(EXPORT / "orders.csv", dtype=str)
    ids = orders["customer_id"].drop_duplicates().sample(600, random_state=1)
    export = folder / "orders.csv"
    orders[orders["customer_id"].isin(set(ids))].to_csv(export, index=False)
    outcome = run_cli(["calibrate", export, "--out", folder / "done" / "scenario.yaml", "--currency", "KRW"])
    assert outcome.code == 0, outcome.stderr
    return export, folder / "done"


def _copy_calibration(calibrated: tuple[Path, Path], client: Path) -> list:
    """The module's calibration copied into `client`; the arguments that make it again."""
    export, done = calibrated
    client.mkdir(parents=True, exist_ok=True)
    for path in done.iterdir():
        shutil.copy2(path, client / path.name)
    return ["calibrate", export, "--out", client / "scenario.yaml", "--currency", "KRW"]


@pytest.mark.slow
def test_killed_calibrate_mid_swap_is_finished_before_anyone_reads_it(tmp_path, calibrated):
    """Killed after moving the snapshot but before the scenario: the next reader finishes the swap, so the
    scenario and its snapshot always come from one run."""
    client = tmp_path / "client"
    client.mkdir()
    (client / "notes.txt").write_text("the client's own file")  # a shared folder: files are moved one by one
    out = client / "scenario.yaml"
    base = _copy_calibration(calibrated, client)
    cmd = Command([*base, "--until", "2025-09-30"], tmp_path, fault="half-moved")
    cmd.wait_for_fault_point()
    cmd.kill(signal.SIGKILL)
    cmd.finish()
    cmd.assert_no_orphans()
    assert run_cli(["validate", out]).code == 0  # reading it finishes the interrupted swap first
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["calibration"]["cutoff"] == "2025-09-30"
    snapshot_rows = len(pd.read_csv(client / data["market"]["existing"]["snapshot"]))
    assert snapshot_rows == data["calibration"]["data"]["customers"]
    assert (client / "notes.txt").read_text() == "the client's own file"
    assert_no_stage_left(client)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["started", "staged"])
def test_killed_calibrate_leaves_the_earlier_calibration(tmp_path, calibrated, moment):
    out = tmp_path / "client" / "scenario.yaml"
    base = _copy_calibration(calibrated, out.parent)
    assert run_cli(["validate", out]).code == 0
    before = snapshot(out.parent)
    cmd = Command([*base, "--until", "2025-09-30"], tmp_path, fault="staged" if moment == "staged" else None)
    if moment == "staged":
        cmd.wait_for_fault_point()
    cmd.kill(signal.SIGKILL)
    cmd.finish()
    cmd.assert_no_orphans()
    assert {k: v for k, v in snapshot(out.parent).items() if ".sim-stage" not in k} == before
    assert run_cli(["validate", out]).code == 0


def _kernel_running(cmd: Command):
    return lambda: any(is_kernel(c) for c in _children_cmdlines(cmd.proc.pid))


@pytest.mark.slow
def test_killed_report_leaves_no_kernel_and_no_partial_report(tmp_path):
    scenario, out = _tiny(tmp_path), tmp_path / "reports"
    cmd = Command(["report", scenario, "--out", out, "--replications", "2"], tmp_path)
    cmd.wait_until(_kernel_running(cmd), "a notebook kernel")
    cmd.kill(signal.SIGKILL)
    cmd.finish()
    cmd.assert_no_orphans()
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


@pytest.mark.slow
@pytest.mark.parametrize("to_group", [False, True], ids=["root", "terminal"])
def test_interrupted_report_is_one_line_without_kernel_noise(tmp_path, to_group):
    """Ctrl-C in a terminal signals the whole foreground process group (the root and its workers); a `kill
    -INT` only the root. Either way: one line, exit 130, no worker or kernel tracebacks."""
    scenario, out = _tiny(tmp_path), tmp_path / "reports"
    cmd = Command(["report", scenario, "--out", out, "--replications", "2"], tmp_path, new_group=to_group)
    cmd.wait_until(_kernel_running(cmd), "a notebook kernel")
    cmd.kill(signal.SIGINT, group=to_group)
    returncode, _, err = cmd.finish()
    assert returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == ["interrupted (Ctrl-C): nothing was written"], lines
    cmd.assert_no_orphans()
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


@pytest.mark.slow
def test_killed_batch_leaves_no_worker_or_kernel_and_a_rerun_completes(tmp_path):
    """One job (its worker process, the worker's notebook kernel) is enough to be orphaned by a SIGKILL; the
    Ctrl-C test below runs two side by side."""
    folder = tmp_path / "scenarios"
    _tiny(folder, name="Client A")
    out = tmp_path / "batch"
    args = ["batch", folder, "--out", out, "--workers", "2", "--replications", "2"]
    cmd = Command(args, tmp_path)
    cmd.wait_until(lambda: any(is_kernel(c) for c in _children_cmdlines(cmd.proc.pid)), "a kernel")
    cmd.kill(signal.SIGKILL)
    cmd.finish()
    cmd.assert_no_orphans()
    outcome = run_cli(args)
    assert outcome.code == 0, outcome.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 1
    assert not (out / ".batch" / "staging").exists() or not list((out / ".batch" / "staging").iterdir())
    assert_no_stage_left(out)
    manifests = [json.loads(p.read_text()) for p in (out / ".batch").glob("*.json")]
    assert all((out / m["report"]).is_file() for m in manifests)
    for notebook in out.glob("*.ipynb"):  # it names the folder it is in, not a staging folder that is gone
        text = notebook.read_text(encoding="utf-8")
        assert ".sim-stage" not in text and "staging" not in text
        assert str(out.resolve()) in text


@pytest.mark.slow
def test_ctrl_c_in_a_batch_is_one_line_and_leaves_no_process(tmp_path):
    folder = tmp_path / "scenarios"
    for name in ("Client A", "Client B"):
        _tiny(folder, name=name)
    out = tmp_path / "batch"
    cmd = Command(["batch", folder, "--out", out, "--workers", "2", "--replications", "2"], tmp_path, new_group=True)
    cmd.wait_until(_kernel_running(cmd), "a kernel")
    cmd.kill(signal.SIGINT, group=True)
    returncode, _, err = cmd.finish()
    assert returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted (Ctrl-C): "), lines
    assert "summary.csv" in lines[0]  # the ledger of what was and was not done is written
    cmd.assert_no_orphans()
    assert_no_stage_left(out)
