"""JupyterLab for the course: the server is rooted at the repository, so that every notebook's link to its
chapter (`../../playbook/...`) lies inside what it serves, and the kernels learn the course language from
the environment variable SIM_LANG (the notebooks' `lang` parameter defaults to it).

    python -m sim lab              # the learning notebooks, in English
    python -m sim lab 3 --lang ko  # chapter 3's notebook, in Korean
    python -m sim lab what-if      # the consultant's what-if notebook

`lab_command` only builds the command line and the environment; `launch` replaces this process with
JupyterLab (on POSIX), so Ctrl-C reaches the server directly and no process is left behind.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sim.errors import UserInputError

LANGUAGES = ("en", "ko")
LEARN = Path("notebooks") / "learn"
WHAT_IF = Path("notebooks") / "what_if.ipynb"


@dataclass(frozen=True)
class LabCommand:
    """What `launch` runs: the argument list, the environment and the page JupyterLab opens first."""

    argv: list[str]
    env: dict[str, str]
    root: Path
    opens: str  # path inside the root that JupyterLab shows first


def find_root(start: Path | None = None) -> Path:
    """The checkout that holds the course: the first folder with notebooks/learn/ and playbook/, looking
    from `start` (default: the current folder) upwards, then beside the installed package."""
    here = (start or Path.cwd()).resolve()
    package_root = Path(__file__).resolve().parents[2]
    for candidate in (here, *here.parents, package_root):
        if (candidate / LEARN).is_dir() and (candidate / "playbook").is_dir():
            return candidate
    raise UserInputError(
        "the learning notebooks were not found: run this inside a checkout of the repository "
        "(a folder with notebooks/learn/ and playbook/)",
        location="python -m sim lab",
        found=str(here),
    )


def notebook_path(root: Path, which: str | None) -> Path:
    """The path (inside `root`) that JupyterLab opens: a chapter's notebook by number ("3", "03") or by
    name ("03_measure_manage_improve"), "what-if", or, with nothing given, the folder of learning notebooks."""
    if not which:
        return LEARN
    key = which.strip().lower().removesuffix(".ipynb")
    if key in ("what-if", "what_if", "whatif"):
        return WHAT_IF
    notebooks = sorted(p for p in (root / LEARN).glob("[0-9][0-9]_*.ipynb"))
    for p in notebooks:
        number = p.name[:2]
        if key in (number, number.lstrip("0"), p.stem) or (len(key) > 3 and p.stem.startswith(key)):
            return p.relative_to(root)
    allowed = ", ".join([p.name[:2].lstrip("0") for p in notebooks] + ["what-if"])
    raise UserInputError("no such notebook", location="NOTEBOOK", found=which, allowed=allowed)


def lab_command(
    which: str | None = None,
    lang: str = "en",
    *,
    port: int | None = None,
    ip: str = "127.0.0.1",
    open_browser: bool = True,
    root: Path | None = None,
    environ: dict[str, str] | None = None,
) -> LabCommand:
    """The JupyterLab command for the course, checked: a known language, JupyterLab installed, a checkout."""
    if lang not in LANGUAGES:
        raise UserInputError("unknown language", location="--lang", found=lang, allowed=", ".join(LANGUAGES))
    if importlib.util.find_spec("jupyterlab") is None:
        raise UserInputError(
            "JupyterLab is not installed: pip install jupyterlab (or pip install -e '.[dev]' in the repository)",
            location="python -m sim lab",
        )
    root = (root or find_root()).resolve()
    opens = notebook_path(root, which)
    if not (root / opens).exists():
        raise UserInputError("not found in this checkout", location="NOTEBOOK", found=str(root / opens))
    env = dict(os.environ if environ is None else environ)
    env["SIM_LANG"] = lang
    # the kernels import the `sim` of this checkout, even when another copy is installed
    env["PYTHONPATH"] = os.pathsep.join([str(root), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.ip={ip}",
        f"--LabApp.default_url=/lab/tree/{opens.as_posix()}",
        f"--ServerApp.open_browser={open_browser}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI run as root; JupyterLab refuses it unasked
        argv.append("--ServerApp.allow_root=True")
    if port is not None:
        argv += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    return LabCommand(argv=argv, env=env, root=root, opens=opens.as_posix())


def launch(command: LabCommand) -> int:
    """Run JupyterLab: on POSIX this process becomes the server (exec), elsewhere it waits for it."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(command.argv[0], command.argv, command.env)  # never returns
    return subprocess.call(command.argv, env=command.env, cwd=command.root)
