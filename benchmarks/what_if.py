"""Seconds the what-if notebook takes to answer one move of a lever (edit, validate, fast engine in expected
mode, KPIs of both plans, the two charts), for each sample scenario at full size.

Prints the median of a few moves per sample and, last, `what_if_move_seconds: <s>` (the slowest sample's
median; target < 1 s). The answer's KPIs and charts are built exactly as the notebook builds them.

    python benchmarks/what_if.py [--moves 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sim.learn.what_if import WhatIf, kpi_table, plot_answer, run  # noqa: E402

SAMPLES = sorted((ROOT / "data" / "samples" / "scenarios").glob("*.yaml"))


def one_move(what_if: WhatIf, values: dict[str, float]) -> float:
    start = time.perf_counter()
    _, scenario = what_if.edited(values)
    before, after = what_if.baseline(), run(scenario)
    currency = scenario.economics.currency
    kpi_table(before, after, currency)
    plt.close(plot_answer(before, after, currency))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=5)
    args = parser.parse_args()
    medians = []
    for path in SAMPLES:
        what_if = WhatIf.open(path)
        what_if.baseline()  # computed once when the notebook opens the scenario
        base = what_if.values()
        moves = [{**base, "front": max(0.0, base["front"] - 0.01 * (i + 1))} for i in range(args.moves)]
        seconds = [one_move(what_if, v) for v in moves]
        medians.append(statistics.median(seconds))
        print(f"{path.stem}: median {medians[-1]:.2f} s per move (min {min(seconds):.2f}, max {max(seconds):.2f})")
    print(f"what_if_move_seconds: {max(medians):.2f}")


if __name__ == "__main__":
    main()
