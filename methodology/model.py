"""The methodology format, validated with pydantic.

Emission factors are written as decimal strings (never floats) and held as integer
milligrams, each with its source (and optionally its unit, checked). Rates, bounds and
caps are whole numbers in fixed units; the rates of a table share one source. See the
package docstring for the file layout.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar

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


class Methodology(_Strict):
    """One version of a methodology, as read from its file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")
    version: StrictInt = Field(ge=1)
    title: str = Field(min_length=1)
    effective_from: ZonedDateTime
    rates: Rates
    travel: dict[str, TravelKind] = Field(default_factory=dict)
    steps: StepsRule | None = None
    _origin: str = PrivateAttr(default="<string>")

    @field_validator("travel")
    @classmethod
    def _kind_names(cls, travel: dict[str, TravelKind]) -> dict[str, TravelKind]:
        for name in travel:
            if name == "steps" or not _KIND.fullmatch(name):
                raise ValueError(
                    f"kind name {name!r}: lower-case letters, digits and _, not 'steps'"
                )
        return travel

    @model_validator(mode="after")
    def _covers_something(self) -> Methodology:
        if not self.travel and self.steps is None:
            raise ValueError("covers no kind: add a [travel.<kind>] table or a [steps] table")
        return self

    @property
    def origin(self) -> str:
        """The file it was read from (for error messages)."""
        return self._origin

    @property
    def kinds(self) -> list[str]:
        return sorted(self.travel) + (["steps"] if self.steps else [])

    def covers(self, kind: str) -> bool:
        return kind in self.travel or (kind == "steps" and self.steps is not None)
