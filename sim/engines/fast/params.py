"""A batch's scenarios read once into arrays over the rows (S,): the levers, the latent classes, the teams,
the money, and the calendar's day factors (D, S)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from sim.model import calendar as calendar_mod
from sim.model import day, experience, money, repeat, winback
from sim.model.scenario import Scenario

EXPERIENCE_FIELDS = (
    "reliability",
    "delay_tolerance_days",
    "proactive_coverage",
    "proactive_rescue",
    "delight_coverage",
    "delight_probability",
    "baseline_delight",
)


@dataclass(frozen=True)
class BatchParams:
    """Each row's constants, (S,) unless stated; class arrays class-major with the rows last."""

    levers: day.Levers
    family: repeat.Family
    lam: np.ndarray  # (R, S) purchase rate per day of each rate node
    drop: np.ndarray  # (Dn, S) dropout chance per order (or hazard per day) of each dropout node
    weights: np.ndarray  # (R, Dn, S) share of new customers in each class
    market_size: np.ndarray
    initially_aware: np.ndarray
    experience: tuple[np.ndarray, ...]  # experience_probabilities' scenario arguments, EXPERIENCE_FIELDS order
    exp_mult: np.ndarray  # (3, S) dropout multiplier by outcome (dissatisfied, satisfied, delighted)
    step: np.ndarray  # (3, S) chance to become loyal by outcome
    demote: np.ndarray
    loyal_rate: np.ndarray
    loyal_drop: np.ndarray
    loyal_value: np.ndarray
    cap_fulfil: np.ndarray
    cap_service: np.ndarray
    complaint_share: np.ndarray
    recovery: np.ndarray
    target_days: np.ndarray
    react0: np.ndarray  # comeback chance of a contacted person who lapsed this month
    react_decay: np.ndarray  # factor on that chance per month since lapsing
    value_mean: np.ndarray
    value_shape: np.ndarray
    margin: np.ndarray
    cost_per_order: np.ndarray
    discount_rate: np.ndarray
    factors: calendar_mod.DayFactors  # (D, S) or (D, 1) when every row has the same calendar

    @property
    def n_rate(self) -> int:
        return self.lam.shape[0]

    @property
    def n_dropout(self) -> int:
        return self.drop.shape[0]


def batch_params(scenarios: Sequence[Scenario], n_rate: int, n_dropout: int) -> BatchParams:
    """The batch's parameters; a scenario repeated over many rows is read once (speed)."""
    index: dict[int, int] = {}
    unique: list[Scenario] = []
    rows = np.empty(len(scenarios), dtype=np.int64)
    for i, s in enumerate(scenarios):
        if id(s) not in index:
            index[id(s)] = len(unique)
            unique.append(s)
        rows[i] = index[id(s)]
    models = {s.repeat_purchase.model for s in unique}
    if len(models) > 1:
        raise ValueError(f"scenarios in one batch must share their repeat-purchase family, found {sorted(models)}")
    edges = any(s.market.existing.snapshot is not None or s.repeat_purchase.never_dropout_share > 0 for s in unique)
    P = _read(unique, n_rate, n_dropout, edges=edges)
    if len(unique) == len(scenarios) and np.array_equal(rows, np.arange(len(rows))):
        return P
    return _take(P, rows)


def _take(P: BatchParams, rows: np.ndarray) -> BatchParams:
    """The parameters of `rows` (each an index into P's rows), the row axis being the last."""

    def pick(value, shared: bool = False):
        if isinstance(value, np.ndarray):
            # one column shared by every row (weights, day factors) stays one column (speed: broadcast)
            return value if shared and value.shape[-1] == 1 else value[..., rows]
        if isinstance(value, tuple):
            return tuple(pick(v) for v in value)
        if isinstance(value, day.Levers | calendar_mod.DayFactors):
            return type(value)(**{f.name: pick(getattr(value, f.name), shared) for f in fields(value)})
        return value

    return BatchParams(**{f.name: pick(getattr(P, f.name), f.name in ("weights", "factors")) for f in fields(P)})


def _mean_of(shape_scale: tuple[float, float]) -> float:
    """Mean of a Gamma (shape, scale)."""
    return shape_scale[0] * shape_scale[1]


def _stack(scenarios: Sequence[Scenario], get) -> np.ndarray:
    return np.array([float(get(s)) for s in scenarios], dtype=float)


def _day_factors(scenarios: Sequence[Scenario]) -> calendar_mod.DayFactors:
    """(D, S) day factors, or (D, 1) when every scenario has the same season and promotions (speed)."""
    first = scenarios[0]
    same = all(s.seasonality == first.seasonality and s.events == first.events for s in scenarios)
    rows = [first] if same else list(scenarios)
    each = [calendar_mod.day_factors(s) for s in rows]
    return calendar_mod.DayFactors(
        **{f.name: np.stack([getattr(x, f.name) for x in each], axis=1) for f in fields(calendar_mod.DayFactors)}
    )


def _read(S: Sequence[Scenario], n_rate: int, n_dropout: int, edges: bool = False) -> BatchParams:
    """The rows' parameters. `edges`: each axis gets one more node, at zero (never buys, never drops out), with no
    new customers in it (weight 0), so that a snapshot customer below the lowest Gauss node is spread between
    zero and that node instead of being lifted onto it (`classes.class_weights`): posterior rates and dropouts
    of a real base crowd near zero (CDNOW: two thirds of the active customers below the lowest dropout node,
    whose mean dropout the lift raised by 44%). A never-dropout share (`repeat_purchase.never_dropout_share`)
    puts that share of the new customers of each rate node into the zero dropout node (`repeat.with_stayers`)."""
    classes = [repeat.classes_of(s.repeat_purchase, n_rate, n_dropout) for s in S]
    lam = np.stack([c[0][::n_dropout] for c in classes], axis=1)  # (R, S)
    drop = np.stack([c[1][:n_dropout] for c in classes], axis=1)  # (Dn, S)
    w = np.stack([c[2].reshape(n_rate, n_dropout) for c in classes], axis=2)  # (R, Dn, S)
    if edges:
        lam = np.concatenate([np.zeros((1, len(S))), lam])
        drop = np.concatenate([np.zeros((1, len(S))), drop])
        w = repeat.with_stayers(
            np.pad(w, ((1, 0), (1, 0), (0, 0))), _stack(S, lambda s: s.repeat_purchase.never_dropout_share)
        )
    if (w == w[:, :, :1]).all():
        w = w[:, :, :1].copy()  # every row the same weights: one column, broadcast (speed)
    e = [s.experience for s in S]
    return BatchParams(
        levers=day.stacked_levers(list(S)),
        family=repeat.family(S[0].repeat_purchase),
        lam=lam,
        drop=drop,
        weights=w,
        market_size=_stack(S, lambda s: s.market.size),
        initially_aware=_stack(S, lambda s: s.market.initially_aware),
        experience=tuple(np.array([getattr(x, f) for x in e], dtype=float) for f in EXPERIENCE_FIELDS),
        exp_mult=np.array(
            [
                [x.dissatisfied_dropout_multiplier for x in e],
                [1.0] * len(e),
                [x.delighted_dropout_multiplier for x in e],
            ]
        ),
        step=np.array(
            [
                [0.0] * len(S),
                [s.loyalty.step_probability_satisfied for s in S],
                [s.loyalty.step_probability_delighted for s in S],
            ]
        ),
        demote=_stack(S, lambda s: s.loyalty.demote_on_dissatisfied),
        loyal_rate=_stack(S, lambda s: s.loyalty.purchase_rate_multiplier),
        loyal_drop=_stack(S, lambda s: s.loyalty.dropout_multiplier),
        loyal_value=_stack(S, lambda s: s.loyalty.order_value_multiplier),
        cap_fulfil=_stack(S, lambda s: experience.team_slots_per_day(s.operations.fulfilment_capacity_per_day)),
        cap_service=_stack(S, lambda s: experience.team_slots_per_day(s.operations.service_capacity_per_day)),
        complaint_share=_stack(S, lambda s: s.operations.complaint_share),
        recovery=_stack(S, lambda s: s.operations.service_recovery),
        target_days=_stack(S, lambda s: s.operations.service_target_days),
        react0=_stack(
            S,
            lambda s: winback.reactivation_probability(
                s.winback.base_reactivation, 0.0, s.winback.decay_months, s.retention.targeting_precision
            ),
        ),
        react_decay=_stack(S, lambda s: winback.reactivation_decay_per_month(s.winback.decay_months)),
        # the mean list value of an order: the scenario's mean times the order-value distribution's own mean (1)
        value_mean=_stack(
            S,
            lambda s: s.economics.order_value_mean * _mean_of(money.gamma_order_value(1.0, s.economics.order_value_cv)),
        ),
        value_shape=_stack(S, lambda s: money.gamma_order_value(1.0, s.economics.order_value_cv)[0]),
        margin=_stack(S, lambda s: s.economics.gross_margin),
        cost_per_order=_stack(S, lambda s: s.economics.fulfilment_cost_per_order + money.experience_cost_per_order(s)),
        discount_rate=_stack(S, lambda s: s.economics.annual_discount_rate),
        factors=_day_factors(S),
    )
