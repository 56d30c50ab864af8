"""Chapter 9 (splitting the budget) against the model's own numbers: its answers are not artefacts of a grid,
its pitfall and its exercises say the same thing, and its check cells accept every answer that is equally right
(a share on the flat top of the curve, a factor between the two values tried around a break-even)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.learn import splitting as sp
from sim.learn.exercises import EXERCISES, expected_answer, is_correct


def test_the_best_single_split_lies_inside_its_flat_top_and_the_sweep_is_fine():
    for kind in ("d2c", "saturated"):
        table = sp.split_sweep(kind)
        assert np.diff(table["front_share"]).max() == pytest.approx(0.01)  # 1% steps
        lo, hi = sp.flat_front(kind)
        assert lo <= sp.best_front(kind) <= hi
        best = sp.best_of(table)["npv"]
        inside = table[(table["front_share"] >= lo - 1e-9) & (table["front_share"] <= hi + 1e-9)]
        assert (inside["npv"] >= best * (1 - sp.FLAT_TOLERANCE) - 1e-6).all()


def test_every_share_on_the_flat_top_is_accepted_and_shares_off_it_are_not():
    lo, hi = sp.flat_front("saturated")
    for share in np.arange(lo, hi + 1e-9, 0.01):
        assert is_correct("ch9_q1", round(float(share), 2)), share
    assert not is_correct("ch9_q1", round(lo - 0.03, 2))
    if hi + 0.03 < 0.95:
        assert not is_correct("ch9_q1", round(hi + 0.03, 2))


def test_the_pitfall_and_exercise_3_agree_a_shorter_horizon_lowers_the_front_end_share():
    short, long = sp.flat_front("d2c", 12), sp.flat_front("d2c")
    assert short[1] < long[0], "the two flat tops overlap: the chapter's 'down' would be a grid artefact"
    assert expected_answer("ch9_q3") == "down"
    assert is_correct("ch9_q3", "내려간다") and not is_correct("ch9_q3", "up")


def test_the_optimizers_plan_beats_every_single_split_of_the_sweep():
    # the plan over time (and its channel mix) is searched from the current plan; it must not end below the
    # best constant split a trainee finds by hand, or the chapter would teach a search artefact
    for kind in ("d2c", "saturated"):
        assert sp.optimized(kind).recommended_value >= sp.best_of(sp.split_sweep(kind))["npv"]


def test_the_last_quarters_tilt_to_back_end_whatever_the_horizon():
    for shares in (sp.path_shares(sp.optimized("d2c")), sp.path_shares(sp.optimized("d2c", 12, breakevens=False))):
        assert shares["back"].iloc[-1] > shares["back"].iloc[0] + 0.5


def test_a_plan_of_ones_own_is_valued_like_the_sweep():
    # the same split in every half-year is the sweep's plan: the two ways of valuing it agree
    assert sp.plan_value("d2c", [0.6, 0.6, 0.6, 0.6]) == pytest.approx(sp.npv_at("d2c", 0.6), rel=1e-9)


def test_the_break_even_answer_accepts_the_bracket_but_not_the_value_where_the_plan_held():
    lo, hi = sp.breakeven_bracket("d2c", "retention.effect", "high")
    assert lo < sp.breakeven_multiple(sp.optimized("d2c"), "retention.effect", "high") < hi
    assert is_correct("ch9_q6", (lo + hi) / 2) and is_correct("ch9_q6", hi)
    assert not is_correct("ch9_q6", lo) and not is_correct("ch9_q6", hi * 1.5)


def test_more_backend_effect_moves_the_best_split_to_back_end():
    belief = sp.backend_belief("d2c")
    assert (np.diff(belief["back_share"]) >= -1e-9).all()
    assert belief["back_share"].iloc[-1] > belief["back_share"].iloc[0]


def test_the_word_answers_follow_the_optimizer():
    result = sp.optimized("d2c")
    parts = sp.gain_parts(result)
    assert sum(parts.values()) == pytest.approx(result.recommended_value - result.current_value, rel=1e-9, abs=1e-3)
    assert expected_answer("ch9_q4") == max(parts, key=parts.get)
    assert expected_answer("ch9_q5") == sp.budget_direction(result)
    assert {"ch9_q1", "ch9_q2", "ch9_q3", "ch9_q4", "ch9_q5", "ch9_q6"} <= set(EXERCISES)


def test_the_chapters_words_hold_for_the_models_numbers():
    # sentences of the chapter that figures alone do not check: if the model moves them, rewrite the text
    d2c, saturated = sp.optimized("d2c"), sp.optimized("saturated")
    parts = sp.gain_parts(d2c)
    assert parts["purpose_split"] < 0 < parts["timing"], "'the average split alone would lose money'"
    first_year = sp.path_shares(saturated).loc[1:3]
    assert first_year["winback"].mean() > max(first_year["front"].mean(), first_year["back"].mean()), (
        "'the saturated shop starts with win-back'"
    )
    twelve = sp.path_shares(sp.optimized("d2c", 12, breakevens=False))
    assert twelve.loc[3, "front"] < sp.path_shares(d2c).loc[3, "front"] - 0.2, "the horizon effect in quarter 3"
    belief = sp.backend_belief("d2c").set_index("factor")
    assert abs(belief.loc[3.0, "front_share"] - belief.loc[3.0, "back_share"]) <= 0.05, "'at 3x about level'"
    assert sp.backend_majority_factor("d2c") == 4.0
    assert sp.steady_front("saturated")[1] > -0.01, "'a steady front-end share earns almost the same'"
