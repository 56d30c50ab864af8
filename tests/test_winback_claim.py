"""The source texts' claim, in the model's numbers: win-back pays only once the market is saturated.

Seed article 001 ("remarketing is like calling an ex"): while many people have not met the brand, a unit
of budget earns more in meeting new people and keeping current customers than in chasing leavers. Nothing
in the model special-cases this: it comes out of saturating reach on a mostly unaware market, a small and
quickly contacted lapsed pile, and reactivation chances that fade with time since lapsing.
"""

from __future__ import annotations

import pytest
from conftest import sample

from sim.analysis.marginal import marginal_rois


@pytest.fixture(scope="module")
def rois():
    return {name: marginal_rois(sample(name), engine="fast") for name in ("early_stage_d2c", "mature_marketplace")}


def test_early_stage_winback_earns_less_than_acquisition_and_retention(rois):
    r = rois["early_stage_d2c"]
    assert r["winback"] < r["front"], r
    assert r["winback"] < r["back"], r


def test_saturated_market_winback_earns_at_least_as_much_as_acquisition(rois):
    r = rois["mature_marketplace"]
    assert r["winback"] >= r["front"], r


def test_saturation_is_what_changes_the_answer(rois):
    """Acquisition's marginal return falls from the early-stage market to the saturated one."""
    assert rois["mature_marketplace"]["front"] < rois["early_stage_d2c"]["front"]
