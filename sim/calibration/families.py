"""The repeat-purchase families by name: one registry, so callers never test a family's name.

`sim.model.base` and the forecasts look a family's module up by name (`family_of` a scenario's
`repeat_purchase`) and call its `p_alive`, `draw_posterior` and closed forms; `calibrate` fits each family's
fitter and keeps the one that forecasts best out of sample. A name with the suffix `+stayers` is the family
mixed with a segment that never drops out (`sim.calibration.stayers`): its fitter has one more parameter,
`stayer_odds`, and its module is a `stayers.Mixture`; the scenario carries it as `never_dropout_share`.
"""

from __future__ import annotations

import typing
from functools import cache
from types import ModuleType

from sim.calibration import bgnbd, mbgnbd, paretonbd, stayers
from sim.calibration.btyd import RepeatPurchaseFitter
from sim.model.scenario import MAX_NEVER_DROPOUT_SHARE, RepeatPurchase

# the three families `calibrate` compares first (the best one is then also tried with stayers)
FITTERS: dict[str, type[RepeatPurchaseFitter]] = {
    "mbgnbd": mbgnbd.MBGNBDFitter,
    "bgnbd": bgnbd.BGNBDFitter,
    "pareto": paretonbd.ParetoNBDFitter,
}
MODULES: dict[str, ModuleType] = {"mbgnbd": mbgnbd, "bgnbd": bgnbd, "pareto": paretonbd}
DEFAULT = "mbgnbd"


def base_of(family: str) -> str:
    """The family without its never-dropout segment ("pareto+stayers" -> "pareto")."""
    return family.removesuffix(stayers.SUFFIX)


def has_stayers(family: str) -> bool:
    """True for a family mixed with a never-dropout segment."""
    return family.endswith(stayers.SUFFIX)


def fitter(family: str) -> type[RepeatPurchaseFitter]:
    """The fitter class of a family name, with or without `+stayers`."""
    base = FITTERS[base_of(family)]
    return stayers.with_stayers(base) if has_stayers(family) else base


@cache
def module(family: str | None) -> ModuleType | stayers.Mixture:
    """The module of a family (its `p_alive`, `draw_posterior`, `conditional_expected_if_active`, ...), or the
    mixture of one with a never-dropout segment."""
    family = family or DEFAULT
    base = MODULES[base_of(family)]
    return stayers.Mixture(base) if has_stayers(family) else base


def family_of(repeat_purchase: RepeatPurchase) -> str:
    """The family name of a scenario's `repeat_purchase` block: its model, `+stayers` with a never-dropout share."""
    name = getattr(repeat_purchase, "model", None) or DEFAULT
    return name + stayers.SUFFIX if getattr(repeat_purchase, "never_dropout_share", 0.0) > 0 else name


def params_of(repeat_purchase: RepeatPurchase) -> tuple[float, ...]:
    """The parameters of a scenario's `repeat_purchase` block in its family's order (`stayer_odds` last)."""
    return tuple(float(getattr(repeat_purchase, k)) for k in fitter(family_of(repeat_purchase)).param_names)


def scenario_fields(family: str, params) -> dict[str, float]:
    """A parameter set of a family (in its fitter's order) as the scenario's `repeat_purchase` fields: the
    fitted `stayer_odds` becomes `never_dropout_share`, odds / (1 + odds)."""
    out = {k: float(v) for k, v in zip(fitter(family).param_names, params, strict=True)}
    if "stayer_odds" in out:
        odds = out.pop("stayer_odds")
        out["never_dropout_share"] = min(odds / (1.0 + odds), MAX_NEVER_DROPOUT_SHARE)  # a draw's far tail
    return out


def fitter_from_params(family: str, params: dict[str, float]) -> RepeatPurchaseFitter:
    """A fitter holding given parameters (to use its closed forms without fitting)."""
    f = fitter(family)()
    f.params_ = {k: float(params[k]) for k in f.param_names}
    return f


def supported() -> tuple[str, ...]:
    """The family names the scenario (and so both engines) can carry: each family of `repeat_purchase.model`,
    alone or with a never-dropout segment."""
    names = tuple(a for a in typing.get_args(RepeatPurchase.model_fields["model"].annotation) if a in FITTERS)
    return names + tuple(n + stayers.SUFFIX for n in names)
