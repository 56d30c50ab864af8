"""The report kernel's entry point: ipykernel's own launcher, with the report's libraries imported first.

`sim report` starts the report's kernel before it simulates (`sim.report.execute.report_kernel`), so the
kernel imports pandas, matplotlib, seaborn and the report's modules on the second core while the first one
runs the optimizer, instead of after it. The imports land in `sys.modules` only, never in the notebook's
namespace: a cell that forgets an import still fails as it would in a plain kernel.

    python -m sim.report.kernel_launcher MODULE[,MODULE...] -f CONNECTION_FILE
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what ipykernel would set; pyplot reads it on import


def preload(modules: list[str]) -> None:
    """Import `modules` now; one that fails is left for the notebook to import (and report) itself."""
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # the notebook's own import will raise it where the reader sees it
            print(f"preload of {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def main(argv: list[str]) -> None:
    """Preload the comma-separated modules in argv[1], then hand the remaining arguments to ipykernel."""
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]  # as ipykernel_launcher: the kernel's folder must not shadow a library while loading
    modules = [m for m in argv[1].split(",") if m] if len(argv) > 1 else []
    preload(modules)
    sys.argv = [argv[0], *argv[2:]]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main(sys.argv)
