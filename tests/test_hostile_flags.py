"""Hostile flags: every flag error of every command is one line that names the flag and shows the value
given, exit code 2, before any work starts and with nothing written; limits are refused or capped up front.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from conftest import SAMPLES, small
from hostile import assert_refused, run_cli, run_subprocess

S = str(SAMPLES / "early_stage_d2c.yaml")
EXPORT = Path(__file__).resolve().parents[1] / "data" / "samples" / "client_export"
ORDERS = str(EXPORT / "orders.csv")

CASES = [
    # (id, args (OUT is replaced by a fresh output path), fragments of the one line)
    ("seed_text", ["run", S, "--out", "OUT", "--seed", "abc"], ["--seed", "'abc'"]),
    ("seed_negative", ["run", S, "--out", "OUT", "--seed", "-1"], ["--seed", "-1"]),
    ("seed_float", ["run", S, "--out", "OUT", "--seed", "1.5"], ["--seed", "'1.5'"]),
    (
        "seed_huge",
        ["run", S, "--out", "OUT", "--seed", "99999999999999999999999"],
        ["--seed", "99999999999999999999999"],
    ),
    ("replications_zero", ["run", S, "--out", "OUT", "--replications", "0"], ["--replications", "0"]),
    ("replications_negative", ["run", S, "--out", "OUT", "--replications", "-3"], ["--replications", "-3"]),
    (
        "replications_billion",
        ["run", S, "--out", "OUT", "--replications", "1000000000"],
        ["--replications", "1,000,000,000", "SIM_MAX_REPLICATIONS"],
    ),
    ("replications_text", ["run", S, "--out", "OUT", "--replications", "many"], ["--replications", "'many'"]),
    ("replications_sci", ["run", S, "--out", "OUT", "--replications", "1e3"], ["--replications", "'1e3'"]),
    ("workers_zero", ["run", S, "--out", "OUT", "--workers", "0"], ["--workers", "0"]),
    ("workers_text", ["run", S, "--out", "OUT", "--workers", "all"], ["--workers", "'all'"]),
    ("engine_unknown", ["run", S, "--out", "OUT", "--engine", "warp"], ["--engine", "warp", "agent, fast"]),
    ("unknown_option", ["run", S, "--out", "OUT", "--sed", "1"], ["--sed"]),
    ("missing_out", ["run", S], ["--out"]),
    ("missing_scenario", ["run"], ["scenario"]),
    ("unknown_command", ["simulate", S], ["simulate"]),
    ("extra_argument", ["validate", S, S], ["unexpected extra argument"]),
    ("out_device", ["run", S, "--out", "/dev/full"], ["--out", "/dev/full", "character device"]),
    ("out_is_a_file", ["run", S, "--out", S], ["--out", "not a folder"]),
    ("out_under_a_file", ["run", S, "--out", f"{S}/sub"], ["--out", "a file is in the way"]),
    ("optimize_objective", ["optimize", S, "--out", "OUT", "--objective", "happiness"], ["objective", "happiness"]),
    ("optimize_min_share_text", ["optimize", S, "--out", "OUT", "--min-share", "back=abc"], ["--min-share", "abc"]),
    ("optimize_min_share_no_equals", ["optimize", S, "--out", "OUT", "--min-share", "back"], ["--min-share", "back"]),
    (
        "optimize_max_channel_inf",
        ["optimize", S, "--out", "OUT", "--max-channel", "search_ads=inf"],
        ["--max-channel", "finite"],
    ),
    ("optimize_replications", ["optimize", S, "--out", "OUT", "--replications", "0"], ["--replications"]),
    ("optimize_workers", ["optimize", S, "--out", "OUT", "--workers", "-2"], ["--workers"]),
    (
        "optimize_monthly_cap_text",
        ["optimize", S, "--out", "OUT", "--monthly-cap", "lots"],
        ["--monthly-cap", "'lots'"],
    ),
    (
        "optimize_constraints_missing",
        ["optimize", S, "--out", "OUT", "--constraints", "/nowhere.yaml"],
        ["nowhere.yaml"],
    ),
    ("optimize_out_device", ["optimize", S, "--out", "/dev/null"], ["--out", "/dev/null"]),
    ("optimize_hurdle_nan", ["optimize", S, "--out", "OUT", "--hurdle", "nan"], ["--hurdle", "nan"]),
    ("optimize_hurdle_inf", ["optimize", S, "--out", "OUT", "--hurdle", "inf"], ["--hurdle", "inf"]),
    ("optimize_hurdle_minus_one", ["optimize", S, "--out", "OUT", "--hurdle", "-1"], ["--hurdle", "-1"]),
    ("optimize_hurdle_huge", ["optimize", S, "--out", "OUT", "--hurdle", "1e308"], ["--hurdle", "1e+308"]),
    ("optimize_hurdle_text", ["optimize", S, "--out", "OUT", "--hurdle", "twenty"], ["--hurdle", "'twenty'"]),
    ("optimize_hurdle_percent", ["optimize", S, "--out", "OUT", "--hurdle", "20%"], ["--hurdle", "'20%'"]),
    ("optimize_budget_cap_zero", ["optimize", S, "--out", "OUT", "--budget-cap", "0"], ["--budget-cap", "0"]),
    ("optimize_budget_cap_negative", ["optimize", S, "--out", "OUT", "--budget-cap", "-5"], ["--budget-cap", "-5"]),
    ("optimize_budget_cap_inf", ["optimize", S, "--out", "OUT", "--budget-cap", "inf"], ["--budget-cap", "inf"]),
    ("optimize_budget_cap_nan", ["optimize", S, "--out", "OUT", "--budget-cap", "nan"], ["--budget-cap", "nan"]),
    ("optimize_budget_cap_huge", ["optimize", S, "--out", "OUT", "--budget-cap", "1e308"], ["--budget-cap", "1e+308"]),
    ("optimize_budget_cap_text", ["optimize", S, "--out", "OUT", "--budget-cap", "lots"], ["--budget-cap", "'lots'"]),
    (
        "optimize_period_week",
        ["optimize", S, "--out", "OUT", "--period", "week"],
        ["--period", "week", "month, quarter, half, year"],
    ),
    ("optimize_period_empty", ["optimize", S, "--out", "OUT", "--period", ""], ["--period"]),
    ("optimize_period_capital", ["optimize", S, "--out", "OUT", "--period", "Quarter"], ["--period", "Quarter"]),
    ("optimize_period_number", ["optimize", S, "--out", "OUT", "--period", "3"], ["--period", "3"]),
    ("optimize_breakevens_value", ["optimize", S, "--out", "OUT", "--breakevens=no"], ["--breakevens"]),
    ("optimize_monthly_cap_inf", ["optimize", S, "--out", "OUT", "--monthly-cap", "inf"], ["--monthly-cap", "inf"]),
    (
        "optimize_payback_inf",
        ["optimize", S, "--out", "OUT", "--min-payback-months", "inf"],
        ["--min-payback-months", "inf"],
    ),
    (
        "optimize_payback_negative",
        ["optimize", S, "--out", "OUT", "--min-payback-months", "-1"],
        ["--min-payback-months", "-1"],
    ),
    (
        "optimize_max_channel_huge",
        ["optimize", S, "--out", "OUT", "--max-channel", "search_ads=1e308"],
        ["--max-channel", "search_ads="],
    ),
    (
        "optimize_max_channel_unknown",
        ["optimize", S, "--out", "OUT", "--max-channel", "tv=5"],
        ["--max-channel", "tv", "search_ads"],
    ),
    (
        "optimize_min_share_over_one",
        ["optimize", S, "--out", "OUT", "--min-share", "back=1.5"],
        ["--min-share", "back=1.5"],
    ),
    (
        "optimize_min_share_unknown",
        ["optimize", S, "--out", "OUT", "--min-share", "loyalty=0.1"],
        ["--min-share", "loyalty", "front, back, winback"],
    ),
    (
        "optimize_constraints_duplicate_key",
        ["optimize", S, "--out", "OUT", "--constraints", "FILE:dup.yaml"],
        ["dup.yaml", "given twice"],
    ),
    (
        "optimize_constraints_bomb",
        ["optimize", S, "--out", "OUT", "--constraints", "FILE:bomb.yaml"],
        ["bomb.yaml", "expands to more than"],
    ),
    (
        "optimize_constraints_tag",
        ["optimize", S, "--out", "OUT", "--constraints", "FILE:tag.yaml"],
        ["tag.yaml", "!!python/object"],
    ),
    (
        "optimize_constraints_unknown_key",
        ["optimize", S, "--out", "OUT", "--constraints", "FILE:unknown.yaml"],
        ["unknown.yaml", "hurdle"],
    ),
    (
        "optimize_constraints_fifo",
        ["optimize", S, "--out", "OUT", "--constraints", "FILE:fifo.yaml"],
        ["fifo.yaml", "FIFO"],
    ),
    (
        "optimize_constraints_device",
        ["optimize", S, "--out", "OUT", "--constraints", "/dev/zero"],
        ["/dev/zero", "character device"],
    ),
    ("report_lang", ["report", S, "--out", "OUT", "--lang", "fr"], ["--lang", "fr", "en, ko"]),
    ("report_timeout_zero", ["report", S, "--out", "OUT", "--timeout", "0"], ["--timeout", "0"]),
    ("report_timeout_text", ["report", S, "--out", "OUT", "--timeout", "soon"], ["--timeout", "'soon'"]),
    ("report_replications", ["report", S, "--out", "OUT", "--replications", "100000000"], ["--replications"]),
    ("report_seed", ["report", S, "--out", "OUT", "--seed", "x"], ["--seed", "'x'"]),
    ("report_kernel", ["report", S, "--out", "OUT", "--kernel", "no-such-kernel"], ["--kernel", "no-such-kernel"]),
    ("report_client_too_long", ["report", S, "--out", "OUT", "--client", "x" * 300], ["--client"]),
    ("report_out_device", ["report", S, "--out", "/dev/full"], ["--out", "/dev/full"]),
    ("batch_workers_zero", ["batch", S, "--out", "OUT", "--workers", "0"], ["--workers", "0"]),
    ("batch_lang", ["batch", S, "--out", "OUT", "--lang", "de"], ["--lang", "de"]),
    ("batch_timeout", ["batch", S, "--out", "OUT", "--timeout", "-5"], ["--timeout"]),
    ("batch_scheduler", ["batch", S, "--out", "OUT", "--scheduler", "nowhere"], ["--scheduler", "nowhere"]),
    ("batch_nothing", ["batch", "/nowhere/*.yaml", "--out", "OUT"], ["nowhere"]),
    ("batch_replications", ["batch", S, "--out", "OUT", "--replications", "0"], ["--replications"]),
    ("batch_out_device", ["batch", S, "--out", "/dev/full"], ["--out", "/dev/full"]),
    ("forecast_weeks_negative", ["forecast", S, "--weeks", "-1", "--out", "OUT.csv"], ["--weeks"]),
    ("forecast_weeks_text", ["forecast", S, "--weeks", "ten", "--out", "OUT.csv"], ["--weeks", "'ten'"]),
    ("forecast_draws_zero", ["forecast", S, "--weeks", "4", "--out", "OUT.csv", "--draws", "0"], ["--draws"]),
    ("forecast_draws_huge", ["forecast", S, "--weeks", "4", "--out", "OUT.csv", "--draws", "10000000"], ["--draws"]),
    ("forecast_engine", ["forecast", S, "--weeks", "4", "--out", "OUT.csv", "--engine", "warp"], ["--engine", "warp"]),
    ("forecast_out_device", ["forecast", S, "--weeks", "4", "--out", "/dev/full"], ["--out", "/dev/full", "device"]),
    ("forecast_out_folder", ["forecast", S, "--weeks", "4", "--out", "/tmp"], ["--out", "folder"]),
    ("forecast_seed", ["forecast", S, "--weeks", "4", "--out", "OUT.csv", "--seed", "-7"], ["--seed", "-7"]),
    ("score_out_device", ["score", S, "--weeks", "4", "--out", "/dev/full"], ["--out", "/dev/full"]),
    ("score_weeks_text", ["score", S, "--weeks", "x", "--out", "OUT.csv"], ["--weeks", "'x'"]),
    ("calibrate_out_device", ["calibrate", ORDERS, "--out", "/dev/full", "--currency", "KRW"], ["--out", "/dev/full"]),
    ("calibrate_out_not_yaml", ["calibrate", ORDERS, "--out", "OUT.txt", "--currency", "KRW"], ["--out", ".yaml"]),
    ("calibrate_currency", ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "won"], ["--currency", "won"]),
    (
        "calibrate_gross_margin",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--gross-margin", "1.5"],
        ["--gross-margin", "1.5"],
    ),
    (
        "calibrate_gross_margin_text",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--gross-margin", "half"],
        ["--gross-margin", "'half'"],
    ),
    (
        "calibrate_market_size",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--market-size", "-5"],
        ["--market-size"],
    ),
    (
        "calibrate_until",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--until", "someday"],
        ["--until", "someday"],
    ),
    (
        "calibrate_model",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--model", "magic"],
        ["--model", "magic"],
    ),
    ("calibrate_seed", ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--seed", "-1"], ["--seed"]),
    (
        "calibrate_budget",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--budget", "-10"],
        ["--budget"],
    ),
    (
        "calibrate_split_without_budget",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--split", "front=1"],
        ["--split"],
    ),
    (
        "calibrate_decimal",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--decimal", "x"],
        ["--decimal", "'x'"],
    ),
    (
        "calibrate_date_format",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--date-format", "%Q"],
        ["--date-format", "'%Q'"],
    ),
    (
        "calibrate_spend_gaps",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--spend-gaps", "fill"],
        ["--spend-gaps", "'fill'"],
    ),
    (
        "calibrate_spend_missing",
        ["calibrate", ORDERS, "--out", "OUT.yaml", "--currency", "KRW", "--spend", "/nowhere.csv"],
        ["nowhere.csv", "file not found"],
    ),
]


BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)
FILES = {  # FILE:<name> in a case's arguments: this text written to a fresh file (fifo.yaml: a named pipe)
    "dup.yaml": "hurdle_rate: 0.1\nhurdle_rate: 0.2\n",
    "bomb.yaml": BOMB,
    "tag.yaml": "min_share: !!python/object/apply:os.system ['true']\n",
    "unknown.yaml": "hurdel_rate: 0.1\n",
}


def _args(args: list[str], tmp_path: Path) -> list[str]:
    out = []
    for a in args:
        if a.startswith("OUT"):
            a = a.replace("OUT", str(tmp_path / "out"))
        elif a.startswith("FILE:"):
            path = tmp_path / a[len("FILE:") :]
            if path.name == "fifo.yaml":
                os.mkfifo(path)
            else:
                path.write_text(FILES[path.name], encoding="utf-8")
            a = str(path)
        out.append(a)
    return out


def _no_work(*args, **kwargs):
    raise AssertionError("the work started before the flags were checked")


@pytest.fixture
def no_work(monkeypatch):
    """Reading an export and simulating fail the test: every flag is checked before any work starts."""
    import sim.analysis.optimize
    import sim.calibration.calibrate
    import sim.engines

    monkeypatch.setattr(sim.calibration.calibrate, "read_orders", _no_work)
    monkeypatch.setattr(sim.engines, "simulate", _no_work)
    monkeypatch.setattr(sim.analysis.optimize, "FastEvaluator", _no_work)


@pytest.mark.parametrize("case_id, args, fragments", CASES, ids=[c[0] for c in CASES])
def test_flag_errors_are_one_line(tmp_path, no_work, case_id, args, fragments):
    outcome = run_cli(_args(args, tmp_path))
    assert_refused(outcome, *fragments)
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir()), "nothing may be written"


def test_devices_named_as_outputs_are_left_untouched(tmp_path):
    import os
    import stat

    for args in (
        ["forecast", S, "--weeks", "4", "--out", "/dev/full"],
        ["calibrate", ORDERS, "--out", "/dev/full", "--currency", "KRW"],
        ["score", S, "--weeks", "4", "--out", "/dev/null"],
    ):
        run_cli(args)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def _tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(small("early_stage_d2c", 0.01, 3).model_dump(mode="json")), encoding="utf-8")
    return path


def test_workers_above_the_cores_are_capped_with_one_note(tmp_path):
    out = tmp_path / "o"
    outcome = run_cli(
        [
            "run",
            _tiny(tmp_path),
            "--out",
            out,
            "--engine",
            "fast",
            "--workers",
            "1000",
            "--replications",
            "2",
            "--no-marginal",
        ]
    )
    assert outcome.code == 0, outcome.stderr
    notes = outcome.lines
    assert len(notes) == 1 and notes[0].startswith("note: --workers 1000 capped at"), notes
    assert "SIM_MAX_WORKERS" in notes[0]
    assert (out / "kpis.json").is_file()


def test_agent_engine_refused_up_front_when_it_cannot_fit(tmp_path):
    """A base of millions on the agent engine: refused in one line with the figure and the fast engine named,
    before anything runs (SIM_MAX_MEMORY_BYTES stands for a small machine)."""
    out = tmp_path / "o"
    outcome = run_cli(["run", S, "--out", out, "--engine", "agent"], env={"SIM_MAX_MEMORY_BYTES": str(50 * 2**20)})
    line = assert_refused(outcome, "early_stage_d2c.yaml", "agent engine would need", "--engine fast")
    assert "MiB" in line and "SIM_MAX_MEMORY_BYTES" in line
    assert not out.exists()


def test_real_process_flag_error_is_one_line(tmp_path):
    outcome = run_subprocess(["run", S, "--out", tmp_path / "o", "--seed", "abc"])
    assert outcome.stdout == ""
    assert_refused(outcome, "--seed", "'abc'", "sim run --help")
    outcome = run_subprocess(["run", S, "--out", tmp_path / "o", "--workers", "0"])
    assert_refused(outcome, "--workers")
    assert not (tmp_path / "o").exists()


def test_help_and_no_arguments_are_not_errors():
    assert run_cli(["--help"]).code == 0
    assert run_cli([]).code == 0
    assert run_cli(["run", "--help"]).code == 0
