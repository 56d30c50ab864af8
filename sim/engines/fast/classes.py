"""Latent classes: the fast engine's customers, counted at Gauss quadrature nodes of the purchase-rate and
dropout distributions (`sim.model.repeat.latent_classes`), and the existing base spread over them.

Class k is rate node k // n_dropout and dropout node k % n_dropout; the engine keeps counts class-major,
(rate node, dropout node, S), so that a chance that depends on one node only is worked out on a small array
and broadcast.
"""

from __future__ import annotations

import numpy as np

from sim.model.base import existing_customers
from sim.model.scenario import Scenario


def class_weights(
    purchase_rate: np.ndarray, dropout: np.ndarray, lam_k: np.ndarray, p_k: np.ndarray, n_dropout: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each person spread over the (up to) four latent classes around them: (classes (n, 4), weights (n, 4)).

    Along each axis a person between two nodes goes to both, in proportion to closeness (linear
    interpolation), so the mean purchase rate and dropout of a group are kept exactly (a nearest node would
    bias them: the nodes are far apart); beyond the outermost nodes a person goes to the outermost. A batch
    with a snapshot has a node at zero on each axis (`params._read`), so no one is below the lowest node.
    """
    lam_nodes = lam_k[::n_dropout]
    p_nodes = p_k[:n_dropout]

    def bracket(x: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(nodes) == 1:
            return np.zeros(len(x), dtype=np.int64), np.zeros(len(x))
        i = np.clip(np.searchsorted(nodes, x) - 1, 0, len(nodes) - 2)
        share = np.clip((x - nodes[i]) / (nodes[i + 1] - nodes[i]), 0.0, 1.0)
        return i, share

    i, a = bracket(np.asarray(purchase_rate, dtype=float), lam_nodes)
    j, b = bracket(np.asarray(dropout, dtype=float), p_nodes)
    j1 = np.minimum(j + 1, len(p_nodes) - 1)
    i1 = np.minimum(i + 1, len(lam_nodes) - 1)
    classes = np.stack([i * n_dropout + j, i1 * n_dropout + j, i * n_dropout + j1, i1 * n_dropout + j1], axis=1)
    weights = np.stack([(1 - a) * (1 - b), a * (1 - b), (1 - a) * b, a * b], axis=1)
    return classes, weights


def initial_base(
    scenario: Scenario,
    lam_k: np.ndarray,
    drop_k: np.ndarray,
    w_k: np.ndarray,
    decay: float,
    n_dropout: int,
    rng: np.random.Generator,
    whole_people: bool,
) -> tuple[np.ndarray, ...]:
    """Existing customers by class (K,): (customers, loyal, lapsed, weight1, weight2), the weights being the
    sums of decay^(months since lapsing) and of its square over each class's lapsed people.

    Without a customer snapshot the base is spread over the classes by their weights (the agent draws each
    person from the same priors); with one, each person of `sim.model.base.existing_customers` is spread over
    the classes around them. `whole_people`: sampled mode, each person goes to one class (a multinomial
    draw), and counts are whole numbers.
    """
    ex = scenario.market.existing
    K = len(w_k)
    if ex.snapshot is None:
        months = np.arange(1, ex.lapsed_months_ago_max + 1)
        by_month_w = np.outer(w_k, np.full(len(months), 1.0 / len(months))).ravel()
        if whole_people:
            cust = rng.multinomial(ex.customers, w_k / w_k.sum()).astype(float)
            loyal = rng.multinomial(ex.loyal, w_k / w_k.sum()).astype(float)
            by_month = rng.multinomial(ex.lapsed, by_month_w / by_month_w.sum()).astype(float)
        else:
            cust, loyal, by_month = ex.customers * w_k, ex.loyal * w_k, ex.lapsed * by_month_w
        by_month = by_month.reshape(K, len(months))
        return cust, loyal, by_month.sum(axis=1), by_month @ decay**months, by_month @ decay ** (2 * months)
    base = existing_customers(scenario, rng)
    classes, weights = class_weights(base.purchase_rate, base.dropout, lam_k, drop_k, n_dropout)
    if whole_people:  # each goes to one of its classes, chosen by the weights
        pick = (rng.random(len(weights))[:, None] > np.cumsum(weights, axis=1)).sum(axis=1)
        pick = np.minimum(pick, 3)
        classes = classes[np.arange(len(classes)), pick][:, None]
        weights = np.ones_like(classes, dtype=float)
    stage = np.asarray(base.stage)
    months = np.asarray(base.lapsed_months_ago, dtype=float)

    def count(mask: np.ndarray, value: np.ndarray | float = 1.0) -> np.ndarray:
        v = np.broadcast_to(np.asarray(value, dtype=float)[..., None] if np.ndim(value) else value, weights.shape)
        return np.bincount(classes[mask].ravel(), weights=(weights * v)[mask].ravel(), minlength=K)

    lapsed = stage == 2
    out = (count(stage == 0), count(stage == 1), count(lapsed), count(lapsed, decay**months))
    counts = tuple(np.rint(x) if whole_people else x for x in out[:3])
    return (*counts, out[3], count(lapsed, decay ** (2 * months)))


def class_major(x: np.ndarray, n_dropout: int) -> np.ndarray:
    """(..., K) -> (..., n_rate, n_dropout), the layout of `latent_classes` (class k = rate node k // n_dropout,
    dropout node k % n_dropout)."""
    *lead, K = x.shape
    return x.reshape(*lead, K // n_dropout, n_dropout)
