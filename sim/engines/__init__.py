"""Engines by name: objects in a registry that declare what they can do (papermill's `engines.py` style).

Every engine turns a scenario into the one `SimulationResult` type. Callers never test an engine's name;
they ask what it can do:

- `writes_orders`: it writes an order log (`orders.csv`), one row per simulated order;
- `expected_mode`: besides random draws it can give every flow its expected value (deterministic, no
  Monte Carlo noise: two plans then differ only by what was changed);
- `batch`: it simulates many plans of one scenario at once (sweeps, optimization).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from sim import lifeline
from sim.model.result import SimulationResult, combine_replications
from sim.model.scenario import Scenario


@dataclass(frozen=True)
class Engine:
    """One engine: its name, what it can do, and where its run function lives (imported on first use)."""

    name: str
    description: str
    writes_orders: bool
    expected_mode: bool
    batch: bool
    entry: str  # "module:function" of `run(scenario, seed, *, spend_month, sampled, progress, keep_orders)`
    memory_check: str | None = None  # "module:function" of `check(scenario, parallel)`: refuse what cannot fit

    def run(
        self,
        scenario: Scenario,
        seed: int | None = None,
        *,
        spend_month: np.ndarray | None = None,
        sampled: bool | None = None,
        progress: bool = False,
        keep_orders: bool = True,
    ) -> SimulationResult:
        """Run once. `sampled`: random draws (True) or expected values (False); None = the engine's own
        default (expected values where the engine has them). `spend_month` (M, C, 3) overrides the plan.
        `keep_orders`: keep the order log, where the engine writes one."""
        if sampled is False and not self.expected_mode:
            raise ValueError(f"the {self.name} engine has no expected-value mode")
        self.check_memory(scenario)
        return self._call(scenario, seed, spend_month, sampled, progress, keep_orders)

    def check_memory(self, scenario: Scenario, parallel: int = 1) -> None:
        """Refuse (ScenarioError, before anything starts) a run, or `parallel` runs at once, that cannot fit in
        memory; engines without a `memory_check` fit in little memory whatever the scenario."""
        if self.memory_check is not None:
            _resolve(self.memory_check)(scenario, parallel)

    def _call(self, scenario, seed, spend_month, sampled, progress, keep_orders) -> SimulationResult:
        return _resolve(self.entry)(
            scenario, seed, spend_month=spend_month, sampled=sampled, progress=progress, keep_orders=keep_orders
        )


def _resolve(entry: str):
    """The function named by "module:function" (imported on first use)."""
    module_name, func = entry.split(":")
    module = __import__(module_name, fromlist=[func])
    return getattr(module, func)


ENGINES: dict[str, Engine] = {
    "agent": Engine(
        name="agent",
        description="SimPy: every customer a process, capacity-limited teams; writes the order log",
        writes_orders=True,
        expected_mode=False,
        batch=False,
        entry="sim.engines.agent:run_agent",
        memory_check="sim.engines.memory:check_agent_memory",
    ),
    "fast": Engine(
        name="fast",
        description="NumPy: counts of people in latent classes, many plans at once; expected values or draws",
        writes_orders=False,
        expected_mode=True,
        batch=True,
        entry="sim.engines.fast:run_fast",
    ),
}


def engine_names() -> list[str]:
    """Names accepted by `get_engine` and the CLI's --engine."""
    return list(ENGINES)


def get_engine(name: str) -> Engine:
    """The engine registered under `name`."""
    if name not in ENGINES:
        raise KeyError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    return ENGINES[name]


def replication_seeds(seed: int, n: int) -> list[int]:
    """Independent seeds for n replications, from `SeedSequence.spawn` (stable for a given seed)."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


def _run_one(args: tuple) -> SimulationResult:
    name, scenario, seed, spend_month, keep_orders = args  # memory checked once, by `simulate`, for all
    return get_engine(name)._call(scenario, seed, spend_month, True, False, keep_orders)


def simulate(
    scenario: Scenario,
    engine: str = "agent",
    seed: int | None = None,
    replications: int = 1,
    workers: int = 1,
    *,
    spend_month: np.ndarray | None = None,
    progress: bool = False,
    keep_orders: bool = True,
) -> SimulationResult:
    """Run a scenario once, or `replications` times with independent seeds (means and 5/95% bands).

    One run is the engine's default (expected values where it has them); replications are random draws,
    so their bands mean something. With one replication the scenario's own seed (or `seed`) is used
    directly, so `sim run` with and without `--replications 1` gives the same files.
    """
    chosen = get_engine(engine)
    base_seed = scenario.simulation.seed if seed is None else seed
    if replications <= 1:
        return chosen.run(scenario, base_seed, spend_month=spend_month, progress=progress, keep_orders=keep_orders)
    workers = max(1, min(workers, replications))  # never more processes than runs
    chosen.check_memory(scenario, parallel=workers)
    jobs = [(engine, scenario, s, spend_month, keep_orders) for s in replication_seeds(base_seed, replications)]
    bar = tqdm(total=replications, desc=f"{engine} replications", unit="run", disable=None if progress else True)
    results = []
    if workers > 1:
        pool = lifeline.WorkerPool(max_workers=workers)
        try:
            runs = pool.map(_run_one, jobs)
            for res in runs:
                results.append(res)
                bar.update(1)
        except BaseException:
            # an interrupt (the signal handler has stopped the workers) or a failed run: leave without joining
            # the pool's threads, which can wait forever on workers that are gone
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    else:
        for job in jobs:
            results.append(_run_one(job))
            bar.update(1)
    bar.close()
    combined = combine_replications(results)
    combined.seed = base_seed
    return combined
