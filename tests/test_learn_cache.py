"""Chapter 9's shipped optimizer runs (`sim.learn.cache`): every run the chapter quotes is stored, a stored run
reads back as the result it was made from, and a fresh computation of the small case equals the stored one
(if the model, the engines or the optimizer changed the numbers, this fails: regenerate the runs)."""

from __future__ import annotations

import copy
import json

import pytest

from sim.learn import cache, splitting


def test_every_run_the_chapter_quotes_is_shipped():
    stored = cache.stored_runs()["runs"]
    for label, key, _ in splitting.shipped_runs():
        assert cache.key_digest(key) in stored, f"{label} is not stored: {cache.REGENERATE}"
        assert stored[cache.key_digest(key)]["label"] == label


def test_a_stored_run_reads_back_as_the_result_it_was_made_from():
    for run in cache.stored_runs()["runs"].values():
        result = cache.from_record(run["result"])
        assert json.loads(json.dumps(cache.to_record(result))) == run["result"]
        # and it is a result the chapter can use: its parts add up to its gain, its plan's shares to 1
        parts = result.decomposition["value"].sum()
        assert parts == pytest.approx(result.recommended_value - result.current_value, rel=1e-9, abs=1e-3)
        assert result.recommended_path.shares.sum(axis=1) == pytest.approx(1.0)


def test_the_chapter_reads_the_stored_runs_without_computing(monkeypatch):
    def refuse():
        raise AssertionError("computed a run that is shipped")

    label, key, _ = splitting.shipped_runs()[0]
    assert cache.cached(label, key, refuse).recommended_value == pytest.approx(
        cache.stored_runs()["runs"][cache.key_digest(key)]["result"]["recommended_value"]
    )


def test_a_run_that_is_not_stored_is_computed_with_a_warning(monkeypatch):
    monkeypatch.setattr(cache, "stored_runs", lambda: {"runs": {}})
    with pytest.warns(UserWarning, match="regenerate|Regenerate"):
        assert cache.cached("a new case", {"x": 1}, lambda: 42) == 42


def test_differences_find_a_changed_figure_and_ignore_floating_point_noise():
    record = next(iter(cache.stored_runs()["runs"].values()))["result"]
    noisy = copy.deepcopy(record)
    noisy["recommended_value"] *= 1 + 1e-9
    assert cache.differences(record, noisy) == []
    changed = copy.deepcopy(record)
    changed["periods"]["rows"][0][changed["periods"]["columns"].index("front_share")] += 0.05
    changed["advice"][0]["direction"] = "something else"
    found = cache.differences(record, changed)
    assert len(found) == 2 and any("periods.rows[0]" in line for line in found)


@pytest.mark.slow
def test_a_fresh_run_of_the_small_case_equals_the_stored_one():
    problems = cache.check(*splitting.check_run())
    assert problems == [], "\n".join(problems[:10]) + f"\nregenerate: {cache.REGENERATE}"
