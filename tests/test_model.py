"""The model's functions give the same numbers for plain floats (the agent engine's daily calls take a
`math` branch) as for NumPy arrays (the fast engine's), and keep their basic shapes."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import acquisition, retention, winback

RNG = np.random.default_rng(20261201)
N = 200


def _floats(low: float, high: float) -> np.ndarray:
    return RNG.uniform(low, high, N)


# (function, argument generators): every argument is drawn per case; the first one decides the branch
CASES = {
    "contact_probability": (acquisition.contact_probability, [_floats(0, 5e4), _floats(1, 2e5)]),
    "monthly_to_daily_hazard": (acquisition.monthly_to_daily_hazard, [_floats(-0.1, 1.1)]),
    "first_purchase_hazard": (
        lambda share, base, impact, mult: acquisition.first_purchase_hazard(base, share, impact, mult),
        [_floats(-0.2, 1.2), _floats(0, 0.05), _floats(0, 1), _floats(0.5, 3)],
    ),
    "forgetting_hazard": (acquisition.forgetting_hazard, [_floats(0, 0.9), _floats(0, 1)]),
    "backend_saturation": (retention.backend_saturation, [_floats(-100, 1e4), _floats(1, 5e3)]),
    "aware_outcome_probabilities": (acquisition.aware_outcome_probabilities, [_floats(0, 0.2), _floats(0, 0.2)]),
    "winback_contact_probability": (winback.winback_contact_probability, [_floats(0, 500), _floats(1, 5e4)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scalar_branch_matches_array_branch(name):
    fn, args = CASES[name]
    vectorized = fn(*args)
    for i in range(N):
        scalar = fn(*(float(a[i]) for a in args))
        if isinstance(vectorized, tuple):
            for s, v in zip(scalar, vectorized, strict=True):
                assert type(s) is float
                assert s == pytest.approx(float(v[i]), rel=1e-12, abs=1e-15), (name, i)
        else:
            assert type(scalar) is float, name
            assert scalar == pytest.approx(float(vectorized[i]), rel=1e-12, abs=1e-15), (name, i)


def test_retention_effect_is_the_same_for_floats_and_arrays():
    sat = _floats(0, 1)
    arr = retention.retention_effect(sat, 0.7, 0.5, 0.3, 0.2)
    for i in (0, 17, N - 1):
        one = retention.retention_effect(float(sat[i]), 0.7, 0.5, 0.3, 0.2)
        assert one.purchase_rate == pytest.approx(arr.purchase_rate[i], rel=1e-14)
        assert one.dropout == pytest.approx(arr.dropout[i], rel=1e-14)
        assert one.order_value == pytest.approx(arr.order_value[i], rel=1e-14)
    neutral = retention.retention_effect(0.0, 0.7, 0.5, 0.3, 0.2)
    assert (neutral.purchase_rate, neutral.dropout, neutral.order_value) == (1.0, 1.0, 1.0)


def test_hazards_and_chances_stay_in_range_and_move_the_right_way():
    contacts = np.linspace(0, 1e6, 101)
    p = acquisition.contact_probability(contacts, 1e5)
    assert p[0] == 0 and (np.diff(p) > 0).all() and (p < 1).all()
    assert acquisition.contact_probability(0.0, 1e5) == 0.0
    sat = retention.backend_saturation(np.linspace(0, 1e4, 101), 2500.0)
    assert sat[0] == 0 and (np.diff(sat) > 0).all() and sat[-1] < 1
    assert retention.backend_saturation(2500.0, 2500.0) == pytest.approx(0.5)
    buy, forget = acquisition.aware_outcome_probabilities(0.01, 0.02)
    assert 0 < buy < forget and buy + forget < 1
    assert acquisition.aware_outcome_probabilities(0.0, 0.0) == (0.0, 0.0)
    # negative word of mouth can only lower the first-purchase hazard
    base = acquisition.first_purchase_base_hazard(0.1, 1.0, 1.0)
    calm = acquisition.first_purchase_hazard(base, 0.0, 0.5)
    angry = acquisition.first_purchase_hazard(base, 0.4, 0.5)
    assert angry < calm
