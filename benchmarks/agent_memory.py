"""Peak memory of the agent engine against the up-front estimate that refuses runs which cannot fit.

Runs the early-stage sample with 0, 100,000 and 300,000 existing customers (12 months), each in its own
process, and prints the measured peak RSS, the estimate of `sim.engines.memory.agent_bytes`, and their
ratio; the last line is the smallest `estimate_over_peak` (target >= 1: the estimate errs high).

    python benchmarks/agent_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys
from pathlib import Path
from sim.engines import get_engine
from sim.engines.memory import agent_bytes, existing_people
from sim.model.scenario import load_scenario
root = Path(sys.argv[2])
s = load_scenario(root / "data/samples/scenarios/early_stage_d2c.yaml")
n = int(sys.argv[1])
s = s.with_changes({"market.existing.customers": n, "market.size": max(s.market.size, 2 * n + 100_000),
                    "simulation.horizon_months": 12})
result = get_engine("agent").run(s, 1)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
frame = result.timeseries_frame()
customers = existing_people(s) + float(frame["new_customers"].sum())
orders = float(frame["orders"].sum())
estimate = agent_bytes(s, counts=(customers, orders))[0]
print(json.dumps({"customers": customers, "orders": orders, "peak": peak, "estimate": estimate}))
"""


def main() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    ratios = []
    for n in (0, 100_000, 300_000):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(n), str(root)], capture_output=True, text=True, check=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        ratio = row["estimate"] / row["peak"]
        ratios.append(ratio)
        print(
            f"customers {row['customers']:>9,.0f}  orders {row['orders']:>9,.0f}  peak {row['peak'] / 2**20:8.1f} MiB"
            f"  estimate {row['estimate'] / 2**20:8.1f} MiB  estimate/peak {ratio:.2f}"
        )
    print(f"estimate_over_peak {min(ratios):.2f}")


if __name__ == "__main__":
    main()
