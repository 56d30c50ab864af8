"""The report pipeline's second stage: papermill executes the report notebook in a Jupyter kernel.

The kernel talks to us over Unix-domain sockets (ZeroMQ's IPC transport) in a private folder, not over
TCP ports on localhost. That removes papermill's port race between kernels started at the same moment
(papermill issue 511: two kernels can pick the same free port), and ipykernel's warning that a TCP
kernel's traffic is unencrypted: nothing leaves the machine, and only this user can open the folder.
The kernel's own log (start-up messages, the "KeyboardInterrupt caught" line every shutdown provokes) is
written to a file beside the notebook instead of the terminal; a failing report quotes its last line.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Unicode

from sim.errors import ReportError, UserInputError, plain_number

DEFAULT_KERNEL = "python3"  # the report's kernel unless `--kernel` names another
KERNEL_START_TIMEOUT = 120  # seconds for the kernel to answer its first request
SOCKET_PREFIX = "sim-kernel-"  # private socket folders in the system's temporary folder


class ReportKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel writes its stdout/stderr to `kernel_log` (when set), not the terminal.

    nbclient creates it with the configuration papermill passes through (`kernel_config`), so the IPC
    transport, the socket path and the log file are per report.
    """

    kernel_log = Unicode("", config=True, help="File that receives the kernel process's stdout and stderr.")
    preload = Unicode(
        "", config=True, help="Comma-separated modules the default kernel imports before it answers (a warm start)."
    )

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.clients: list[Any] = []  # a kernel started ahead of papermill: its clients are closed with it

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's command; the default `python3` kernel runs in this very interpreter, whatever Python an
        installed `python3` kernelspec names: the report must use the `sim` (and packages) that runs it, not
        another environment's (a kernelspec installed once for the system Python, a venv's `pip install .`)."""
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.kernel_name == DEFAULT_KERNEL and len(cmd) > 2 and cmd[1:3] == ["-m", "ipykernel_launcher"]:
            cmd[0] = sys.executable
            if self.preload:
                cmd[1:3] = ["-m", "sim.report.kernel_launcher", self.preload]
        return cmd

    def client(self, **kw: Any) -> Any:
        """A client of this kernel, remembered so that `report_kernel` can close it with the kernel."""
        made = super().client(**kw)
        self.clients.append(made)
        return made

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if not self.kernel_log:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        with open(self.kernel_log, "ab") as log:  # the child keeps its own copy of the descriptor
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            return await super()._async_launch_kernel(kernel_cmd, **kw)


@contextmanager
def kernel_config(log_file: Path | None = None, preload: tuple[str, ...] = ()):
    """The traitlets configuration of one report's kernel: IPC sockets in a fresh private folder.

    The folder is short-named under the system's temporary folder (a Unix socket path may not exceed
    about 100 bytes, so not inside a deep output folder) and removed afterwards.
    """
    from traitlets.config import Config

    folder = Path(tempfile.mkdtemp(prefix=SOCKET_PREFIX))  # mode 0700: only this user can connect
    try:
        manager = {"transport": "ipc", "ip": str(folder / "k")}
        if log_file is not None:
            manager["kernel_log"] = str(log_file)
        if preload:
            manager["preload"] = ",".join(preload)
        yield Config({"ReportKernelManager": manager})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def report_kernel(
    cwd: Path,
    *,
    kernel_name: str = DEFAULT_KERNEL,
    log_file: Path | None = None,
    preload: tuple[str, ...] = (),
) -> Iterator[ReportKernelManager | None]:
    """A kernel started now, for `execute_notebook(kernel=...)` later: it starts, and imports `preload`, while
    the caller computes (on a second core), so the notebook's first cell does not wait for it.

    The kernel is shut down on leaving the block, however it ends (bad input, a failing cell, Ctrl-C). Yields
    None when it cannot start; `execute_notebook` then starts its own, and says why if that fails too.
    """
    from jupyter_core.utils import run_sync

    with kernel_config(log_file, preload) as config:
        manager: ReportKernelManager | None = ReportKernelManager(kernel_name=kernel_name, config=config)
        try:
            # the history in memory, as nbclient starts its kernels: no sqlite file beside the report
            run_sync(manager.start_kernel)(cwd=str(cwd), extra_arguments=["--HistoryManager.hist_file=:memory:"])
        except (RuntimeError, OSError):
            manager = None
        try:
            yield manager
        finally:
            if manager is not None:
                _shut_down(manager)


def _shut_down(manager: ReportKernelManager) -> None:
    """Stop the clients and the kernel, as nbclient does for a kernel it started itself, also when the kernel
    died on its own (nbclient then already released the manager's sockets)."""
    from jupyter_core.utils import run_sync

    for client in manager.clients:
        client.stop_channels()
    try:
        if run_sync(manager.is_alive)():
            run_sync(manager.shutdown_kernel)()
    except Exception:  # its sockets are gone (released after a failed start): end the process without asking
        with contextlib.suppress(Exception):
            run_sync(manager.shutdown_kernel)(now=True)
    finally:
        with contextlib.suppress(Exception):  # released already when the kernel died before the notebook
            run_sync(manager.cleanup_resources)()


def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The notebook's declared parameters (name -> type, default, help), from its `parameters` cell."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Unknown parameter names are errors, not papermill's warning (a typo would silently be ignored)."""
    declared = notebook_parameters(notebook)
    for name in parameters:
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UserInputError(
                f"unknown report parameter {name!r}{hint}",
                file=str(notebook),
                location="parameters",
                found=name,
                allowed=", ".join(declared),
            )


def check_kernel(kernel_name: str) -> None:
    """A clear error when the Jupyter kernel is not installed, with the command that installs it."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(kernel_name)
    except NoSuchKernel:
        installed = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise UserInputError(
            f"Jupyter kernel not found; install it with: python -m ipykernel install --user --name {kernel_name}",
            location="--kernel",
            found=kernel_name,
            allowed=installed,
        ) from None


def execute_notebook(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    *,
    kernel_name: str = "python3",
    timeout: float = 900,
    scenario: str | None = None,
    log_file: Path | None = None,
    kernel: ReportKernelManager | None = None,
) -> None:
    """Run the notebook with papermill into `output`; `timeout` bounds each cell [seconds].

    `kernel`: one started ahead by `report_kernel` (in the output's folder); without it papermill starts one.

    The kernel runs in the output's folder, never in the package's: a module there (such as `markup.py`)
    must not shadow a standard-library module the kernel imports.
    A kernel that fails to start is started once more. Failures raise `ReportError` naming the cell.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    def run(started: ReportKernelManager | None) -> None:
        warm = {"km": started} if started is not None and started.has_kernel else {}
        with kernel_config(log_file) as config:
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=parameters,
                kernel_name=kernel_name,
                execution_timeout=timeout,
                start_timeout=KERNEL_START_TIMEOUT,
                progress_bar=False,
                log_output=False,
                cwd=str(output.parent),
                kernel_manager_class=ReportKernelManager,
                config=config,
                **warm,
            )

    try:
        try:
            run(kernel)
        except (RuntimeError, OSError) as exc:  # kernel start-up trouble (a slow or crashed start)
            if isinstance(exc, PapermillExecutionError) or _executed_any(output):
                raise
            run(None)
    except PapermillExecutionError as exc:
        raise ReportError(
            f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}", scenario=scenario, step="notebook"
        ) from None
    except TimeoutError as exc:
        raise ReportError(
            f"a notebook cell ran longer than {plain_number(timeout)} s ({exc})", scenario=scenario, step="notebook"
        ) from None
    except Exception as exc:  # papermill wraps kernel deaths and timeouts in several types
        name = type(exc).__name__
        if "Timeout" in name or "timed out" in str(exc).lower():
            raise ReportError(
                f"a notebook cell ran longer than {plain_number(timeout)} s", scenario=scenario, step="notebook"
            ) from None
        detail = str(exc).splitlines()[0] if str(exc) else ""
        last = _last_line(log_file)
        raise ReportError(
            f"{name}: {detail}" + (f" (kernel log: {last})" if last else ""), scenario=scenario, step="notebook"
        ) from None


def _executed_any(output: Path) -> bool:
    if not output.exists():
        return False
    try:
        nb = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(c.get("execution_count") for c in nb.get("cells", []))


def _last_line(path: Path | None) -> str:
    """The last non-empty line of the kernel's log, to explain a kernel that died."""
    if path is None or not path.is_file():
        return ""
    lines = [x.strip() for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    return lines[-1][:300] if lines else ""
