"""How much memory an engine run will need, estimated before it starts, so a run that cannot fit is refused
in one line (with the figure and the alternative) instead of dying with MemoryError after minutes.

The agent engine keeps every customer as a SimPy process with its own record (unaware and aware people are
counts), and the order log one row per order; its peak memory is, to a good approximation,

    BASE + BYTES_PER_CUSTOMER * customers + BYTES_PER_ORDER * orders

over every person who is a customer at some point of the run (existing base, lapsed included, plus those
acquired) and every order. The constants were measured with `benchmarks/agent_memory.py` (peak RSS of runs
with 0 to 300,000 customers and up to 440,000 orders) and rounded up by two fifths (the 300,000-customer run was the largest measured), so the estimate errs high.
The counts come from the fast engine's expected values (a fraction of a second), only when a quick bound
does not already decide.
"""

from __future__ import annotations

from sim.errors import ScenarioError
from sim.limits import memory_budget, plain_bytes

BASE_BYTES = 150 * 1024**2  # the interpreter, numpy, pandas, simpy and the engine's tables
BYTES_PER_CUSTOMER = 2_400  # measured ~1,700 at 300,000 customers (SimPy process, generator frame, record)
BYTES_PER_ORDER = 250  # measured ~205 (order log row while running, order value, experience)


def agent_bytes(scenario, *, counts: tuple[float, float] | None = None) -> tuple[int, float, float]:
    """(estimated peak bytes, customers, orders) of one agent-engine run of `scenario`.

    `counts` = (customers, orders) when already known; otherwise from the fast engine's expected run.
    """
    if counts is None:
        counts = expected_counts(scenario)
    customers, orders = counts
    return int(BASE_BYTES + BYTES_PER_CUSTOMER * customers + BYTES_PER_ORDER * orders), customers, orders


def existing_people(scenario) -> int:
    """People who are (or were) customers when the run starts: they are all simulated one by one."""
    base = scenario.market.existing
    snapshot_rows = 0
    if base.snapshot is not None:
        try:
            path = scenario.resolve(base.snapshot)
            with open(path, "rb") as handle:
                snapshot_rows = max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)
        except OSError:
            snapshot_rows = 0
    return max(base.customers, snapshot_rows) + base.loyal + base.lapsed


def expected_counts(scenario) -> tuple[float, float]:
    """(customers, orders) over the run from the fast engine's expected values."""
    from sim.engines import get_engine

    result = get_engine("fast").run(scenario, scenario.simulation.seed, sampled=False, keep_orders=False)
    frame = result.timeseries_frame()
    return existing_people(scenario) + float(frame["new_customers"].sum()), float(frame["orders"].sum())


def check_agent_memory(scenario, parallel: int = 1) -> None:
    """Refuse an agent-engine run (or `parallel` runs side by side) that would not fit in memory."""
    budget = memory_budget()
    existing = existing_people(scenario)
    low, _, _ = agent_bytes(scenario, counts=(existing, 0.0))
    if low * parallel <= budget:
        # the most it could need: every person of the market a customer, ordering like the base does
        high, _, _ = agent_bytes(scenario, counts=(scenario.market.size, 0.0))
        if high * parallel * 4 <= budget:
            return
        need, customers, orders = agent_bytes(scenario)
    else:
        need, customers, orders = low, existing, 0.0
    need *= parallel
    if need <= budget:
        return
    runs = f" for {parallel} runs side by side" if parallel > 1 else ""
    what = (
        f"{customers:,.0f} customers, {orders:,.0f} orders"
        if orders
        else f"{customers:,.0f} customers in the base alone"
    )
    qualifier = "about" if orders else "at least"
    source = str(scenario.source_path) if scenario.source_path else "<scenario>"
    raise ScenarioError(
        f"the agent engine would need {qualifier} {plain_bytes(need)}{runs} ({what}), more than the {plain_bytes(budget)} this machine can give it; use --engine fast"
        " (the same model, counting people instead of simulating each one), fewer --workers, or a smaller market",
        file=source,
        location="market",
        allowed="to allow it anyway set SIM_MAX_MEMORY_BYTES=BYTES",
    )
