"""Limits checked up front, before any work starts, each refused with one line that says how to raise it.

A tool that runs on client files and on shared laptops must not be talked into filling the memory, the
process table or the disk by one mistyped number. Every limit here has a default that no real use comes
near, and an environment variable that raises it for the rare case that needs more:

| limit | default | raise with |
|---|---|---|
| size of a scenario YAML file | 4 MiB | `SIM_MAX_SCENARIO_BYTES` |
| size of a CSV export (orders, spend, snapshot) | 2 GiB | `SIM_MAX_INPUT_BYTES` |
| values in a scenario after YAML aliases are expanded | 100,000 | `SIM_MAX_YAML_NODES` |
| nesting depth of a scenario | 40 | (fixed) |
| `--replications` | 10,000 | `SIM_MAX_REPLICATIONS` |
| `--workers` | the cores of this machine | `SIM_MAX_WORKERS` |
| memory of an agent-engine run | 80% of available memory | `SIM_MAX_MEMORY_BYTES` |

Input files must be regular files: a FIFO, a device or a socket would block or never end.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sim.errors import UserInputError

MiB = 1024**2
GiB = 1024**3

_DEFAULTS = {
    "SIM_MAX_SCENARIO_BYTES": 4 * MiB,
    "SIM_MAX_INPUT_BYTES": 2 * GiB,
    "SIM_MAX_YAML_NODES": 100_000,
    "SIM_MAX_REPLICATIONS": 10_000,
}
MAX_YAML_DEPTH = 40


def limit(name: str) -> int:
    """The limit called `name` (one of the SIM_MAX_* variables): the environment's value, else the default."""
    default = _DEFAULTS[name]
    text = os.environ.get(name, "").strip().replace("_", "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    return default


def plain_bytes(n: float) -> str:
    """A size as people read it: 512 bytes, 3.4 MiB, 20.1 GiB."""
    if n < 1024:
        return f"{int(n)} bytes"
    if n < GiB:
        return f"{n / MiB:,.1f} MiB"
    return f"{n / GiB:,.1f} GiB"


# -- input files -----------------------------------------------------------------------------------


def check_input_file(path: str | Path, what: str, *, max_bytes: int, raise_with: str, error=UserInputError) -> int:
    """Refuse what cannot be read as an input file; return its size in bytes.

    A missing file, a folder, anything but a regular file (FIFO, device, socket: reading one blocks or
    never ends) and a file over `max_bytes` are errors of type `error`, naming the file.
    """
    source = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error("file not found", file=source, allowed=what) from None
    except PermissionError:
        raise error("cannot be read: permission denied", file=source) from None
    except OSError as exc:
        raise error(f"cannot be read: {exc.strerror}", file=source) from None
    if stat.S_ISDIR(st.st_mode):
        raise error("is a folder", file=source, allowed=what)
    if not stat.S_ISREG(st.st_mode):
        kind = _file_kind(st.st_mode)
        raise error(f"is {kind}, not a regular file", file=source, allowed=f"{what} (a regular file)")
    if st.st_size > max_bytes:
        raise error(
            f"is {plain_bytes(st.st_size)}, more than the limit of {plain_bytes(max_bytes)}",
            file=source,
            allowed=f"{what}; to raise the limit set {raise_with}=BYTES",
        )
    return st.st_size


def read_input_bytes(path: str | Path, what: str, *, max_bytes: int, raise_with: str, error=UserInputError) -> bytes:
    """The bytes of an input file after `check_input_file` (read at most `max_bytes` + 1: a file that grows
    between the check and the read is still refused)."""
    check_input_file(path, what, max_bytes=max_bytes, raise_with=raise_with, error=error)
    try:
        # O_NONBLOCK: should the path have been swapped for a FIFO since the check, open does not hang
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"cannot be read: {exc.strerror}", file=str(path)) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise error("is not a regular file", file=str(path), allowed=what)
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"cannot be read: {exc.strerror}", file=str(path)) from None
    if len(data) > max_bytes:
        raise error(
            f"is more than the limit of {plain_bytes(max_bytes)}",
            file=str(path),
            allowed=f"{what}; to raise the limit set {raise_with}=BYTES",
        )
    return data


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


# -- processes and runs ----------------------------------------------------------------------------


def cores() -> int:
    """Cores this process may use (the container's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def max_workers() -> int:
    """The most worker processes a command starts: the cores, or SIM_MAX_WORKERS when set."""
    text = os.environ.get("SIM_MAX_WORKERS", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    return cores()


def check_workers(workers: int | None, flag: str = "--workers", *, jobs: int | None = None) -> tuple[int | None, str]:
    """(workers to use, a note for the user or ""): at least 1, at most the cores (or SIM_MAX_WORKERS) and
    the number of jobs. More than the cap is not an error: it is capped, and the note says so once."""
    if workers is None:
        return None, ""
    if workers < 1:
        raise UserInputError("must be at least 1", location=flag, found=str(workers))
    cap = max_workers()
    used = min(workers, cap)
    note = ""
    if used < workers:
        note = (
            f"note: {flag} {workers} capped at {cap}, the cores of this machine (set SIM_MAX_WORKERS=N to allow more)"
            if "SIM_MAX_WORKERS" not in os.environ
            else f"note: {flag} {workers} capped at SIM_MAX_WORKERS={cap}"
        )
    if jobs is not None:
        used = max(1, min(used, jobs))
    return used, note


def check_replications(replications: int | None, flag: str = "--replications") -> None:
    """At least 1 and at most SIM_MAX_REPLICATIONS (default 10,000: bands need a few hundred)."""
    if replications is None:
        return
    if replications < 1:
        raise UserInputError("must be at least 1", location=flag, found=str(replications))
    cap = limit("SIM_MAX_REPLICATIONS")
    if replications > cap:
        raise UserInputError(
            f"is more than the limit of {cap:,} (5%/95% bands need a few hundred)",
            location=flag,
            found=f"{replications:,}",
            allowed=f"1..{cap:,}; to raise the limit set SIM_MAX_REPLICATIONS=N",
        )


def check_seed(seed: int | None, flag: str = "--seed") -> None:
    """A seed is 0 .. 2**63 - 1 (numpy's SeedSequence takes any, but files and tools keep 64-bit integers)."""
    if seed is None:
        return
    if seed < 0 or seed >= 2**63:
        raise UserInputError("out of range", location=flag, found=str(seed), allowed="0 .. 9223372036854775807")


# -- memory ----------------------------------------------------------------------------------------


def available_memory() -> int:
    """Bytes this process can still use: the machine's available memory, or the cgroup's limit if lower."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            import psutil

            available = int(psutil.virtual_memory().available)
        except Exception:  # noqa: BLE001 - no way to know: do not refuse anything
            return 2**62
    for path, used_path in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            text = Path(path).read_text().strip()
            if text.isdigit() and int(text) < 2**60:
                used = int(Path(used_path).read_text().strip())
                available = min(available, max(0, int(text) - used))
            break
        except (OSError, ValueError):
            continue
    return available


def memory_budget() -> int:
    """Bytes one run may plan to use: SIM_MAX_MEMORY_BYTES when set, else 80% of the available memory."""
    text = os.environ.get("SIM_MAX_MEMORY_BYTES", "").strip().replace("_", "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    return int(0.8 * available_memory())
