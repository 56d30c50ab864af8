"""The what-if module behind `notebooks/what_if.ipynb`: levers, edits that keep the client's YAML, answers from
the fast engine, and a save that validates and writes atomically."""

from __future__ import annotations

import pytest
import yaml
from conftest import SAMPLES

from sim.errors import UserInputError
from sim.learn.what_if import KEY_KPIS, WhatIf, kpi_table, run
from sim.model.kpis import compute_kpis
from sim.model.scenario import load_scenario

EARLY = SAMPLES / "early_stage_d2c.yaml"


@pytest.fixture(scope="module")
def what_if() -> WhatIf:
    return WhatIf.open(EARLY)


def test_the_levers_start_at_the_scenarios_values(what_if):
    values = what_if.values()
    s = what_if.scenario
    assert values["front"] == s.budget.purpose_split["front"] and values["winback"] == s.budget.purpose_split["winback"]
    assert values["conversion"] == s.first_purchase.monthly_conversion
    assert values["reliability"] == s.experience.reliability and values["delight"] == s.experience.delight_coverage
    assert values["winback_response"] == s.winback.base_reactivation
    assert values["budget"] == values["retention_effect"] == 1.0
    assert what_if.changes(values) == {}  # nothing moved, nothing edited


def test_moved_levers_edit_only_their_fields(what_if):
    values = {**what_if.values(), "front": 0.6, "budget": 1.5, "retention_effect": 2.0}
    changes = what_if.changes(values)
    assert changes["budget.purpose_split"] == {"front": 0.6, "winback": 0.05, "back": 0.35}
    assert changes["budget.totals"] == [pytest.approx(1.5 * what_if.scenario.budget.totals[0])]
    r = what_if.scenario.retention
    assert changes["retention.purchase_rate_uplift_max"] == pytest.approx(2 * r.purchase_rate_uplift_max)
    assert changes["retention.dropout_reduction_max"] == pytest.approx(min(1.0, 2 * r.dropout_reduction_max))
    raw, edited = what_if.edited(values)
    assert raw["experience"] == what_if.raw["experience"]  # untouched blocks stay as the client wrote them
    assert edited.budget.purpose_split["back"] == pytest.approx(0.35)


def test_a_factor_never_leaves_the_schema(what_if):
    _, edited = what_if.edited({**what_if.values(), "retention_effect": 3.0})
    assert edited.retention.dropout_reduction_max <= 1.0


def test_win_back_cannot_take_more_than_front_end_leaves(what_if):
    split = what_if.changes({**what_if.values(), "front": 0.99, "winback": 0.3})["budget.purpose_split"]
    assert split == {"front": 0.99, "winback": 0.01, "back": 0.0}


def test_the_answer_moves_the_way_the_lever_says(what_if):
    base = compute_kpis(what_if.baseline())
    _, more = what_if.edited({**what_if.values(), "budget": 0.0})
    result = run(more)
    none = compute_kpis(result)
    assert none["new_customers"] < base["new_customers"]
    # no budget, no media spend: what is left is the promotions' own cost, which the budget does not pay
    spent = result.monthly()[["spend_front", "spend_back", "spend_winback"]].to_numpy()
    assert (spent == 0).all()
    assert none["marketing_spend"] == pytest.approx(result.monthly()["event_cost"].sum())
    _, worse = what_if.edited({**what_if.values(), "reliability": 0.7})
    assert compute_kpis(run(worse))["dissatisfied_share"] > base["dissatisfied_share"]


def test_the_kpi_table_labels_both_plans_in_both_languages(what_if):
    before = what_if.baseline()
    for lang, cols in (("en", ["as loaded", "edited", "change"]), ("ko", ["불러온 계획", "수정한 계획", "변화"])):
        table = kpi_table(before, before, "KRW", lang)
        assert list(table.columns) == cols and len(table) == len(KEY_KPIS)
        assert "e+" not in table.to_string()  # money without scientific notation
    assert "고객 획득 비용(CAC)" in kpi_table(before, before, "KRW", "ko").index


def test_save_writes_a_valid_scenario_atomically_and_refuses_to_overwrite_unasked(what_if, tmp_path):
    values = {**what_if.values(), "front": 0.7}
    target = tmp_path / "client_what_if.yaml"
    what_if.save(values, target)
    saved = load_scenario(target)
    assert saved.budget.purpose_split["front"] == pytest.approx(0.7)
    assert yaml.safe_load(target.read_text())["name"] == what_if.raw["name"]
    with pytest.raises(UserInputError, match="exists already"):
        what_if.save(values, target)
    what_if.save({**values, "front": 0.8}, target, overwrite=True)
    assert load_scenario(target).budget.purpose_split["front"] == pytest.approx(0.8)
    with pytest.raises(UserInputError, match=r"\.yaml or \.yml"):
        what_if.save(values, tmp_path / "client.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["client_what_if.yaml"]  # no temporary file left


def test_a_bad_scenario_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EARLY.read_text().replace("reliability: 0.95", "reliability: 1.5"))
    with pytest.raises(UserInputError, match="bad.yaml: experience -> reliability"):
        WhatIf.open(bad)
    with pytest.raises(UserInputError, match="not valid YAML"):
        WhatIf.from_text("market: [", "upload.yaml")
