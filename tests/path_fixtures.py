"""The scenarios of the consultant's path, made once per test session, and the checks every output file passes.

Scenarios: the three samples (scaled to a tenth, `sim.model.scaling.scaled`), and scenarios written by
`sim calibrate` from the sample export (English and Korean headers, with and without the spend log) and from a
real public order log (CDNOW's 1/10 sample, bundled in the lifetimes wheel). A calibrated scenario is edited as
a consultant edits it (the horizon shortened in the YAML text, comments kept), so the runs stay cheap.

Checks: no NaN, infinity or empty cell where a number is due, in CSV, JSON and the text of an HTML report.
`write_json` turns NaN into null, so a null is as suspect as a NaN: only the keys named in `MAY_BE_NULL`
(with the reason) may be null.
"""

from __future__ import annotations

import atexit
import html
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pandas as pd
import yaml
from conftest import ROOT, SAMPLE_FILES, small
from typer.testing import CliRunner

from sim.cli import app

EXPORT = ROOT / "data" / "samples" / "client_export"
MONTHS = 6  # horizon of every scenario of the matrix: short, so that every command stays cheap
SAMPLE_NAMES = [p.stem for p in SAMPLE_FILES]

# name -> (order log, calibrate flags); the market is set small (--market-size) where a plan reaches it, and left
# to its default (an assumption with a warning) where nothing is spent on reach
CALIBRATED = {
    # the README's Monday command: orders with the spend log and the CRM lift test
    "export_spend": (
        "orders.csv",
        ["--spend", "{export}/spend.csv", "--lift-test", "{export}/lift_test.csv"]
        + ["--currency", "KRW", "--market-size", "60000"],
    ),
    # the usual case: an order log only, with the plan to test given on the command line
    "export_plan": (
        "orders.csv",
        ["--currency", "KRW", "--market-size", "60000", "--budget", "20000000"]
        + ["--split", "front=0.5,back=0.4,winback=0.1"],
    ),
    # the Korean export (CP949, Korean headers, amounts with thousands separators) with the spend log
    "export_ko_spend": (
        "orders_ko.csv",
        ["--spend", "{export}/spend.csv", "--currency", "KRW", "--market-size", "60000"],
    ),
    # the Korean export alone: no spend log, no plan, no market size (budget 0, market an assumption)
    "export_ko_alone": ("orders_ko.csv", ["--currency", "KRW"]),
    # a real shop's log: CDNOW's 1/10 sample (2,357 customers, 1997-01 .. 1998-06, US dollars), no plan
    "cdnow": ("cdnow", ["--currency", "USD"]),
}
CALIBRATED_NAMES = list(CALIBRATED)
ZERO_BUDGET = {"export_ko_alone", "cdnow"}  # no spend log and no --budget: nothing to split
REAL_PROCESS = {"export_spend"}  # calibrated by a real `python -m sim` process (the others in-process)

_FOLDER: Path | None = None


def session_folder() -> Path:
    """One temporary folder for the session's scenarios, removed when the interpreter exits."""
    global _FOLDER
    if _FOLDER is None:
        _FOLDER = Path(tempfile.mkdtemp(prefix="consultant-path-"))
        atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
    return _FOLDER


def cdnow_sample_csv(folder: Path) -> Path:
    """CDNOW's 1/10 sample (lifetimes' CDNOW_sample.txt: master id, id, yyyymmdd, CDs, dollars) as an order export
    with the three columns a shop exports."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        import pytest

        pytest.skip("lifetimes (dev extra) is not installed: pip install lifetimes==0.11.3")
    raw = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_sample.txt"
    names = ["master_id", "customer_id", "order_date", "quantity", "amount"]
    d = pd.read_csv(raw, sep=r"\s+", header=None, names=names, dtype=str)
    d["order_date"] = pd.to_datetime(d["order_date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    out = folder / "cdnow_orders.csv"
    d[["customer_id", "order_date", "amount"]].to_csv(out, index=False)
    return out


def stayers_export(share: float, n: int = 6000, seed: int = 1) -> pd.DataFrame:
    """A synthetic BG/NBD export (r 0.7, alpha 40, a 3, b 6: dropout chances near 1/3, two years, first orders
    in the first 240 days) in which `share` of the customers never drops out."""
    import numpy as np

    from sim.calibration import bgnbd

    rng = np.random.default_rng(seed)
    k = int(round(share * n))
    parts = []
    for m, (a, b), offset in ((n - k, (3.0, 6.0), 0), (k, (1e-9, 1.0), n - k)):
        if m:
            cust, day = bgnbd.simulate_transactions(m, 0.7, 40.0, a, b, 720, rng, acquisition_days=240)
            parts.append(pd.DataFrame({"customer_id": cust + offset, "day": day}))
    tx = pd.concat(parts).drop_duplicates()
    return pd.DataFrame(
        {
            "customer_id": tx["customer_id"].astype(str),
            "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(tx["day"], "D"),
        }
    ).assign(amount=1.0)


@cache
def stayers_calibration() -> Path:
    """A scenario calibrated by `sim calibrate` from `stayers_export(0.25)` (it keeps BG/NBD with stayers),
    horizon MONTHS."""
    folder = session_folder() / "stayers"
    folder.mkdir(parents=True, exist_ok=True)
    orders = folder / "orders.csv"
    stayers_export(0.25).to_csv(orders, index=False)
    out = folder / "scenario.yaml"
    result = CliRunner().invoke(app, ["calibrate", str(orders), "--currency", "USD", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    out.write_text(re.sub(r"(?m)^(  horizon_months: )\d+", rf"\g<1>{MONTHS}", text), encoding="utf-8")
    return out


def calibrate_args(name: str, out: Path) -> list[str]:
    """The `sim calibrate` arguments of a calibrated scenario of the matrix."""
    source, flags = CALIBRATED[name]
    orders = cdnow_sample_csv(session_folder()) if source == "cdnow" else EXPORT / source
    return ["calibrate", str(orders), *(f.format(export=EXPORT) for f in flags), "--out", str(out)]


@cache
def calibration(name: str) -> tuple[Path, str]:
    """(scenario YAML, calibrate's output) of a calibrated scenario, made once a session, its horizon shortened
    to MONTHS in the YAML text (a consultant's edit: comments and the snapshot stay)."""
    folder = session_folder() / name
    out = folder / "scenario.yaml"
    if name in REAL_PROCESS:
        cmd = [sys.executable, "-m", "sim", *calibrate_args(name, out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=subprocess_env())
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        output = done.stdout + done.stderr
    else:
        result = CliRunner().invoke(app, calibrate_args(name, out))
        assert result.exit_code == 0, result.output
        output = result.output
    text = out.read_text(encoding="utf-8")
    edited, n = re.subn(r"(?m)^(  horizon_months: )\d+", rf"\g<1>{MONTHS}", text)
    assert n == 1, "the calibrated YAML has one simulation -> horizon_months line"
    out.write_text(edited, encoding="utf-8")
    return out, output


def subprocess_env() -> dict[str, str]:
    """The environment of a real `python -m sim` process: this checkout's `sim` first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@cache
def sample_file(name: str) -> Path:
    """A sample scaled to a tenth and MONTHS months, written as a scenario YAML."""
    s = small(name, factor=0.1, months=MONTHS)
    path = session_folder() / "samples" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(s.model_dump(mode="json"), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def scenario_file(name: str) -> Path:
    return sample_file(name) if name in SAMPLE_NAMES else calibration(name)[0]


# -- checks on output files ----------------------------------------------------------------------------------

# JSON keys that may be null, and why (a null anywhere else is a number that went missing, or a NaN written as null)
MAY_BE_NULL = {
    "payback_months": "the acquired customers have not paid back their acquisition cost within the horizon",
    "retention_12m": "a horizon shorter than 12 months has no 12-month retention",
    "cac": "a plan without front-end spend acquired its customers at no cost: CAC is not defined",
    "ltv_cac": "CLV over a CAC that is not defined (no front-end spend)",
    "spend_source": "calibrated without a spend log",
    "client": "no client name given (the report shows the scenario's name)",
    "monthly_cap": "a constraint not set",
    "payback_within_months": "a constraint not set",
    "budget_cap": "a constraint not set",
    "first_step_roi": "a purpose the plan leaves empty whose first units earn less than the hurdle: nothing to cut, no step tried",
}
# CSV columns that may have empty cells in any file, and why
MAY_BE_EMPTY_ANYWHERE = {
    "retention_12m": "a horizon shorter than 12 months has no 12-month retention",
    "events": "the promotions running in a month (capacity_monthly.csv): a month without one names none",
}


def finite_csv(path: Path, may_be_empty: tuple[str, ...] = (), absent_figure: bool = False) -> pd.DataFrame:
    """Read a CSV and assert that no numeric cell is NaN or infinite and no text cell is 'nan', 'inf' or 'None'.
    `may_be_empty`: names (or prefixes) of columns that may have empty cells.
    `absent_figure`: the file may be empty (a report writes one for a figure it does not have)."""
    assert path.is_file(), f"{path} was not written"
    if absent_figure and not path.read_text(encoding="utf-8").strip():
        return pd.DataFrame()
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert len(frame.columns), f"{path} has no columns"
    for col in frame.columns:
        if col.startswith(tuple(may_be_empty)) or col in MAY_BE_EMPTY_ANYWHERE:
            continue
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values):
            bad = ~values.map(lambda v: math.isfinite(float(v)))
        else:
            bad = values.isna() | values.astype(str).str.strip().str.lower().isin(
                ["nan", "inf", "-inf", "none", "null"]
            )
        assert not bad.any(), f"{path.name}: column {col!r} has {int(bad.sum())} missing or non-finite cells"
    return frame


def _reject_constant(token: str):
    raise AssertionError(f"JSON holds {token}")


def finite_json(path: Path, may_be_null: set[str] = frozenset()) -> object:
    """Read a JSON file and assert that it holds no NaN/Infinity token and no null outside MAY_BE_NULL."""
    assert path.is_file(), f"{path} was not written"
    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    allowed = set(MAY_BE_NULL) | set(may_be_null)
    nulls = [where for where in _nulls(data, path.name) if where.rsplit(".", 1)[-1] not in allowed]
    assert not nulls, f"null where a number is due: {nulls[:8]}"
    return data


def _nulls(value: object, where: str) -> list[str]:
    if value is None:
        return [where]
    if isinstance(value, float) and not math.isfinite(value):
        return [where]
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in _nulls(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [w for i, v in enumerate(value) for w in _nulls(v, f"{where}[{i}]")]
    return []


def html_text(path: Path) -> str:
    """The visible text of an HTML report: scripts, styles and embedded images removed, tags stripped."""
    assert path.is_file(), f"{path} was not written"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?is)<img\b[^>]*>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text))


NOT_A_NUMBER = re.compile(r"(?<![\w.])(nan|NaN|inf|-inf|Infinity|None|null)(?![\w])")


def assert_no_missing_numbers(text: str, where: str) -> None:
    found = [text[max(0, m.start() - 60) : m.end() + 20] for m in NOT_A_NUMBER.finditer(text)]
    assert not found, f"{where}: {found[:5]}"
