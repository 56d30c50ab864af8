"""Broken scenario files get one clear message naming the file, the field, the value and what is allowed.

Each case runs `sim validate` and `sim run` in-process (typer's runner) and checks: exit code 2, no
traceback, the message names the place. A few cases also run as a real subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import SAMPLES
from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()
BASE = yaml.safe_load((SAMPLES / "early_stage_d2c.yaml").read_text(encoding="utf-8"))


def _mutate(path: str, value, delete: bool = False) -> dict:
    import copy

    data = copy.deepcopy(BASE)
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    if delete:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


CASES = [
    # (id, yaml text or data, expected fragments in the message)
    ("unknown_top_key", {**BASE, "markets": {}}, ["markets", "unknown key"]),
    ("typo_did_you_mean", _mutate("economics.gross_margn", 0.5), ["gross_margn", "did you mean 'gross_margin'"]),
    ("wrong_type", _mutate("market.size", "many"), ["market -> size", "'many'"]),
    ("negative_budget", _mutate("budget.totals", -5), ["budget -> totals", ">= 0"]),
    ("negative_budget_in_list", _mutate("budget.totals", [100, -1]), ["budget -> totals", ">= 0"]),
    ("probability_above_one", _mutate("experience.reliability", 1.5), ["experience -> reliability", "1.5", "<= 1"]),
    ("negative_probability", _mutate("first_purchase.monthly_conversion", -0.1), ["monthly_conversion", ">= 0"]),
    (
        "purpose_shares_not_adding_up",
        _mutate("budget.purpose_split", {"front": 0.5, "back": 0.3, "winback": 0.1}),
        ["purpose_split", "adds up to 0.9"],
    ),
    (
        "channel_shares_not_adding_up",
        _mutate("budget.channel_split.front", {"search_ads": 0.5, "sns_content": 0.2}),
        ["channel_split -> front", "adds up to 0.7"],
    ),
    (
        "unknown_channel_in_split",
        _mutate("budget.channel_split.front", {"search_adz": 1.0}),
        ["search_adz", "did you mean 'search_ads'"],
    ),
    (
        "unknown_purpose",
        _mutate("budget.purpose_split", {"front": 0.5, "retention": 0.5}),
        ["unknown purpose 'retention'"],
    ),
    (
        "purpose_without_channels",
        _mutate("budget.channel_split", {"front": {"search_ads": 1.0}}),
        ["purpose 'back'", "no channel_split"],
    ),
    ("missing_section", _mutate("economics", None, delete=True), ["economics", "missing"]),
    ("missing_field", _mutate("repeat_purchase.alpha", None, delete=True), ["repeat_purchase -> alpha", "missing"]),
    ("zero_market", _mutate("market.size", 0), ["market -> size", "> 0"]),
    ("existing_exceeds_market", _mutate("market.initially_aware", 10_000_000), ["exceed the market size"]),
    ("bad_currency", _mutate("economics.currency", "won"), ["economics -> currency", "'won'"]),
    ("bad_curve_kind", _mutate("channels.search_ads.reach.kind", "linear"), ["reach -> kind", "'linear'", "hill"]),
    ("horizon_too_long", _mutate("simulation.horizon_months", 500), ["horizon_months", "<= 120"]),
    ("bad_date", _mutate("simulation.start_date", "yesterday"), ["start_date", "'yesterday'"]),
    ("bad_schema_version", _mutate("schema_version", 3), ["schema_version", "3"]),
    (
        "unknown_nested_key",
        _mutate("channels.search_ads.reach.max_reech", 5),
        ["max_reech", "did you mean 'max_reach'"],
    ),
    ("list_instead_of_mapping", [1, 2, 3], ["YAML mapping", "list"]),
    ("scalar_document", "just a sentence", ["YAML mapping", "str"]),
]


def _write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / f"{name}.yaml"
    text = content if isinstance(content, str) else yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _check(result, fragments: list[str], file_name: str) -> None:
    out = result.output
    assert result.exit_code == 2, out
    assert "Traceback" not in out
    assert out.strip().startswith("error:"), out
    assert len(out.strip().splitlines()) == 1, out
    assert file_name in out, out
    for frag in fragments:
        assert frag in out, (frag, out)


@pytest.mark.parametrize("case_id, content, fragments", CASES, ids=[c[0] for c in CASES])
def test_broken_scenario_is_rejected_clearly(tmp_path, case_id, content, fragments):
    path = _write(tmp_path, case_id, content)
    _check(runner.invoke(app, ["validate", str(path)]), fragments, path.name)
    out_dir = tmp_path / "out"
    _check(runner.invoke(app, ["run", str(path), "--out", str(out_dir)]), fragments, path.name)
    assert not out_dir.exists() or not any(out_dir.iterdir()), "nothing may be written for a bad scenario"


def test_empty_file(tmp_path):
    path = _write(tmp_path, "empty", "")
    _check(runner.invoke(app, ["validate", str(path)]), ["is empty"], path.name)


def test_not_yaml(tmp_path):
    path = _write(tmp_path, "broken", "market: {size: 10\nname: [unclosed\n")
    _check(runner.invoke(app, ["validate", str(path)]), ["not valid YAML", "line"], path.name)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    _check(runner.invoke(app, ["validate", str(path)]), ["file not found"], path.name)


def test_binary_file(tmp_path):
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    _check(runner.invoke(app, ["validate", str(path)]), ["binary"], path.name)


def test_folder_instead_of_file(tmp_path):
    _check(runner.invoke(app, ["validate", str(tmp_path)]), ["is a folder"], tmp_path.name)


def test_bad_flags_are_rejected(tmp_path):
    good = str(SAMPLES / "early_stage_d2c.yaml")
    for args, frag in (
        (["--engine", "quantum"], "--engine"),
        (["--replications", "0"], "--replications"),
        (["--seed", "-4"], "--seed"),
        (["--workers", "0"], "--workers"),
    ):
        result = runner.invoke(app, ["run", good, "--out", str(tmp_path / "o"), *args])
        assert result.exit_code == 2, result.output
        assert frag in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_real_process_exit_code_and_stderr(tmp_path):
    path = _write(tmp_path, "typo", _mutate("economics.gross_margn", 0.5))
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "did you mean 'gross_margin'" in proc.stderr
