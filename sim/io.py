"""Writing outputs safely: every file goes to a temporary name in the same folder, then is renamed.

A crash or a kill never leaves a half-written CSV, JSON or report behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import UserInputError
from sim.model.result import SimulationResult


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it onto `target`, else delete it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs should read like any other file
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | Path, text: str) -> Path:
    """Write text atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(target: str | Path, data: Any) -> Path:
    """Write JSON atomically (UTF-8, indented, NaN written as null)."""
    return write_text(target, json.dumps(_jsonable(data), indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_csv(target: str | Path, frame: pd.DataFrame, **kwargs: Any) -> Path:
    """Write a CSV atomically."""
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


def ensure_output_dir(out: str | Path) -> Path:
    """Create the output folder or explain why it cannot be used."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise UserInputError("exists and is not a folder", location="--out", found=str(p))
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot create output folder: {exc.strerror}", location="--out", found=str(p)) from None
    return p


def write_run_outputs(result: SimulationResult, kpis: dict[str, Any], out: str | Path) -> list[Path]:
    """timeseries.csv, kpis.json and (when the engine keeps one) orders.csv in `out`."""
    folder = ensure_output_dir(out)
    written = [write_csv(folder / "timeseries.csv", result.timeseries_frame())]
    written.append(write_json(folder / "kpis.json", kpis))
    if result.orders is not None:
        written.append(write_csv(folder / "orders.csv", result.orders))
    return written
