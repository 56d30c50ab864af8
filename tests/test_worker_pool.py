"""The product's forking pools start their workers with the stop signals held: an interrupt that arrives
while a worker is being forked stops the command from `submit` (one line), never from inside the standard
library's at-fork hooks, where it would be "ignored" with a traceback on stderr and the command run on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A Ctrl-C sent at the worst moment: from an at-fork hook of the parent, while the pool forks its worker.
# It records which stop signals were blocked at that moment and in the worker, and where the interrupt landed.
PROBE = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    from sim import lifeline

    seen = {}
    other = threading.Thread(target=threading.Event().wait, daemon=True)  # a thread that takes signals
    other.start()

    def during_fork():
        seen["blocked_at_fork"] = sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))
        if not seen.get("sent"):
            seen["sent"] = True
            if sys.argv[1] == "process":
                os.kill(os.getpid(), signal.SIGINT)
            else:  # the kernel gave it to another thread: Python runs the handler here, in the hook
                signal.pthread_kill(other.ident, signal.SIGINT)
                time.sleep(0.2)  # that thread runs the C-level handler meanwhile ...
                for _ in range(1000):  # ... and this bytecode is where Python runs ours
                    pass

    os.register_at_fork(before=during_fork)

    def worker_mask():
        return sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))

    pool = lifeline.WorkerPool(max_workers=1)
    with lifeline.signals_interrupt():
        try:
            pool.submit(worker_mask)
            seen["landed"] = "nowhere"
        except lifeline.Interrupted as stop:
            seen["landed"] = "submit"
            seen["signal"] = stop.signum
    pool.shutdown(wait=True, cancel_futures=True)
    pool2 = lifeline.WorkerPool(max_workers=1)
    seen["worker_blocked"] = pool2.submit(worker_mask).result()
    pool2.shutdown()
    print(json.dumps(seen))
    """
)


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="needs fork")
@pytest.mark.parametrize("taken_by", ["process", "thread"])
def test_interrupt_during_a_worker_fork_lands_in_submit_not_in_an_at_fork_hook(taken_by):
    """Sent to the process (this thread has it blocked) or taken by another thread (Python then runs the
    handler in this thread at once, blocked or not): either way it stops the command from `submit`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SIM_ROOT_PROCESS", None)
    done = subprocess.run([sys.executable, "-c", PROBE, taken_by], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    stops = {int(signal.SIGINT), int(signal.SIGTERM), int(signal.SIGHUP)}
    assert stops <= set(seen["blocked_at_fork"])  # held while forking ...
    assert seen["landed"] == "submit" and seen["signal"] == signal.SIGINT  # ... and delivered on the way out of submit
    assert not stops & set(seen["worker_blocked"])  # the worker does not keep them blocked


# A root killed just after it forked a worker, before the worker's own at-fork hook ran: the hook registered
# before `sim` was imported runs first in the child; it kills the parent (the root) and waits until it is dead.
ORPHANED_FORK = textwrap.dedent(
    """
    import os, signal, sys, time

    def kill_the_root():
        root = os.getppid()
        with open(sys.argv[1], "w") as handle:
            handle.write(str(os.getpid()))
        os.kill(root, signal.SIGKILL)
        for _ in range(2000):  # until the kernel has it dead (a zombie: its parent has not collected it yet)
            with open(f"/proc/{root}/stat") as stat:
                if stat.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
                    break
            time.sleep(0.005)

    os.register_at_fork(after_in_child=kill_the_root)
    from sim import lifeline

    lifeline.become_root()
    if os.fork() == 0:
        time.sleep(120)  # a pool worker waiting for work that will never come
        os._exit(0)
    time.sleep(120)
    """
)


@pytest.mark.skipif(not os.path.isdir("/proc") or not hasattr(os, "register_at_fork"), reason="needs Linux fork")
def test_a_worker_forked_just_before_the_root_is_killed_still_follows_it(tmp_path):
    """Before, the worker found no living root and took itself for a process started on its own: it waited for
    work forever, holding the command's output pipes (a test reading them hung)."""
    import psutil

    pid_file = tmp_path / "child.pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SIM_ROOT_PROCESS", None)
    root = subprocess.Popen([sys.executable, "-c", ORPHANED_FORK, str(pid_file)], env=env, stderr=subprocess.PIPE)
    _, err = root.communicate(timeout=120)  # the child holds stderr too: this returns once both have gone
    assert root.returncode == -signal.SIGKILL, err
    child = int(pid_file.read_text())

    def gone() -> bool:
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + 30.0  # a bound, not a measure: its pipes closed, it is leaving (or gone)
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), "the worker outlived its root"


def _wait_for(go: str, i: int, done: str) -> int:
    """A job that waits (except the first) until the file `go` exists, then leaves a file saying it ran."""
    import time

    while i and not os.path.exists(go):
        time.sleep(0.01)
    Path(done, str(i)).write_text("ran")
    return i


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="needs fork")
def test_leaving_a_pool_map_early_cancels_nothing_from_the_calling_thread(tmp_path):
    """The standard map cancels waiting jobs from the caller's thread when its iterator closes, which collides
    with the pool's own thread failing those jobs after an interrupt stopped the workers (a traceback from
    concurrent.futures). The product's pools leave every job to the pool's thread."""
    from sim import lifeline

    go, done = str(tmp_path / "go"), tmp_path / "done"
    done.mkdir()
    pool = lifeline.WorkerPool(max_workers=2)
    results = pool.map(_wait_for, [go] * 8, range(8), [str(done)] * 8)
    assert next(results) == 0  # the others wait: two run, one is queued, five are still in the pool's hands
    results.close()  # leaving early, as an interrupt or a failed job does
    Path(go).write_text("")
    pool.shutdown(wait=True)
    assert sorted(int(p.name) for p in done.iterdir()) == list(range(8))
