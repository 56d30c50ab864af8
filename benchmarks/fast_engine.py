"""Fast engine speed, each figure measured in the same run (not a timed test).

Prints:
- seconds for a sweep of 1,000 budget splits of one scenario over 3 years of a 100,000-person market,
  expected-value mode, the optimizer's lean sweep (target <= 5 s on a 2-core machine);
- the per-scenario speed-up over the agent engine on the same market (target >= 1000x);
- the sampled mode's throughput as a share of a bare NumPy loop making the same count of binomial
  draws, day by day (target >= 0.5);
and, last, `fast_vs_agent_speedup: <ratio>`.

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
    """(n, M, C, 3) plans: random purpose shares of the same total, each purpose with its planned channel mix."""
    rng = np.random.default_rng(seed)
    base = budget.spend_by_month(scenario)
    per_purpose = base.sum(axis=1, keepdims=True)  # (M, 1, 3)
    mix = np.divide(base, per_purpose, out=np.zeros_like(base), where=per_purpose > 0)
    for j, purpose in enumerate(("front", "back", "winback")):
        if not mix[:, :, j].any():  # a purpose without budget: its natural channel
            from sim.analysis.marginal import purpose_channel_weights

            mix[:, :, j] = purpose_channel_weights(scenario, purpose)[None, :]
    total = budget.monthly_budget(scenario)[:, None, None]
    shares = rng.dirichlet([2.0, 1.5, 0.5], size=n)  # (n, 3)
    return total[None] * mix[None] * shares[:, None, None, :]


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
    spend = sweep_spend(scenario, args.scenarios)
    simulate_batch(scenario, spend[:2], detail=False)  # warm-up: imports, quadrature caches

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
    sweep = min(sweeps)
    agent = min(agents)
    assert np.isfinite(batch.kpi_vectors()["cumulative_contribution"]).all()
    print(f"market: {args.sample} scaled to {args.people:,} people, {args.months} months")
    print(f"sweep_scenarios: {args.scenarios} (expected mode, lean, {args.workers} workers)")
    print(f"sweep_seconds: {sweep:.2f}  (target <= 5; best of {args.repeats}: {', '.join(f'{x:.2f}' for x in sweeps)})")
    fast_each = sweep / args.scenarios
    print(f"agent_seconds_per_scenario: {agent:.3f}  (best of {args.repeats}: {', '.join(f'{x:.2f}' for x in agents)})")
    print(f"fast_seconds_per_scenario: {fast_each:.5f}")

    rows = [scenario] * args.sampled_rows
    base = budget.spend_by_month(scenario)[None].repeat(len(rows), axis=0)
    days = len(batch.dates)
    start = time.perf_counter()
    traced_days = list(range(days // 16, days, days // 8))  # 8 days spread over the horizon
    sampled = run_chunk(rows, base, "sampled", 3, False, 8, 4, False, True, traced_days)
    t_fast = time.perf_counter() - start
    t_bare = bare_numpy_loop(sampled.trace, days, len(traced_days))
    print(f"sampled_rows: {args.sampled_rows}  draws: {sampled.draws:,}  seconds: {t_fast:.2f}")
    print(f"bare_numpy_seconds: {t_bare:.2f}  (the engine's draws on {len(traced_days)} days spread over the horizon)")
    print(f"fast_vs_bare_numpy_throughput: {t_bare / t_fast:.2f}  (target >= 0.5)")
    print(f"fast_vs_agent_speedup: {agent / fast_each:.0f}")


if __name__ == "__main__":
    main()
