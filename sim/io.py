"""Writing outputs so that a command's files appear together or not at all.

A command writes a *set* of files (`sim run`: timeseries.csv, kpis.json, orders.csv; `sim calibrate`: the
scenario and its customer snapshot; a report: its HTML, notebook and data folder). Files of two runs side
by side are a silently wrong result (a kpis.json counting other orders than the orders.csv beside it), so a
set is first written whole into a hidden *stage*, then swapped in:

- into a folder that holds nothing but this command's outputs (or does not exist yet), the stage is a
  complete sibling folder that replaces it in one atomic step (`rename`, or Linux's `renameat2` with
  RENAME_EXCHANGE): a reader sees the old set or the new one, never a mix;
- into a folder shared with other files (a client folder, a folder of reports), the stage sits inside it
  and its files are renamed into place one by one (microseconds) under a lock, after a *commit mark* is
  written into the stage; files of the old set that the new one does not have are removed in the same step.
  Should the process die inside those microseconds, the next command that writes there finds the mark and
  finishes the swap; a stage without the mark is simply removed.

A stage belongs to a living process as long as that process holds an exclusive `flock` on the stage's lock
file (the kernel drops it when the process dies, even by `kill -9`), so the next run tells stale stages from
a concurrent run's without guessing from ages or pids. Targets that exist and are not regular files
(`/dev/full`, a FIFO) are refused; a full disk, a read-only folder or a missing permission ends in one line
(`OutputError`) and the stage is removed, so nothing partial is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import math
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import UserInputError

if TYPE_CHECKING:  # speed: every command imports this module; pandas only where a frame is written
    import pandas as pd

    from sim.model.result import SimulationResult

STAGE_TAG = ".sim-stage"  # stage folders: `<folder>/.sim-stage.<command>.<id>` or `<parent>/.<name>.sim-stage.<...>`
LOCK_NAME = ".lock"
COMMIT_NAME = ".commit"  # the commit mark: JSON list of the names to move in, and of old ones to remove
LEGACY_TMP_AGE = 3600.0  # seconds: `.name.XXXX.tmp` files of older versions (no lock) older than this are stale

FAULT_POINT_ENV = "SIM_FAULT_POINT"  # tests: stop at a named point of a commit (see `_fault_point`)
FAULT_READY_ENV = "SIM_FAULT_READY"

_written: list[Path] = []  # what this process has put in place, in order (the CLI's interrupt line says it)


def _fault_point(name: str) -> None:
    """A test hook: when SIM_FAULT_POINT names this point, write the file SIM_FAULT_READY and wait to be killed.

    The fault tests kill a command exactly here (all staged; commit mark written; half the files moved)
    instead of guessing with timers. Points: "staged", "marked", "half-moved".
    """
    if os.environ.get(FAULT_POINT_ENV) != name:
        return
    ready = os.environ.get(FAULT_READY_ENV)
    if ready:
        Path(ready).write_text(str(os.getpid()), encoding="utf-8")
    import time

    time.sleep(600)


class OutputError(UserInputError):
    """An output that cannot be written where the user asked (full disk, read-only folder, a device)."""


def written() -> list[Path]:
    """The outputs this process has put in place so far (complete sets only)."""
    return list(_written)


# -- targets -----------------------------------------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def output_file(target: str | Path, flag: str = "--out") -> Path:
    """The real path a file output will have (symbolic links followed), refusing what is not a file to replace:
    a folder, a device such as /dev/full, a FIFO, a socket."""
    real = Path(os.path.realpath(os.fspath(target)))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise OutputError(f"cannot be used: {exc.strerror}", location=flag, found=str(target)) from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError("is a folder, expected a file name", location=flag, found=str(target))
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(
            f"is {_kind(st.st_mode)}, not a regular file; outputs only replace regular files",
            location=flag,
            found=str(target),
        )
    return real


def check_output_folder(out: str | Path, flag: str = "--out") -> Path:
    """Refuse, before any work, an output folder that cannot be written (without creating anything): it must
    be a folder or not exist yet, and the nearest existing folder above it must be writable."""
    p = Path(os.path.realpath(os.fspath(out)))
    if p.exists():
        if not p.is_dir():
            return ensure_output_dir(p, flag)  # raises the right message
        probe = p
    else:
        probe = p.parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise OutputError("cannot be created: a file is in the way", location=flag, found=str(out))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot be written: {probe} is not writable", location=flag, found=str(out))
    return p


def check_output_file(out: str | Path, flag: str = "--out") -> Path:
    """`output_file` plus the folder check for the file's folder, before any work."""
    target = output_file(out, flag)
    check_output_folder(target.parent, flag)
    return target


def ensure_output_dir(out: str | Path, flag: str = "--out") -> Path:
    """Create the output folder (and its parents) or explain in one line why it cannot be used."""
    p = Path(os.path.realpath(os.fspath(out)))
    if p.exists() and not p.is_dir():
        try:
            mode = os.stat(p).st_mode
        except OSError:
            mode = 0
        what = "a file" if stat.S_ISREG(mode) else _kind(mode)
        raise OutputError(f"exists and is {what}, not a folder", location=flag, found=str(out))
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder: {exc.strerror}", location=flag, found=str(out)) from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputError("the output folder is not writable", location=flag, found=str(out))
    return p


def _oserror(exc: OSError, where: Path, flag: str) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
    elif exc.errno == errno.EROFS:
        reason = "the file system is read-only"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif exc.errno == errno.EFBIG:
        reason = "the file is larger than this system allows (file size limit)"
    return OutputError(f"cannot write: {reason}; nothing was written", location=flag, found=str(where))


# -- stages: locks and recovery -----------------------------------------------------------------------


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _lock_folder(folder: Path) -> int:
    """An exclusive lock on the folder itself (flock works on a folder's descriptor): one swap at a time."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlocked(path: Path, flags: int) -> bool | None:
    """Whether nobody holds a lock on `path` (None when it cannot be opened)."""
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _is_stale(stage: Path) -> bool:
    """A stage whose owner is gone (its lock file is free); a stage without a lock file yet is too young."""
    free = _unlocked(stage / LOCK_NAME, os.O_RDWR)
    if free is None:
        try:  # being created right now (lock not written yet), or a broken leftover: judge by its age
            return (os.path.getmtime(stage) + 60.0) < _now()
        except OSError:
            return False
    return free


def _is_stale_file(path: Path) -> bool:
    """A single file's temporary copy whose writer is gone (the writer holds a lock on it while writing)."""
    return bool(_unlocked(path, os.O_RDONLY))


def _now() -> float:
    import time

    return time.time()


def finish_interrupted(folder: str | Path) -> None:
    """Before reading outputs from `folder`: finish a swap that a killed command left half done there, so a
    reader never takes the new half of one run with the old half of another (cheap when there is none)."""
    folder = Path(folder)
    try:
        pending = any(
            STAGE_TAG in e.name
            and e.is_dir(follow_symlinks=False)
            and os.path.exists(os.path.join(e.path, COMMIT_NAME))
            for e in os.scandir(folder)
        )
    except OSError:
        return
    if pending and os.access(folder, os.W_OK):
        recover(folder)


def recover(folder: Path) -> None:
    """Finish or remove the stages that dead processes left in `folder` (and the legacy temporary files).

    A stage with a commit mark was being swapped in when its process died: its remaining files go in now.
    Any other stale stage is removed. Stages of living processes are left alone.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        path = Path(entry.path)
        if STAGE_TAG in name and entry.is_dir(follow_symlinks=False):
            if not _is_stale(path):
                continue
            mark = path / COMMIT_NAME
            if mark.is_file():  # an interrupted swap: finish it
                # a stage inside its folder is `.sim-stage.*`; a sibling stage `.<folder>.sim-stage.*`
                target = folder if name.startswith(STAGE_TAG) else folder / name[1 : name.index(STAGE_TAG)]
                with contextlib.suppress(OSError, ValueError, KeyError):
                    plan = json.loads(mark.read_text(encoding="utf-8"))
                    _move_in(path, target, plan["names"], plan.get("remove", []))
            _remove(path)
        elif STAGE_TAG in name and name.endswith(".tmp"):  # a single file's temporary copy
            if _is_stale_file(path):
                _remove(path)
        elif name.startswith(".") and name.endswith(".tmp"):  # `.timeseries.csv.ab12.tmp` of older versions
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime + LEGACY_TMP_AGE < _now():
                    _remove(path)


# -- output sets ----------------------------------------------------------------------------------------


class OutputSet:
    """The outputs of one command in one folder, staged together and swapped in together.

    `names` are the entries this command writes (files or folders); `family` the entries it may write at all,
    so that a stale member of an older set (an `orders.csv` the new run does not write) is removed with it.
    Write each output to `stage_path(name)`, then `commit()`.
    """

    def __init__(self, folder: str | Path, command: str, family: Iterable[str] = (), flag: str = "--out") -> None:
        self.flag = flag
        self.folder = Path(os.path.realpath(os.fspath(folder)))
        self.command = "".join(ch if ch.isalnum() else "-" for ch in command)[:40]
        self.family = set(family)
        self._lock_fd: int | None = None
        self.stage: Path | None = None
        self.whole_folder = False
        self.committed: list[Path] = []

    # -- staging ---------------------------------------------------------------------------------
    def open(self) -> OutputSet:
        """Check the folder, clean up what dead runs left there, and make the stage."""
        if self.folder.exists() or self.folder.is_symlink():
            ensure_output_dir(self.folder, self.flag)
        for name in self.family:
            self._check_target(name)
        parent = self.folder.parent
        token = f"{self.command}.{os.getpid()}.{uuid.uuid4().hex[:10]}"
        try:
            if self.folder.exists():
                ensure_output_dir(self.folder, self.flag)
                recover(self.folder)
            if os.access(parent, os.W_OK):
                recover(parent)
            self.whole_folder = self._exclusive() and os.access(parent, os.W_OK | os.X_OK)
            if self.whole_folder:  # a complete sibling folder, swapped in as a whole
                self.stage = parent / f".{self.folder.name}{STAGE_TAG}.{token}"
            else:
                ensure_output_dir(self.folder, self.flag)
                self.stage = self.folder / f"{STAGE_TAG}.{token}"
            self.stage.mkdir(parents=False)
            self._lock_fd = _lock(self.stage / LOCK_NAME)
        except OSError as exc:
            self.discard()
            raise _oserror(exc, self.folder, self.flag) from None
        return self

    def _check_target(self, name: str) -> None:
        if not name or name in (".", "..") or "/" in name or name.startswith(STAGE_TAG):
            raise OutputError("output name would leave the output folder", location=self.flag, found=name)
        target = self.folder / name
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _oserror(exc, target, self.flag) from None
        if stat.S_ISLNK(st.st_mode) or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else _kind(st.st_mode)
            raise OutputError(
                f"{name} in the output folder is {what}; outputs only replace regular files and folders",
                location=self.flag,
                found=str(target),
            )

    def _exclusive(self) -> bool:
        """Whether the folder holds nothing but this command's outputs (or does not exist), and may be replaced
        as a whole: not a mount point, and not the current folder or one above it (a shell sitting in it would
        be left in the old, deleted folder)."""
        if not self.folder.exists():
            return True
        if os.path.ismount(self.folder):
            return False
        try:
            here = Path.cwd().resolve()
        except OSError:
            here = None
        if here is not None and (here == self.folder or self.folder in here.parents):
            return False
        try:
            names = [e.name for e in os.scandir(self.folder)]
        except OSError:
            return False
        return all(n in self.family for n in names)

    def stage_path(self, name: str) -> Path:
        """Where to write the output `name` before the commit."""
        assert self.stage is not None, "open() first"
        self._check_target(name)
        self.family.add(name)
        return self.stage / name

    # -- committing ------------------------------------------------------------------------------
    def commit(self) -> list[Path]:
        """Put the staged set in place (see the module docstring); return the final paths."""
        assert self.stage is not None, "open() first"
        # HTML pages last: a report's page appearing means its notebook and data are there
        names = []
        for n in os.listdir(self.stage):
            if n in (LOCK_NAME, COMMIT_NAME):
                continue
            if n in self.family:
                names.append(n)
            else:  # not an output of this command (a notebook's scratch, a log): never put in place
                _remove(self.stage / n)
        names.sort(key=lambda n: (n.endswith(".html"), n))
        _fault_point("staged")
        try:
            if self.whole_folder and self._exclusive():
                self._swap_folder()
            else:
                if self.whole_folder:  # someone put other files there meanwhile: move the files one by one
                    ensure_output_dir(self.folder, self.flag)
                self._swap_files(names)
        except OSError as exc:
            raise _oserror(exc, self.folder, self.flag) from None
        finally:
            self.discard()
        self.committed = [self.folder / n for n in names]
        _written.extend(self.committed)
        return self.committed

    def _swap_folder(self) -> None:
        """The stage replaces the folder in one step. The stage's lock file goes along, still locked (a
        concurrent `recover` must not take the stage for a stale one), and is removed right after."""
        assert self.stage is not None
        if not self.folder.exists():
            try:
                os.rename(self.stage, self.folder)
                self._drop_lock_file(self.folder)
                self.stage = None
                _fsync_dir(self.folder.parent)
                return
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        _same_mode(self.folder, self.stage)
        if _exchange(self.stage, self.folder):  # the stage now holds the old set: removed in discard()
            self._drop_lock_file(self.folder)
            _fsync_dir(self.folder.parent)
            return
        names = [n for n in os.listdir(self.stage) if n not in (LOCK_NAME, COMMIT_NAME)]
        self._swap_files(names)

    def _drop_lock_file(self, where: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            (where / LOCK_NAME).unlink()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _swap_files(self, names: list[str]) -> None:
        assert self.stage is not None
        remove = sorted(n for n in self.family if n not in names and (self.folder / n).exists())
        folder_lock = _lock_folder(self.folder)
        try:
            mark = self.stage / COMMIT_NAME
            mark.write_text(json.dumps({"names": names, "remove": remove}), encoding="utf-8")
            _fsync_file(mark)
            _fault_point("marked")
            _move_in(self.stage, self.folder, names, remove)
            _fsync_dir(self.folder)
        finally:
            os.close(folder_lock)

    def discard(self) -> None:
        """Remove the stage (after a commit it holds the old set, or nothing)."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None
        if self.stage is not None:
            shutil.rmtree(self.stage, ignore_errors=True)


def _move_in(stage: Path, folder: Path, names: list[str], remove: list[str]) -> None:
    """Rename the staged entries into `folder` (folders replace folders), then remove old family members."""
    old = stage / ".old"
    old.mkdir(exist_ok=True)
    for k, name in enumerate(names):
        src, dst = stage / name, folder / name
        if not src.exists() and not src.is_symlink():
            continue  # already moved (a recovery finishing the swap)
        if dst.is_dir() and not dst.is_symlink():
            os.replace(dst, old / name)  # a folder cannot be renamed onto a non-empty folder: move the old aside
        os.replace(src, dst)
        if k == 0 and len(names) > 1:
            _fault_point("half-moved")
    for name in remove:
        target = folder / name
        if target.exists() or target.is_symlink():
            os.replace(target, old / name)
    shutil.rmtree(old, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _same_mode(old: Path, new: Path) -> None:
    """Give the folder that replaces `old` its permissions (and, as root, its owner): a group-shared output
    folder stays shared."""
    with contextlib.suppress(OSError):
        st = os.stat(old)
        os.chmod(new, stat.S_IMODE(st.st_mode))
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            os.chown(new, st.st_uid, st.st_gid)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_file(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb+") as handle:
        os.fsync(handle.fileno())


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where not supported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(b))


def publish(ready: str | Path, folder: str | Path, command: str, family: Iterable[str] = ()) -> list[Path]:
    """Put the entries of a folder written elsewhere on the same file system (a batch job's staging folder)
    into `folder` as one set, like `output_set`; hidden entries of `ready` are left out."""
    ready = Path(ready)
    entries = [n for n in os.listdir(ready) if not n.startswith(".")]
    outs = OutputSet(folder, command, [*family, *entries]).open()
    try:
        for name in entries:
            os.replace(ready / name, outs.stage_path(name))
        return outs.commit()
    except OSError as exc:
        raise _oserror(exc, outs.folder, "--out") from None
    finally:
        outs.discard()


@contextmanager
def output_set(
    folder: str | Path, command: str, family: Iterable[str] = (), flag: str = "--out"
) -> Iterator[OutputSet]:
    """`with output_set(out, "run", [...]) as outs:` write to `outs.stage_path(name)`; committed on success,
    removed on any error or interrupt. OS errors while writing into the stage become one `OutputError`."""
    outs = OutputSet(folder, command, family, flag).open()
    try:
        yield outs
        outs.commit()
    except OSError as exc:
        if _inside(exc, outs):
            raise _oserror(exc, outs.folder, flag) from None
        raise
    finally:
        outs.discard()


def _inside(exc: OSError, outs: OutputSet) -> bool:
    """Whether an OSError concerns the output (a file in the stage or the folder), not some input."""
    names = [n for n in (exc.filename, exc.filename2) if n]
    if not names:
        return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)
    roots = [str(outs.folder), str(outs.stage)] if outs.stage else [str(outs.folder)]
    return any(os.path.realpath(str(n)).startswith(tuple(roots)) for n in names)


# -- single files ----------------------------------------------------------------------------------------


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `target` (a regular file or nothing); on success rename it onto
    `target`, else delete it. For one file on its own; a command's several outputs use `output_set`."""
    target = output_file(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        recover(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{STAGE_TAG}.", suffix=suffix + ".tmp", dir=target.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held while writing: `recover` leaves a living writer's file alone
    except OSError as exc:
        raise _oserror(exc, target, "--out") from None
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs should read like any other file
        yield tmp_path
        os.replace(tmp_path, target)
        if STAGE_TAG not in str(target):  # a file inside a stage is not in place yet
            _written.append(target)
    except OSError as exc:
        if exc.filename and os.path.realpath(str(exc.filename)) not in (str(tmp_path), str(target)):
            raise
        raise _oserror(exc, target, "--out") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        os.close(fd)


def write_text(target: str | Path, text: str) -> Path:
    """Write text atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def plain(value: Any, *, dates: str | None = "iso") -> Any:
    """Python data for a JSON or YAML file: numpy scalars and arrays as Python numbers and lists, tuples as
    lists, NaN and infinities as null (None); timestamps and dates as ISO text ("iso", for JSON), as dates
    ("date", for YAML) or untouched (None)."""
    import datetime as dt

    import numpy as np

    if isinstance(value, dict):
        return {str(k): plain(v, dates=dates) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, dates=dates) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), dates=dates)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dates is not None and isinstance(value, dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value  # a pandas Timestamp is a datetime
        return day.isoformat() if dates == "iso" else day
    return value


def finite_or_none(value: Any) -> float | None:
    """A number as the output files hold it: a finite float, or None for a missing, unreadable or infinite
    value (written as null, shown as "not defined")."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def json_text(data: Any) -> str:
    """JSON as the outputs write it: UTF-8, indented, NaN and infinities written as null."""
    return json.dumps(_jsonable(data), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_json(target: str | Path, data: Any) -> Path:
    """Write JSON atomically (see `json_text`)."""
    return write_text(target, json_text(data))


def write_csv(target: str | Path, frame: pd.DataFrame, **kwargs: Any) -> Path:
    """Write a CSV atomically (full precision unless `float_format` is given)."""
    with atomic_path(target, ".csv") as tmp:
        frame.to_csv(tmp, index=False, **kwargs)
    return Path(target)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


# -- the outputs of `sim run` ------------------------------------------------------------------------------

RUN_OUTPUTS = ("timeseries.csv", "kpis.json", "orders.csv")


def write_run_outputs(result: SimulationResult, kpis: dict[str, Any], out: str | Path) -> list[Path]:
    """timeseries.csv, kpis.json and (when the engine keeps one) orders.csv in `out`, as one set: a re-run
    never leaves the old orders.csv beside the new kpis.json."""
    with output_set(out, "run", RUN_OUTPUTS) as outs:
        result.timeseries_frame().to_csv(outs.stage_path("timeseries.csv"), index=False)
        outs.stage_path("kpis.json").write_text(json_text(kpis), encoding="utf-8")
        if result.orders is not None:
            result.orders.to_csv(outs.stage_path("orders.csv"), index=False)
    return outs.committed
