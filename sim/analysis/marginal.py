"""Marginal ROI: what one more unit of budget in a purpose earns, read off extra simulation runs.

`marginal_rois` runs the plan and, for each purpose, the plan with a tenth more of that purpose's own spend in
every month (in proportion: a plan over time keeps its shape, and no money lands in a month the plan leaves the
purpose without), and divides the change in contribution by the extra spend. The budget advice
(`sim.analysis.optimize`) takes the same steps (`stepped_spend`), so its first step's return is the marginal ROI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model import budget
from sim.model.scenario import PURPOSES, Scenario


@dataclass(frozen=True)
class MarginalStep:
    """How much budget a marginal-ROI run adds to one purpose: a share of that purpose's own spend in every
    month, so the figure is the return of its next units, whatever its size and however it moves over time. A
    purpose the plan leaves empty gets a share of the average monthly budget every month instead
    (`spend_units`)."""

    share_of_spend: float = 0.10
    budget_share_if_empty: float = 0.05  # the spend an empty purpose is measured against, as a budget share


def spend_units(spend: np.ndarray, step: MarginalStep = MarginalStep()) -> np.ndarray:
    """(3,) what each purpose's steps are shares of, a month: its average monthly spend in the (M, C, 3) plan
    `spend`, or `step.budget_share_if_empty` of the average monthly budget for a purpose that gets nothing
    (its first units; at least 1 currency unit, so that a zero budget still has a step)."""
    months = spend.shape[0]
    per_month = spend.sum(axis=(0, 1)) / months
    empty = step.budget_share_if_empty * max(float(spend.sum()) / months, 1.0)
    return np.where(per_month > 0, per_month, empty)


def marginal_amounts(spend: np.ndarray, step: MarginalStep = MarginalStep()) -> np.ndarray:
    """(3,) the spend a month, on average, that a marginal-ROI run adds to each purpose of the plan `spend`."""
    return step.share_of_spend * spend_units(spend, step)


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


def stepped_spend(
    scenario: Scenario, purpose: str, share: float, base: np.ndarray, step: MarginalStep = MarginalStep()
) -> np.ndarray:
    """The (M, C, 3) plan `base` with `share` more of `purpose`'s own spend (negative: less, at most all of
    it) in every month and channel, in proportion; for a purpose `base` leaves empty, `share` of its unit
    (`spend_units`) every month in its natural channels (`purpose_channel_weights`). Either way the total
    change is `share` x unit x months."""
    spend = base.copy()
    j = PURPOSES.index(purpose)
    if spend[:, :, j].sum() > 0:
        spend[:, :, j] *= 1.0 + max(share, -1.0)
    elif share > 0:
        unit = spend_units(base, step)[j]
        spend[:, :, j] += share * unit * purpose_channel_weights(scenario, purpose)[None, :]
    return spend


def expected_contributions(scenario: Scenario, spends: np.ndarray, workers: int = 1) -> np.ndarray:
    """(n,) contribution over the horizon of n (M, C, 3) spend plans of one scenario: the fast engine's
    expected values in one batch (no noise between the plans: what a marginal ROI is read from)."""
    from sim.engines.fast import simulate_batch

    batch = simulate_batch(scenario, spends, mode="expected", workers=workers)
    return batch.kpi_vectors()["cumulative_contribution"]


def marginal_rois(
    scenario: Scenario,
    engine: str = "fast",
    seed: int | None = None,
    replications: int = 1,
    step: MarginalStep = MarginalStep(),
    purposes: tuple[str, ...] = PURPOSES,
) -> dict[str, float | None]:
    """Extra contribution per extra unit of spend in each purpose (0 = the extra spend just pays back).

    Runs the plan and, for each purpose, the plan with `step.share_of_spend` more of that purpose's spend in
    every month (`stepped_spend`). The default fast engine uses expected values (deterministic: no noise, one
    batch). The agent engine runs every plan with the same seeds, which does not keep its runs in step (a
    person's draws depend on what happened before): its differences carry the runs' noise, so average many
    `replications` (and a larger step) before reading them.
    """
    from sim.engines import get_engine, replication_seeds

    chosen = get_engine(engine)
    base_spend = budget.spend_by_month(scenario)
    amounts = marginal_amounts(base_spend, step)
    months = scenario.simulation.horizon_months
    spends = [base_spend] + [stepped_spend(scenario, p, step.share_of_spend, base_spend, step) for p in purposes]
    if chosen.batch and chosen.expected_mode:  # deterministic: the plan and its bumps in one batch
        value = expected_contributions(scenario, np.stack(spends))
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
    return {p: float((value[i + 1] - value[0]) / (amounts[PURPOSES.index(p)] * months)) for i, p in enumerate(purposes)}
