"""The scenario's `planning` section: the client's rules for the recommended plan (split period, hurdle rate,
budget cap, shares and channel limits), kept with the scenario so that `sim optimize`, the report and a batch
plan under the same limits. A bad rule is refused in one line naming `planning -> key`; a rule no plan can
meet is blamed on the scenario file's planning section, before any simulation; the --constraints file and
the flags override it in that order; a scenario without the section reads (and hashes) as it did before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from conftest import SAMPLES, small
from hostile import assert_refused, run_cli

from sim.analysis.constraints import Constraints
from sim.analysis.optimize import optimize_budget
from sim.errors import UserInputError
from sim.model.scenario import Planning, Scenario, load_scenario

SAMPLE = SAMPLES / "early_stage_d2c.yaml"
TEXT = SAMPLE.read_text(encoding="utf-8")
MONTHS = 12


def _with_planning(tmp_path: Path, block: str, name: str = "planned.yaml") -> Path:
    assert "planning:" not in TEXT
    path = tmp_path / name
    path.write_text(TEXT + f"\nplanning: {block}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "block, fragments",
    [
        ("{min_channel: {serch_ads: 100000}}", ["planning -> min_channel", "'serch_ads'", "did you mean 'search_ads'"]),
        ("{min_share: {retention: 0.1}}", ["planning -> min_share", "unknown purpose 'retention'", "front, back"]),
        ("{min_share: {back: 30}}", ["planning -> min_share -> back", "0.3 for 30%"]),
        ("{hurdle_rate: 20}", ["planning -> hurdle_rate", "20", "<= 10"]),
        ("{hurdle_rate: -1}", ["planning -> hurdle_rate", "> -1"]),
        ("{max_channel: {search_ads: 5.000}}", ["planning -> max_channel", "5.000 is ambiguous", "write 5000"]),
        ("{period: week}", ["planning -> period", "'week'", "'quarter'"]),
        ("{budget_cap: -5}", ["planning -> budget_cap", "> 0"]),
        ("{payback_within_months: 5000}", ["planning -> payback_within_months", "<= 1200"]),
        ("{hurdel_rate: 0.2}", ["planning -> hurdel_rate", "did you mean 'hurdle_rate'"]),
    ],
)
def test_a_bad_planning_rule_is_refused_naming_it(tmp_path, block, fragments):
    path = _with_planning(tmp_path, block)
    assert_refused(run_cli(["validate", path]), "planned.yaml", *fragments)


def test_a_scenario_without_planning_reads_and_hashes_as_before(tmp_path):
    """Stored runs, the chapter-9 cache and batch manifests key on the content hash: a scenario without a
    planning section (or one that sets only the defaults) hashes as the same scenario did before the section
    existed; a rule that is set changes it (a report under other rules is another report)."""
    plain = load_scenario(SAMPLE)
    assert "planning" not in plain.content()
    before = {k: v for k, v in plain.model_dump(mode="json").items() if k != "planning"}
    payload = json.dumps(before, sort_keys=True, ensure_ascii=False)
    assert plain.content_hash() == hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
    defaults = load_scenario(_with_planning(tmp_path, "{period: quarter, hurdle_rate: 0}", "defaults.yaml"))
    assert defaults.planning == Planning() and defaults.content_hash() == plain.content_hash()
    ruled = load_scenario(_with_planning(tmp_path, "{hurdle_rate: 0.2}"))
    assert ruled.content()["planning"]["hurdle_rate"] == 0.2
    assert ruled.content_hash() != plain.content_hash()


def test_the_planning_limits_are_the_optimizers_constraints():
    planning = Planning(hurdle_rate=0.2, min_share={"back": 0.1}, max_channel={"search_ads": 1e6}, budget_cap=5e7)
    c = Constraints(**planning.limits)
    assert c.hurdle_rate == 0.2 and c.min_share == {"back": 0.1} and c.budget_cap == 5e7
    assert set(planning.limits) == set(Constraints().as_dict())  # every rule reaches the optimizer, nothing else


@pytest.fixture(scope="module")
def planned() -> Scenario:
    return small("early_stage_d2c", factor=0.1, months=MONTHS).with_changes(
        {"planning": {"period": "half", "hurdle_rate": 0.1, "min_share": {"back": 0.15}}}
    )


def test_optimize_plans_under_the_scenarios_rules(planned):
    """optimize_budget without constraints plans under the scenario's planning section: the same plan as
    with those constraints given, and a different one from no rules at all (the minimum share binds)."""
    ruled = optimize_budget(planned, replications=2, find_breakevens=False)
    given = optimize_budget(
        planned,
        constraints=Constraints(hurdle_rate=0.1, min_share={"back": 0.15}),
        period="half",
        replications=2,
        find_breakevens=False,
    )
    assert ruled.period == "half" and ruled.hurdle_rate == 0.1
    assert ruled.constraints == given.constraints == Constraints.of_scenario(planned)
    assert ruled.recommended_value == given.recommended_value
    assert ruled.periods.equals(given.periods)
    assert (ruled.periods["back_share"] >= 0.15 - 1e-9).all()
    assert len(ruled.periods) == 2  # twelve months in halves
    free = optimize_budget(planned, constraints=Constraints(), period="half", replications=2, find_breakevens=False)
    assert free.constraints == Constraints()
    assert (free.periods["back_share"] < 0.15 - 1e-9).any(), "the rule must bind for this test to mean anything"


def _small_file(tmp_path: Path, planning: dict) -> Path:
    s = small("early_stage_d2c", factor=0.1, months=MONTHS)
    data = s.model_dump(mode="json")
    data["planning"] = planning
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def captured(monkeypatch):
    """`sim optimize`'s call of the optimizer, recorded and stopped (the merge of the rules is what is tested)."""
    import sim.analysis.optimize

    calls: list[dict] = []

    def record(scenario, objective, constraints, **kwargs):
        calls.append({"constraints": constraints, **kwargs})
        raise UserInputError("stopped by the test", location="test")

    monkeypatch.setattr(sim.analysis.optimize, "optimize_budget", record)
    return calls


def test_the_constraints_file_and_the_flags_override_the_planning_section(tmp_path, captured):
    path = _small_file(
        tmp_path, {"period": "half", "hurdle_rate": 0.2, "min_share": {"back": 0.1}, "max_share": {"winback": 0.1}}
    )
    limits = tmp_path / "limits.yaml"
    limits.write_text("min_share: {back: 0.2}\nmonthly_cap: 5000000\n", encoding="utf-8")
    base = ["optimize", path, "--out", tmp_path / "o"]
    for extra, period, wanted in (
        ([], "half", Constraints(hurdle_rate=0.2, min_share={"back": 0.1}, max_share={"winback": 0.1})),
        (
            ["--constraints", limits],
            "half",
            Constraints(hurdle_rate=0.2, min_share={"back": 0.2}, max_share={"winback": 0.1}, monthly_cap=5e6),
        ),
        (
            ["--constraints", limits, "--hurdle", "0", "--period", "year", "--min-share", "back=0.3"],
            "year",
            Constraints(hurdle_rate=0.0, min_share={"back": 0.3}, max_share={"winback": 0.1}, monthly_cap=5e6),
        ),
    ):
        captured.clear()
        assert_refused(run_cli([*base, *extra]), "stopped by the test")
        (call,) = captured
        assert call["constraints"] == wanted and call["period"] in (period, None)
        if call["period"] is None:
            assert period == "half"  # the optimizer reads the scenario's period itself


def test_optimize_writes_the_rules_it_planned_under(tmp_path):
    path = _small_file(tmp_path, {"period": "half", "hurdle_rate": 0.1, "min_share": {"back": 0.15}})
    out = tmp_path / "opt"
    result = run_cli(["optimize", path, "--out", out, "--replications", "2", "--no-breakevens"])
    assert result.code == 0, result.stderr
    reco = json.loads((out / "recommendation.json").read_text(encoding="utf-8"))
    assert reco["period"] == "half" and reco["hurdle_rate"] == 0.1
    assert reco["constraints"]["min_share"] == {"back": 0.15} and reco["constraints"]["hurdle_rate"] == 0.1
    assert all(row["back_share"] >= 0.15 - 1e-9 for row in reco["recommended_path"])


@pytest.fixture
def no_search(monkeypatch):
    """The optimizer's search (or any simulation) fails the test: these refusals come first."""
    import sim.analysis.optimize
    import sim.engines.fast

    def refuse(*args, **kwargs):
        raise AssertionError("the search started")

    monkeypatch.setattr(sim.analysis.optimize, "FastEvaluator", refuse)
    monkeypatch.setattr(sim.engines.fast, "run_fast", refuse)


@pytest.mark.parametrize(
    "block, fragments",
    [
        ("{budget_cap: 1000}", ["planning -> budget_cap", "below the scenario's largest monthly budget"]),
        ("{monthly_cap: 1000}", ["planning -> monthly_cap", "cannot be spent"]),
        ("{min_share: {back: 0.6, front: 0.6}}", ["planning -> min_share", "add up to 1.2"]),
    ],
)
def test_a_rule_no_plan_can_meet_is_blamed_on_the_planning_section(tmp_path, no_search, block, fragments):
    path = _with_planning(tmp_path, block)
    out = tmp_path / "out"
    line = assert_refused(run_cli(["optimize", path, "--out", out]), "planned.yaml", *fragments)
    assert "--" not in line.split("planning ->")[1].split(":")[0]  # not blamed on a flag nobody gave
    assert not out.exists()
    report = tmp_path / "report"
    assert_refused(run_cli(["report", path, "--out", report]), "planned.yaml", *fragments)
    assert not report.exists(), "the report refuses before it simulates or writes anything"
