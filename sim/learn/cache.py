"""Chapter 9's optimizer runs, shipped with the package: the chapter, its check cells and its notebook read them
instead of running `sim optimize` for minutes in a trainee's kernel.

The runs are stored as JSON in `sim/learn/data/optimizer_runs.json`, each under a key made of everything it
depends on in the input (the scenario in full, the objective, the replications, the break-evens switch), with
the fingerprint of the code that computed them (the model, the engines, the analysis). They are regenerated
by a script and checked by a test against a fresh computation on a small case:

    python -m sim.learn.cache --write    # recompute every run the chapter quotes (minutes), then rewrite
                                         # the chapter's figures: python -m sim.learn.figures --write
    python -m sim.learn.cache --check    # recompute the small case and compare (tests/test_learn_cache.py)

A run asked for that is not stored (the learning scenario changed, the schema gained a field) is computed,
with a warning that says to regenerate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.io import plain

SIM = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().with_name("data") / "optimizer_runs.json"
MODEL_CODE = ("model", "engines", "analysis", "calibration", "__init__.py", "errors.py", "io.py")
LIBRARIES = ("numpy", "pandas", "scipy", "numba")
FRAMES = ("periods", "decomposition", "curve", "breakevens")
TOLERANCE = 1e-6  # relative and absolute: a fresh run equals the stored one but for floating-point noise
REGENERATE = "python -m sim.learn.cache --write, then python -m sim.learn.figures --write"


# -- what a run depends on -------------------------------------------------------------------------------


@cache
def code_fingerprint() -> str:
    """A hash of the source the runs depend on and of the numerical libraries' versions (recorded beside the
    runs: it says which code computed them; the small-case check says whether today's code agrees)."""
    from importlib import metadata

    digest = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for name in LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none".encode())
    for part in MODEL_CODE:
        path = SIM / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(SIM)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def key_digest(key: dict[str, Any]) -> str:
    """The stored name of a run: a hash of its inputs (JSON, keys sorted)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]


# -- a run as JSON and back ------------------------------------------------------------------------------


def _frame(frame: pd.DataFrame) -> dict[str, Any]:
    return {"columns": list(frame.columns), "rows": _json(frame.to_numpy(dtype=object).tolist())}


def _json(value: Any) -> Any:
    """JSON-ready data (dates left as they are: the cache holds none)."""
    return plain(value, dates=None)


def _unframe(stored: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(stored["rows"], columns=stored["columns"])
    for column in frame.columns:  # a numeric column stored with nulls reads back as floats with NaN
        values = frame[column]
        if values.dtype == object and all(v is None or isinstance(v, int | float) for v in values):
            if not all(v is None for v in values) and not any(isinstance(v, bool) for v in values):
                frame[column] = values.astype(float)
    return frame


def to_record(result) -> dict[str, Any]:
    """An `OptimizationResult` as JSON-ready data (every field; the timings of the stages left out)."""
    path = result.recommended_path
    return {
        "objective": result.objective,
        "hurdle_rate": result.hurdle_rate,
        "period": result.period,
        **{name: _frame(getattr(result, name)) for name in FRAMES},
        **{
            name: _json(getattr(result, name))
            for name in (
                "current_split",
                "recommended_split",
                "current_channel_split",
                "recommended_channel_split",
                "current_value",
                "recommended_value",
                "current_band",
                "recommended_band",
                "uplift_mean",
                "uplift_p05",
                "uplift_p95",
                "kpis",
                "marginal_roi",
                "advice",
                "monthly_totals",
            )
        },
        "constraints": result.constraints.as_dict(),
        "recommended_path": None
        if path is None
        else {
            "period_months": path.period_months,
            **{k: _json(getattr(path, k)) for k in ("levels", "shares", "mix")},
        },
        "meta": _json({k: v for k, v in result.meta.items() if k != "timings"}),
    }


def from_record(record: dict[str, Any]):
    """The `OptimizationResult` a record was made from."""
    from sim.analysis.constraints import Constraints
    from sim.analysis.optimize import OptimizationResult
    from sim.analysis.plans import PlanPath

    path = record["recommended_path"]
    totals = record["monthly_totals"]
    constraints = record["constraints"]
    return OptimizationResult(
        **{k: v for k, v in record.items() if k not in (*FRAMES, "recommended_path", "monthly_totals", "constraints")}
        | {name: _unframe(record[name]) for name in FRAMES}
        | {"current_band": tuple(record["current_band"]), "recommended_band": tuple(record["recommended_band"])},
        constraints=Constraints(**constraints),
        recommended_path=None
        if path is None
        else PlanPath(path["period_months"], *(np.asarray(path[k], dtype=float) for k in ("levels", "shares", "mix"))),
        monthly_totals=None if totals is None else np.asarray(totals, dtype=float),
    )


def differences(stored: Any, fresh: Any, where: str = "") -> list[str]:
    """Where two records differ beyond floating-point noise (one line each: the path and both values)."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        if stored.keys() != fresh.keys():
            return [f"{where or 'record'}: keys {sorted(stored)} != {sorted(fresh)}"]
        return [line for k in stored for line in differences(stored[k], fresh[k], f"{where}.{k}" if where else k)]
    if isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            return [f"{where}: {len(stored)} items stored, {len(fresh)} now"]
        return [
            line
            for i, (s, f) in enumerate(zip(stored, fresh, strict=True))
            for line in differences(s, f, f"{where}[{i}]")
        ]
    numbers = (int, float)
    if isinstance(stored, numbers) and isinstance(fresh, numbers) and not isinstance(stored, bool):
        if math.isclose(stored, fresh, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            return []
    elif stored == fresh:
        return []
    return [f"{where}: stored {stored!r}, now {fresh!r}"]


# -- the stored runs -------------------------------------------------------------------------------------


@cache
def stored_runs() -> dict[str, Any]:
    """The shipped file: {"code_fingerprint", "regenerate", "runs": {digest: {"label", "key", "result"}}}."""
    try:
        return json.loads(DATA.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"code_fingerprint": None, "regenerate": REGENERATE, "runs": {}}


def cached(label: str, key: dict[str, Any], compute: Callable[[], Any]):
    """The stored run for `key`, or `compute()` with a warning when none is stored."""
    run = stored_runs()["runs"].get(key_digest(key))
    if run is not None:
        return from_record(run["result"])
    warnings.warn(
        f"the optimizer run {label!r} is not among the shipped ones ({DATA.name}); computing it (minutes). "
        f"Regenerate them: {REGENERATE}",
        stacklevel=2,
    )
    return compute()


def write(runs: list[tuple[str, dict[str, Any], Callable[[], Any]]], path: Path = DATA) -> Path:
    """Compute every (label, key, compute) and write them all, atomically."""
    from sim.io import write_text

    out = {}
    for label, key, compute in runs:
        print(f"computing {label} ...", flush=True)
        out[key_digest(key)] = {"label": label, "key": key, "result": to_record(compute())}
    body = {"code_fingerprint": code_fingerprint(), "regenerate": REGENERATE, "runs": out}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    stored_runs.cache_clear()
    return path


def check(label: str, key: dict[str, Any], compute: Callable[[], Any]) -> list[str]:
    """Recompute one run and compare it with the stored one: [] when they agree, else the differences."""
    run = stored_runs()["runs"].get(key_digest(key))
    if run is None:
        return [f"{label}: not stored in {DATA.name} (regenerate: {REGENERATE})"]
    return [f"{label}: {line}" for line in differences(run["result"], json.loads(json.dumps(to_record(compute()))))]


def main(argv: list[str] | None = None) -> int:
    from sim.learn import splitting

    parser = argparse.ArgumentParser(prog="python -m sim.learn.cache", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="recompute every run chapter 9 quotes and store them")
    group.add_argument(
        "--check", action="store_true", help="recompute the small case and compare it with the stored one"
    )
    args = parser.parse_args(argv)
    if args.write:
        print(f"wrote {write(splitting.shipped_runs())}")
        return 0
    problems = check(*splitting.check_run())
    same = stored_runs()["code_fingerprint"] == code_fingerprint()
    print("stored runs computed by " + ("this code" if same else "other code (the small case decides)"))
    for line in problems[:20]:
        print(line)
    print("the small case agrees with the stored run" if not problems else f"{len(problems)} differences: {REGENERATE}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
