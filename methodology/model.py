"""The methodology format, validated with pydantic.

Emission factors are written as decimal strings (never floats) and held as integer
milligrams, each with its source (and optionally its unit, checked). Rates, bounds and
caps are whole numbers in fixed units; the rates of a table share one source. See the
package docstring for the file layout.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")
DECIMALS = 3  # milligram precision for factors in grams


def milligrams(text: str) -> int:
    """'26.9' -> 26900: a validated decimal string of grams as integer milligrams."""
    whole, _, fraction = text.partition(".")
    return int(whole) * 10**DECIMALS + int(fraction.ljust(DECIMALS, "0") or 0)


def _decimal_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(
            f'write the number as a quoted decimal string, e.g. "26.9" (got {value!r})')
    if value.startswith("-"):
        raise ValueError("must not be negative")
    if not _DECIMAL.fullmatch(value):
        raise ValueError(f"not a decimal number: {value!r}")
    if len(value.partition(".")[2]) > DECIMALS:
        raise ValueError(f"at most {DECIMALS} decimals (milligram precision)")
    return value


def _zoned_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None
    if not isinstance(value, datetime):
        raise ValueError(
            'must be an ISO 8601 date-time with a zone, e.g. "2026-01-01T00:00:00+08:00"')
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a time zone (UTC offset)")
    return value


DecimalText = Annotated[str, BeforeValidator(_decimal_text)]
ZonedDateTime = Annotated[datetime, BeforeValidator(_zoned_datetime)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Factor(_Strict):
    """Grams CO2e per person-km, as a decimal string; `milligrams` is the integer used."""

    UNIT: ClassVar[str] = "gCO2e/pkm"

    value: DecimalText
    unit: str | None = Field(default=None, validate_default=True)  # optional; if written, UNIT
    source: str = Field(min_length=3)
    _milligrams: int = PrivateAttr(default=0)

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str | None) -> str:
        if unit is not None and unit != cls.UNIT:
            raise ValueError(f"unknown unit {unit!r}, expected {cls.UNIT!r}")
        return cls.UNIT

    def model_post_init(self, context: Any, /) -> None:
        self._milligrams = milligrams(self.value)

    @property
    def milligrams(self) -> int:
        return self._milligrams


class StepsFactor(Factor):
    """Grams CO2e per 1,000 steps (only if a methodology credits CO2e for steps)."""

    UNIT: ClassVar[str] = "gCO2e/1000steps"


class Rates(_Strict):
    """Conversions shared by every kind: grams -> carbon points, grams -> growth."""

    grams_per_point: StrictInt = Field(gt=0)
    growth_per_kg: StrictInt = Field(ge=0)
    source: str = Field(min_length=3)


class TravelKind(_Strict):
    """A trip kind: reduction = (baseline − mode) × distance, within bounds and daily caps."""

    title: str = Field(min_length=1)
    baseline: Factor
    mode: Factor
    min_distance_m: StrictInt = Field(ge=0)
    max_speed_kmh: StrictInt = Field(gt=0)
    daily_cap_grams: StrictInt = Field(gt=0)
    daily_cap_points: StrictInt | None = Field(default=None, gt=0)

    @field_validator("mode")
    @classmethod
    def _saves(cls, mode: Factor, info: ValidationInfo) -> Factor:
        baseline = info.data.get("baseline")
        if baseline is not None and mode.milligrams > baseline.milligrams:
            raise ValueError(
                f"value {mode.value} is above the baseline {baseline.value}:"
                " the kind would emit, not reduce"
            )
        return mode


class StepsRule(_Strict):
    """Daily steps: growth and energy (the health account); CO2e only with `reduction`."""

    title: str = Field(min_length=1)
    steps_per_growth: StrictInt = Field(gt=0)
    steps_per_energy: StrictInt = Field(gt=0)
    max_steps_per_day: StrictInt = Field(gt=0)
    daily_cap_steps: StrictInt = Field(gt=0)
    source: str = Field(min_length=3)
    reduction: StepsFactor | None = None

    @field_validator("daily_cap_steps")
    @classmethod
    def _cap_below_plausible(cls, cap: int, info: ValidationInfo) -> int:
        plausible = info.data.get("max_steps_per_day")
        if plausible is not None and cap > plausible:
            raise ValueError(f"{cap} is above max_steps_per_day ({plausible})")
        return cap


# A scene's quantity unit -> (the unit its factors are per, how many quantity units make one).
QUANTITY_UNITS: dict[str, tuple[str, int]] = {
    "kWh": ("kWh", 1), "Wh": ("kWh", 1000), "kg": ("kg", 1), "g": ("kg", 1000),
    "m3": ("m3", 1), "L": ("m3", 1000), "item": ("item", 1), "action": ("action", 1),
    "ticket": ("ticket", 1), "meal": ("meal", 1),
}
QuantityUnit = Literal["kWh", "Wh", "kg", "g", "m3", "L", "item", "action", "ticket", "meal"]
BaselineRule = Literal["city_per_capita", "own_average", "city_then_own"]


class SceneFactor(_Strict):
    """Grams CO2e per unit (the unit the scene names), as a decimal string, with its source."""

    value: DecimalText
    unit: str | None = None  # optional; if written, checked by the scene
    source: str = Field(min_length=3)
    _milligrams: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any, /) -> None:
        self._milligrams = milligrams(self.value)

    @property
    def milligrams(self) -> int:
        return self._milligrams


class DatedFactor(SceneFactor):
    """A factor from a dated table (e.g. the grid's): in effect from `effective_from` on."""

    effective_from: date


def _check_unit(where: str, factor: SceneFactor, unit: str) -> None:
    if factor.unit is not None and factor.unit != unit:
        raise ValueError(f"{where}: unknown unit {factor.unit!r}, expected {unit!r}")


class _Scene(_Strict):
    """What every scene beyond travel names: the record fields it needs and, where two
    sources can report the same real event, the fields that identify it (dedup key)."""

    title: str = Field(min_length=1)
    record_fields: list[str] = Field(min_length=1)
    dedup_key: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _key_in_fields(self) -> _Scene:
        missing = [name for name in self.dedup_key if name not in self.record_fields]
        if missing:
            raise ValueError(f"dedup_key names fields not in record_fields: {missing}")
        return self


class QuantityScene(_Scene):
    """reduction = quantity × factor (one factor, or one per variety, e.g. per material)."""

    quantity_unit: QuantityUnit
    factor: SceneFactor | None = None
    variety_field: str | None = None  # e.g. "material"; required with `varieties`
    varieties: dict[str, SceneFactor] = Field(default_factory=dict)
    quantity_field: str | None = None  # the record field holding the quantity; none: 1 a record
    max_quantity: StrictInt = Field(gt=0)  # per record; more is IMPLAUSIBLE_QUANTITY
    daily_cap_grams: StrictInt = Field(gt=0)
    daily_cap_points: StrictInt | None = Field(default=None, gt=0)

    @property
    def factor_unit(self) -> str:
        return "gCO2e/" + QUANTITY_UNITS[self.quantity_unit][0]

    @model_validator(mode="after")
    def _one_factor_source(self) -> QuantityScene:
        if (self.factor is None) == (not self.varieties):
            raise ValueError("give either `factor` or `varieties` (one factor per variety)")
        if bool(self.varieties) != (self.variety_field is not None):
            raise ValueError("`variety_field` names the record field that picks a variety;"
                             " it goes with `varieties`")
        if self.quantity_field is not None and (
                self.quantity_field not in self.record_fields or self.quantity_field in self.dedup_key):
            raise ValueError("`quantity_field` must be one of record_fields, not of dedup_key")
        if self.variety_field is not None and self.variety_field not in self.record_fields:
            raise ValueError("`variety_field` must be one of record_fields")
        if self.factor is not None:
            _check_unit("factor", self.factor, self.factor_unit)
        for name, factor in self.varieties.items():
            if not _KIND.fullmatch(name):
                raise ValueError(f"variety name {name!r}: lower-case letters, digits and _")
            _check_unit(f"varieties.{name}", factor, self.factor_unit)
        return self


class BaselineScene(_Scene):
    """Saving against a baseline per billing period: (baseline − consumption) × factor, the
    factor taken from a dated table (the one in effect on the period's first day)."""

    quantity_unit: Literal["kWh", "Wh", "m3", "L"]
    baseline: BaselineRule
    city_daily_per_person: StrictInt | None = Field(default=None, gt=0)  # quantity units
    city_source: str | None = Field(default=None, min_length=3)
    average_periods: StrictInt = Field(default=3, ge=1, le=24)
    factors: list[DatedFactor] = Field(min_length=1)
    min_period_days: StrictInt = Field(ge=1)
    max_period_days: StrictInt = Field(ge=1)
    max_daily_per_household: StrictInt = Field(gt=0)  # above: IMPLAUSIBLE_CONSUMPTION
    cap_grams_per_period: StrictInt = Field(gt=0)

    @property
    def factor_unit(self) -> str:
        return "gCO2e/" + QUANTITY_UNITS[self.quantity_unit][0]

    @model_validator(mode="after")
    def _consistent(self) -> BaselineScene:
        if self.baseline != "own_average" and (
                self.city_daily_per_person is None or self.city_source is None):
            raise ValueError(f"baseline {self.baseline!r} needs city_daily_per_person and"
                             " city_source")
        if self.max_period_days < self.min_period_days:
            raise ValueError("max_period_days is below min_period_days")
        dates = [f.effective_from for f in self.factors]
        if dates != sorted(set(dates)):
            raise ValueError("factors: effective_from dates must increase strictly")
        for i, factor in enumerate(self.factors):
            _check_unit(f"factors.{i}", factor, self.factor_unit)
        return self

    def factor_on(self, day: date) -> DatedFactor | None:
        """The factor in effect on `day`: the last one whose effective_from is not after it."""
        return next((f for f in reversed(self.factors) if f.effective_from <= day), None)


class EventScene(_Scene):
    """A fixed amount for each verified event (a check-in)."""

    amount: SceneFactor  # grams CO2e per event
    daily_cap_grams: StrictInt = Field(gt=0)
    daily_cap_points: StrictInt | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _unit(self) -> EventScene:
        _check_unit("amount", self.amount, "gCO2e/event")
        return self


SceneKind = Literal["travel", "steps", "quantity", "baseline", "event"]


class Methodology(_Strict):
    """One version of a methodology, as read from its file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")
    version: StrictInt = Field(ge=1)
    title: str = Field(min_length=1)
    effective_from: ZonedDateTime
    rates: Rates
    travel: dict[str, TravelKind] = Field(default_factory=dict)
    steps: StepsRule | None = None
    quantity: dict[str, QuantityScene] = Field(default_factory=dict)
    baseline: dict[str, BaselineScene] = Field(default_factory=dict)
    event: dict[str, EventScene] = Field(default_factory=dict)
    _origin: str = PrivateAttr(default="<string>")

    @field_validator("travel", "quantity", "baseline", "event")
    @classmethod
    def _kind_names(cls, scenes: dict[str, Any]) -> dict[str, Any]:
        for name in scenes:
            if name == "steps" or not _KIND.fullmatch(name):
                raise ValueError(
                    f"kind name {name!r}: lower-case letters, digits and _, not 'steps'"
                )
        return scenes

    @model_validator(mode="after")
    def _covers_something(self) -> Methodology:
        tables = (self.travel, self.quantity, self.baseline, self.event)
        if not any(tables) and self.steps is None:
            raise ValueError("covers no kind: add a [travel.<kind>], [quantity.<kind>],"
                             " [baseline.<kind>] or [event.<kind>] table, or a [steps] table")
        seen: set[str] = set()
        for table in tables:
            twice = seen & set(table)
            if twice:
                raise ValueError(f"kind {sorted(twice)[0]!r} is defined in two tables")
            seen |= set(table)
        return self

    @property
    def origin(self) -> str:
        """The file it was read from (for error messages)."""
        return self._origin

    @property
    def kinds(self) -> list[str]:
        return (sorted(self.travel) + (["steps"] if self.steps else [])
                + sorted([*self.quantity, *self.baseline, *self.event]))

    def scene_kind(self, kind: str) -> SceneKind | None:
        """Which formula `kind` is computed with here (None if not covered)."""
        if kind in self.travel:
            return "travel"
        if kind == "steps" and self.steps is not None:
            return "steps"
        for name, table in (("quantity", self.quantity), ("baseline", self.baseline),
                            ("event", self.event)):
            if kind in table:
                return name  # type: ignore[return-value]
        return None

    def covers(self, kind: str) -> bool:
        return self.scene_kind(kind) is not None
