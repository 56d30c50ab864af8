"""Engines by name: each turns a scenario into a `SimulationResult` (registry, not an if-chain)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tqdm.auto import tqdm

from sim.result import SimulationResult, combine_replications
from sim.scenario import Scenario

EngineFn = Callable[..., SimulationResult]
_ENGINES: dict[str, str] = {
    "agent": "sim.engines.agent:run_agent",
    "fast": "sim.engines.fast:run_fast",
}


def engine_names() -> list[str]:
    """Names accepted by `get_engine` and the CLI's --engine."""
    return list(_ENGINES)


def get_engine(name: str) -> EngineFn:
    """The run function of an engine, imported on first use."""
    if name not in _ENGINES:
        raise KeyError(f"unknown engine {name!r}; allowed: {', '.join(_ENGINES)}")
    module_name, func = _ENGINES[name].split(":")
    module = __import__(module_name, fromlist=[func])
    return getattr(module, func)


def replication_seeds(seed: int, n: int) -> list[int]:
    """Independent seeds for n replications, from `SeedSequence.spawn` (stable for a given seed)."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


def _run_one(args: tuple) -> SimulationResult:
    name, scenario, seed, kwargs = args
    return get_engine(name)(scenario, seed, **kwargs)


def simulate(
    scenario: Scenario,
    engine: str = "agent",
    seed: int | None = None,
    replications: int = 1,
    workers: int = 1,
    **kwargs,
) -> SimulationResult:
    """Run a scenario once, or `replications` times with independent seeds (means and 5/95% bands).

    With one replication the scenario's own seed (or `seed`) is used directly, so `sim run` with and
    without `--replications 1` gives the same files.
    """
    base_seed = scenario.simulation.seed if seed is None else seed
    if replications <= 1:
        return get_engine(engine)(scenario, base_seed, **kwargs)
    seeds = replication_seeds(base_seed, replications)
    show = bool(kwargs.pop("progress", False))
    jobs = [(engine, scenario, s, kwargs) for s in seeds]
    bar = tqdm(total=replications, desc=f"{engine} replications", unit="run", disable=None if show else True)
    results = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for res in pool.map(_run_one, jobs):
                results.append(res)
                bar.update(1)
    else:
        for job in jobs:
            results.append(_run_one(job))
            bar.update(1)
    bar.close()
    combined = combine_replications(results)
    combined.seed = base_seed
    return combined
