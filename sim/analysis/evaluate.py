"""What a plan is worth: the optimizer asks an evaluator, written against this interface, not an engine.

`Evaluator.values(spend)` gives the objective of many (M, C, 3) plans at once; `FastEvaluator` answers with
the fast engine's expected values (deterministic: two plans differ only by what was changed), lean unless
the payback constraint needs the acquired customers' books, and its `draws` give Monte Carlo values with
common random numbers (the same seeds for every plan, so differences carry little noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.engines.fast import BatchResult, horizon_value, simulate_batch
from sim.model.scenario import Scenario

OBJECTIVES = {
    "contribution": "Cumulative contribution (gross profit minus marketing) over the horizon",
    "npv": "Net present value of contribution at the scenario's discount rate",
    "revenue": "Revenue over the horizon",
    "customers": "Active customers (customer + loyal) at the horizon",
}
MONEY_OBJECTIVES = ("contribution", "npv")  # the ones a hurdle rate applies to


class Evaluator(Protocol):
    """Objective values of plans (n, M, C, 3), -inf where a plan breaks a constraint the engine must judge."""

    def values(self, spend: np.ndarray) -> np.ndarray: ...


@dataclass
class FastEvaluator:
    """The fast engine's expected values of plans of one scenario, less hurdle x marketing spend."""

    scenario: Scenario
    objective: str = "contribution"
    hurdle_rate: float = 0.0
    payback_within: float | None = None
    workers: int = 1
    evaluations: int = 0

    def values(self, spend: np.ndarray) -> np.ndarray:
        spend = np.asarray(spend, dtype=float)
        if not len(spend):
            return np.zeros(0)
        batch = simulate_batch(
            self.scenario, spend, mode="expected", workers=self.workers, detail=self.payback_within is not None
        )
        self.evaluations += len(spend)
        values = self.score(batch)
        if self.payback_within is not None:
            payback = batch.kpi_vectors()["payback_months"]
            values = np.where(payback <= self.payback_within + 1e-9, values, -np.inf)
        return values

    def score(self, batch: BatchResult) -> np.ndarray:
        """The objective of each row of a batch, less hurdle x marketing spend for money objectives."""
        value = horizon_value(batch, self.objective)
        if self.hurdle_rate and self.objective in MONEY_OBJECTIVES:
            value = value - self.hurdle_rate * batch.kpi_vectors()["marketing_spend"]
        return value

    def draws(self, spend: np.ndarray, replications: int, seed: int) -> np.ndarray:
        """(n, replications) sampled values of n plans, every plan run with the same `replications` seeds
        (common random numbers: the differences between plans carry little of the simulation's noise)."""
        spend = np.asarray(spend, dtype=float)
        batch = simulate_batch(
            self.scenario,
            np.repeat(spend, replications, axis=0),
            mode="sampled",
            seed=seed,
            workers=self.workers,
            detail=False,
            replication_block=replications,  # replication r of every plan: the same stream
        )
        return self.score(batch).reshape(len(spend), replications)
