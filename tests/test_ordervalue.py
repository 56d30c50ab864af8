"""The order-value fits: the Gamma-Gamma search cut short where it can no longer see the objective change."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibration import btyd
from sim.calibration.ordervalue import _fit_gamma_gamma


def _summary(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Customers' transaction values drawn from a Gamma-Gamma (p 3, q 5, gamma 40)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 8, size=n)
    nu = rng.gamma(5.0, 1.0 / 40.0, size=n)
    values = [rng.gamma(3.0, 1.0 / v, size=k) for v, k in zip(nu, counts, strict=True)]
    return pd.DataFrame(
        {
            "n_positive": counts,
            "value_sum": [float(v.sum()) for v in values],
            "log_value_sum": [float(np.log(v).sum()) for v in values],
        }
    )


def test_gamma_gamma_fit_is_that_of_bfgs_run_to_its_end(monkeypatch):
    """Ending a line search lost in the objective's rounding (speed) gives BFGS's own result: with ROUNDING 0 the
    search is never cut short."""
    s = _summary(40_000, seed=3)  # a sample where BFGS's last line searches are lost in the rounding
    params, se = _fit_gamma_gamma(s)
    monkeypatch.setattr(btyd, "ROUNDING", 0.0)
    plain, plain_se = _fit_gamma_gamma(s)
    for k in ("p", "q", "gamma"):
        assert abs(params[k] / plain[k] - 1.0) < 1e-6
        assert abs(se[k] / plain_se[k] - 1.0) < 1e-4
    assert abs(params["p"] / 3.0 - 1.0) < 0.05 and abs(params["q"] / 5.0 - 1.0) < 0.05
