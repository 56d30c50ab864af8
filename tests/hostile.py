"""Shared checks of the hostile-input and fault corpus (tests/test_hostile_*.py, tests/test_faults.py).

Every refused input must end with: the expected exit code, exactly one line on stderr that starts with
"error:" and names the culprit (file, field or row, flag), no traceback, nothing half-written, and within a
generous time bound (a hang is a failure; the bound is never a speed target).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIME_BOUND = 60.0  # seconds: only a hang exceeds it


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


def run_cli(args: list[str], env: dict[str, str] | None = None) -> Outcome:
    """`sim ARGS` in this process (the CLI's own `run`), with stdout and stderr captured."""
    from sim.cli import run

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    clock = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run([str(a) for a in args])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Outcome(code, out.getvalue(), err.getvalue(), time.monotonic() - clock)


def run_subprocess(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout=TIME_BOUND):
    """`python -m sim ARGS` as a real process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    clock = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "sim", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - clock)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones included) with its bytes: "nothing changed" is an equality."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink()
    }


def assert_refused(outcome: Outcome, *culprit: str, code: int = 2) -> str:
    """Exit `code`, one line on stderr starting with 'error:' that contains every `culprit` fragment."""
    assert "Traceback" not in outcome.stderr + outcome.stdout, outcome.stderr
    assert outcome.code == code, (outcome.code, outcome.stderr, outcome.stdout)
    lines = outcome.lines
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in culprit:
        assert fragment in line, (fragment, line)
    assert outcome.seconds < TIME_BOUND, outcome.seconds
    return line


def assert_no_stage_left(folder: Path) -> None:
    """No staging folder or temporary file of any run is left in `folder` or beside it."""
    for where in (folder, folder.parent):
        if where.exists():
            left = [p.name for p in where.iterdir() if ".sim-stage" in p.name or p.name.endswith(".tmp")]
            assert not left, left


def is_kernel(cmdline: str) -> bool:
    """A notebook kernel's command line: ipykernel's launcher, or the report's (`sim.report.kernel_launcher`)."""
    return "ipykernel" in cmdline or "sim.report.kernel_launcher" in cmdline
