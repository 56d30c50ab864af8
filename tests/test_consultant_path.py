"""The consultant's path, end to end: every command on every kind of scenario a consultant meets (issue 11).

Scenarios (`path_fixtures`): the three samples, scaled to a tenth; the sample export calibrated with the spend log
and lift test (the README's Monday command), without them but with a plan from the flags, the Korean export with
the spend log, and alone (budget 0, market an assumption); and a real public log (CDNOW's 1/10 sample, budget 0).
Commands: validate, run (each engine, with and without replications), optimize, forecast, score, report in both
languages into one folder, and batch. Every cell checks the exit code, that every output file exists and holds no
NaN, infinity or null where a number is due, and the money identities that are cheap to check.

Kept cheap on purpose (the suite's time budget): each export is calibrated once a session, horizons are 6 months,
the fast engine runs where a command takes an engine, optimize runs with its cheapest settings (one case keeps
the break-evens), most cells call the CLI in-process, and one report per language plus one batch of two prove
the report path.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_FILES
from path_fixtures import (
    CALIBRATED_NAMES,
    MONTHS,
    SAMPLE_NAMES,
    ZERO_BUDGET,
    assert_no_missing_numbers,
    calibrate_args,
    calibration,
    finite_csv,
    finite_json,
    html_text,
    scenario_file,
    subprocess_env,
)
from typer.testing import CliRunner

from sim.cli import app
from sim.engines import engine_names, get_engine
from sim.model.kpis import KPI_NAMES
from sim.model.result import ORDER_COLUMNS, STAGES, TIMESERIES_COLUMNS
from sim.model.scenario import load_scenario
from sim.report.i18n import t

SCENARIOS = [*SAMPLE_NAMES, *CALIBRATED_NAMES]
SPENDS = ["spend_front", "spend_back", "spend_winback", "event_cost"]


def invoke(*args: str):
    """The CLI in-process; the result's output holds stdout and stderr."""
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error_line(result) -> str:
    """A refusal is exit 2 and one line starting with 'error:', no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), scale, 1.0)


# -- calibrate: the scenario a consultant reads and edits -------------------------------------------------------


@pytest.mark.parametrize("name", CALIBRATED_NAMES)
def test_calibrate_writes_a_scenario_that_says_where_each_value_came_from(name):
    path, output = calibration(name)
    text = path.read_text(encoding="utf-8")
    s = load_scenario(path)
    # the currency is the one given, never guessed
    assert s.economics.currency == ("USD" if name == "cdnow" else "KRW")
    size_line = next(line for line in text.splitlines() if line.strip().startswith("size:"))
    if "--market-size" in calibrate_args(name, path):
        assert s.market.size == 60000
    else:  # the market is an assumption: written with a comment, and said in one warning line
        assert "ASSUMPTION" in size_line and "--market-size" in size_line
        assert sum("market size is an assumption" in line for line in output.splitlines()) == 1
    # every number of the model's blocks carries a comment (unit, meaning, source); a split's shares are
    # commented once, on the split's own line
    body = text.split("\ncalibration:")[0]
    bare = [line for line in _numeric_fields(body) if "#" not in line]
    assert not bare, f"numbers without a comment: {bare[:5]}"
    for block in ("retention", "experience", "loyalty", "referral", "winback"):
        assert f"\n{block}:" in body, f"{block} is written out"
        head = body.split(f"\n{block}:")[1].splitlines()[0]
        assert "ASSUMPTION" in head or "fitted" in head or "lift test" in head, f"{block}: {head}"
    # no spend log and no --budget: budget 0 (no plan); else the plan's monthly total
    assert (max(s.budget.totals) == 0) == (name in ZERO_BUDGET)
    assert s.market.existing.snapshot is not None and s.simulation.horizon_months == MONTHS


def _numeric_fields(body: str) -> list[str]:
    """The YAML lines that set a number, outside the purpose and channel splits."""
    lines, parents = [], []
    for line in body.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        parents = [(i, k) for i, k in parents if i < indent]
        key, _, value = line.strip().partition(":")
        value = value.split("#")[0].strip()
        if not value:
            parents.append((indent, key))
        elif re.fullmatch(r"[-+0-9.e\[\], ]+", value) and not {"purpose_split", "channel_split"} & {
            k for _, k in parents
        }:
            lines.append(line)
    return lines


def test_calibrate_refuses_to_guess_the_currency(tmp_path):
    """orders.csv's amounts are plain numbers: without --currency, one line asking for it, nothing written."""
    out = tmp_path / "client" / "scenario.yaml"
    args = [a for a in calibrate_args("export_plan", out) if a not in ("--currency", "KRW")]
    line = one_error_line(invoke(*args))
    assert "currency" in line and "--currency" in line
    assert not out.exists() and not any(tmp_path.rglob("*.csv"))


# -- validate ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_validate(name):
    result = invoke("validate", scenario_file(name))
    assert result.exit_code == 0, result.output
    assert "valid scenario" in result.output


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_validate_the_shipped_samples(path):
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output


# -- run --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("replications", [1, 2])
@pytest.mark.parametrize("engine", engine_names())
@pytest.mark.parametrize("name", SCENARIOS)
def test_run(name, engine, replications, tmp_path):
    path = scenario_file(name)
    s = load_scenario(path)
    out = tmp_path / "out"
    args = ["run", path, "--out", out, "--engine", engine, "--replications", str(replications), "--seed", "5"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    bands = [f"{c}_{q}" for c in TIMESERIES_COLUMNS[1:] for q in ("p05", "p95")] if replications > 1 else []
    ts = finite_csv(out / "timeseries.csv")
    assert list(ts.columns[: len(TIMESERIES_COLUMNS)]) == TIMESERIES_COLUMNS
    assert set(bands) <= set(ts.columns)
    assert (
        len(ts)
        == (
            pd.Timestamp(s.simulation.start_date) + pd.DateOffset(months=MONTHS) - pd.Timestamp(s.simulation.start_date)
        ).days
    )
    # books balance every day (means of replications balance too: the identities are linear)
    scale = float(ts["revenue"].abs().max())
    np.testing.assert_allclose(ts[STAGES].sum(axis=1), s.market.size, rtol=1e-9)
    np.testing.assert_allclose(ts["revenue"], ts["revenue_new"] + ts["revenue_returning"], rtol=1e-9, atol=1e-6 * scale)
    spend = ts[[c for c in SPENDS if c in ts.columns]].sum(axis=1)
    np.testing.assert_allclose(ts["contribution"], ts["gross_profit"] - spend, rtol=1e-9, atol=1e-6 * scale)
    kpis = finite_json(out / "kpis.json", may_be_null=_undefined_kpis(s, ts))
    assert set(KPI_NAMES) <= set(kpis)
    assert close(kpis["cumulative_contribution"], float(ts["contribution"].sum()), scale)
    if get_engine(engine).writes_orders:
        orders = finite_csv(out / "orders.csv")
        assert list(orders.columns[: len(ORDER_COLUMNS)]) == ORDER_COLUMNS
        assert set(orders["experience"]) <= {"dissatisfied", "satisfied", "delighted"}
        if replications == 1:  # the order log is the run's: same orders, same revenue
            assert len(orders) == ts["orders"].sum()
            # amounts are written to the cent: the log's total is the revenue within half a cent an order
            assert abs(orders["amount"].sum() - ts["revenue"].sum()) <= 0.005 * len(orders) + 1e-6 * scale
    else:
        assert not (out / "orders.csv").exists()


def _undefined_kpis(s, ts: pd.DataFrame) -> set[str]:
    """KPIs a run has no figure for, by their definition (null is honest there, a number would be made up)."""
    undefined = set()
    if s.simulation.horizon_months < 12:
        undefined.add("retention_12m")
    if ts["new_customers"].sum() <= 0:  # nobody acquired: no CAC, no new customers' conversion or CLV
        undefined |= {"cac", "clv", "ltv_cac", "payback_months", "repeat_purchase_rate", "first_purchase_conversion"}
    if ts["spend_front"].sum() <= 0:
        undefined |= {"cac", "ltv_cac", "payback_months"}
    return undefined


# CSV columns that may have empty cells, and why
MAY_BE_EMPTY = {
    # an assumed input has no standard error (a fitted one has); no break-even where the plan holds over the range
    "breakevens.csv": (
        "standard_error",
        *(f"{side}_{c}" for side in ("low", "high") for c in ("breakeven", "split", "holds_at", "changes_at")),
    ),
    "funnel.csv": ("rate_from_previous",),  # the funnel's first step has no previous step
}

# -- optimize ---------------------------------------------------------------------------------------------------

# the one cell that keeps the break-evens (the cheapest sample; the report test finds them on a calibrated client)
BREAKEVENS_KEPT = "mature_marketplace"


@pytest.mark.parametrize("name", SCENARIOS)
def test_optimize(name, tmp_path):
    path = scenario_file(name)
    out = tmp_path / "opt"
    args = ["optimize", path, "--out", out, "--replications", "2", "--period", "half", "--seed", "3"]
    if name != BREAKEVENS_KEPT:
        args.append("--no-breakevens")
    result = invoke(*args)
    if name in ZERO_BUDGET:  # nothing to split: one line naming the field, nothing written
        line = one_error_line(result)
        assert "budget -> totals" in line
        assert not out.exists() or not any(out.iterdir())
        return
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    for expected in ("recommendation.json", "curve.csv", "marginal_roi.json", "decomposition.csv", "path.csv"):
        assert expected in written, written
    for csv in out.glob("*.csv"):
        finite_csv(csv, may_be_empty=MAY_BE_EMPTY.get(csv.name, ()))
    rec = json.loads((out / "recommendation.json").read_text(encoding="utf-8"))
    # a plan that spends nothing on acquisition wins nobody: it has no CAC, LTV:CAC or payback
    no_front = min(rec["current_split"]["front"], rec["recommended_split"]["front"]) <= 0
    rec = finite_json(
        out / "recommendation.json", may_be_null={"cac", "ltv_cac", "payback_months"} if no_front else set()
    )
    finite_json(out / "marginal_roi.json")
    # the gain in parts adds up to the gain; the current plan's value is its contribution (the KPI table's figure)
    parts = pd.read_csv(out / "decomposition.csv")
    scale = abs(rec["current_value"]) + abs(rec["recommended_value"])
    assert close(float(parts["value"].sum()), rec["uplift_mean"], scale)
    assert close(rec["recommended_value"] - rec["current_value"], rec["uplift_mean"], scale)
    assert abs(sum(rec["recommended_split"].values()) - 1.0) < 1e-9
    from sim.engines.fast import run_fast
    from sim.model.kpis import compute_kpis

    current = compute_kpis(run_fast(load_scenario(path)))["cumulative_contribution"]
    assert close(rec["current_value"], current, scale)
    if name == BREAKEVENS_KEPT:
        assert len(pd.read_csv(out / "breakevens.csv")) > 0


# -- forecast and score -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_forecast(name, tmp_path):
    path = scenario_file(name)
    out = tmp_path / "forecast.csv"
    result = invoke("forecast", path, "--weeks", "8", "--out", out, "--draws", "20")
    assert result.exit_code == 0, result.output
    table = finite_csv(out)
    assert len(table) == 8
    # orders: the base's repeat orders, the new customers' first (and later) orders, comebacks
    scale = float(table["orders"].max())
    assert (table["orders"] >= table["base_repeat_orders"] + table["new_customers"] - 1e-9 * scale).all()
    for col in ("base_repeat_orders", "new_customers", "orders", "revenue"):
        assert (table[f"{col}_p05"] <= table[f"{col}_p95"] + 1e-9).all(), col
    if name in ZERO_BUDGET:  # nothing spent: no new customers, and every order is the base's
        assert (table["new_customers"] == 0).all()
        np.testing.assert_allclose(table["orders"], table["base_repeat_orders"], rtol=1e-9)
    assert "e+" not in result.output, "messages print figures without scientific notation"


@pytest.mark.parametrize("name", SCENARIOS)
def test_score(name, tmp_path):
    path = scenario_file(name)
    out = tmp_path / "customers.csv"
    result = invoke("score", path, "--weeks", "13", "--out", out)
    if name in SAMPLE_NAMES:  # a sample has counts, not customers: one line saying what is needed
        line = one_error_line(result)
        assert "snapshot" in line and not out.exists()
        return
    assert result.exit_code == 0, result.output
    table = finite_csv(out)
    s = load_scenario(path)
    snapshot = pd.read_csv(calibration(name)[0].with_suffix(".customers.csv"), dtype={"customer_id": str})
    assert table["customer_id"].is_unique and len(table) == len(snapshot)
    assert table["p_alive"].between(0.0, 1.0).all() and (table["expected_orders"] >= 0).all()
    assert s.economics.currency in result.output


# -- reports ----------------------------------------------------------------------------------------------------

REPORT_SCENARIO = "export_ko_spend"  # the README's Tuesday: a calibrated client with a plan, both languages
# order logs alone (budget 0): a real shop's and the Korean export; their reports need no optimizer, so they are cheap
BATCH_SCENARIOS = ["cdnow", "export_ko_alone"]


# summary.csv's columns that belong to a plan (empty for a scenario without one)
SUMMARY_PLAN_COLUMNS = (
    ("client",)
    + tuple(f"{w}_share_{p}" for w in ("current", "recommended") for p in ("front", "back", "winback"))
    + ("uplift_mean", "uplift_p05", "uplift_p95")
)


def _check_report(html, data_dir, lang: str, s) -> str:
    text = html_text(html)
    assert_no_missing_numbers(text, html.name)
    meta = finite_json(data_dir / "meta.json", may_be_null={"client"})
    for csv in data_dir.glob("*.csv"):
        finite_csv(csv, may_be_empty=MAY_BE_EMPTY.get(csv.name, ()), absent_figure=True)
    # every figure names its period: the horizon and its first month; a plan's figures name the plan
    start = pd.Timestamp(s.simulation.start_date)
    end = start + pd.DateOffset(months=MONTHS) - pd.Timedelta(days=1)
    has_plan = min(s.budget.totals) > 0
    if lang == "en":
        assert f"{MONTHS}-month horizon from {start:%b %Y}" in text
        period = f"{start.day} {start:%b %Y} to {end.day} {end:%b %Y} ({MONTHS} months)"
        named = "Current plan:" in text and "Recommended plan:" in text and period in text
        assert named == has_plan, "the KPI table names both plans and their period"
    else:
        assert f"{start.year}" in text and f"{MONTHS}개월" in text
        named = "현재 계획:" in text and "추천안:" in text and f"({MONTHS}개월)" in text
        assert named == has_plan, "the KPI table names both plans and their period"
    assert meta["horizon_months"] == MONTHS and meta["currency"] == s.economics.currency
    return text


def test_report_in_both_languages_into_one_folder(tmp_path):
    """`sim report` in real processes, English then Korean into the same --out: two reports side by side."""
    path = scenario_file(REPORT_SCENARIO)
    s = load_scenario(path)
    out = tmp_path / "report"
    pages = {}
    for lang, stem in (("en", ""), ("ko", ".ko")):
        cmd = [
            sys.executable,
            "-m",
            "sim",
            "report",
            str(path),
            "--out",
            str(out),
            "--lang",
            lang,
            "--replications",
            "4",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=subprocess_env())
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr[-2000:]
        (html,) = [p for p in out.glob(f"*{stem}.html") if lang == "ko" or not p.name.endswith(".ko.html")]
        slug = html.name.removesuffix(f"{stem}.html")
        data = out / f"{slug}{stem}_data"
        assert (out / f"{slug}{stem}.ipynb").is_file() and f"wrote {html}" in done.stdout
        kpis = finite_json(data / "kpis.json", may_be_null={"retention_12m"})
        assert set(KPI_NAMES) <= set(kpis)
        pages[lang] = _check_report(html, data, lang, s)
    assert len(list(out.glob("*.html"))) == 2, "the Korean report sits beside the English one"
    assert pages["en"] != pages["ko"]
    # a calibrated scenario has no loyal stage and neutral experience effects (assumptions): the report says so,
    # rather than "0 of them loyal" beside a funnel of loyal order histories, or a "best" value of a lever that
    # moves nothing
    for lang, text in pages.items():
        no_loyal = t("stages.reading_no_loyal", lang, active="", lapsed="", unaware="", never_met="", forgot="")
        assert no_loyal.split(". ")[1] in text and "of them loyal" not in text
        assert t("levers.why_neutral", lang).strip() in text
        assert t("funnel.convention", lang, conversion="99%") in text  # calibration's conversion, said to be one
        assert (
            f"{t('lever.reliability', lang)}: {t('levers.item', lang, lever='', best='', current='', gain='')[2:12]}"
            not in text
        )


def test_batch_of_order_logs_alone(tmp_path):
    """`sim batch` renders two calibrated scenarios in one call: a report each, summary.csv and index.html."""
    paths = [scenario_file(n) for n in BATCH_SCENARIOS]
    out = tmp_path / "batch"
    result = invoke("batch", *paths, "--out", out, "--workers", "2", "--replications", "4")
    assert result.exit_code == 0, result.output
    summary = finite_csv(out / "summary.csv", may_be_empty=tuple(KPI_NAMES) + SUMMARY_PLAN_COLUMNS)
    assert len(summary) == 2 and not summary["has_plan"].any()
    index = html_text(out / "index.html")
    assert_no_missing_numbers(index, "index.html")
    for path in paths:
        s = load_scenario(path)
        (row,) = summary[summary["scenario"] == s.name].to_dict("records")
        html = out / row["report"]
        _check_report(html, html.with_name(f"{html.stem}_data"), "en", s)
        assert row["currency"] == s.economics.currency and s.name in index
        assert row["base_customers"] == len(pd.read_csv(path.with_suffix(".customers.csv")))
        for kpi in KPI_NAMES:  # no plan: no plan KPI, rather than a made-up zero
            assert pd.isna(row[kpi]), kpi
