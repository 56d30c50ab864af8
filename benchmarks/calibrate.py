"""Benchmark: `sim calibrate` on CDNOW_master end to end, against lifetimes' Pareto/NBD fit of the same summary.

    python benchmarks/calibrate.py

CDNOW_master (69,659 order lines of 23,570 customers, 1997-01 .. 1998-06; bundled in the lifetimes wheel) is
written as a shop's CSV export. The timed part is what `sim calibrate` does: read and check the CSV,
summarize, compare BG/NBD, MBG/NBD and Pareto/NBD out of sample (time split) and fit the chosen family with
standard errors, the seasonal index jointly with it (18 months), order values, and write the scenario and its
snapshot. In the same run lifetimes' ParetoNBDFitter fits the same customer summary (days). The last line
is `calibrate_vs_lifetimes_pareto: <ratio>` (our wall time over theirs; target <= 0.2).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.calibration.calibrate import Assumptions, calibrate  # noqa: E402
from sim.calibration.summary import summarize  # noqa: E402
from sim.calibration.writer import write_calibration  # noqa: E402


def cdnow_csv(folder: Path) -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("lifetimes (dev extra) is not installed: pip install lifetimes==0.11.3")
    raw = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_master.txt"
    d = pd.read_csv(raw, sep=r"\s+", dtype=str)
    out = folder / "cdnow_orders.csv"
    d.rename(columns={"date": "order_date", "dollar_value": "amount"})[["customer_id", "order_date", "amount"]].to_csv(
        out, index=False
    )
    return out


def main() -> None:
    from lifetimes import ParetoNBDFitter

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        orders = cdnow_csv(folder)
        t0 = time.perf_counter()
        cal = calibrate(orders, assumptions=Assumptions(currency="USD"))
        write_calibration(cal, folder / "cdnow.yaml")
        ours = time.perf_counter() - t0
        s = summarize(cal.log.transactions, cal.cutoff)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs_fit = ParetoNBDFitter().fit(
                s["frequency"].to_numpy(), s["recency"].to_numpy(dtype=float), s["age"].to_numpy(dtype=float)
            )
        theirs = time.perf_counter() - t0
    choice = cal.diagnostics["model_choice"]
    print(f"customers {len(s):,}, transactions {len(cal.log.transactions):,}")
    for name, v in choice["families"].items():
        if v.get("fitted"):
            print(f"{name:>7}: holdout total error {v['total_error']:+.1%}, tracking error {v['tracking_error']:.1%}")
    print(f"best out of sample: {choice.get('best_out_of_sample')}; scenario carries {choice['chosen']}")
    print(f"lifetimes ParetoNBDFitter params (days): {dict(theirs_fit.params_.round(4))}")
    if "pareto" in choice["families"]:
        print("(our Pareto/NBD on the time split is in the calibration block)")
    print(f"calibrate_seconds: {ours:.2f}")
    print(f"lifetimes_pareto_seconds: {theirs:.2f}")
    print(f"calibrate_vs_lifetimes_pareto: {ours / theirs:.3f}")


if __name__ == "__main__":
    main()
