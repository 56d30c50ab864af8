"""The command line used the way consultants and analytics teams use it, with hand-edited inputs: a share
written 30 or "30%", amounts with separators or a point between thousands, a UTF-16 file, a typo in a key, an
empty shell variable as --out, a budget cap below the budget, a constraint nobody can meet.

Every refusal is one line naming the file, the field or the flag, what was found and how to write it (no
pydantic internals such as `dict[str,constrained-float]`, no whole block dumped as "found", no advice that
does not apply); what is accepted makes sense. Most cases run in this process and do no simulation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import SAMPLES
from hostile import assert_refused, run_cli

SAMPLE = SAMPLES / "early_stage_d2c.yaml"
TEXT = SAMPLE.read_text(encoding="utf-8")
SPLIT = "purpose_split: {front: 0.75, back: 0.2, winback: 0.05}"
FRONT = "front: {search_ads: 0.4, sns_content: 0.35, influencer: 0.25}"


def _edit(old: str, new: str) -> str:
    assert old in TEXT, old
    return TEXT.replace(old, new)


# (id, file text, fragments the one line holds, fragments it must not hold)
NOT_IN_ANY = ["dict[", "list[", "constrained-float", "(top level)", "found: {'"]
SCENARIO_CASES = [
    ("share_as_percent_number", _edit("gross_margin: 0.65", "gross_margin: 65"), ["gross_margin", "0.65 for 65%"], []),
    (
        "share_as_percent_text",
        _edit("gross_margin: 0.65", "gross_margin: 65%"),
        ["gross_margin", "'65%'", "0.65 for 65%"],
        ["without quotes"],
    ),
    (
        "split_in_percent",
        _edit(SPLIT, "purpose_split: {front: 75, back: 20, winback: 5}"),
        ["budget -> purpose_split -> front", "0.75 for 75%"],
        [],
    ),
    (
        "split_in_percent_text",
        _edit(SPLIT, 'purpose_split: {front: "75%", back: "20%", winback: "5%"}'),
        ["purpose_split", "front", "0.75 for 75%"],
        ["without quotes"],
    ),
    (
        "phased_split_in_percent",
        _edit(SPLIT, "purpose_split: [{front: 0.75, back: 0.2, winback: 0.05}, {front: 50, back: 50}]"),
        ["purpose_split -> 1 -> front", "0.5 for 50%"],
        ["valid dictionary"],
    ),
    (
        "channel_split_in_percent",
        _edit(FRONT, "front: {search_ads: 40, sns_content: 35, influencer: 25}"),
        ["channel_split -> front -> search_ads", "0.4 for 40%"],
        [],
    ),
    (
        "split_not_adding_up",
        _edit(SPLIT, "purpose_split: {front: 0.75, back: 0.2, winback: 0.1}"),
        ["budget", "adds up to 1.05"],
        [],
    ),
    (
        "channel_not_defined",
        _edit(FRONT, "front: {search_ads: 0.4, sns_content: 0.35, tv: 0.25}"),
        ["channel_split -> front names channel 'tv'", "search_ads"],
        [],
    ),
    (
        "typo_in_a_required_key",
        _edit("  order_value_mean: 38000", "  order_value_maen: 38000"),
        ["economics -> order_value_maen", "did you mean 'order_value_mean'"],
        ["required field is missing"],
    ),
    (
        "thousands_commas",
        _edit("  size: 400000", '  size: "400,000"'),
        ["market -> size", "'400,000'", "400000"],
        ["without quotes"],
    ),
    ("decimal_comma", _edit("reliability: 0.95", "reliability: 0,95"), ["reliability", "0.95"], ["without quotes"]),
    (
        "currency_sign",
        _edit("order_value_mean: 38000", "order_value_mean: ₩38,000"),
        ["order_value_mean", "38000"],
        ["without quotes"],
    ),
    (
        "thousands_point_in_money",
        _edit("order_value_mean: 38000", "order_value_mean: 38.000"),
        ["order_value_mean", "38.000", "ambiguous", "38000"],
        [],
    ),
    (
        "thousands_point_in_a_list",
        _edit("totals: 24000000", "totals: [24000000, 1.500]"),
        ["budget -> totals", "1.500", "ambiguous"],
        [],
    ),
    ("thousands_point_in_a_count", _edit("  size: 400000", "  size: 400.000"), ["market -> size", "ambiguous"], []),
    (
        "three_decimals_in_won",  # a won has no decimals: 42.125 can only be 42,125 written with a point
        _edit("order_value_mean: 38000", "order_value_mean: 42.125"),
        ["economics -> order_value_mean", "42.125", "ambiguous", "42125"],
        ["trailing zeros"],
    ),
    (
        "three_decimals_in_a_count",
        _edit("  size: 400000", "  size: 400.125"),
        ["market -> size", "400.125", "ambiguous", "400125"],
        [],
    ),
    ("currency_lower_case", _edit("currency: KRW", "currency: krw"), ["economics -> currency", "write KRW"], []),
    ("currency_sign_as_code", _edit("currency: KRW", "currency: ₩"), ["economics -> currency", "write KRW"], []),
    (
        "date_day_first",
        _edit("start_date: 2027-01-01", "start_date: 01/02/2027"),
        ["simulation -> start_date", "'01/02/2027'", "2027-01-01"],
        ["invalid character"],
    ),
    ("empty_totals", _edit("totals: 24000000", "totals:"), ["budget -> totals", "has no value"], ["found: None"]),
    (
        "seasonal_index_in_percent",
        _edit("index: [1.05, 0.95, 0.95, 0.95, 1, 0.95,", "index: [105, 95, 95, 95, 100, 95,"),
        ["seasonality -> index -> 0", "1.05 for 105"],
        [],
    ),
    ("tab_indentation", _edit("  size: 400000", "\tsize: 400000"), ["line", "tab", "spaces"], []),
]


@pytest.mark.parametrize("case_id, text, wanted, unwanted", SCENARIO_CASES, ids=[c[0] for c in SCENARIO_CASES])
def test_hand_edited_scenarios_are_refused_in_one_clear_line(tmp_path, case_id, text, wanted, unwanted):
    path = tmp_path / f"{case_id}.yaml"
    path.write_text(text, encoding="utf-8")
    line = assert_refused(run_cli(["validate", path]), f"{case_id}.yaml", *wanted)
    for fragment in [*unwanted, *NOT_IN_ANY]:
        assert fragment not in line, (fragment, line)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_named_as_such(tmp_path, encoding):
    path = tmp_path / "windows.yaml"
    path.write_bytes(TEXT.replace("\n", "\r\n").encode(encoding))
    line = assert_refused(run_cli(["validate", path]), "windows.yaml", "UTF-16", "UTF-8")
    assert "binary" not in line


def test_what_is_unambiguous_is_accepted(tmp_path):
    """A number Python or YAML wrote (38000.0, 1.5), a share of 0.125 and Windows line endings read as meant."""
    from sim.model.scenario import load_scenario

    text = (
        _edit("order_value_mean: 38000", "order_value_mean: 38000.0")
        .replace("fulfilment_cost_per_order: 3500", "fulfilment_cost_per_order: 3.5")
        .replace("complaint_share: 0.3", "complaint_share: 0.125")
        .replace("\n", "\r\n")
    )
    path = tmp_path / "fine.yaml"
    path.write_bytes(text.encode("utf-8"))
    s = load_scenario(path)
    assert s.economics.order_value_mean == 38000.0
    assert s.economics.fulfilment_cost_per_order == 3.5
    assert s.operations.complaint_share == 0.125
    # three decimals are an amount where fractions exist (dollars) and a rate of people may have decimals
    dollars = _edit("currency: KRW", "currency: USD").replace("order_value_mean: 38000", "order_value_mean: 42.125")
    path.write_text(dollars.replace("max_reach: 6000,", "max_reach: 741.203,", 1), encoding="utf-8")
    s = load_scenario(path)
    assert s.economics.order_value_mean == 42.125
    assert 741.203 in [c.reach.max_reach for c in s.channels.values()]


def test_what_the_product_writes_reads_back_in_won(tmp_path):
    """The calibration's and the what-if tool's writers never write a float a reader would refuse as 42.125 won:
    152.611 is written 152.6110, the same number."""
    from sim.calibration.writer import _scalar
    from sim.model.scenario import load_scenario
    from sim.model.yamlfile import ScenarioDumper

    assert _scalar(152.611) == "152.6110" and _scalar([1.5, 42.125]) == "[1.5, 42.1250]"
    data = yaml.safe_load(TEXT)
    data["economics"]["order_value_mean"] = 152.611
    path = tmp_path / "written.yaml"
    path.write_text(yaml.dump(data, Dumper=ScenarioDumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert load_scenario(path).economics.order_value_mean == 152.611


def test_a_snapshot_scenario_cannot_start_before_its_cutoff(tmp_path):
    """A calibrated scenario whose start date was moved back before the order log's cut-off would simulate days
    the customers' histories already hold: refused, with the first day allowed."""
    data = yaml.safe_load(TEXT)
    data["market"]["existing"]["snapshot"] = "base.customers.csv"
    data["calibration"] = {"cutoff": "2026-12-31"}
    (tmp_path / "base.customers.csv").write_text("customer_id,frequency,recency,age\nC1,1,10,100\n")
    path = tmp_path / "moved.yaml"
    path.write_text(yaml.safe_dump({**data, "events": []}, allow_unicode=True), encoding="utf-8")
    assert run_cli(["validate", path]).code == 0  # the day after the cut-off is fine
    data["simulation"]["start_date"] = "2025-06-01"
    path.write_text(yaml.safe_dump({**data, "events": []}, allow_unicode=True), encoding="utf-8")
    assert_refused(
        run_cli(["validate", path]),
        "moved.yaml",
        "simulation -> start_date",
        "2025-06-01",
        "cut-off",
        "2027-01-01 or later",
    )


def test_validate_of_a_short_horizon_names_the_events_that_do_nothing(tmp_path):
    path = tmp_path / "one_month.yaml"
    path.write_text(_edit("horizon_months: 36", "horizon_months: 1"), encoding="utf-8")
    outcome = run_cli(["validate", path])
    assert outcome.code == 0
    assert "(4 channels, 1 month)" in outcome.stdout
    (note,) = outcome.lines
    assert note.startswith("note: 8 of the 9 events start after the horizon ends (2027-01-31)"), note


# -- flags ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, flag",
    [
        (["run", SAMPLE, "--out", ""], "--out"),
        (["run", SAMPLE, "--out="], "--out"),
        (["optimize", SAMPLE, "--out", " "], "--out"),
        (["report", SAMPLE, "--out", "r", "--client", ""], "--client"),
        (["validate", ""], "empty argument"),
        (["batch", "", "--out", "b"], "empty argument"),
    ],
)
def test_an_empty_argument_is_refused_not_read_as_this_folder(tmp_path, monkeypatch, args, flag):
    monkeypatch.chdir(tmp_path)
    assert_refused(run_cli(args), flag, "empty")
    assert list(tmp_path.iterdir()) == [], "nothing may be written in the current folder"


@pytest.fixture
def no_search(monkeypatch):
    """The optimizer's search fails the test: these refusals come before any simulation."""
    import sim.analysis.optimize

    def refuse(*args, **kwargs):
        raise AssertionError("the search started")

    monkeypatch.setattr(sim.analysis.optimize, "FastEvaluator", refuse)


def _zero_budget(tmp_path: Path) -> Path:
    path = tmp_path / "zero.yaml"
    path.write_text(_edit("totals: 24000000", "totals: 0"), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--budget-cap", "1000"], ["--budget-cap", "below the scenario's largest monthly budget", ">= 24,000,000"]),
        (["--monthly-cap", "1000"], ["--monthly-cap", "cannot be spent", ">= 24,000,000"]),
        (["--min-share", "back=0.6", "--min-share", "front=0.6"], ["--min-share", "add up to 1.2"]),
        (
            ["--min-share", "back=0.5", "--max-share", "back=0.3"],
            ["--min-share (constraint min_share -> back)", "--max-share 0.3"],
        ),
        (["--max-share", "front=0.1", "--max-share", "back=0.1", "--max-share", "winback=0.1"], ["--max-share"]),
        (["--min-channel", "search_ads=1e12"], ["--min-channel", "smallest month's budget"]),
    ],
)
def test_optimize_constraints_nobody_can_meet_name_the_flag(tmp_path, no_search, extra, fragments):
    out = tmp_path / "out"
    assert_refused(run_cli(["optimize", SAMPLE, "--out", out, *extra]), *fragments)
    assert not out.exists()


def test_optimize_constraints_from_a_file_name_the_file(tmp_path, no_search):
    for text, fragments in (
        ("min_share: {back: 0.7, front: 0.7}\n", ["min_share", "add up to 1.4"]),
        ("budget_cap: 5\n", ["budget_cap", "below the scenario's largest monthly budget"]),
        ("max_channel: {search_ads: 5.000}\n", ["max_channel -> search_ads", "5.000 is ambiguous", "write 5000"]),
        ("monthly_cap: 24.000\n", ["monthly_cap", "24.000 is ambiguous"]),
    ):
        constraints = tmp_path / "limits.yaml"
        constraints.write_text(text, encoding="utf-8")
        args = ["optimize", SAMPLE, "--out", tmp_path / "out", "--constraints", constraints]
        assert_refused(run_cli(args), "limits.yaml", *fragments)


def test_errors_found_after_loading_name_the_scenario_file(tmp_path, no_search):
    assert_refused(
        run_cli(["optimize", _zero_budget(tmp_path), "--out", tmp_path / "o"]), "zero.yaml: budget -> totals"
    )
    assert_refused(
        run_cli(["score", SAMPLE, "--weeks", "4", "--out", tmp_path / "s.csv"]),
        "early_stage_d2c.yaml: market -> existing -> snapshot",
    )
    # a flag error of a later command in the same process is not blamed on the earlier scenario
    line = assert_refused(run_cli(["run", SAMPLE, "--out", tmp_path / "o", "--engine", "warp"]), "--engine")
    assert "early_stage_d2c.yaml" not in line


@pytest.mark.parametrize("port", ["0", "-1", "99999"])
def test_lab_refuses_a_port_that_is_not_one(monkeypatch, port):
    import sim.learn.lab

    monkeypatch.setattr(sim.learn.lab, "launch", lambda *a, **k: pytest.fail("JupyterLab started"))
    assert_refused(run_cli(["lab", "--port", port, "--no-browser"]), "--port", port, "1 to 65535")


# -- batch and report -----------------------------------------------------------------------------------------


def test_a_failed_scenario_of_a_batch_is_named_once():
    from sim.batch.runner import JobOutcome

    failed = JobOutcome("in/bad.yaml", None, "bad", "failed", error="in/bad.yaml: economics -> gross_margin: x")
    assert failed.one_line() == "in/bad.yaml: economics -> gross_margin: x"
    other = JobOutcome("in/bad.yaml", None, "bad", "failed", error="the worker died")
    assert other.one_line() == "in/bad.yaml: the worker died"


def test_an_interrupted_report_leaves_no_empty_folder(tmp_path):
    """`sim report --out new/folder` stopped before it wrote anything removes the folders it created (and only
    those: a folder that was there, or one that holds a file, stays)."""
    from sim.cli.reports import _no_empty_folder_left

    out = tmp_path / "new" / "reports"
    with pytest.raises(KeyboardInterrupt), _no_empty_folder_left(out):
        out.mkdir(parents=True)
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(KeyboardInterrupt), _no_empty_folder_left(kept):
        raise KeyboardInterrupt
    assert kept.is_dir()
    with pytest.raises(RuntimeError), _no_empty_folder_left(out):
        out.mkdir(parents=True)
        (out / "other.txt").write_text("x")
        raise RuntimeError
    assert (out / "other.txt").is_file()


@pytest.mark.parametrize("command", ["report", "batch"])
def test_a_report_needs_two_replications_for_its_bands(tmp_path, command):
    """One replication would be shown as a 90% band (the optimizer silently ran two): refused as `optimize` does."""
    out = tmp_path / "out"
    assert_refused(run_cli([command, SAMPLE, "--out", out, "--replications", "1"]), "--replications", "at least 2")
    assert not out.exists()


def test_a_scenario_given_twice_to_a_batch_is_named_in_a_note(tmp_path, monkeypatch):
    from sim.batch.runner import repeats_note

    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "a.yaml"
    path.write_text(TEXT, encoding="utf-8")
    (tmp_path / "in" / "b.yaml").write_text(TEXT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    note = repeats_note(["in/a.yaml", "./in/a.yaml", "in", "in/b.yaml"])
    assert note == "note: 2 scenario file(s) given more than once, each reported once: a.yaml, b.yaml"
    assert repeats_note(["in/a.yaml", "in/b.yaml"]) == ""


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--min-share", "back=30%"], ["--min-share", "'30%'", "0.3 for 30%"]),
        (["--max-channel", "search_ads=5,000,000"], ["--max-channel", "5000000"]),
        (["--min-share", "back=0.1", "--min-share", "back=0.2"], ["--min-share", "back is given twice", "0.1 and 0.2"]),
    ],
)
def test_optimize_assignment_flags_say_how_to_write_them(tmp_path, no_search, extra, fragments):
    assert_refused(run_cli(["optimize", SAMPLE, "--out", tmp_path / "out", *extra]), *fragments)
