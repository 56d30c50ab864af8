"""The `sim` command line: thin commands that call the library, one module per group of commands.

Every user error (bad scenario, bad CSV, bad flag such as `--seed abc`) ends as one line on stderr and exit
code 2, never a usage box or a traceback. Ctrl-C, SIGTERM and SIGHUP stop the command's child processes
(workers, kernels), remove staged outputs and end with one line saying what was and was not written, exit
code 130 (143, 129). `run(argv)` does all that in this process and returns the exit code (tests call it);
`main()` is the console entry point.
"""

# ruff: noqa: I001
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence

import click
import typer

try:  # typer >= 0.2x carries its own copy of click; earlier ones use click itself
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as _click_errors

# each module registers its commands, in the order `sim --help` lists them
from sim.cli import simulate  # noqa: F401
from sim.cli import calibrate  # noqa: F401
from sim.cli import analysis  # noqa: F401
from sim.cli import reports  # noqa: F401
from sim.cli import learn  # noqa: F401
from sim.cli.app import app, with_scenario_file
from sim.errors import ReportError, UserInputError

__all__ = ["app", "main", "run"]

_NO_ARGS_HELP = getattr(_click_errors, "NoArgsIsHelpError", ())  # click >= 8.2: `sim` alone shows the help
DEBUG_ENV = "SIM_DEBUG"  # set to 1 to see the traceback of an unexpected error


def _line(text: str) -> None:
    """One line on stderr."""
    click.echo(" ".join(str(text).split()), err=True)


def _usage_line(exc: Exception) -> str:
    """`Invalid value for '--seed': ... (found: 'abc') (see `sim run --help`)` on one line."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    found = _value_given(exc)
    if found is not None and repr(found) not in message:
        message = f"{message.rstrip('.')} (found: {found!r})"
    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", None) or "sim"
    return f"error: {message} (see `{where} --help`)"


def _value_given(exc: Exception) -> object | None:
    """The value the user typed, when the parser's error holds it (typer keeps pydantic's error as the cause)."""
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
        except (IndexError, TypeError, KeyError):
            return None
        return first.get("input")
    return None


def _interrupted_line(signum: int | None) -> str:
    from sim.io import written
    from sim.lifeline import SIGNAL_NAMES

    how = SIGNAL_NAMES.get(signum, "Ctrl-C") if signum is not None else "Ctrl-C"
    done = written()
    if not done:
        return f"interrupted ({how}): nothing was written"
    if len(done) <= 4:
        listed = ", ".join(str(p) for p in done)
    else:
        folders = sorted({str(p.parent) for p in done})
        listed = f"{len(done)} files in {', '.join(folders[:3])}"
    return f"interrupted ({how}): only these complete outputs were written: {listed}; nothing else was written"


def _empty_argument(args: list[str]) -> str | None:
    """The error line for an empty argument (`--out ""`, `--out=`, a scenario ""), or None.

    An empty text is never a name the user meant: it is an unset shell variable, and read as a path it would be
    the current folder (`--out "$DIR"` writing into whatever folder the command runs in).
    """
    for i, arg in enumerate(args):
        if arg == "--":
            return None
        flag, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", arg)
        before = args[i - 1] if i > 0 else ""
        if not equals and not arg.strip() and before.startswith("-") and "=" not in before:
            flag, equals = before, "="
        if equals and not value.strip():
            folder = f" ({flag} . is this folder)" if flag == "--out" else ""
            return f"error: {flag}: is empty (an unset shell variable?); give a value{folder}"
        if not arg.strip():
            return "error: an empty argument was given (an unset shell variable?); give a file name"
    return None


RESOURCE_TRACKER_WARNING = "ignore:resource_tracker:UserWarning"


def _quiet_resource_tracker() -> None:
    """multiprocessing's resource tracker (a helper process) warns about "leaked semaphores" it cleans up
    after an interrupted command; that cleanup is right and the warning is noise, so it is filtered in the
    processes this command starts (the filter names only that message)."""
    current = os.environ.get("PYTHONWARNINGS", "")
    if RESOURCE_TRACKER_WARNING not in current:
        os.environ["PYTHONWARNINGS"] = ",".join(x for x in (current, RESOURCE_TRACKER_WARNING) if x)


@functools.lru_cache(maxsize=1)
def _command():
    """The click command of the app (built once: building it reads every command's signature)."""
    return typer.main.get_command(app)


def run(argv: Sequence[str] | None = None) -> int:
    """Run `sim ARGS...` in this process; return the exit code (0 ok, 1 failure, 2 bad input, 128+N signal)."""
    from sim import lifeline

    args = list(sys.argv[1:] if argv is None else argv)
    empty = _empty_argument(args)
    if empty is not None:
        _line(empty)
        return 2
    if "sim.model.scenario" in sys.modules:  # an earlier command in this process read a scenario
        sys.modules["sim.model.scenario"].forget_loaded()
    lifeline.become_root()
    _quiet_resource_tracker()
    command = _command()
    with lifeline.signals_interrupt():
        try:
            try:
                with command.make_context("sim", args) as ctx:
                    command.invoke(ctx)
                return 0
            except (typer.Exit, click.exceptions.Exit) as exc:
                return exc.exit_code
            except _NO_ARGS_HELP as exc:
                click.echo(exc.ctx.get_help())
                return 0
            except (_click_errors.UsageError, click.UsageError) as exc:
                _line(_usage_line(exc))
                return 2
            except (typer.Abort, click.exceptions.Abort):
                raise KeyboardInterrupt from None
            except UserInputError as exc:  # a library error that escaped a command
                _line(f"error: {with_scenario_file(exc)}")
                return 2
            except ReportError as exc:
                if lifeline.interrupted_by() is not None:
                    raise KeyboardInterrupt from None
                _line(f"error: report failed: {exc}")
                return 1
            except MemoryError:
                _line(
                    "error: out of memory; use --engine fast (the same model, counted instead of simulated person"
                    " by person), fewer --replications, or a smaller market"
                )
                return 1
            except BrokenPipeError:  # `sim ... | head`: the reader left; not an error of ours
                with open(os.devnull, "w") as devnull:
                    os.dup2(devnull.fileno(), sys.stdout.fileno())
                return 141
            except Exception as exc:
                if lifeline.interrupted_by() is not None:  # a library turned the interrupt into something else
                    raise KeyboardInterrupt from None
                if os.environ.get(DEBUG_ENV):
                    raise
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                _line(
                    f"error: unexpected {type(exc).__name__}: {first} (this is a bug in sim; set {DEBUG_ENV}=1 to"
                    " see the traceback)"
                )
                return 1
        except KeyboardInterrupt:
            lifeline.stop_children(grace=1.0)
            signum = lifeline.interrupted_by()
            _line(_interrupted_line(signum))
            return 128 + (signum or 2)


def main() -> None:
    """Entry point for `sim` and `python -m sim`."""
    code = run()
    if code >= 128:  # interrupted: leave without the interpreter's shutdown (threads, kernels' sockets) talking
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
