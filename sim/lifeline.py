"""Processes that never outlive the command that started them, and interrupts that end in one line.

Think of a climbing rope team: the command (`sim run`, `sim report`, `sim batch`) is the *root*, and every
process it starts -- replication workers, the report's Monte Carlo worker, a notebook kernel, batch
workers and their kernels -- holds a lifeline to it. When the root goes, however it goes (Ctrl-C, SIGTERM,
`kill -9`, a closed terminal), the others let go within a second instead of running on as orphans.

How, without each pool having to remember it:

- The root writes who it is (pid and start time, so a reused pid is not mistaken for it) into the
  environment variable `SIM_ROOT_PROCESS`, which every child process inherits.
- Every process that imports `sim` and finds a living root other than itself starts a small daemon thread
  that checks twice a second whether the root is still there, and exits (taking its own children along) when
  it is not. Forked children restart that thread (`os.register_at_fork`), spawned ones start it on import.
- Worker processes ignore SIGINT: Ctrl-C in a terminal signals the whole foreground process group, and
  only the root should answer it (otherwise every worker prints its own KeyboardInterrupt traceback).
- The root turns SIGINT, SIGTERM and SIGHUP into `Interrupted` (a `KeyboardInterrupt`), after stopping
  its child processes first, so that `finally` blocks remove staged outputs at once instead of waiting for
  busy workers; a second signal ends the process immediately.

Tests find leftover processes through a marker variable in their environment (`SIM_TEST_MARKER`), which
children inherit like `SIM_ROOT_PROCESS`, never by timing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

ROOT_ENV = "SIM_ROOT_PROCESS"
POLL_SECONDS = 0.5
SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}

_state: dict[str, Any] = {"signal": None, "watching": None, "root": None, "held": 0, "pending": None}


class Interrupted(KeyboardInterrupt):
    """The root process was asked to stop (Ctrl-C, SIGTERM, SIGHUP); `signum` says by which signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(SIGNAL_NAMES.get(signum, f"signal {signum}"))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + int(self.signum)


# -- who is the root -------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None if it is
    gone or a zombie (dead, waiting for its parent to collect its exit status)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()  # the fields after the command name, which may hold spaces
    if fields[0] in ("Z", "X", "x"):
        return None
    return fields[19]


def _identity(pid: int) -> str:
    return f"{pid}:{_start_time(pid) or '?'}"


def _alive(identity: str) -> bool:
    pid_text, _, started = identity.partition(":")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    now = _start_time(pid)
    if now is None:
        if not os.path.isdir("/proc"):  # not Linux: fall back to "a process with this pid exists"
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return False
    return started in ("?", now)


def become_root() -> None:
    """Make this process the root of its process tree (the CLI calls this first)."""
    identity = _identity(os.getpid())
    os.environ[ROOT_ENV] = identity
    _state["root"] = identity
    _state["watching"] = None  # a root watches nobody


def is_root() -> bool:
    """Whether this process is the root (no living root above it)."""
    root = os.environ.get(ROOT_ENV, "")
    return not root or root.split(":", 1)[0] == str(os.getpid()) or not _alive(root)


# -- children: hold the lifeline ---------------------------------------------------------------------


def _watch(root: str) -> None:
    while _alive(root):
        time.sleep(POLL_SECONDS)
    with contextlib.suppress(Exception):
        stop_children(grace=1.0)
    os._exit(1)


def _hold_lifeline(in_worker: bool, tied: bool = False) -> None:
    """In a child process: follow the root when it goes; ignore Ctrl-C if this is a worker process.

    `tied`: forked from the root or from a process that holds its lifeline. Such a process holds it whether or
    not the root is still there: a root killed just after the fork would otherwise make this process take
    itself for one started on its own, and a pool worker would wait for work forever."""
    root = os.environ.get(ROOT_ENV, "")
    if not root or root.split(":", 1)[0] == str(os.getpid()):
        return  # no root, or we are it
    if not tied and not _alive(root):
        return  # started on its own after the root had gone (a stale variable): nothing to hold
    if in_worker and threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _state["watching"] == (os.getpid(), root):
        return
    _state["watching"] = (os.getpid(), root)
    threading.Thread(target=_watch, args=(root,), name="sim-lifeline", daemon=True).start()


def _after_fork_in_child() -> None:
    root = os.environ.get(ROOT_ENV, "")
    watching = _state["watching"]
    tied = bool(root) and (_state["root"] == root or (watching is not None and watching[1] == root))
    _state["watching"] = None  # the parent's thread did not come along
    _state["signal"] = None
    _state["held"], _state["pending"] = 0, None  # forked inside the parent's hold: the hold is the parent's
    # the root's handlers came along with the fork: a worker must not act as the root (stop "its" children,
    # raise Interrupted and print a traceback) when the root stops it with SIGTERM
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError, TypeError):
            if signal.getsignal(signum) is _on_signal:
                signal.signal(signum, signal.SIG_IGN if signum == signal.SIGINT else signal.SIG_DFL)
    _hold_lifeline(in_worker=True, tied=tied)


def _is_multiprocessing_child() -> bool:
    current = multiprocessing.current_process()
    return bool(getattr(current, "_inheriting", False)) or multiprocessing.parent_process() is not None


def install() -> None:
    """Called once when `sim` is imported: hold the lifeline if a root is above us, also in forked children."""
    if _state.get("installed"):
        return
    _state["installed"] = True
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    _hold_lifeline(in_worker=_is_multiprocessing_child() or "--multiprocessing-fork" in sys.argv)


# -- the root: stop children, turn signals into one exception ------------------------------------------


def children() -> list[Any]:
    """Every living descendant of this process (psutil objects), except multiprocessing's own helpers: the
    resource tracker (it ignores signals, cleans up shared semaphores, and leaves by itself when we go; killed
    early, it is relaunched and prints tracebacks about semaphores it never saw) and the fork server."""
    import psutil

    helpers = set()
    with contextlib.suppress(Exception):
        from multiprocessing import resource_tracker

        helpers.add(resource_tracker._resource_tracker._pid)
    with contextlib.suppress(Exception):
        from multiprocessing import forkserver

        helpers.add(forkserver._forkserver._forkserver_pid)
    try:
        return [p for p in psutil.Process().children(recursive=True) if p.pid not in helpers]
    except psutil.Error:
        return []


def stop_children(grace: float = 3.0) -> int:
    """Terminate every descendant (SIGTERM, then SIGKILL after `grace` seconds); how many there were."""
    import psutil

    procs = children()
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    if alive:
        psutil.wait_procs(alive, timeout=grace)
    return len(procs)


def interrupted_by() -> int | None:
    """The signal that interrupted this process, if one did."""
    return _state["signal"]


def _on_signal(signum: int, frame: Any) -> None:
    if _state["held"] and _state["pending"] is None and _state["signal"] is None:
        # workers are being started: Python runs this handler in the main thread even when another thread
        # took the signal, possibly inside an at-fork hook; stop once the workers have started
        _state["pending"] = signum
        return
    if _state["signal"] is not None or _state["pending"] is not None:
        # a second signal: stop now (stale staging is cleaned by the next run)
        with contextlib.suppress(Exception):
            stop_children(grace=0.5)
        os._exit(128 + signum)
    _state["signal"] = signum
    stop_children()
    raise Interrupted(signum)


STOP_SIGNALS = frozenset(SIGNAL_NAMES)


@contextlib.contextmanager
def signals_held() -> Any:
    """Stop signals wait while inside, then act on the way out. Starting worker processes runs the standard
    library's at-fork hooks, where the exception our handler raises would be "ignored" with a traceback on
    stderr instead of stopping the command. Two holds, because either path can deliver the signal: it is
    blocked in this thread (the workers, forked from it, unblock it: `release_signals`), and a signal another
    thread took is noted by the handler and acted on here."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    _state["held"] += 1
    try:
        yield
    finally:
        _state["held"] -= 1
        pending = None
        if not _state["held"]:  # the outermost hold acts on what was noted
            pending, _state["pending"] = _state["pending"], None
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a signal blocked meanwhile is handled now
        if pending is not None:
            _on_signal(pending, None)


def release_signals() -> None:
    """A pool worker's initializer: unblock the stop signals its parent held while starting it."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _start_worker(initializer: Any, initargs: tuple) -> None:
    release_signals()
    if initializer is not None:
        initializer(*initargs)


class WorkerPool(ProcessPoolExecutor):
    """A process pool whose workers start (fork, at a submit) with the stop signals held, so an interrupt
    that arrives meanwhile stops the command with one line instead of a traceback from an at-fork hook;
    each worker releases them before its own `initializer`. Every forking pool the product starts is one."""

    def __init__(self, max_workers: int, initializer: Any = None, initargs: tuple = ()) -> None:
        super().__init__(max_workers=max_workers, initializer=_start_worker, initargs=(initializer, initargs))

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        with signals_held():
            return super().submit(fn, *args, **kwargs)

    def map(self, fn: Any, *iterables: Any, timeout: float | None = None, chunksize: int = 1) -> Any:
        """`fn` over the iterables' items, results in order, as `Executor.map` -- except that leaving early (an
        interrupt, a failed job) cancels nothing from this thread. The standard map cancels the jobs still
        waiting when its iterator closes, while the pool's own thread may be failing those same jobs because the
        interrupt stopped the workers; the two collide (CPython 3.11 raises InvalidStateError in that thread,
        printing a traceback). The pool's thread alone settles what is left: `shutdown(cancel_futures=True)`
        cancels in that thread, and workers that are gone fail the rest there."""
        if timeout is not None or chunksize != 1:
            raise ValueError("WorkerPool.map takes neither a timeout nor a chunksize")
        futures = [self.submit(fn, *args) for args in zip(*iterables, strict=False)]

        def results() -> Any:
            for future in futures:
                yield future.result()

        return results()


@contextlib.contextmanager
def signals_interrupt() -> Any:
    """While inside: SIGINT, SIGTERM and SIGHUP stop the children and raise `Interrupted` in the main thread
    (outside the main thread, where Python delivers no signals, nothing changes). The previous handlers
    come back on the way out."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        _state["signal"] = _state["pending"] = None
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):
                previous[signum] = signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, handler)
