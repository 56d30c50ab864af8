"""Agent engine throughput against a bare SimPy loop with the same number of events, and peak memory.

Prints events per second of both in the same run and, last, `agent_vs_bare_simpy: <ratio>` (target >= 0.5).
Also prints the peak resident memory of a 1,000,000-person market run (target <= 3 GiB), measured in a
child process so that it is not mixed with this one.

    python benchmarks/agent_engine.py [--people 100000] [--months 36] [--memory-people 1000000]
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.engines.agent import run_agent  # noqa: E402
from sim.model.scaling import scaled  # noqa: E402
from sim.model.scenario import load_scenario  # noqa: E402

SAMPLE = ROOT / "data" / "samples" / "scenarios" / "early_stage_d2c.yaml"


def market(people: int, months: int):
    base = load_scenario(SAMPLE)
    return scaled(base, people / base.market.size, months)


def bare_simpy(events: int, processes: int, seed: int = 1) -> tuple[float, int]:
    """Seconds for a SimPy loop of `processes` processes that together schedule `events` timeouts."""
    rnd = random.Random(seed)
    env = simpy.Environment()
    per = max(1, events // processes)

    def person(n):
        for _ in range(n):
            yield env.timeout(rnd.random())

    start = time.perf_counter()
    for _ in range(processes):
        env.process(person(per))
    env.run()
    return time.perf_counter() - start, next(env._eid)


def peak_memory_child(people: int, months: int) -> None:
    scenario = market(people, months)
    run_agent(scenario, keep_orders=True)
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{kib / 1024 / 1024:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--memory-people", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5, help="timings per loop; the best one counts")
    ap.add_argument("--child-memory", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_memory:
        peak_memory_child(args.child_memory, args.months)
        return
    scenario = market(args.people, args.months)
    result = run_agent(scenario)  # warm-up: imports, caches
    events = result.meta["events"]
    processes = int(result.daily["new_customers"].sum() + result.daily["reactivations"].sum()) + int(
        scenario.market.existing.customers + scenario.market.existing.loyal
    )
    # best of `--repeats` timings for both loops alike, taken in turns so that both see the same machine
    # (it is shared and noisy)
    agent_times, bare = [], []
    for i in range(args.repeats):
        start = time.perf_counter()
        result = run_agent(scenario)
        agent_times.append(time.perf_counter() - start)
        bare.append(bare_simpy(events, max(processes, 1), seed=i))
    agent_s = min(agent_times)
    bare_s, bare_events = min(bare)
    agent_rate = events / agent_s
    bare_rate = bare_events / bare_s
    print(
        f"market: {args.people:,} people, {args.months} months, {len(result.orders):,} orders, {processes:,} customer processes"
    )
    print(f"agent engine: {events:,} events in {agent_s:.2f} s = {agent_rate:,.0f} events/s")
    print(f"bare SimPy:   {bare_events:,} events in {bare_s:.2f} s = {bare_rate:,.0f} events/s")
    child = subprocess.run(
        [sys.executable, __file__, "--child-memory", str(args.memory_people), "--months", str(args.months)],
        capture_output=True,
        text=True,
        check=True,
    )
    gib = float(child.stdout.strip().splitlines()[-1])
    print(f"peak memory, {args.memory_people:,}-person market, {args.months} months: {gib:.2f} GiB (target <= 3 GiB)")
    print(f"agent_vs_bare_simpy: {agent_rate / bare_rate:.3f}")


if __name__ == "__main__":
    main()
