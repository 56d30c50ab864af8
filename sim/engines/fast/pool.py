"""Worker processes kept for the process's life, so repeated batches (the optimizer's sweeps) do not pay
for starting processes each time (a speed trick: made lazily, remade if a worker died, shut down at exit)."""

from __future__ import annotations

import atexit
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sim.lifeline import WorkerPool

# speed: worker pools kept for the process's life, one per worker count, so repeated batches (the
# optimizer's sweeps) do not pay for starting processes each time; made lazily, shut down at exit
_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_PID = os.getpid()  # the process that owns `_POOLS` (a forked child inherits the dict, not the pools)


def _shared_pool(workers: int) -> ProcessPoolExecutor | None:
    """The kept pool of `workers` processes, or None where one must not be kept: inside a pool worker or
    any other child process (its pools would outlive their use) and in a daemon process (no children)."""
    global _POOLS_PID
    if multiprocessing.current_process().daemon or multiprocessing.parent_process() is not None:
        return None
    if os.getpid() != _POOLS_PID:  # forked some other way: the inherited pools are not ours
        _POOLS.clear()
        _POOLS_PID = os.getpid()
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = WorkerPool(max_workers=workers)
    return pool


def _drop_pool(workers: int) -> None:
    """Forget a kept pool (broken: a worker died) after shutting it down."""
    pool = _POOLS.pop(workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown_pools() -> None:
    if os.getpid() == _POOLS_PID:
        for workers in list(_POOLS):
            _drop_pool(workers)


def in_pool(workers: int, run) -> list:
    """`run(pool)` on the kept pool of `workers` processes (made again once if a worker had died), or on a
    pool of this call's own where none may be kept."""
    pool = _shared_pool(workers)
    if pool is None:
        if multiprocessing.current_process().daemon:  # a daemon process may not start processes
            raise NoPool
        with WorkerPool(max_workers=workers) as own:
            return run(own)
    try:
        return run(pool)
    except BrokenProcessPool:
        _drop_pool(workers)
        return run(_shared_pool(workers))


class NoPool(Exception):
    """No worker processes can be started here (a daemon process): run in this process."""
