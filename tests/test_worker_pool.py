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
