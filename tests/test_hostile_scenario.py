"""Hostile scenario files: every field refuses what is not a finite number within its physical bounds, the
YAML reader refuses what would be silently misread or would blow up, and what validation accepts the
engines can run (to finite numbers) at every field's bounds.

Each refused case asserts exit code 2, one line naming the file and the field (or line), no traceback, no
output folder, and a generous time bound. Most run in this process; a few as real processes.
"""

from __future__ import annotations

import copy
import math
import os
import typing
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import SAMPLES, small
from hostile import assert_refused, run_cli, run_subprocess
from pydantic import BaseModel

from sim.model.scenario import Scenario

SAMPLE = SAMPLES / "early_stage_d2c.yaml"
BASE = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
FIRST_CHANNEL = next(iter(BASE["channels"]))


# -- every numeric field ----------------------------------------------------------------------------


def _numeric(annotation) -> bool:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation in (int, float):
        return True
    return typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType) and any(
        a in (int, float) for a in args
    )


def _submodel(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        sub = _submodel(arg)
        if sub is not None:
            return sub
    return None


def numeric_fields(model=Scenario, data=BASE, prefix=()) -> list[tuple[tuple[str, ...], typing.Any]]:
    """(path, FieldInfo) of every numeric field of the blocks the sample scenario has."""
    found = []
    for name, info in model.model_fields.items():
        if name not in data:
            if _numeric(info.annotation) and model is not Scenario:
                found.append(((*prefix, name), info))  # a default the file may set
            continue
        value = data[name]
        sub = _submodel(info.annotation)
        if name == "channels":
            found += numeric_fields(sub, value[FIRST_CHANNEL], (*prefix, name, FIRST_CHANNEL))
        elif sub is not None and isinstance(value, list) and value and isinstance(value[0], dict):
            found += numeric_fields(sub, value[0], (*prefix, name, 0))  # a list of blocks (events): the first
        elif sub is not None and isinstance(value, dict):
            found += numeric_fields(sub, value, (*prefix, name))
        elif _numeric(info.annotation):
            found.append(((*prefix, name), info))
    return found


FIELDS = numeric_fields()
FIELDS += [(("budget", "totals"), None)]  # a list of numbers
if "seasonality" in BASE:
    FIELDS += [(("seasonality", "index", 0), None)]  # one number of the twelve


def _with(path: tuple[str, ...], value) -> dict:
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[path[-1]] = [value] if path == ("budget", "totals") else value
    return data


def _write(tmp_path: Path, data, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


NOT_A_NUMBER = {"inf": math.inf, "minus_inf": -math.inf, "nan": math.nan, "huge": 1e308, "bool": True, "text": "12"}


@pytest.mark.parametrize("kind", list(NOT_A_NUMBER))
@pytest.mark.parametrize("path", [p for p, _ in FIELDS], ids=[".".join(map(str, p)) for p, _ in FIELDS])
def test_every_numeric_field_refuses_what_is_not_a_finite_number_in_bounds(tmp_path, path, kind):
    scenario = _write(tmp_path, _with(path, NOT_A_NUMBER[kind]))
    outcome = run_cli(["validate", scenario])
    if isinstance(path[-1], int):  # an item of a list of numbers: named "-> 0" or "[0]"
        line = assert_refused(outcome, "scenario.yaml", " -> ".join(map(str, path[:-1])))
        assert f"-> {path[-1]}" in line or f"[{path[-1]}]" in line, line
    else:
        assert_refused(outcome, "scenario.yaml", " -> ".join(map(str, path)))


def test_the_corpus_covers_the_schema():
    # the sample sets most blocks; the walk must find the fields a hostile file would attack
    names = {".".join(map(str, p)) for p, _ in FIELDS}
    for expected in (
        "market.size",
        "economics.order_value_mean",
        f"channels.{FIRST_CHANNEL}.reach.max_reach",
        "repeat_purchase.r",
        "referral.contacts_per_loyal_per_month",
        "operations.fulfilment_capacity_per_day",
        "simulation.seed",
        "budget.totals",
        "events.0.extra_reach",
        "events.0.fixed_cost",
        "seasonality.index.0",
    ):
        assert expected in names
    assert len(FIELDS) >= 50


# -- what validation accepts, the engines run ---------------------------------------------------------------


def _bounds(info) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in info.metadata:
        for key in ("ge", "gt"):
            v = getattr(m, key, None)
            if v is not None:
                lo = v if key == "ge" else v + max(1e-9, abs(v) * 1e-9)
        for key in ("le", "lt"):
            v = getattr(m, key, None)
            if v is not None:
                hi = v if key == "le" else v - max(1e-9, abs(v) * 1e-9)
    return lo, hi


EDGES = [
    (path, side, value)
    for path, info in FIELDS
    if info is not None and path[-1] not in ("seed",)
    for side, value in zip(("low", "high"), _bounds(info), strict=True)
    if value is not None
]


@pytest.mark.slow
@pytest.mark.parametrize("path, side, value", EDGES, ids=[f"{'.'.join(map(str, p))}-{s}" for p, s, _ in EDGES])
def test_engines_run_to_finite_numbers_at_every_accepted_bound(path, side, value):
    """A value validation accepts never crashes an engine or yields NaN/infinity (cross-field checks may
    still refuse a bound on its own, e.g. more aware people than the market: then the refusal is one line)."""
    from sim.engines import get_engine
    from sim.errors import ScenarioError

    base = small("early_stage_d2c", 0.002, 3)
    data = base.model_dump(mode="python")
    node = data
    for key in path[:-1]:
        node = node[key]
    if isinstance(node.get(path[-1]), int) and not isinstance(node.get(path[-1]), bool):
        value = int(value)
    node[path[-1]] = value
    from sim.model.scenario import parse_scenario

    try:
        scenario = parse_scenario(data, "edge.yaml")
    except ScenarioError as exc:
        assert "\n" not in str(exc)
        return
    for name, sampled in (("fast", False), ("fast", True), ("agent", None)):
        result = get_engine(name).run(scenario, 1, sampled=sampled)
        numbers = result.timeseries_frame().select_dtypes("number").to_numpy(dtype=float)
        assert np.isfinite(numbers).all(), (name, sampled)


# -- the YAML reader -------------------------------------------------------------------------------------------


def _text(**changes) -> str:
    return yaml.safe_dump({**BASE, **changes}, allow_unicode=True, sort_keys=False)


SAMPLE_TEXT = SAMPLE.read_text(encoding="utf-8")
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)

YAML_CASES = [
    # (id, file text, fragments the one line must hold)
    ("duplicate_top_key", SAMPLE_TEXT + "\nname: Other\n", ["key 'name' is given twice", "line"]),
    (
        "duplicate_nested_key",
        SAMPLE_TEXT.replace("  size: 400000\n", "  size: 400000\n  size: 500000\n"),
        ["key 'size' is given twice"],
    ),
    ("alias_bomb", BOMB, ["expands to more than", "SIM_MAX_YAML_NODES"]),
    ("deep_nesting", "a: " + "[" * 200 + "]" * 200 + "\n", ["nested more than"]),
    ("deep_mappings", "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "x: 1\n", ["nested more than"]),
    ("python_tag", SAMPLE_TEXT + "\nx: !!python/object/apply:os.system ['true']\n", ["!!python/object/apply"]),
    ("python_name_tag", "name: !!python/name:os.system\n", ["!!python/name:os.system"]),
    ("binary_tag", SAMPLE_TEXT + "\nx: !!binary aGVsbG8=\n", ["!!binary"]),
    ("custom_tag", SAMPLE_TEXT.replace("size: 400000", "size: !big 400000"), ["!big"]),
    ("set_tag", "x: !!set {a, b}\n", ["!!set"]),
    ("two_documents", SAMPLE_TEXT + "\n---\nname: second\n", ["more than one YAML document"]),
    ("recursive_alias", "a: &x [1, *x]\n", ["alias *x refers to a block that contains it"]),
    ("undefined_alias", "a: *nowhere\n", ["not valid YAML"]),
    ("list_document", "- 1\n- 2\n", ["YAML mapping", "list"]),
    ("scalar_document", "hello\n", ["YAML mapping", "str"]),
    ("complex_key", "? [a, b]\n: 1\n", ["a key must be a plain name"]),
    ("tab_indentation", "market:\n\tsize: 10\n", ["not valid YAML", "line"]),
    ("unclosed_quote", 'name: "unclosed\nmarket: {}\n', ["not valid YAML"]),
    ("unclosed_bracket", "market: {size: 10\n", ["not valid YAML", "line"]),
    (
        "horizon_true",
        _text(simulation={**BASE["simulation"], "horizon_months": True}),
        ["horizon_months", "true/false"],
    ),
    ("horizon_text", _text(simulation={**BASE["simulation"], "horizon_months": "36"}), ["horizon_months", "'36'"]),
    ("horizon_fraction", _text(simulation={**BASE["simulation"], "horizon_months": 36.5}), ["horizon_months"]),
    ("totals_quoted_number", SAMPLE_TEXT.replace("totals: 24000000", 'totals: "2.4e7"'), ["totals", "'2.4e7'"]),
    ("totals_with_comma", SAMPLE_TEXT.replace("totals: 24000000", 'totals: "24,000,000"'), ["totals"]),
    ("start_feb_30", SAMPLE_TEXT.replace("start_date: 2027-01-01", "start_date: 2027-02-30"), ["2027-02-30", "line"]),
    ("start_month_13", SAMPLE_TEXT.replace("start_date: 2027-01-01", "start_date: 2027-13-01"), ["2027-13-01"]),
    ("start_year_9999", SAMPLE_TEXT.replace("start_date: 2027-01-01", "start_date: 9999-01-01"), ["start_date"]),
    ("start_year_1850", SAMPLE_TEXT.replace("start_date: 2027-01-01", "start_date: 1850-01-01"), ["start_date"]),
    ("start_date_number", SAMPLE_TEXT.replace("start_date: 2027-01-01", "start_date: 0"), ["start_date", "a date"]),
    ("start_date_text", SAMPLE_TEXT.replace("start_date: 2027-01-01", "start_date: yesterday"), ["start_date"]),
    (
        "start_datetime",
        SAMPLE_TEXT.replace("start_date: 2027-01-01", "start_date: 2027-01-01 10:30:00"),
        ["start_date"],
    ),
    ("seed_negative", _text(simulation={**BASE["simulation"], "seed": -1}), ["seed"]),
    ("seed_huge", _text(simulation={**BASE["simulation"], "seed": 10**30}), ["seed"]),
    ("huge_integer", _text(market={**BASE["market"], "size": 10**400}), ["market -> size"]),
    ("float_overflow", SAMPLE_TEXT.replace("order_value_mean: 38000", "order_value_mean: 1e400"), ["order_value_mean"]),
    ("name_empty", _text(name=""), ["name"]),
    ("name_number", _text(name=2027), ["name"]),
    ("name_too_long", _text(name="x" * 500), ["name"]),
    ("unknown_key_hint", _text(econmics={}), ["econmics", "did you mean 'economics'"]),
    ("yes_for_a_number", SAMPLE_TEXT.replace("gross_margin: 0.65", "gross_margin: yes"), ["gross_margin", "'yes'"]),
    (
        "r_over_alpha",
        _text(repeat_purchase={**BASE["repeat_purchase"], "r": 50, "alpha": 1}),
        ["repeat_purchase", "at most 1"],
    ),
    ("b_tiny", _text(repeat_purchase={**BASE["repeat_purchase"], "b": 1e-300}), ["repeat_purchase -> b"]),
    ("r_infinite", SAMPLE_TEXT.replace("{r: 1.3,", "{r: .inf,"), ["repeat_purchase -> r"]),
    (
        "channel_id_too_long",
        _text(channels={"c" * 100: BASE["channels"][FIRST_CHANNEL]}),
        ["channels", "at most 64"],
    ),
    (
        "too_many_channels",
        _text(channels={f"ch{i}": BASE["channels"][FIRST_CHANNEL] for i in range(201)}),
        ["channels", "at most 200"],
    ),
    ("nul_byte", SAMPLE_TEXT.replace("market:", "mar\x00ket:"), ["NUL", "line"]),
    ("empty", "", ["is empty"]),
    ("only_comments", "# nothing here\n\n", ["holds no data"]),
    ("only_spaces", "   \n\n  \n", ["is empty"]),
]


@pytest.mark.parametrize("case_id, text, fragments", YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_hostile_yaml_is_refused_in_one_line(tmp_path, case_id, text, fragments):
    path = tmp_path / f"{case_id}.yaml"
    path.write_text(text, encoding="utf-8")
    assert_refused(run_cli(["validate", path]), path.name, *fragments)
    out = tmp_path / "out"
    assert_refused(run_cli(["run", path, "--out", out, "--engine", "fast", "--no-marginal"]), path.name)
    assert not out.exists(), "nothing may be written for a bad scenario"


def test_yaml_read_as_its_author_meant(tmp_path):
    """YAML 1.1 traps read the way a person means them: 2.4e7 and 1e5 are numbers, 010 is ten, digit
    groups with '_' are fine, and merge keys work."""
    from sim.model.scenario import load_scenario

    text = (
        SAMPLE_TEXT.replace("totals: 24000000", "totals: 2.4e7")
        .replace("size: 400000", "size: 400_000")
        .replace("lapsed_months_ago_max: 12", "lapsed_months_ago_max: 010")
        .replace("order_value_mean: 38000", "order_value_mean: 3.8e4")
    )
    s = load_scenario(_write(tmp_path, text))
    assert s.budget.totals == [24_000_000.0]
    assert s.market.size == 400_000
    assert s.market.existing.lapsed_months_ago_max == 10
    assert s.economics.order_value_mean == 38_000.0


def test_merge_keys_are_not_duplicates(tmp_path):
    """`<<: *anchor` copies a block; a key given next to it overrides the copy (YAML's rule), not a duplicate."""
    from sim.model.scenario import load_scenario
    from sim.model.yamlfile import parse_yaml

    assert parse_yaml("b: &b {c: 1, e: 1}\nd: {<<: *b, e: 2}\n", "x.yaml") == {
        "b": {"c": 1, "e": 1},
        "d": {"c": 1, "e": 2},
    }
    text = SAMPLE_TEXT.replace("  search_ads:\n", "  search_ads: &search\n", 1).replace(
        "channels:\n", "channels:\n  search_copy:\n    <<: *search\n    label: Copy\n", 1
    )
    # an alias before its anchor is undefined: put the copy after the anchored channel instead
    text = SAMPLE_TEXT.replace("  search_ads:\n", "  search_ads: &search\n", 1)
    text = text.replace("  sns_content:\n", "  search_copy:\n    <<: *search\n    label: Copy\n  sns_content:\n", 1)
    s = load_scenario(_write(tmp_path, text))
    assert s.channels["search_copy"].label == "Copy"
    assert s.channels["search_copy"].reach == s.channels["search_ads"].reach


def test_limits_are_raised_by_their_environment_variables(tmp_path):
    path = _write(tmp_path, SAMPLE_TEXT)
    assert_refused(run_cli(["validate", path], env={"SIM_MAX_SCENARIO_BYTES": "100"}), "SIM_MAX_SCENARIO_BYTES")
    assert_refused(run_cli(["validate", path], env={"SIM_MAX_YAML_NODES": "50"}), "SIM_MAX_YAML_NODES")
    assert run_cli(["validate", path], env={"SIM_MAX_SCENARIO_BYTES": str(10**6)}).code == 0


def test_a_large_list_is_refused_quickly(tmp_path):
    text = SAMPLE_TEXT.replace("totals: 24000000", "totals: [" + ", ".join(["30000000"] * 200_000) + "]")
    path = _write(tmp_path, text)
    outcome = run_cli(["validate", path])
    assert_refused(outcome, "expands to more than")


def test_special_files_are_refused(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert_refused(run_cli(["validate", fifo]), "pipe.yaml", "FIFO")
    assert_refused(run_cli(["validate", "/dev/null"]), "/dev/null", "character device")
    assert_refused(run_cli(["validate", tmp_path]), "is a folder")
    assert_refused(run_cli(["validate", tmp_path / "nowhere.yaml"]), "nowhere.yaml", "file not found")
    link = tmp_path / "link.yaml"
    link.symlink_to("/dev/zero")
    assert_refused(run_cli(["validate", link]), "link.yaml", "character device")


def test_encodings(tmp_path):
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + SAMPLE_TEXT.encode("utf-8"))
    assert run_cli(["validate", bom]).code == 0
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(SAMPLE_TEXT.replace("Skincare", "Soin é").encode("latin-1", "replace"))
    assert_refused(run_cli(["validate", latin]), "latin.yaml", "not UTF-8", "line")


def test_accepted_edges_of_dates(tmp_path):
    from sim.model.scenario import load_scenario

    for day in (date(1900, 1, 1), date(2190, 1, 1)):
        data = {k: v for k, v in BASE.items() if k != "events"}  # the sample's promotions are dated 2027
        data["simulation"] = {**BASE["simulation"], "start_date": day}
        s = load_scenario(_write(tmp_path, data))
        assert s.simulation.start_date == day


def test_real_processes_refuse_in_one_line(tmp_path):
    """The same refusals from a real `python -m sim`: stderr one line, stdout empty, exit 2."""
    cases = [
        (SAMPLE_TEXT + "\nname: Other\n", "given twice"),
        (BOMB, "expands to more than"),
        (_text(simulation={**BASE["simulation"], "horizon_months": True}), "horizon_months"),
    ]
    for i, (text, fragment) in enumerate(cases):
        path = tmp_path / f"case{i}.yaml"
        path.write_text(text, encoding="utf-8")
        outcome = run_subprocess(["validate", path])
        assert outcome.stdout == ""
        assert_refused(outcome, f"case{i}.yaml", fragment)
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    outcome = run_subprocess(["run", fifo, "--out", tmp_path / "out"])
    assert_refused(outcome, "FIFO")
    assert not (tmp_path / "out").exists()
