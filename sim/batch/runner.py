"""Batch reports: one strategy report per client scenario, on this machine or on a Dask cluster.

Think of a print shop. Every scenario is a *job* that prints one report; the shop has a few presses
(worker processes on this machine, or Dask workers on a cluster) and a front desk (this module) that
hands out jobs, collects what comes back and keeps the ledger (`summary.csv`, `failures.csv`,
`index.html`). A press that jams is cleared and the job is tried once more; a job that jams twice is
written in the ledger as failed and the shop moves on.

How the known troubles of running many notebooks in parallel are handled:

- *Partial reports.* A job renders into a private staging folder (`DIR/.batch/staging/...`) and then
  renames its files into `DIR`, the HTML last; a killed run never leaves a half-written report.
- *Resuming.* Each published report gets a small manifest, `DIR/.batch/<slug>.json` (`<slug>.ko.json` for
  a Korean report: each language has its own report files and manifest, so batches in both languages can
  share one folder), with the scenario's content hash, the `sim` version, the language and the report
  options. A re-run skips a scenario whose report exists and whose manifest matches; `force=True` redoes all.
- *Kernel port collisions* (papermill issue 511). Kernels talk over Unix-domain sockets in a private folder
  per report (`sim.report.execute`), not TCP ports, so two kernels starting at once cannot race for a port;
  a kernel that fails to start anyway is started once more, and a job that still fails is **retried once**.
- *Kernels that never answer, stuck jobs.* papermill gets the execution timeout, and a wall-clock guard
  around the whole job kills the job's kernel and raises `JobTimeout`; the job is retried once. On this
  machine a last-resort guard kills the worker process of a job that still has not stopped.
- *Memory that grows over thousands of runs.* Every job ends by killing any process it started (its
  kernel), and the local pool of worker processes is replaced every `RECYCLE_AFTER` jobs per worker.
  (We do not use `ProcessPoolExecutor(max_tasks_per_child=...)`: on Python 3.11-3.13 it can deadlock,
  CPython issue gh-115634.)
- *One bad scenario.* A scenario that cannot be loaded or that the report rejects (`UserInputError`) fails
  at once, without a retry; it never stops the others.

On a Dask cluster (`scheduler="tcp://host:port"`) the same job function runs on the workers, submitted
with `retries=1`; a worker that dies takes its jobs with it and the scheduler runs them elsewhere. The
workers write the reports themselves, so `DIR` must be on a filesystem that every worker sees (or all
workers run on this machine); we check that before submitting anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import glob
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.errors import UserInputError, plain_number

LANGS = ("en", "ko")
SCENARIO_SUFFIXES = (".yaml", ".yml")
STATE_DIR = ".batch"  # inside the output folder: manifests, staging area, lock
RECYCLE_AFTER = 25  # jobs per local worker process before the pool is replaced (memory growth)
HARD_GRACE = 60.0  # seconds past a job's timeout before its worker process is killed from outside
RETRIES = 1  # a job that fails unexpectedly (kernel start, timeout, crash) is tried once more

Job = Callable[..., Any]
"""A report job: `job(scenario_path, out_dir, lang, **options)` returning an object (or dict) with
`html`, `notebook`, `data_dir`, `kpis` and `summary`, like `sim.report.render_report`."""


class JobTimeout(Exception):
    """A job ran longer than its wall-clock limit."""


class JobFailed(Exception):
    """An unexpected error in a job, reduced to text so that it crosses process and network boundaries."""

    def __init__(self, message: str, error_type: str = "Error", details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.details = details

    def __reduce__(self):  # keep the fields when pickled to the parent process or the Dask client
        return (JobFailed, (self.message, self.error_type, self.details))


def render_job(scenario_path: Path, out_dir: Path, lang: str = "en", **options: Any) -> Any:
    """The default job: one strategy report with `sim.report.render_report`.

    Reports already run side by side in a batch, so each keeps its Monte Carlo in its own process.
    """
    import os

    from sim.report.render import render_report

    os.environ.setdefault("SIM_REPORT_WORKERS", "1")
    return render_report(Path(scenario_path), Path(out_dir), lang, **options)


# -- what a batch is made of ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to produce one report (plain data, picklable)."""

    scenario: str  # absolute path of the scenario file
    slug: str
    display_name: str
    out_dir: str  # absolute path of the batch output folder
    lang: str
    options: dict[str, Any]  # passed to the job as keywords (replications, seed, timeout)
    fingerprint: dict[str, Any]  # what the manifest must match for the report to be reused
    timeout: float  # wall-clock limit of one attempt [s]
    job: Job = render_job


@dataclass
class JobOutcome:
    """What happened to one scenario: `done` (rendered now), `skipped` (up to date) or `failed`."""

    scenario: str
    slug: str | None
    display_name: str
    status: str
    report: str | None = None  # report file name inside the output folder
    summary: dict[str, Any] = field(default_factory=dict)
    kpis: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    attempts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")

    def one_line(self) -> str:
        """`file: error` on one line, for the terminal."""
        error = " ".join((self.error or "").split())
        if error.startswith(f"{self.scenario}: "):  # a scenario error names its file already
            return error
        return f"{self.scenario}: {error}"


@dataclass
class BatchResult:
    """The outcome of a batch, one entry per scenario in input order, and the files written."""

    out_dir: Path
    outcomes: list[JobOutcome]
    summary_csv: Path
    failures_csv: Path
    index_html: Path
    seconds: float

    @property
    def done(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status == "done"]

    @property
    def skipped(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status == "skipped"]

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


# -- finding the scenarios ------------------------------------------------------------------------


def expand_scenarios(items: Sequence[str | Path]) -> list[Path]:
    """Scenario files from files, folders (their *.yaml / *.yml files) and globs, in order, without repeats.

    A path that does not exist, a glob that matches nothing or a folder without scenarios is an error.
    """
    if not items:
        raise UserInputError("no scenarios given", location="SCENARIOS", allowed="files, folders or globs")
    found: list[Path] = []
    for item in items:
        text = str(item)
        path = Path(text).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SCENARIO_SUFFIXES)
            if not files:
                raise UserInputError(
                    "folder holds no scenario files", location="SCENARIOS", found=text, allowed="*.yaml, *.yml"
                )
            found.extend(files)
        elif path.exists():
            found.append(path)
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(text), recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise UserInputError("glob matches no files", location="SCENARIOS", found=text)
            found.extend(files)
        else:
            raise UserInputError("no such file or folder", location="SCENARIOS", found=text)
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def repeats_note(items: Sequence[str | Path]) -> str:
    """A note naming the scenario files given more than once (a file and a glob, `a.yaml` and `./a.yaml`):
    each gets one report, and the count of reports then matches what the user sees; "" if none repeats."""
    if not items:
        return ""
    seen: dict[Path, int] = {}
    for item in items:
        for p in expand_scenarios([item]):
            seen[p.resolve()] = seen.get(p.resolve(), 0) + 1
    repeated = [p for p, n in seen.items() if n > 1]
    if not repeated:
        return ""
    named = ", ".join(p.name for p in repeated[:3]) + (", ..." if len(repeated) > 3 else "")
    return f"note: {len(repeated)} scenario file(s) given more than once, each reported once: {named}"


# -- planning: what to run, what to reuse ---------------------------------------------------------


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _state_dir(out_dir: Path) -> Path:
    return out_dir / STATE_DIR


def manifest_path(out_dir: Path, slug: str, lang: str = "en") -> Path:
    """Where the manifest of a report lives: `DIR/.batch/<slug>.json` (English), `<slug>.ko.json` (Korean)."""
    from sim.report.render import report_stem

    return _state_dir(out_dir) / f"{report_stem(slug, lang)}.json"


def read_manifest(out_dir: Path, slug: str, lang: str = "en") -> dict[str, Any] | None:
    """The manifest of a published report, or None if missing or unreadable."""
    try:
        data = json.loads(manifest_path(out_dir, slug, lang).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _fingerprint(scenario: Any, lang: str, options: dict[str, Any]) -> dict[str, Any]:
    import sim

    inputs = {}
    snapshot = scenario.market.existing.snapshot
    if snapshot is not None:  # the customer snapshot is part of the scenario's content
        inputs["snapshot"] = _file_digest(scenario.resolve(snapshot))
    return {
        "scenario_hash": scenario.content_hash(),
        "inputs": inputs,
        "sim_version": sim.__version__,
        "lang": lang,
        "options": {k: v for k, v in sorted(options.items()) if k != "timeout"},
    }


def _failure(path: Path, exc: BaseException, slug: str | None = None, name: str | None = None) -> JobOutcome:
    return JobOutcome(
        scenario=str(path),
        slug=slug,
        display_name=name or path.stem,
        status="failed",
        error=str(exc),
        error_type=type(exc).__name__,
    )


def _spec_failure(spec: JobSpec, error_type: str, message: str, attempts: int = 0, seconds: float = 0.0) -> JobOutcome:
    """A failed outcome for a planned job."""
    return JobOutcome(
        scenario=spec.scenario,
        slug=spec.slug,
        display_name=spec.display_name,
        status="failed",
        error=message,
        error_type=error_type,
        attempts=attempts,
        seconds=seconds,
    )


def plan_batch(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    lang: str,
    options: dict[str, Any],
    timeout: float,
    force: bool,
    job: Job,
) -> tuple[list[JobSpec], list[JobOutcome | None]]:
    """Load every scenario once: jobs to run, and for each input either its final outcome or None (to run)."""
    from sim.analysis.optimize import check_planning
    from sim.model.scenario import load_scenario, scenario_slug
    from sim.report.data import plan_to_split
    from sim.report.render import report_files

    specs: list[JobSpec] = []
    outcomes: list[JobOutcome | None] = []
    owners: dict[str, Path] = {}
    for path in paths:
        try:
            scenario = load_scenario(path)
            if plan_to_split(scenario):  # planning rules no plan can meet: this report fails before it starts
                check_planning(scenario)
            slug = scenario_slug(scenario)
            fingerprint = _fingerprint(scenario, lang, options)
        except UserInputError as exc:
            outcomes.append(_failure(path, exc))
            continue
        except OSError as exc:
            outcomes.append(_failure(path, UserInputError(f"cannot read: {exc.strerror}", file=str(path))))
            continue
        name = scenario.display_name
        if slug in owners:
            exc = UserInputError(
                f"its report would be {report_files(slug, lang)['html']}, like the report of {owners[slug]}; "
                "give the scenario another name",
                file=str(path),
                location="name",
                found=scenario.name,
            )
            outcomes.append(_failure(path, exc, slug, name))
            continue
        owners[slug] = path
        manifest = None if force else read_manifest(out_dir, slug, lang)
        if (
            manifest
            and manifest.get("fingerprint") == fingerprint
            and (out_dir / str(manifest.get("report"))).is_file()
        ):
            outcomes.append(
                JobOutcome(
                    scenario=str(path),
                    slug=slug,
                    display_name=name,
                    status="skipped",
                    report=manifest["report"],
                    summary=manifest.get("summary") or {},
                    kpis=manifest.get("kpis") or {},
                    seconds=float(manifest.get("seconds") or 0.0),
                )
            )
            continue
        outcomes.append(None)
        specs.append(
            JobSpec(
                scenario=str(path.resolve()),
                slug=slug,
                display_name=name,
                out_dir=str(out_dir.resolve()),
                lang=lang,
                options=dict(options, timeout=int(timeout)),
                fingerprint=fingerprint,
                timeout=float(timeout),
                job=job,
            )
        )
    return specs, outcomes


# -- one job, on a worker -------------------------------------------------------------------------


def _descendants() -> dict[int, Any]:
    import psutil

    try:
        return {p.pid: p for p in psutil.Process().children(recursive=True)}
    except psutil.Error:
        return {}


def _kill_new_descendants(before: set[int]) -> None:
    """Kill the processes this job started (its kernel) that are still alive."""
    import psutil

    procs = [p for pid, p in _descendants().items() if pid not in before]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=3)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


@contextlib.contextmanager
def wall_clock_guard(seconds: float, reap: bool = True) -> Iterator[None]:
    """Raise `JobTimeout` in this thread after `seconds`, first killing the processes the block started.

    In the main thread a SIGALRM timer interrupts even a blocking wait; in another thread (a Dask worker
    runs tasks in threads) the exception is raised asynchronously at the next Python instruction. With
    `reap`, processes started inside the block are killed when it ends (each job cleans up its kernel).
    """
    before = set(_descendants()) if reap else set()
    message = f"timed out after {plain_number(seconds)} s (wall clock)"
    if threading.current_thread() is threading.main_thread():

        def on_alarm(signum: int, frame: Any) -> None:
            if reap:
                _kill_new_descendants(before)
            raise JobTimeout(message)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if reap:
                _kill_new_descendants(before)
        return

    tid = threading.get_ident()
    lock = threading.Lock()
    state = {"active": True, "fired": False}

    def fire() -> None:
        if reap:
            _kill_new_descendants(before)
        with lock:
            if state["active"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(JobTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except JobTimeout:
        raise JobTimeout(message) from None
    finally:
        timer.cancel()
        with lock:
            state["active"] = False
            if state["fired"]:  # clear an exception that may still be pending for this thread
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)
        if reap:
            _kill_new_descendants(before)
    if state["fired"]:
        raise JobTimeout(message)


def _field(output: Any, name: str) -> Any:
    return output.get(name) if isinstance(output, dict) else getattr(output, name, None)


def _publish(staging: Path, out_dir: Path, report_name: str) -> None:
    """Put the job's files from the staging folder into the output folder as one set (`sim.io.publish`): a
    kill in the middle is finished by the next run, never left as a report beside another run's data."""
    from sim.io import publish

    publish(staging, out_dir, "batch")


def _error_text(exc: BaseException) -> tuple[str, str]:
    """(type, one readable message) for an exception; papermill's cell errors name the error raised."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        cell = getattr(exc, "exec_count", None)
        where = f" (notebook cell {cell})" if cell else ""
        return str(ename), f"{ename}: {evalue}{where}"
    text = str(exc).strip() or type(exc).__name__
    return type(exc).__name__, f"{type(exc).__name__}: {text}" if not isinstance(exc, JobFailed) else text


def run_job(spec: JobSpec, reap: bool = True) -> JobOutcome:
    """Produce one report into the output folder, atomically, and write its manifest.

    Returns a `failed` outcome for a `UserInputError` (a bad scenario is not retried); raises `JobFailed`
    for anything else, so that the caller (the local pool or the Dask scheduler) retries once.
    """
    from sim.io import write_json

    started = time.monotonic()
    out_dir = Path(spec.out_dir)
    staging = _state_dir(out_dir) / "staging" / f"{spec.slug}.{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        with wall_clock_guard(spec.timeout, reap=reap):
            output = spec.job(Path(spec.scenario), staging, spec.lang, **spec.options)
        html = _field(output, "html")
        if html is None or not Path(html).is_file():
            raise JobFailed(f"the job returned no HTML report (got {html!r})", "JobFailed")
        report_name = Path(html).name
        _name_final_folder(_field(output, "notebook"), staging, out_dir)
        summary = dict(_field(output, "summary") or {})
        kpis = dict(_field(output, "kpis") or {})
        _publish(staging, out_dir, report_name)
        seconds = time.monotonic() - started
        manifest = {
            "fingerprint": spec.fingerprint,
            "scenario": spec.scenario,
            "report": report_name,
            "notebook": Path(_field(output, "notebook")).name if _field(output, "notebook") else None,
            "data_dir": Path(_field(output, "data_dir")).name if _field(output, "data_dir") else None,
            "summary": summary,
            "kpis": kpis,
            "seconds": round(seconds, 3),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": os.uname().nodename,
        }
        write_json(manifest_path(out_dir, spec.slug, spec.lang), manifest)
        # the manifest went through JSON: summary.csv carries exactly the figures stored on disk
        stored = read_manifest(out_dir, spec.slug, spec.lang) or manifest
        return JobOutcome(
            scenario=spec.scenario,
            slug=spec.slug,
            display_name=spec.display_name,
            status="done",
            report=report_name,
            summary=stored["summary"],
            kpis=stored["kpis"],
            attempts=1,
            seconds=seconds,
        )
    except UserInputError as exc:
        return _spec_failure(spec, type(exc).__name__, str(exc), attempts=1, seconds=time.monotonic() - started)
    except JobFailed:
        raise
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt in a worker is a failed attempt too
        if isinstance(exc, KeyboardInterrupt | SystemExit) and threading.current_thread() is threading.main_thread():
            raise
        error_type, message = _error_text(exc)
        raise JobFailed(message, error_type, traceback.format_exc(limit=20)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _name_final_folder(notebook: Any, staging: Path, out_dir: Path) -> None:
    """The executed notebook names the folder it wrote to: the output folder, not the job's staging folder
    (which is gone once the report is published)."""
    if not notebook or not Path(notebook).is_file():
        return
    from sim.report.render import _point_parameters_at

    with contextlib.suppress(OSError, ValueError, KeyError, AttributeError):
        _point_parameters_at(Path(notebook), os.path.realpath(staging), os.path.realpath(out_dir))


def _run_job_on_dask_worker(spec: JobSpec) -> JobOutcome:
    """`run_job` on a Dask worker: reap leftover processes only when the worker runs one task at a time."""
    try:
        from distributed import get_worker

        nthreads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        nthreads = 1
    return run_job(spec, reap=nthreads == 1)


# -- the local pool -------------------------------------------------------------------------------


def _worker_init(parent: int, log: str | None = None) -> None:
    """Local worker process set-up: die with the batch process, even when it is killed with SIGKILL,
    and take along every process this worker started (a kernel, a simulation's own worker processes).

    With `log`, the worker's (and its kernels') stdout and stderr go to that file, not to the terminal
    where the progress bar is: kernels print warnings at every start, thousands of times in a batch.
    """
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)

    def die(*_: Any) -> None:
        with contextlib.suppress(Exception):
            _kill_new_descendants(set())
        os._exit(1)

    signal.signal(signal.SIGTERM, die)
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: the OS signals us when our parent dies
    if os.getppid() != parent:  # the parent died before we got here
        die()

    def watch() -> None:  # also without prctl, and when the main thread cannot run the signal handler
        while os.getppid() == parent:
            time.sleep(0.5)
        die()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes and everything they started (their kernels)."""
    import psutil

    procs = []
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(proc.pid))
    _kill_pool_processes(procs)


def _kill_pool_processes(workers: list[Any]) -> None:
    import psutil

    procs = []
    for p in workers:
        with contextlib.suppress(psutil.Error):
            procs.extend(p.children(recursive=True))
        procs.append(p)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout=5)


def _close_pool(pool: ProcessPoolExecutor, grace: float = 10.0) -> None:
    """Shut a pool down; kill its worker processes if they have not exited after `grace` seconds."""
    import psutil

    procs = []
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(proc.pid))
    pool.shutdown(wait=False, cancel_futures=True)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    if alive:
        _kill_pool_processes(alive)


@dataclass
class _Running:
    spec: JobSpec
    attempt: int
    pool: ProcessPoolExecutor
    started: float


def _retry_or_fail(
    spec: JobSpec, attempt: int, error_type: str, message: str, queue: deque, report: Callable[[JobOutcome], None]
) -> None:
    if attempt <= RETRIES:
        queue.appendleft((spec, attempt + 1))
        return
    report(_spec_failure(spec, error_type, message, attempts=attempt))


def _run_local(
    specs: Sequence[JobSpec], workers: int, report: Callable[[JobOutcome], None], log: Path | None = None
) -> None:
    """Run jobs in a pool of `workers` spawned processes, at most `workers` at a time; their output to `log`."""
    ctx = multiprocessing.get_context("spawn")  # no fork: the parent has threads (tqdm, executor)
    queue: deque[tuple[JobSpec, int]] = deque((s, 1) for s in specs)
    running: dict[Future, _Running] = {}
    pools: dict[ProcessPoolExecutor, int] = {}  # pool -> jobs submitted to it
    retired: set[ProcessPoolExecutor] = set()  # pools that take no more jobs (lost a process, timed out)
    killed: set[ProcessPoolExecutor] = set()  # pools we killed because one job was stuck
    culprits: set[Future] = set()
    pool: ProcessPoolExecutor | None = None

    def usable(p: ProcessPoolExecutor | None) -> bool:
        return p is not None and p not in retired and pools[p] < RECYCLE_AFTER * workers

    try:
        while queue or running:
            while queue and len(running) < workers:
                if not usable(pool):  # the old pool finishes its jobs, then is shut down below
                    pool = ProcessPoolExecutor(
                        max_workers=workers,
                        mp_context=ctx,
                        initializer=_worker_init,
                        initargs=(os.getpid(), str(log) if log else None),
                    )
                    pools[pool] = 0
                spec, attempt = queue.popleft()
                try:
                    fut = pool.submit(run_job, spec)
                except BrokenProcessPool:
                    retired.add(pool)
                    queue.appendleft((spec, attempt))
                    continue
                pools[pool] += 1
                running[fut] = _Running(spec, attempt, pool, time.monotonic())
            done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
            for fut in done:
                job = running.pop(fut)
                exc = fut.exception()
                if isinstance(exc, BrokenProcessPool) or getattr(exc, "error_type", None) == "JobTimeout":
                    retired.add(job.pool)  # after a timeout a worker may be in a bad state: replace the pool
                if exc is None:
                    outcome = fut.result()
                    outcome.attempts = job.attempt
                    outcome.scenario = job.spec.scenario
                    report(outcome)
                elif fut in culprits:
                    culprits.discard(fut)
                    limit = job.spec.timeout + HARD_GRACE
                    _retry_or_fail(
                        job.spec,
                        job.attempt,
                        "JobTimeout",
                        f"timed out after {plain_number(limit)} s (killed)",
                        queue,
                        report,
                    )
                elif isinstance(exc, BrokenProcessPool) and job.pool in killed:
                    queue.appendleft((job.spec, job.attempt))  # an innocent bystander: run it again
                elif isinstance(exc, BrokenProcessPool):  # which job of the pool crashed is unknown
                    _retry_or_fail(job.spec, job.attempt, "WorkerDied", "the worker process died", queue, report)
                elif isinstance(exc, JobFailed):
                    _retry_or_fail(job.spec, job.attempt, exc.error_type, exc.message, queue, report)
                else:
                    error_type, message = _error_text(exc)
                    _retry_or_fail(job.spec, job.attempt, error_type, message, queue, report)
            now = time.monotonic()
            for fut, job in running.items():  # last resort: a job stuck where no signal reaches it
                if job.pool not in killed and now - job.started > job.spec.timeout + HARD_GRACE:
                    culprits.add(fut)
                    killed.add(job.pool)
                    retired.add(job.pool)
                    _kill_pool(job.pool)
            for p in [p for p in pools if p is not pool and not any(j.pool is p for j in running.values())]:
                _close_pool(p)
                del pools[p]
                retired.discard(p)
                killed.discard(p)
    finally:
        for p in pools:
            if running:
                _kill_pool(p)
            _close_pool(p)


# -- a Dask cluster -------------------------------------------------------------------------------


def _check_out_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK)


def _sim_version() -> str:
    import sim

    return sim.__version__


def _connect_dask(address: str, out_dir: Path, wait_workers: float, connect_timeout: float) -> Any:
    """A client of the Dask cluster at `address`, after checking that its workers can do the batch."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency; the hint is for slim installs
        raise UserInputError(
            "needs the 'distributed' package", location="--scheduler", allowed="pip install 'dask[distributed]'"
        ) from None
    import sim

    try:
        client = Client(address, timeout=f"{connect_timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserInputError(
            f"cannot connect to the Dask scheduler ({exc})", location="--scheduler", found=address
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=wait_workers)
        except (TimeoutError, OSError):
            raise UserInputError(
                f"the Dask scheduler has no workers after {plain_number(wait_workers)} s",
                location="--scheduler",
                found=address,
                allowed="start workers with `dask worker ADDRESS`",
            ) from None
        blind = [w for w, ok in client.run(_check_out_dir, str(out_dir)).items() if not ok]
        if blind:
            raise UserInputError(
                "Dask workers cannot write to the output folder; a cluster needs a shared filesystem",
                location="--out",
                found=f"{out_dir} (not writable on {', '.join(sorted(blind))})",
            )
        versions = client.run(_sim_version)
        other = {w: v for w, v in versions.items() if v != sim.__version__}
        if other:
            raise UserInputError(
                f"Dask workers run another version of sim than this machine ({sim.__version__})",
                location="--scheduler",
                found=", ".join(f"{w}: {v}" for w, v in sorted(other.items())),
            )
    except BaseException:
        client.close()
        raise
    return client


def _run_dask(specs: Sequence[JobSpec], client: Any, report: Callable[[JobOutcome], None]) -> None:
    """Run jobs on a Dask cluster: `retries=1`; a dead worker's jobs are rescheduled elsewhere."""
    from distributed import as_completed

    futures: dict[Any, JobSpec] = {}
    try:
        token = uuid.uuid4().hex[:8]
        futures = {
            client.submit(
                _run_job_on_dask_worker, spec, key=f"sim-report-{spec.slug}-{token}", retries=RETRIES, pure=False
            ): spec
            for spec in specs
        }
        for fut in as_completed(futures, loop=client.loop):
            spec = futures.pop(fut)
            if fut.status == "finished":
                outcome = fut.result()
                outcome.scenario = spec.scenario
                report(outcome)
                continue
            exc = fut.exception() if fut.status == "error" else None
            if isinstance(exc, JobFailed):
                error_type, message = exc.error_type, exc.message
            elif exc is not None:
                error_type, message = _error_text(exc)
            else:
                error_type, message = "Cancelled", f"the job was {fut.status}"
            report(_spec_failure(spec, error_type, message, attempts=RETRIES + 1))
            fut.release()
    finally:
        if futures:  # interrupted: take the remaining jobs off the cluster
            client.cancel(list(futures))


def _cores() -> int:
    """Cores this process may use (the container's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- the whole batch ------------------------------------------------------------------------------


@contextlib.contextmanager
def _batch_lock(out_dir: Path) -> Iterator[None]:
    """One batch at a time per output folder (the lock goes away with the process, even on SIGKILL)."""
    state = _state_dir(out_dir)
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserInputError(
                "another batch is writing to this folder", location="--out", found=str(out_dir)
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _clean_staging(out_dir: Path) -> None:
    """Remove what killed runs left in the staging area (never a published report)."""
    shutil.rmtree(_state_dir(out_dir) / "staging", ignore_errors=True)


class _Progress:
    """A tqdm bar with done / failed / remaining and an estimate of the time left."""

    def __init__(self, total: int, skipped: int, enabled: bool | None) -> None:
        from tqdm.auto import tqdm

        self.done = 0
        self.failed = 0
        self.total = total
        self.bar = tqdm(
            total=total,
            unit="report",
            desc="batch",
            disable=None if enabled is None else not enabled,
            dynamic_ncols=True,
        )
        if skipped and not self.bar.disable:
            self.bar.write(f"skipping {skipped} up-to-date report{'s' if skipped != 1 else ''} (use --force to redo)")
        self._postfix()

    def _postfix(self) -> None:
        remaining = self.total - self.done - self.failed
        self.bar.set_postfix(done=self.done, failed=self.failed, remaining=remaining, refresh=False)

    def update(self, outcome: JobOutcome) -> None:
        if outcome.ok:
            self.done += 1
        else:
            self.failed += 1
        self._postfix()
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def run_batch(
    scenarios: Sequence[str | Path],
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    lang: str = "en",
    replications: int | None = None,
    seed: int | None = None,
    timeout: float = 900,
    force: bool = False,
    job: Job | None = None,
    progress: bool | None = None,
    wait_workers: float = 60.0,
    connect_timeout: float = 20.0,
) -> BatchResult:
    """Produce one report per scenario in `out_dir`, plus `summary.csv`, `failures.csv` and `index.html`.

    `scenarios` are files, folders or globs. Locally `workers` processes (default: the number of cores)
    run the jobs; with `scheduler` (a Dask address such as "tcp://10.0.0.5:8786") the cluster runs them.
    `timeout` is the wall-clock limit of one attempt in seconds (also papermill's execution timeout).
    `job` replaces the report job (default: `render_job`; tests pass a tiny one).
    Raises `UserInputError` for bad arguments; a failing scenario is listed in the result instead.
    """
    from sim.batch.index import write_index, write_tables
    from sim.io import ensure_output_dir

    if lang not in LANGS:
        raise UserInputError("unknown language", location="--lang", found=lang, allowed=", ".join(LANGS))
    if workers is not None and workers < 1:
        raise UserInputError("must be at least 1", location="--workers", found=str(workers))
    if replications is not None and replications < 1:
        raise UserInputError("must be at least 1", location="--replications", found=str(replications))
    if seed is not None and seed < 0:
        raise UserInputError("must be >= 0", location="--seed", found=str(seed))
    if not timeout > 0:
        raise UserInputError("must be > 0 seconds", location="--timeout", found=str(timeout))
    if scheduler is not None and ":" not in scheduler:
        raise UserInputError(
            "not a Dask scheduler address", location="--scheduler", found=scheduler, allowed="tcp://HOST:PORT"
        )
    paths = expand_scenarios(scenarios)
    out = ensure_output_dir(out_dir).resolve()
    options: dict[str, Any] = {}
    if replications is not None:
        options["replications"] = replications
    if seed is not None:
        options["seed"] = seed
    started = time.monotonic()
    client = _connect_dask(scheduler, out, wait_workers, connect_timeout) if scheduler else None
    with contextlib.ExitStack() as stack:
        if client is not None:
            stack.callback(client.close)
        stack.enter_context(_batch_lock(out))
        _clean_staging(out)
        specs, planned = plan_batch(
            paths, out, lang=lang, options=options, timeout=timeout, force=force, job=job or render_job
        )
        results: dict[str, JobOutcome] = {}
        bar = _Progress(len(specs), sum(1 for o in planned if o is not None and o.status == "skipped"), progress)

        def on_result(outcome: JobOutcome) -> None:
            results[outcome.scenario] = outcome
            bar.update(outcome)

        try:
            if specs and client is not None:
                _run_dask(specs, client, on_result)
            elif specs:
                log = _state_dir(out) / "workers.log"
                _run_local(specs, min(workers or _cores(), len(specs)), on_result, log)
        finally:
            bar.close()
            outcomes = []
            spec_iter = iter(specs)
            for path, o in zip(paths, planned, strict=True):
                if o is None:
                    spec = next(spec_iter)
                    o = results.get(spec.scenario) or _spec_failure(
                        spec, "Interrupted", "not run: the batch was interrupted"
                    )
                o.scenario = str(path)
                outcomes.append(o)
            summary_csv, failures_csv = write_tables(out, outcomes, lang=lang)
            index_html = write_index(out, outcomes, lang=lang, others=_other_languages(out, outcomes, lang))
            _clean_staging(out)
    return BatchResult(
        out_dir=out,
        outcomes=outcomes,
        summary_csv=summary_csv,
        failures_csv=failures_csv,
        index_html=index_html,
        seconds=time.monotonic() - started,
    )


def _other_languages(out_dir: Path, outcomes: Sequence[JobOutcome], lang: str) -> dict[str, dict[str, str]]:
    """slug -> {language: report file} of the reports in other languages already in `out_dir` (from their
    manifests), so the index links every language of a client's report."""
    found: dict[str, dict[str, str]] = {}
    for o in outcomes:
        if not o.ok or o.slug is None:
            continue
        for other in LANGS:
            if other == lang:
                continue
            manifest = read_manifest(out_dir, o.slug, other)
            report = manifest.get("report") if manifest else None
            if report and (out_dir / str(report)).is_file():
                found.setdefault(o.slug, {})[other] = str(report)
    return found


def outcomes_as_dicts(outcomes: Iterable[JobOutcome]) -> list[dict[str, Any]]:
    """Outcomes as plain dicts (for JSON logs and tests)."""
    return [asdict(o) for o in outcomes]
