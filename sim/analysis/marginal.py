"""Marginal ROI: what one more unit of budget in a purpose earns, read off extra simulation runs.

`marginal_rois` runs the plan and, for each purpose, the plan with a little more budget in that purpose,
and divides the change in contribution by the extra spend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model import budget
from sim.model.scenario import PURPOSES, Scenario


@dataclass(frozen=True)
class MarginalStep:
    """How much budget a marginal-ROI run adds: a share of the average monthly total, every month."""

    share_of_budget: float = 0.10


def purpose_channel_weights(scenario: Scenario, purpose: str) -> np.ndarray:
    """Channel weights for extra spend in a purpose: the plan's own split, or the natural channel when
    the plan has none (most efficient back-end channel; cheapest win-back contact; widest reach)."""
    channels = list(scenario.channels)
    split = scenario.budget.channel_split.get(purpose) or {}
    w = np.zeros(len(channels))
    if split:
        for name, share in split.items():
            w[channels.index(name)] = share
        if w.sum() > 0:
            return w / w.sum()
    if purpose == "back":
        best = max(channels, key=lambda c: scenario.channels[c].backend_efficiency)
    elif purpose == "winback":
        best = min(channels, key=lambda c: scenario.channels[c].winback_cost_per_contact)
    else:
        best = max(
            channels, key=lambda c: scenario.channels[c].reach.max_reach / scenario.channels[c].reach.half_saturation
        )
    w[channels.index(best)] = 1.0
    return w


def bumped_spend(
    scenario: Scenario, purpose: str, amount_per_month: float, base: np.ndarray | None = None
) -> np.ndarray:
    """The (M, C, 3) spend plan with `amount_per_month` more in `purpose`."""
    spend = budget.spend_by_month(scenario) if base is None else base.copy()
    j = PURPOSES.index(purpose)
    spend[:, :, j] += amount_per_month * purpose_channel_weights(scenario, purpose)[None, :]
    return spend


def marginal_rois(
    scenario: Scenario,
    engine: str = "fast",
    seed: int | None = None,
    replications: int = 1,
    step: MarginalStep = MarginalStep(),
    purposes: tuple[str, ...] = PURPOSES,
) -> dict[str, float | None]:
    """Extra contribution per extra unit of spend in each purpose (0 = the extra spend just pays back).

    Runs the plan and, for each purpose, the plan with `step.share_of_budget` of the average monthly
    budget added to that purpose. The default fast engine uses expected values (deterministic: no noise, one
    batch). The agent engine runs every plan with the same seeds, which does not keep its runs in step (a
    person's draws depend on what happened before): its differences carry the runs' noise, so average many
    `replications` before reading them.
    """
    from sim.engines import get_engine, replication_seeds

    chosen = get_engine(engine)
    base_spend = budget.spend_by_month(scenario)
    amount = step.share_of_budget * max(float(budget.monthly_budget(scenario).mean()), 1.0)
    extra = amount * scenario.simulation.horizon_months
    spends = [base_spend] + [bumped_spend(scenario, p, amount, base_spend) for p in purposes]
    if chosen.batch and chosen.expected_mode:  # deterministic: the plan and its bumps in one batch
        from sim.engines.fast import simulate_batch

        value = simulate_batch(scenario, np.stack(spends), mode="expected").kpi_vectors()["cumulative_contribution"]
    else:
        base_seed = scenario.simulation.seed if seed is None else seed
        seeds = [base_seed] if replications <= 1 else replication_seeds(base_seed, replications)
        value = [
            np.mean(
                [
                    chosen.run(scenario, sd, spend_month=sp, keep_orders=False).daily["contribution"].sum()
                    for sd in seeds
                ]
            )
            for sp in spends
        ]
    return {p: float((value[i + 1] - value[0]) / extra) for i, p in enumerate(purposes)}
