"""The fast engine: the agent engine's model as daily NumPy steps over a batch of scenarios at once.

Instead of following each person, the engine keeps counts of people: how many are unaware, aware, customer,
loyal or lapsed, in each row of the batch. Customers differ in how often they buy and how easily they drop
out; that heterogeneity is kept by splitting them into latent classes at Gauss quadrature nodes of the two
distributions (`sim.model.repeat.latent_classes`: 8 x 4 = 32 classes by default). Each class follows the
model exactly; only the integral over customers is replaced by a weighted sum, so selection effects (the
quick droppers leave first, the heavy buyers stay) happen as in the agent engine.

The package, one concept a module: `params` (a batch's scenarios as arrays), `classes` (latent classes and
the base spread over them), `draws` (expected values or seeded draws), `inversion` (seeded counts as
quantiles of their own uniforms, so plans with one seed share their luck), `queue` (fluid team queues), `loop`
(the day, repeated), `batch` (the batch and its results), `pool` (kept worker processes).

Lapsed people are remembered by class and by their "decayed weight": the win-back response fades
geometrically with months since lapsing (`sim.model.winback`), so the sums over a class's lapsed people of
decay^months and of its square are all the engine needs to reproduce the agent's lapse buckets.
"""

from sim.engines.fast.batch import (
    CHUNK_ROWS,
    MODES,
    BatchResult,
    horizon_value,
    run_chunk,
    run_fast,
    simulate_batch,
)
from sim.engines.fast.classes import class_weights
from sim.engines.fast.loop import RAW_COLUMNS
from sim.engines.fast.queue import daily_capacity_queue

__all__ = [
    "CHUNK_ROWS",
    "MODES",
    "RAW_COLUMNS",
    "BatchResult",
    "class_weights",
    "daily_capacity_queue",
    "horizon_value",
    "run_chunk",
    "run_fast",
    "simulate_batch",
]
