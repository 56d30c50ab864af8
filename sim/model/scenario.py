"""What the user says: a client scenario, read from YAML and checked once, at the boundary.

A scenario describes one client: its market, its economics, its channels and budget plan, how its
customers buy again (MBG/NBD parameters), the experience it delivers and its operational capacity.
Every field carries a description with its unit; units are stated as "[unit]" at the end of the text.
Money is in the scenario's currency; rates are per month unless the field name says per day.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from datetime import date
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.errors import ScenarioError

SCHEMA_VERSION = 1
PURPOSES = ("front", "back", "winback")

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]

# Physical bounds: no real shop comes near them, and the engines' arithmetic stays finite inside them
MAX_PEOPLE = 50_000_000  # people in a market (and in any stage of it)
MAX_MONEY = 1e15  # a budget or a monthly spend [currency]
MAX_UNIT_MONEY = 1e9  # money per order, per contact or per customer [currency]
MAX_REACH = 1e10  # people reached in a month (with repeats) [people per month]
MAX_PER_DAY = 1e9  # orders or tickets a team handles in a day
MAX_SEED = 2**63 - 1
MAX_PAYBACK_MONTHS = 1200  # a payback limit beyond a hundred years says nothing [months]
MAX_HURDLE = 10.0  # a unit of spend asked to earn more than ten times itself says nothing [share of spend]
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2199, 12, 31)  # a simulation's start date


class _Block(BaseModel):
    """Common settings: unknown keys are errors, values never change after validation, numbers are finite,
    and a number is never read from a boolean or a text (`horizon_months: true` is not 1, `"36"` not 36)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_silent_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        problem = _not_a_number(field.annotation, value) if field is not None else None
        if problem is None and field is not None and _counts_or_money(field):
            money = "[currency" in (field.description or "")
            whole = _counts(field) or (money and _whole_currency((info.context or {}).get("currency")))
            problem = grouped_number(value, whole=whole)
        if problem:
            raise ValueError(problem)
        return value


def _counts_or_money(field: Any) -> bool:
    """Whether a field holds an amount of money or a count of people (where `38.000` may mean 38,000)."""
    text = field.description or ""
    return "[currency" in text or "[people" in text or _base_type(field.annotation) is int


def _counts(field: Any) -> bool:
    """Whether a field counts whole things (people in a market, orders a day); a rate of people per month, such
    as a channel's reach, may have decimals."""
    return _base_type(field.annotation) is int


# ISO 4217 currencies without minor units: an amount in them has no decimals (42.125 won is 42,125 won)
WHOLE_CURRENCIES = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split())


def _whole_currency(currency: Any) -> bool:
    return isinstance(currency, str) and currency in WHOLE_CURRENCIES


def upper_bound(model: type[BaseModel], name: str) -> float:
    """The largest value the scenario allows for `model`'s field `name` (its `le` bound), so that code which
    clips a fitted value to what a scenario accepts reads the bound from the schema, never a copy of it."""
    from annotated_types import Le

    bounds = [float(m.le) for m in model.model_fields[name].metadata if isinstance(m, Le)]
    if not bounds:
        raise KeyError(f"{model.__name__}.{name} has no upper bound")
    return min(bounds)


def _base_type(annotation: Any) -> Any:
    """int for `int`, `Annotated[int, ...]` and `int | None`; the annotation itself otherwise."""
    if get_origin(annotation) is Annotated:
        return _base_type(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        arms = [a for a in get_args(annotation) if a is not type(None)]
        return _base_type(arms[0]) if len(arms) == 1 else annotation
    return annotation


def grouped_number(value: Any, where: str = "", *, whole: bool = False) -> str | None:
    """Why a number written like `38.000`, `1.500` or `42.125` is ambiguous for an amount or a count, or None.

    Three digits after the point may be decimals or a point between thousands (38.000 = 38,000). Ending in a
    zero, a person typed it (Python and YAML writers never end a decimal with a zero): always refused. Otherwise
    it is refused where no fraction can be meant (`whole`: a count, or money in a currency without minor units,
    such as 42.125 won), and read as written elsewhere ($42.125 may be a price in tenths of a cent).
    """
    from sim.model.yamlfile import GroupedFloat

    if isinstance(value, list):
        for i, item in enumerate(value):
            problem = grouped_number(item, f"{where}[{i}]", whole=whole)
            if problem:
                return problem
        return None
    if isinstance(value, GroupedFloat) and (value.text.endswith("0") or whole):
        prefix = f"{where}: " if where else ""
        grouped = int(value.text.lstrip("+").replace(".", ""))
        if not value.text.endswith("0"):
            return (
                f"{prefix}{value.text} is ambiguous: this amount or count has no decimals, so it may be {grouped:,}"
                f" (a point between thousands); write {grouped} for {grouped:,}"
            )
        return (
            f"{prefix}{value.text} is ambiguous: it may be {float(value):g} or {grouped:,} (a point between "
            f"thousands); write {grouped} for {grouped:,}, or {float(value):g} without the trailing zeros"
        )
    return None


def _not_a_number(annotation: Any, value: Any, where: str = "") -> str | None:
    """Why `value` must not be read as the number `annotation` asks for (a boolean, a text), or None.

    Lists and mappings of numbers are checked item by item; the message names the item (`[2]`, `-> front`).
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        return _not_a_number(get_args(annotation)[0], value, where)
    if origin in (Union, UnionType):
        if value is None:
            return None
        arms = [arm for arm in get_args(annotation) if arm is not type(None)]  # None is no reading of a value
        fitting = [arm for arm in arms if _same_shape(arm, value)] or arms  # a mapping is read by the mapping arm
        problems = [_not_a_number(arm, value, where) for arm in fitting]
        return None if any(p is None for p in problems) else next(p for p in problems if p)
    if origin is list and isinstance(value, list):
        (item,) = get_args(annotation)
        for i, v in enumerate(value):
            problem = _not_a_number(item, v, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if origin is dict and isinstance(value, dict):
        item = get_args(annotation)[1]
        for k, v in value.items():
            problem = _not_a_number(item, v, f"{where} -> {k}")
            if problem:
                return problem
        return None
    prefix = f"{where.lstrip(' ->')}: " if where else ""
    if annotation in (int, float):
        if isinstance(value, bool):
            return f"{prefix}a number is expected, not true/false"
        if isinstance(value, str):
            return f"{prefix}a number is expected, not the text {value!r}{number_hint(value)}"
    if annotation is date and isinstance(value, bool | int | float):
        return f"{prefix}a date such as 2027-01-01 is expected, not the number {value!r}"
    if annotation is bool and isinstance(value, str) and value.strip().lower() not in ("true", "false"):
        return f"{prefix}true or false is expected, not the text {value!r}"
    return None


def _same_shape(annotation: Any, value: Any) -> bool:
    """Whether `value` has the container shape of `annotation` (a list for list[...], a mapping for dict[...])."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _same_shape(get_args(annotation)[0], value)
    if origin is list:
        return isinstance(value, list)
    if origin is dict:
        return isinstance(value, dict)
    return not isinstance(value, list | dict)


_CURRENCY_SIGNS = "₩$€£¥￦"


def number_hint(text: str) -> str:
    """How to write the number a text such as '30%', '400,000', '0,95' or '₩38,000' stands for, as ' (...)'."""
    t = text.strip().replace(" ", "")
    bare = t.strip(_CURRENCY_SIGNS).removesuffix("원").removesuffix("KRW").removesuffix("USD")
    if t.endswith("%") and _is_number(t[:-1].replace(",", ".")):
        x = float(t[:-1].replace(",", "."))
        return f" (a share is written as a fraction: {x / 100:g} for {t})"
    if bare != t and _is_number(bare.replace(",", "")):
        return f" (write the amount without a currency sign or separators: {bare.replace(',', '')})"
    if re.fullmatch(r"[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?", t):
        return f" (write it without separators: {t.replace(',', '')}; a decimal is written with a point)"
    if re.fullmatch(r"[-+]?[0-9]{1,3}(\.[0-9]{3}){2,}(,[0-9]+)?", t):
        return f" (write it without thousands separators: {t.replace('.', '').replace(',', '.')})"
    if re.fullmatch(r"[-+]?[0-9]+,[0-9]+", t):
        return f" (a decimal comma: write {t.replace(',', '.')} with a point)"
    if _is_number(t):
        return " (write it without quotes)"
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity")


class ExistingBase(_Block):
    """Customers the client already has when the simulation starts."""

    customers: int = Field(
        0, ge=0, le=MAX_PEOPLE, description="Active customers who have bought at least once [people]."
    )
    loyal: int = Field(0, ge=0, le=MAX_PEOPLE, description="Active loyal (repeat, happy) customers [people].")
    lapsed: int = Field(0, ge=0, le=MAX_PEOPLE, description="Former customers who no longer buy [people].")
    lapsed_months_ago_max: int = Field(
        12, ge=1, le=120, description="Lapsed customers lapsed uniformly 1..this many months ago [months]."
    )
    snapshot: str | None = Field(
        None,
        max_length=1000,
        description=(
            "Optional CSV (relative to the scenario file) with one row per existing customer: customer_id, "
            "frequency, recency, age (days), as written by `sim calibrate`; when given it replaces `customers`."
        ),
    )


class Market(_Block):
    """The addressable market: a finite number of people, most of whom have never met the brand."""

    size: int = Field(..., gt=0, le=MAX_PEOPLE, description="People who could ever buy [people].")
    initially_aware: int = Field(
        0, ge=0, le=MAX_PEOPLE, description="People aware of the brand at the start, not yet buyers [people]."
    )
    existing: ExistingBase = Field(default_factory=ExistingBase, description="The customer base at the start.")

    @model_validator(mode="after")
    def _fits(self) -> Market:
        used = self.initially_aware + self.existing.customers + self.existing.loyal + self.existing.lapsed
        if used > self.size:
            raise ValueError(
                f"initially_aware + existing customers, loyal and lapsed = {used} exceed the market size {self.size}"
            )
        return self


class Economics(_Block):
    """Money per order and the cost of capital."""

    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD, KRW, EUR.")
    order_value_mean: Positive = Field(
        ..., le=MAX_UNIT_MONEY, description="Mean order value of a customer [currency per order]."
    )
    order_value_cv: float = Field(
        0.5, gt=0.0, le=3.0, description="Spread of order values: standard deviation / mean [ratio]."
    )
    gross_margin: Share = Field(..., description="Gross margin on revenue, before fulfilment [share].")
    fulfilment_cost_per_order: NonNegative = Field(
        0.0, le=MAX_UNIT_MONEY, description="Pick, pack and ship [currency per order]."
    )
    annual_discount_rate: float = Field(0.10, ge=0.0, le=1.0, description="For NPV and CLV [share per year].")

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_code(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"[A-Z]{3}", value):
            code = _CURRENCY_CODES.get(value.strip().lower(), value.strip().upper())
            hint = f"; write {code}" if re.fullmatch(r"[A-Z]{3}( or [A-Z]{3})?", code) else ""
            raise ValueError(f"a currency is a three-letter ISO 4217 code in capitals, such as KRW, USD or EUR{hint}")
        return value


_CURRENCY_CODES = {  # what people write for a currency, lower-cased, and its code
    **dict.fromkeys(("₩", "￦", "원", "won", "krw won"), "KRW"),
    **dict.fromkeys(("$", "us$", "dollar", "dollars"), "USD"),
    **dict.fromkeys(("€", "euro", "euros"), "EUR"),
    **dict.fromkeys(("£", "pound", "pounds"), "GBP"),
    "¥": "JPY or CNY",
    **dict.fromkeys(("yen", "円"), "JPY"),
}


class ResponseCurve(_Block):
    """Monthly spend to monthly reach, with diminishing returns."""

    kind: Literal["hill", "exponential"] = Field(
        "hill", description="hill: max*S^k/(S^k+K^k); exponential: max*(1-2^(-S/K))."
    )
    max_reach: Positive = Field(
        ..., le=MAX_REACH, description="Reach when spend is unlimited [people reached per month]."
    )
    half_saturation: Positive = Field(
        ..., le=MAX_MONEY, description="Spend that buys half the maximum reach [currency per month]."
    )
    shape: float = Field(1.0, gt=0.0, le=5.0, description="Hill exponent; above 1 gives an S-shaped curve [1].")


class Channel(_Block):
    """A marketing channel. The same channel can carry front-end, back-end and win-back budgets."""

    label: str | None = Field(None, max_length=80, description="Display name, e.g. 'Search ads'.")
    reach: ResponseCurve = Field(..., description="Front-end reach of the channel's acquisition spend.")
    backend_efficiency: float = Field(
        1.0, ge=0.0, le=3.0, description="How well a unit of back-end spend in this channel works [multiplier]."
    )
    winback_cost_per_contact: float = Field(
        1.0,
        ge=0.001,
        le=MAX_UNIT_MONEY,
        description="Cost of one remarketing contact to a lapsed customer [currency per contact].",
    )


PurposeSplit = dict[str, Share]
ChannelSplit = dict[str, dict[str, Share]]
SPLIT_PERIODS = {"month": 1, "quarter": 3, "half": 6, "year": 12}  # months one entry of a split list covers


class Budget(_Block):
    """The marketing plan: a total per period, split by purpose, then by channel within each purpose.

    The splits may change over time: give a list of splits, one per split period, whose last value repeats
    (like `totals`). Back-end spend may instead be an amount per active customer per month
    (`back_per_customer`, the way CRM budgets scale with the base); the totals then fund front-end and
    win-back only.
    """

    period: Literal["month", "quarter"] = Field("month", description="What one entry of `totals` covers.")
    totals: list[Annotated[float, Field(ge=0.0, le=MAX_MONEY)]] = Field(
        ...,
        min_length=1,
        description="Budget per period: one number, or a list with one value per period whose last value repeats [currency].",
    )
    purpose_split: PurposeSplit | list[PurposeSplit] = Field(
        ...,
        description=(
            "Shares of the budget by purpose: front, back, winback; they add up to 1 [share]. A list gives one "
            "split per split period, the last repeating."
        ),
    )
    channel_split: ChannelSplit | list[ChannelSplit] = Field(
        default_factory=dict,
        description=(
            "For each purpose with budget, the shares by channel; they add up to 1 [share]. A list gives one per "
            "split period, the last repeating."
        ),
    )
    split_period: Literal["month", "quarter", "half", "year"] | None = Field(
        None, description="What one entry of a purpose_split or channel_split list covers; default: `period`."
    )
    back_per_customer: list[Annotated[float, Field(ge=0.0, le=MAX_UNIT_MONEY)]] | None = Field(
        None,
        description=(
            "Back-end spend per active customer per month, instead of a back share of the totals: one number, or "
            "one per split period, the last repeating [currency per customer per month]."
        ),
    )

    @field_validator("totals", "back_per_customer", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, int | float) and not isinstance(value, bool) else value

    # -- the plan period by period -----------------------------------------------------------------
    @property
    def purpose_splits(self) -> list[PurposeSplit]:
        """The purpose split of every split period given (the last one repeats)."""
        return self.purpose_split if isinstance(self.purpose_split, list) else [self.purpose_split]

    @property
    def channel_splits(self) -> list[ChannelSplit]:
        """The channel split of every split period given (the last one repeats)."""
        return self.channel_split if isinstance(self.channel_split, list) else [self.channel_split]

    @property
    def months_per_split(self) -> int:
        """Months one entry of a split list covers."""
        return SPLIT_PERIODS[self.split_period or self.period]

    @property
    def phased(self) -> bool:
        """Whether the split changes over time."""
        return len(self.purpose_splits) > 1 or len(self.channel_splits) > 1 or len(self.back_per_customer or []) > 1

    def purpose_split_in(self, month: int) -> PurposeSplit:
        """The purpose split of plan month `month` (0 = the first)."""
        splits = self.purpose_splits
        return splits[min(month // self.months_per_split, len(splits) - 1)]

    def channel_split_in(self, month: int) -> ChannelSplit:
        """The channel split of plan month `month`."""
        splits = self.channel_splits
        return splits[min(month // self.months_per_split, len(splits) - 1)]

    def back_per_customer_in(self, month: int) -> float | None:
        """Back-end spend per active customer in plan month `month`, if the plan sets it that way."""
        if self.back_per_customer is None:
            return None
        per = self.back_per_customer
        return per[min(month // self.months_per_split, len(per) - 1)]

    @model_validator(mode="after")
    def _splits_add_up(self) -> Budget:
        per_customer = self.back_per_customer is not None
        for k, split in enumerate(self.purpose_splits):
            where = f"purpose_split[{k}]" if isinstance(self.purpose_split, list) else "purpose_split"
            unknown = sorted(set(split) - set(PURPOSES))
            if unknown:
                raise ValueError(f"{where}: unknown purpose {unknown[0]!r}; allowed: {', '.join(PURPOSES)}")
            total = sum(split.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{where} adds up to {total:g}, must add up to 1")
            if per_customer and split.get("back", 0.0) > 0:
                raise ValueError(
                    f"{where} gives back-end a share of the totals while back_per_customer sets back-end spend per "
                    "customer; use one of the two"
                )
        for k, csplit in enumerate(self.channel_splits):
            where = f"channel_split[{k}]" if isinstance(self.channel_split, list) else "channel_split"
            for purpose, split in csplit.items():
                if purpose not in PURPOSES:
                    raise ValueError(f"{where} has unknown purpose {purpose!r}; allowed: {', '.join(PURPOSES)}")
                total = sum(split.values())
                if split and abs(total - 1.0) > 1e-6:
                    raise ValueError(f"{where} -> {purpose} adds up to {total:g}, must add up to 1")
        n = max(len(self.purpose_splits), len(self.channel_splits))
        for k in range(n):
            split = self.purpose_splits[min(k, len(self.purpose_splits) - 1)]
            csplit = self.channel_splits[min(k, len(self.channel_splits) - 1)]
            for purpose, share in split.items():
                if share > 0 and not csplit.get(purpose):
                    raise ValueError(
                        f"purpose {purpose!r} has budget share {share:g} but no channel_split -> {purpose}"
                    )
            if per_customer and any(self.back_per_customer) and not csplit.get("back"):
                raise ValueError("back_per_customer needs channel_split -> back: the channels that carry it")
        return self


class FirstPurchase(_Block):
    """How aware people become customers, and how awareness fades."""

    monthly_conversion: Probability = Field(
        ..., description="Chance that an aware person buys for the first time within a month [share per month]."
    )
    landing_page_quality: float = Field(
        1.0, ge=0.0, le=3.0, description="Detail/landing page quality; 1 is typical for the category [multiplier]."
    )
    offer_strength: float = Field(1.0, ge=0.0, le=3.0, description="Strength of the first-purchase offer [multiplier].")
    forgetting_per_month: Probability = Field(
        0.05, description="Chance that an aware person forgets the brand in a month without contact [share per month]."
    )
    negative_wom_impact: Share = Field(
        0.5, description="Cut in conversion if every recent order were dissatisfied (word of mouth) [share]."
    )


REPEAT_MODELS = ("mbgnbd", "bgnbd", "pareto")
MAX_NEVER_DROPOUT_SHARE = 0.99  # at 1 no one would drop out: the family's dropout would be unidentified


class RepeatPurchase(_Block):
    """Repeat buying as one of the BTYD ("buy till you die") families, so it can be calibrated from an order log.

    Each customer buys at a rate lambda ~ Gamma(r, alpha) per day while active, and drops out:
    - mbgnbd (MBG/NBD, Batislam, Denizel & Filiztekin 2007): after any order, the first included, with
      probability p ~ Beta(a, b);
    - bgnbd (BG/NBD, Fader, Hardie & Lee 2005): after any repeat order (not the first) with p ~ Beta(a, b);
    - pareto (Pareto/NBD, Schmittlein, Morrison & Colombo 1987): at a constant daily hazard mu ~ Gamma(s, beta),
      whatever the orders.
    A share `never_dropout_share` of the customers never drops out (p = 0, or mu = 0) and buys at the same
    Gamma(r, alpha) rate (`sim.calibration.stayers`).
    """

    model: Literal["mbgnbd", "bgnbd", "pareto"] = Field(
        "mbgnbd", description="Repeat-purchase family: mbgnbd, bgnbd or pareto."
    )
    # bounds: where both engines' draws and quadratures stay finite (probed at the edges); a Gamma shape reaches
    # past the fits' pinned concentration of a collapsed mixing distribution (`btyd.COLLAPSED`: 150)
    r: float = Field(..., ge=0.01, le=1000.0, description="Gamma shape of the purchase rate [1].")
    alpha: float = Field(
        ..., ge=0.001, le=1e6, description="Gamma rate parameter of the purchase rate; mean rate is r/alpha [days]."
    )
    a: float | None = Field(
        None, ge=0.001, le=1000.0, description="Beta a of the dropout probability per order (mbgnbd, bgnbd) [1]."
    )
    b: float | None = Field(
        None,
        ge=0.001,
        le=1000.0,
        description="Beta b of the dropout probability per order; mean p is a/(a+b) (mbgnbd, bgnbd) [1].",
    )
    s: float | None = Field(None, ge=0.01, le=1000.0, description="Gamma shape of the dropout hazard mu (pareto) [1].")
    beta: float | None = Field(
        None,
        ge=0.001,
        le=1e7,
        description="Gamma rate parameter of the dropout hazard; mean mu is s/beta per day (pareto) [days].",
    )
    never_dropout_share: float = Field(
        0.0,
        ge=0.0,
        le=MAX_NEVER_DROPOUT_SHARE,
        description="Share of customers who never drop out (a latent class with no dropout, any family; calibrated"
        " as `<family>+stayers` when it forecasts better) [share].",
    )

    @model_validator(mode="after")
    def _parameters_of_the_family(self) -> RepeatPurchase:
        needed, unused = (("s", "beta"), ("a", "b")) if self.model == "pareto" else (("a", "b"), ("s", "beta"))
        for name in needed:
            if getattr(self, name) is None:
                raise ValueError(f"the {self.model} model needs {name!r}")
        for name in unused:
            if getattr(self, name) is not None:
                raise ValueError(f"{name!r} belongs to another family than {self.model}; remove it or change `model`")
        if self.r / self.alpha > 1.0:
            raise ValueError(
                f"r / alpha = {self.r / self.alpha:.4g} orders a day per customer on average; at most 1 is allowed"
                " (alpha is in days: a mean gap of alpha / r days between orders)"
            )
        return self

    @property
    def stayer_odds(self) -> float:
        """The never-dropout share as odds, share / (1 - share): the parameter `sim.calibration.stayers` fits."""
        return self.never_dropout_share / (1.0 - self.never_dropout_share)


class Retention(_Block):
    """Back-end marketing: spend per active customer on CRM, personalization, loyalty offers, cross-sell."""

    purchase_rate_uplift_max: float = Field(
        0.4, ge=0.0, le=3.0, description="Most that back-end spend can raise the purchase rate [share]."
    )
    dropout_reduction_max: Share = Field(
        0.4, description="Most that back-end spend can cut the dropout chance [share]."
    )
    order_value_uplift_max: float = Field(
        0.10, ge=0.0, le=1.0, description="Most that cross-sell can raise order value [share]."
    )
    half_saturation_per_customer: Positive = Field(
        1.0,
        le=MAX_UNIT_MONEY,
        description="Back-end spend per active customer giving half the maximum effect [currency per customer per month].",
    )
    first_party_data_share: Share = Field(
        0.5, description="Share of customers whose data the seller holds (own D2C store vs marketplace) [share]."
    )
    marketplace_effectiveness: Share = Field(
        0.3, description="Effectiveness of back-end spend without first-party data, relative to full data [share]."
    )
    targeting_precision: Share = Field(
        1.0, description="Targeting precision left after privacy limits (1 = no limits) [share]."
    )


class Experience(_Block):
    """What each order feels like: expectations met, robust satisfaction, or delight."""

    reliability: Probability = Field(0.95, description="Chance an order arrives on time and works [share].")
    delay_tolerance_days: float = Field(
        2.0, ge=0.01, le=3650.0, description="Fulfilment delay after which satisfaction fades by 1/e [days]."
    )
    proactive_coverage: Share = Field(
        0.0, description="Share of orders with confirmations and shipping updates [share]."
    )
    proactive_rescue: Share = Field(
        0.5, description="Share of small failures that proactive communication keeps satisfied [share]."
    )
    proactive_cost_per_order: NonNegative = Field(
        0.1, le=MAX_UNIT_MONEY, description="Cost of proactive messages [currency per order]."
    )
    delight_coverage: Share = Field(0.0, description="Share of orders given a surprise (gift, note, check-in) [share].")
    delight_probability: Probability = Field(0.4, description="Chance a surprise on a good order delights [share].")
    delight_cost_per_order: NonNegative = Field(
        2.0, le=MAX_UNIT_MONEY, description="Cost of a surprise [currency per covered order]."
    )
    baseline_delight: Probability = Field(0.02, description="Chance a good order delights without a surprise [share].")
    dissatisfied_dropout_multiplier: float = Field(
        3.0, ge=1.0, le=20.0, description="Dropout chance after a dissatisfied order, relative to normal [multiplier]."
    )
    delighted_dropout_multiplier: float = Field(
        0.5, ge=0.0, le=1.0, description="Dropout chance after a delighted order, relative to normal [multiplier]."
    )


class Loyalty(_Block):
    """The step from customer to loyal customer, and what loyalty is worth."""

    step_probability_satisfied: Probability = Field(
        0.10, description="Chance that a satisfied order makes a customer loyal [share per order]."
    )
    step_probability_delighted: Probability = Field(
        0.40, description="Chance that a delighted order makes a customer loyal [share per order]."
    )
    demote_on_dissatisfied: Probability = Field(
        0.5, description="Chance that a dissatisfied order sends a loyal customer back to customer [share]."
    )
    purchase_rate_multiplier: float = Field(
        1.5, ge=1.0, le=5.0, description="Loyal customers buy more often [multiplier]."
    )
    dropout_multiplier: float = Field(0.5, ge=0.0, le=1.0, description="Loyal customers drop out less [multiplier].")
    order_value_multiplier: float = Field(1.2, ge=1.0, le=5.0, description="Loyal customers spend more [multiplier].")


class Referral(_Block):
    """Word of mouth: loyal customers make unaware people aware (the Bass imitation term)."""

    contacts_per_loyal_per_month: NonNegative = Field(
        0.3, le=1000.0, description="People a loyal customer tells about the brand in a month [people per month]."
    )


class Winback(_Block):
    """Remarketing to lapsed customers: a cost per contact and a low, fading chance of a comeback."""

    base_reactivation: Probability = Field(
        0.05, description="Chance a contacted customer who lapsed this month comes back and orders [share]."
    )
    decay_months: float = Field(
        6.0, ge=0.01, le=1200.0, description="Months after lapsing over which that chance falls by 1/e [months]."
    )


class Operations(_Block):
    """Finite capacity: fulfilment and customer service queue when orders surge."""

    fulfilment_capacity_per_day: Positive = Field(
        1000.0, le=MAX_PER_DAY, description="Orders the fulfilment team can ship per day [orders per day]."
    )
    service_capacity_per_day: Positive = Field(
        100.0, le=MAX_PER_DAY, description="Complaints customer service can handle per day [tickets per day]."
    )
    complaint_share: Share = Field(0.3, description="Share of dissatisfied orders that lead to a complaint [share].")
    service_recovery: Share = Field(
        0.4, description="Share of complaints handled in time that turn the order into a satisfied one [share]."
    )
    service_target_days: float = Field(
        2.0, ge=0.01, le=365.0, description="A complaint answered within this is in time [days]."
    )


class Seasonality(_Block):
    """A monthly demand index: e-commerce lives by its calendar (Seollal and Chuseok, 11.11, Black Friday)."""

    index: list[Annotated[float, Field(gt=0.0, le=10.0)]] = Field(
        ...,
        min_length=12,
        max_length=12,
        description="Demand index of each calendar month, January to December; mean 1 [multiplier].",
    )
    first_purchases: bool = Field(True, description="Apply the index to first purchases of aware people.")
    repeat_purchases: bool = Field(True, description="Apply the index to customers' purchase rates.")
    reach: bool = Field(False, description="Apply the index to front-end reach (ads cost the same, reach more).")

    @model_validator(mode="after")
    def _mean_one(self) -> Seasonality:
        mean = sum(self.index) / 12.0
        if abs(mean - 1.0) > 1e-3:
            raise ValueError(f"the seasonal index has mean {mean:.4g}; it must have mean 1 (divide each value by it)")
        return self


class Event(_Block):
    """A dated promotion: it sells more (purchase-rate uplift, extra reach) and earns less per order (discount)."""

    name: str = Field(..., min_length=1, max_length=80, description="Name, e.g. '11.11' or 'Black Friday'.")
    start: date = Field(..., ge=FIRST_DATE, le=LAST_DATE, description="First day of the event.")
    end: date = Field(..., ge=FIRST_DATE, le=LAST_DATE, description="Last day of the event (inclusive).")
    uplift_customers: float = Field(
        0.0, ge=0.0, le=20.0, description="Rise in active customers' purchase rate during the event [share]."
    )
    uplift_aware: float = Field(
        0.0, ge=0.0, le=20.0, description="Rise in aware people's first-purchase hazard during the event [share]."
    )
    extra_reach: NonNegative = Field(
        0.0, le=MAX_REACH, description="Extra people reached over the whole event [people]."
    )
    discount: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="Share of order value given away on orders during the event [share]."
    )
    fixed_cost: NonNegative = Field(0.0, le=MAX_MONEY, description="Cost of running the event [currency].")

    @model_validator(mode="after")
    def _dates_in_order(self) -> Event:
        if self.end < self.start:
            raise ValueError(f"event {self.name!r} ends ({self.end}) before it starts ({self.start})")
        return self


class Planning(_Block):
    """What the recommended plan must respect, kept with the scenario: `sim optimize`, the report and a batch then
    plan under the same limits, and the report states them. Each key is the optimizer's constraint of that name
    (`sim.analysis.constraints.Constraints`); `sim optimize`'s `--constraints` file and flags add to these or
    override them. None of them is a fact about the market: they are the client's rules for the plan."""

    period: Literal["month", "quarter", "half", "year"] = Field(
        "quarter", description="How often the recommended purpose split may change."
    )
    hurdle_rate: Annotated[float, Field(gt=-1.0, le=MAX_HURDLE)] = Field(
        0.0,
        description="A unit of spend is spent only where it earns at least this much contribution [share of spend].",
    )
    budget_cap: Annotated[float, Field(gt=0.0, le=MAX_MONEY)] | None = Field(
        None,
        description="When given, the budget level of each period may change, up to this much a month [currency per month].",
    )
    monthly_cap: Annotated[float, Field(gt=0.0, le=MAX_MONEY)] | None = Field(
        None, description="Most the plan may spend in any one month; the total stays [currency per month]."
    )
    payback_within_months: Annotated[float, Field(gt=0.0, le=MAX_PAYBACK_MONTHS)] | None = Field(
        None, description="Acquired customers must repay front-end spend within this many months [months]."
    )
    min_share: dict[str, Share] = Field(
        default_factory=dict, description="Least share of the budget by purpose [share]."
    )
    max_share: dict[str, Share] = Field(
        default_factory=dict, description="Most share of the budget by purpose [share]."
    )
    min_channel: dict[str, Annotated[float, Field(ge=0.0, le=MAX_MONEY)]] = Field(
        default_factory=dict, description="Least spend a month by channel, all purposes together [currency per month]."
    )
    max_channel: dict[str, Annotated[float, Field(ge=0.0, le=MAX_MONEY)]] = Field(
        default_factory=dict, description="Most spend a month by channel, all purposes together [currency per month]."
    )

    @field_validator("min_channel", "max_channel", mode="before")
    @classmethod
    def _no_grouped_amounts(cls, value: Any, info: ValidationInfo) -> Any:
        """An amount typed 5.000 may mean 5,000: refused here as in every other amount of a scenario."""
        if isinstance(value, dict):
            whole = _whole_currency((info.context or {}).get("currency"))
            for name, amount in value.items():
                problem = grouped_number(amount, str(name), whole=whole)
                if problem:
                    raise ValueError(problem)
        return value

    @field_validator("min_share", "max_share")
    @classmethod
    def _known_purposes(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(PURPOSES))
        if unknown:
            raise ValueError(f"unknown purpose {unknown[0]!r}; allowed: {', '.join(PURPOSES)}")
        return value

    @property
    def limits(self) -> dict[str, Any]:
        """The constraints this section sets, by the optimizer's names (the period apart)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "period"}


class Simulation(_Block):
    """Time frame and randomness."""

    start_date: date = Field(
        date(2027, 1, 1), ge=FIRST_DATE, le=LAST_DATE, description="First simulated day (1900-01-01 .. 2199-12-31)."
    )
    horizon_months: int = Field(36, ge=1, le=120, description="Months simulated [months].")
    seed: int = Field(42, ge=0, le=MAX_SEED, description="Seed of the random draws; same seed, same results.")


class Scenario(_Block):
    """One client's situation and plan."""

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this file format.")
    name: str = Field(
        ..., min_length=1, max_length=200, description="Scenario name; the report file is named after it."
    )
    client: str | None = Field(None, max_length=200, description="Client name shown in reports.")
    description: str = Field("", max_length=4000, description="What this scenario stands for.")
    archetype: str | None = Field(None, max_length=80, description="Free label, e.g. 'early-stage D2C'.")
    market: Market
    economics: Economics
    channels: dict[str, Channel] = Field(..., min_length=1, description="Marketing channels by id.")
    budget: Budget
    first_purchase: FirstPurchase
    repeat_purchase: RepeatPurchase
    retention: Retention = Field(default_factory=Retention)
    experience: Experience = Field(default_factory=Experience)
    loyalty: Loyalty = Field(default_factory=Loyalty)
    referral: Referral = Field(default_factory=Referral)
    winback: Winback = Field(default_factory=Winback)
    operations: Operations = Field(default_factory=Operations)
    seasonality: Seasonality | None = Field(None, description="Monthly demand index; none means flat demand.")
    events: list[Event] = Field(default_factory=list, max_length=1000, description="Dated promotions.")
    simulation: Simulation = Field(default_factory=Simulation)
    planning: Planning = Field(
        default_factory=Planning,
        description="The client's rules for the recommended plan (split period, hurdle rate, caps, limits).",
    )
    calibration: dict[str, Any] | None = Field(
        None, description="Diagnostics written by `sim calibrate` (read-only information)."
    )
    _source: Path | None = PrivateAttr(None)

    @field_validator("channels")
    @classmethod
    def _channel_ids(cls, value: dict[str, Channel]) -> dict[str, Channel]:
        for key in value:
            if not key or not all(ch.isalnum() or ch in "_-" for ch in key):
                raise ValueError(f"channel id {key!r} may hold only letters, digits, '_' and '-'")
            if len(key) > 64:
                raise ValueError(f"channel id {key[:20]!r}... is {len(key)} characters long; at most 64 are allowed")
        if len(value) > 200:
            raise ValueError(f"{len(value)} channels; at most 200 are allowed")
        return value

    @model_validator(mode="after")
    def _channels_exist(self) -> Scenario:
        for csplit in self.budget.channel_splits:
            for purpose, split in csplit.items():
                for channel in split:
                    if channel not in self.channels:
                        hint = _did_you_mean(channel, list(self.channels))
                        raise ValueError(
                            f"budget -> channel_split -> {purpose} names channel {channel!r}, which is not in"
                            f" channels ({', '.join(self.channels)}){hint}"
                        )
        for key in ("min_channel", "max_channel"):
            for channel in getattr(self.planning, key):
                if channel not in self.channels:
                    hint = _did_you_mean(channel, list(self.channels))
                    raise ValueError(
                        f"planning -> {key} names channel {channel!r}, which is not in channels"
                        f" ({', '.join(self.channels)}){hint}"
                    )
        return self

    @model_validator(mode="after")
    def _events_inside_the_horizon(self) -> Scenario:
        start = self.simulation.start_date
        for event in self.events:
            if event.end < start:
                raise ValueError(f"event {event.name!r} ends ({event.end}) before the simulation starts ({start})")
        return self

    # -- derived views -------------------------------------------------------------------------
    @property
    def source_path(self) -> Path | None:
        """The YAML file this scenario was read from, if any (relative paths inside resolve against it)."""
        return self._source

    def resolve(self, relative: str) -> Path:
        """A path named in the scenario, resolved against the scenario file's folder."""
        p = Path(relative)
        if p.is_absolute() or self._source is None:
            return p
        return self._source.parent / p

    @property
    def display_name(self) -> str:
        """Client name if given, else the scenario name."""
        return self.client or self.name

    def content(self) -> dict[str, Any]:
        """The scenario's content as JSON data: every field, the planning section only when it sets something (a
        scenario without one reads as it did before the section existed: stored runs and manifests still match)."""
        return self.model_dump(mode="json", exclude={"planning"} if self.planning == Planning() else None)

    def content_hash(self) -> str:
        """A short hash of the scenario's content, for reproducibility notes and batch resumption."""
        payload = json.dumps(self.content(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def with_changes(self, changes: dict[str, Any]) -> Scenario:
        """A validated copy with dotted-path changes, e.g. {"experience.reliability": 0.8}."""
        data = self.model_dump(mode="python")
        for dotted, value in changes.items():
            node = data
            keys = dotted.split(".")
            for key in keys[:-1]:
                node = node[key]
            node[keys[-1]] = value
        copy = Scenario.model_validate(data)
        copy._source = self._source
        return copy


# -- loading ------------------------------------------------------------------------------------


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at `loc` (for listing allowed keys)."""
    model: Any = Scenario
    skip_key = False
    for key in loc:
        if isinstance(key, int) or skip_key:
            skip_key = False
            continue
        field = model.model_fields.get(key)
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif (
            getattr(annotation, "__origin__", None) is dict
            and args
            and isinstance(args[-1], type)
            and issubclass(args[-1], BaseModel)
        ):
            model = args[-1]  # dict[str, Channel]: the next key is the channel id
            skip_key = True
        else:
            return None
    return model


def _describe_error(err: dict[str, Any]) -> tuple[str | None, str, str | None, str | None]:
    """(path, message, found, allowed) for one pydantic error (path None: the message names the place)."""
    loc = _plain_loc(err.get("loc", ()))
    path = " -> ".join(str(p) for p in loc) or None
    kind = err.get("type", "")
    found = err.get("input")
    # a whole block is no "found" value: the message of a check across fields names what is wrong in it
    found_text = None if kind == "missing" or isinstance(found, dict) else _short(found)
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        allowed_keys = list(owner.model_fields) if owner else []
        hint = _did_you_mean(str(loc[-1]), allowed_keys)
        return path, f"unknown key {loc[-1]!r}{hint}", None, ", ".join(allowed_keys) or None
    if kind == "missing":
        return path, "required field is missing", None, None
    if found is None:
        return path, "has no value (nothing after the colon)", None, _expected(loc)
    allowed = None
    if "ge" in ctx or "gt" in ctx or "le" in ctx or "lt" in ctx:
        lo = f">= {ctx['ge']}" if "ge" in ctx else (f"> {ctx['gt']}" if "gt" in ctx else "")
        hi = f"<= {ctx['le']}" if "le" in ctx else (f"< {ctx['lt']}" if "lt" in ctx else "")
        allowed = " and ".join(x for x in (lo, hi) if x)
    elif "expected" in ctx:
        allowed = str(ctx["expected"])
    elif "pattern" in ctx:
        allowed = f"text matching {ctx['pattern']}"
    message = err.get("msg", "invalid value")
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind.startswith("date") or kind.startswith("datetime"):
        message, allowed = "is not a date", "a date written YEAR-MONTH-DAY, such as 2027-01-01"
    return path, message + _percent_hint(ctx, found, loc), found_text, allowed


def _expected(loc: tuple[Any, ...]) -> str | None:
    """The field's description (what the value means and its unit), for an empty value."""
    owner = _model_at(loc[:-1]) if loc else None
    field = owner.model_fields.get(str(loc[-1])) if owner is not None else None
    if field is None or not field.description:
        return None
    text = field.description.rstrip(".")
    return text[:1].lower() + text[1:]


def _plain_loc(loc: Any) -> tuple[Any, ...]:
    """The path of an error without the names pydantic gives the arms of a union (`dict[str,constrained-float]`)."""
    return tuple(key for key in loc if not _is_arm(key))


def _is_arm(key: Any) -> bool:
    return isinstance(key, str) and ("[" in key or key in ("constrained-float", "constrained-int"))


def _percent_hint(ctx: dict[str, Any], found: Any, loc: tuple[Any, ...] = ()) -> str:
    """'; a share is a fraction: write 0.3 for 30%' when a number above a bound of 1 looks like a percentage (and
    the same for a seasonal index written as 105 for 1.05)."""
    bound = ctx.get("le", ctx.get("lt"))
    number = isinstance(found, int | float) and not isinstance(found, bool)
    if bound == 1 and number and 1 < found <= 100:
        return f"; a share is a fraction: write {found / 100:g} for {found:g}%"
    if "seasonality" in loc and number and bound is not None and bound < found <= 100 * bound:
        return f"; the index has mean 1: write {found / 100:g} for {found:g}"
    return ""


def _first_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The errors worth showing, most telling first.

    Of a union (a split given as one mapping or as a list), the arm the value does not have the shape of only
    says "should be a valid list"; it is dropped when the other arm says what is wrong. An unknown key comes
    first: a typo in a key also makes the key it was meant to be missing.
    """
    wrong_shape = ("dict_type", "list_type", "model_type", "model_attributes_type")

    def of_an_arm(err: dict[str, Any]) -> bool:
        return err.get("type") in wrong_shape and any(_is_arm(k) for k in err.get("loc", ()))

    kept = [e for e in errors if not of_an_arm(e)] or errors
    return sorted(kept, key=lambda e: e.get("type") != "extra_forbidden")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a mapping as a scenario; raise `ScenarioError` naming the first problem."""
    if not isinstance(data, dict):
        raise ScenarioError(
            "a scenario must be a YAML mapping of sections (market, economics, ...)",
            file=source,
            found=type(data).__name__,
        )
    try:
        economics = data.get("economics")
        currency = economics.get("currency", "USD") if isinstance(economics, dict) else None
        return Scenario.model_validate(data, context={"currency": currency})  # 42.125 won is ambiguous, $42.125 not
    except ValidationError as exc:
        errors = _first_errors(exc.errors(include_url=False))
        path, message, found, allowed = _describe_error(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ScenarioError(message + more, file=source, location=path, found=found, allowed=allowed) from None


_loaded: list[str] = []  # the file `load_scenario` read last (the CLI names it in errors raised without a file)


def last_loaded_file() -> str | None:
    """The scenario file this process read last, as it was named, or None."""
    return _loaded[-1] if _loaded else None


def forget_loaded() -> None:
    """Forget the scenario file read last (a new command starts)."""
    _loaded.clear()


def is_scenario_place(location: str | None) -> bool:
    """Whether an error's location is a place in a scenario (`budget -> totals`), not a flag or another file's."""
    head = (location or "").split(" -> ")[0].split("[")[0].strip()
    return head in Scenario.model_fields


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (read by `sim.model.yamlfile`: limits, no duplicate keys)."""
    from sim.model.yamlfile import load_yaml_file

    p = Path(path)
    source = str(path)
    _loaded[:] = [source]
    data = load_yaml_file(p, "a scenario YAML file")
    scenario = parse_scenario(data, source)
    scenario._source = p.resolve()
    _check_start_after_cutoff(scenario, source)
    snap = scenario.market.existing.snapshot
    if snap is not None:
        from sim.limits import check_input_file, limit

        try:  # a regular file of a sane size (a FIFO would hang the engines, a device never end)
            check_input_file(
                scenario.resolve(snap),
                "a customer snapshot CSV",
                max_bytes=limit("SIM_MAX_INPUT_BYTES"),
                raise_with="SIM_MAX_INPUT_BYTES",
                error=ScenarioError,
            )
        except ScenarioError as exc:
            raise ScenarioError(
                f"customer snapshot {exc.message}",
                file=source,
                location="market -> existing -> snapshot",
                found=snap,
                allowed=exc.allowed,
            ) from None
    return scenario


def _check_start_after_cutoff(scenario: Scenario, source: str) -> None:
    """Refuse a file whose simulation starts on or before its snapshot's cut-off (a start date moved back by
    hand): the customers' histories already hold those days, so they would be simulated as if still to come.
    Checked on files only: the engines may start a copy earlier on purpose (`sim.analysis.forecast`)."""
    cutoff = (scenario.calibration or {}).get("cutoff")
    if scenario.market.existing.snapshot is None or not isinstance(cutoff, str | date):
        return
    try:
        day = cutoff if isinstance(cutoff, date) else date.fromisoformat(cutoff)
    except ValueError:
        return
    start = scenario.simulation.start_date
    if start <= day:
        first = date.fromordinal(day.toordinal() + 1)
        raise ScenarioError(
            f"is on or before the cut-off of the customer snapshot (calibration -> cutoff {day}), where the"
            " customers' histories end",
            file=source,
            location="simulation -> start_date",
            found=str(start),
            allowed=f"{first} or later (or calibrate again with --until)",
        )


def scenario_slug(scenario: Scenario) -> str:
    """A file-name-safe slug of the scenario name (never a path: no separators, no dots at the start)."""
    text = scenario.name.strip().lower()
    out = []
    for ch in text:
        if ch.isalnum():
            out.append(ch)
        elif ch in " _-.":
            out.append("-")
    slug = "-".join(part for part in "".join(out).split("-") if part)
    return slug[:80] or "scenario"
