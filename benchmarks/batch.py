"""Batch throughput: the same 20 sample reports with 1 and with 2 local workers, in one run.

    python benchmarks/batch.py [--reports 20] [--replications 10] [--scale 0.05] [--months 12]

The reports are the sample scenarios in turn, each renamed (so that every report is its own file) and
scaled down (`sim.model.scaling.scaled`: same per-person dynamics, a smaller market) to keep the run short.
One untimed report first warms the caches (imports, fonts) so that neither timed run pays for them.
Prints both times, the reports per minute and, last, `batch_speedup_2_workers: <ratio>` (target >= 1.6
on a machine with 2 free cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.batch.runner import run_batch  # noqa: E402
from sim.model.scaling import scaled  # noqa: E402
from sim.model.scenario import load_scenario  # noqa: E402

SAMPLES = sorted((ROOT / "data" / "samples" / "scenarios").glob("*.yaml"))


def make_scenarios(folder: Path, n: int, scale: float, months: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        sample = load_scenario(SAMPLES[i % len(SAMPLES)])
        data = scaled(sample, scale, months).model_dump(mode="json", exclude_none=True)
        data["name"] = f"Bench {i:02d} {sample.name}"
        path = folder / f"bench_{i:02d}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def timed_batch(paths: list[Path], out: Path, workers: int, replications: int) -> float:
    started = time.perf_counter()
    result = run_batch(paths, out, workers=workers, replications=replications, force=True, progress=False)
    seconds = time.perf_counter() - started
    if result.failed:
        raise SystemExit("benchmark batch failed:\n" + "\n".join(o.one_line() for o in result.failed))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20, help="reports per run")
    parser.add_argument("--replications", type=int, default=10, help="replications per report")
    parser.add_argument("--scale", type=float, default=0.05, help="market scale of the samples")
    parser.add_argument("--months", type=int, default=12, help="simulated months")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sim-bench-batch-") as tmp:
        tmp_path = Path(tmp)
        paths = make_scenarios(tmp_path / "scenarios", args.reports, args.scale, args.months)
        print(
            f"cores: {os.cpu_count()}; reports: {len(paths)}; replications: {args.replications}; "
            f"scale: {args.scale}; months: {args.months}"
        )
        print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        timed_batch(paths[:1], tmp_path / "warmup", 1, args.replications)
        one = timed_batch(paths, tmp_path / "one", 1, args.replications)
        print(f"batch_1_worker_seconds: {one:.1f}")
        print(f"batch_1_worker_reports_per_minute: {60 * len(paths) / one:.2f}")
        two = timed_batch(paths, tmp_path / "two", 2, args.replications)
        print(f"batch_2_workers_seconds: {two:.1f}")
        print(f"batch_2_workers_reports_per_minute: {60 * len(paths) / two:.2f}")
        print(
            "load average after: {:.2f} {:.2f} {:.2f} (other work on the machine lowers the speedup)".format(
                *os.getloadavg()
            )
        )
        print(f"batch_speedup_2_workers: {one / two:.2f}")


if __name__ == "__main__":
    main()
