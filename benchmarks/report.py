"""Wall time of one strategy report for the early-stage sample, split into its three stages.

simulation: the library computes every figure's data (optimizer and lever sweep on the fast engine,
overlapping one agent-engine run for the order-level views); notebook: papermill executes the report
notebook (kernel start, imports, plots); html: nbconvert writes the self-contained page.
Prints each stage and, last, `report_seconds: <s>` (target <= 20 s).

    python benchmarks/report.py [--lang en|ko] [--replications 100] [--scenario PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.report.render import render_report  # noqa: E402

SAMPLE = ROOT / "data" / "samples" / "scenarios" / "early_stage_d2c.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=SAMPLE)
    parser.add_argument("--lang", default="en", choices=["en", "ko"])
    parser.add_argument("--replications", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sim-report-bench-") as tmp:
        start = time.perf_counter()
        out = render_report(args.scenario, Path(tmp), args.lang, replications=args.replications)
        total = time.perf_counter() - start
        inner = json.loads((out.data_dir / "meta.json").read_text(encoding="utf-8")).get("timings", {})
        size = out.html.stat().st_size
    print(f"scenario: {args.scenario.name}  lang: {args.lang}  replications: {args.replications}")
    for stage in ("simulation", "notebook", "html"):
        print(f"{stage}_seconds: {out.timings.get(stage, float('nan')):.2f}")
    print("simulation parts: " + ", ".join(f"{k} {v:.2f} s" for k, v in inner.items()))
    print(f"html_bytes: {size}")
    print(f"report_seconds: {total:.2f}")


if __name__ == "__main__":
    main()
