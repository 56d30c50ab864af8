"""The repeat-purchase families by name: one registry, so callers never test a family's name.

`sim.model.base` and the forecasts look a family's module up by `repeat_purchase.model` and call its
`p_alive`, `draw_posterior` and closed forms; `calibrate` fits each family's fitter and keeps the one that
forecasts best out of sample.
"""

from __future__ import annotations

from types import ModuleType

from sim.calibration import bgnbd, mbgnbd, paretonbd
from sim.calibration.btyd import RepeatPurchaseFitter

FITTERS: dict[str, type[RepeatPurchaseFitter]] = {
    "mbgnbd": mbgnbd.MBGNBDFitter,
    "bgnbd": bgnbd.BGNBDFitter,
    "pareto": paretonbd.ParetoNBDFitter,
}
MODULES: dict[str, ModuleType] = {"mbgnbd": mbgnbd, "bgnbd": bgnbd, "pareto": paretonbd}
DEFAULT = "mbgnbd"


def module(family: str | None) -> ModuleType:
    """The module of a family (its `p_alive`, `draw_posterior`, `conditional_expected_purchases`, ...)."""
    return MODULES[family or DEFAULT]


def params_of(repeat_purchase) -> tuple[float, ...]:
    """The parameters of a scenario's `repeat_purchase` block in its family's order."""
    family = getattr(repeat_purchase, "model", None) or DEFAULT
    return tuple(float(getattr(repeat_purchase, k)) for k in FITTERS[family].param_names)


def fitter_from_params(family: str, params: dict[str, float]) -> RepeatPurchaseFitter:
    """A fitter holding given parameters (to use its closed forms without fitting)."""
    f = FITTERS[family]()
    f.params_ = {k: float(params[k]) for k in f.param_names}
    return f


def supported() -> tuple[str, ...]:
    """The families the scenario schema (and so both engines) can simulate today.

    The model layer adds BG/NBD and Pareto/NBD to `repeat_purchase.model`; until it has them a calibrated
    scenario can only carry MBG/NBD, and `calibrate` says so when another family forecast better.
    """
    import typing

    from sim.model.scenario import RepeatPurchase

    field = RepeatPurchase.model_fields.get("model")
    if field is None:
        return (DEFAULT,)
    return tuple(a for a in typing.get_args(field.annotation) if a in FITTERS) or (DEFAULT,)
