"""Fast engine speed, each figure measured in the same run (not a timed test).

Prints, for two scenarios (the sample without a calendar and with one split, as on 2026-12-01; and the sample
with its seasons and promotions and a plan whose split changes by quarter):
- seconds for a sweep of 1,000 budget splits of one scenario over 3 years of a 100,000-person market,
  expected-value mode, the optimizer's lean sweep (target <= 5 s on a 2-core machine);
- the per-scenario speed-up over the agent engine on the same market (target >= 1000x);
- the sampled mode's throughput as a share of a bare NumPy loop making the same count of binomial
  draws, day by day, best of three runs of each taken in turns (target >= 0.5);
and, last, the lower of the two scenarios' `fast_vs_bare_numpy_throughput` and `fast_vs_agent_speedup: <ratio>`.

    python benchmarks/fast_engine.py [--people 100000] [--months 36] [--scenarios 1000] [--workers 2]
                                     [--sample early_stage_d2c]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.engines.agent import run_agent  # noqa: E402
from sim.engines.fast import run_chunk, simulate_batch  # noqa: E402
from sim.model import budget  # noqa: E402
from sim.model.scaling import scaled  # noqa: E402
from sim.model.scenario import load_scenario  # noqa: E402


def market(sample: str, people: int, months: int):
    base = load_scenario(ROOT / "data" / "samples" / "scenarios" / f"{sample}.yaml")
    return scaled(base, people / base.market.size, months)


def sweep_spend(scenario, n: int, seed: int = 1) -> np.ndarray:
    """(n, M, C, 3) plans: random purpose shares of the same total, each purpose with its planned channel mix;
    a phased scenario's plans change their shares every quarter, as the optimizer's do."""
    rng = np.random.default_rng(seed)
    base = budget.spend_by_month(scenario)
    per_purpose = base.sum(axis=1, keepdims=True)  # (M, 1, 3)
    mix = np.divide(base, per_purpose, out=np.zeros_like(base), where=per_purpose > 0)
    for j, purpose in enumerate(("front", "back", "winback")):
        if not mix[:, :, j].any():  # a purpose without budget: its natural channel
            from sim.analysis.marginal import purpose_channel_weights

            mix[:, :, j] = purpose_channel_weights(scenario, purpose)[None, :]
    total = budget.monthly_budget(scenario)[:, None, None]
    M = len(total)
    if not scenario.budget.phased:
        shares = rng.dirichlet([2.0, 1.5, 0.5], size=n)  # (n, 3)
        return total[None] * mix[None] * shares[:, None, None, :]
    quarters = rng.dirichlet([2.0, 1.5, 0.5], size=(n, -(-M // 3)))  # (n, Q, 3)
    by_month = quarters[:, np.arange(M) // 3]  # (n, M, 3)
    return total[None] * mix[None] * by_month[:, :, None, :]


def bare_numpy_loop(trace: list, days: int, traced_days: int, seed: int = 2) -> float:
    """Seconds for a plain loop of `days` steps making the engine's draws (recorded on `traced_days` days
    spread over the horizon: the same counts n, chances p and Poisson means), each traced day's draws in
    one binomial and one Poisson call, each traced day standing for days / traced_days days."""
    rng = np.random.default_rng(seed)
    per_day = [x for x in trace]
    n = np.concatenate([x[1] for x in per_day if x[0] == "binomial"]).astype(np.int64)
    p = np.concatenate([x[2] for x in per_day if x[0] == "binomial"])
    lam = np.concatenate([x[1] for x in per_day if x[0] == "poisson"] or [np.zeros(0)])
    start = time.perf_counter()
    for _ in range(int(round(days / traced_days))):
        rng.binomial(n, p)
        rng.poisson(lam)
    return time.perf_counter() - start


def seasonal_phased(scenario):
    """The scenario with its calendar (the sample's seasons and promotions) and a plan whose split changes by
    quarter: acquisition first, more retention as the base grows."""
    split = scenario.budget.purpose_split
    back = split.get("back", 0.0)
    phases = []
    for k in range(4):
        b = min(0.9, back * (0.5 + 0.5 * k))
        rest = 1.0 - b
        share = split.get("front", 0.0) + split.get("winback", 0.0)
        phases.append(
            {
                "front": rest * split.get("front", 0.0) / share,
                "back": b,
                "winback": rest * split.get("winback", 0.0) / share,
            }
        )
    return scenario.with_changes({"budget.purpose_split": phases, "budget.split_period": "quarter"})


def plain(scenario):
    """The scenario without a calendar and with one split for the whole horizon (the benchmark of 2026-12-01)."""
    return scenario.with_changes({"seasonality": None, "events": []})


def measure(label: str, scenario, args) -> tuple[float, float]:
    """Print one scenario's figures; (fast_vs_agent_speedup, fast_vs_bare_numpy_throughput)."""
    spend = sweep_spend(scenario, args.scenarios)
    simulate_batch(scenario, spend[:2], detail=False)  # warm-up: imports, quadrature caches, compiled kernels
    run_agent(scenario, 1, keep_orders=False)  # warm-up
    # best of `--repeats` timings for both engines alike, taken in turns so that both see the same machine
    # (it is shared and noisy)
    sweeps, agents = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        batch = simulate_batch(scenario, spend, mode="expected", workers=args.workers, detail=False)
        sweeps.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_agent(scenario, 1, keep_orders=False)  # one seed: the same run each time
        agents.append(time.perf_counter() - start)
    sweep, agent = min(sweeps), min(agents)
    assert np.isfinite(batch.kpi_vectors()["cumulative_contribution"]).all()
    print(f"[{label}] market: {args.sample} scaled to {args.people:,} people, {args.months} months")
    print(f"[{label}] sweep_scenarios: {args.scenarios} (expected mode, lean, {args.workers} workers)")
    print(
        f"[{label}] sweep_seconds: {sweep:.2f}  (target <= 5; best of {args.repeats}: {', '.join(f'{x:.2f}' for x in sweeps)})"
    )
    fast_each = sweep / args.scenarios
    print(
        f"[{label}] agent_seconds_per_scenario: {agent:.3f}  (best of {args.repeats}: {', '.join(f'{x:.2f}' for x in agents)})"
    )
    print(f"[{label}] fast_seconds_per_scenario: {fast_each:.5f}")
    rows = [scenario] * args.sampled_rows
    base = budget.spend_by_month(scenario)[None].repeat(len(rows), axis=0)
    days = len(batch.dates)
    traced_days = list(range(days // 16, days, days // 8))  # 8 days spread over the horizon
    fasts, bares = [], []
    for _ in range(3):  # best of three for both, in turns (as above: the machine is shared and noisy)
        start = time.perf_counter()
        sampled = run_chunk(rows, base, "sampled", 3, False, 8, 4, False, True, traced_days)
        fasts.append(time.perf_counter() - start)
        bares.append(bare_numpy_loop(sampled.trace, days, len(traced_days)))
    t_fast, t_bare = min(fasts), min(bares)
    print(
        f"[{label}] sampled_rows: {args.sampled_rows}  draws: {sampled.draws:,}  seconds: {t_fast:.2f}"
        f"  (best of 3: {', '.join(f'{x:.2f}' for x in fasts)})"
    )
    print(
        f"[{label}] bare_numpy_seconds: {t_bare:.2f}  (the engine's draws on {len(traced_days)} days spread over the"
        f" horizon; best of 3: {', '.join(f'{x:.2f}' for x in bares)})"
    )
    print(f"[{label}] fast_vs_bare_numpy_throughput: {t_bare / t_fast:.2f}  (target >= 0.5)")
    print(f"[{label}] fast_vs_agent_speedup: {agent / fast_each:.0f}")
    return agent / fast_each, t_bare / t_fast


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--scenarios", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", default="early_stage_d2c")
    ap.add_argument("--sampled-rows", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5, help="timings per engine; the best one counts")
    args = ap.parse_args()
    scenario = market(args.sample, args.people, args.months)
    results = [measure("plain", plain(scenario), args), measure("seasonal, phased", seasonal_phased(scenario), args)]
    print(f"fast_vs_bare_numpy_throughput: {min(r[1] for r in results):.2f}  (the lower of the two scenarios)")
    print(f"fast_vs_agent_speedup: {min(r[0] for r in results):.0f}  (the lower of the two scenarios)")


if __name__ == "__main__":
    main()
