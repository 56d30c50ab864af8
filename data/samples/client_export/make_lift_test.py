"""Regenerate the sample CRM lift test `lift_test.csv` from known effects (seeded, vectorized).

    python data/samples/client_export/make_lift_test.py

5,000 customers who were active at the test's start in each group, 120 days; the treated group received CRM
messages and offers worth 4,000 KRW per customer over the window. Their purchase rates and dropout chances are
drawn from the sample export's true repeat-purchase model (true_scenario.yaml: r 0.9, alpha 72 days, a 1.2,
b 5), and the treatment raised the purchase rate by 25%, cut the dropout chance per order by 30% and raised
order values by 5% (the truths in TRUE_PARAMETERS.json -> lift_test). `sim calibrate --lift-test` should find
these within their standard errors (tests/test_lift_test.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim.calibration.lifttest import simulate_lift_test

HERE = Path(__file__).resolve().parent
TRUTH = {"purchase_rate_uplift": 0.25, "dropout_reduction": 0.30, "order_value_uplift": 0.05}
SETTINGS = {"n_per_group": 5000, "days": 120, "spend": 4000.0, "seed": 2026}


def main() -> None:
    rp = json.loads((HERE / "TRUE_PARAMETERS.json").read_text())["repeat_purchase"]
    rng = np.random.default_rng(SETTINGS["seed"])
    table = simulate_lift_test(
        SETTINGS["n_per_group"],
        rp["r"],
        rp["alpha"],
        rp["a"],
        rp["b"],
        SETTINGS["days"],
        TRUTH["purchase_rate_uplift"],
        TRUTH["dropout_reduction"],
        TRUTH["order_value_uplift"],
        SETTINGS["spend"],
        rng,
        value_mean=42_000.0,
    )
    table.to_csv(HERE / "lift_test.csv", index=False)
    truth = json.loads((HERE / "TRUE_PARAMETERS.json").read_text())
    truth["lift_test"] = {**TRUTH, **SETTINGS, "file": "lift_test.csv", "script": "make_lift_test.py"}
    (HERE / "TRUE_PARAMETERS.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    print(table.groupby("group")[["orders", "revenue"]].sum())


if __name__ == "__main__":
    main()
