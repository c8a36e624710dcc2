"""The methodology format, validated with pydantic. Factors are written as decimal strings
(never floats) and held as integer milligrams CO2e per person-km."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FACTOR_UNIT = "gCO2e/pkm"


class Factor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str
    unit: str = FACTOR_UNIT
    source: str = Field(min_length=3)

    @field_validator("value")
    @classmethod
    def _decimal(cls, value: str) -> str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError("not a decimal number") from None
        if not number.is_finite() or number < 0:
            raise ValueError("must be a number of at least 0")
        if number.as_tuple().exponent < -3:
            raise ValueError("at most 3 decimals (milligram precision)")
        return value

    @field_validator("unit")
    @classmethod
    def _unit(cls, unit: str) -> str:
        if unit != FACTOR_UNIT:
            raise ValueError(f"unit must be {FACTOR_UNIT}")
        return unit

    @property
    def milligrams(self) -> int:
        return int(Decimal(self.value) * 1000)


class TravelKind(BaseModel):
    """A trip kind: reduction = (baseline − mode) × distance, within bounds and a daily cap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    baseline: Factor
    mode: Factor
    min_distance_m: int = Field(ge=0)
    max_speed_kmh: int = Field(gt=0)
    daily_cap_grams: int = Field(gt=0)

    @model_validator(mode="after")
    def _saves(self) -> TravelKind:
        if self.mode.milligrams > self.baseline.milligrams:
            raise ValueError("mode factor is above the baseline: the kind would emit, not reduce")
        return self


class StepsRule(BaseModel):
    """Daily steps: growth and energy (the health account), no CO2e."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    steps_per_growth: int = Field(gt=0)
    steps_per_energy: int = Field(gt=0)
    daily_cap_steps: int = Field(gt=0)
    max_steps_per_day: int = Field(gt=0)
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _cap_below_plausible(self) -> StepsRule:
        if self.daily_cap_steps > self.max_steps_per_day:
            raise ValueError("daily_cap_steps is above max_steps_per_day")
        return self


class Rates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    grams_per_point: int = Field(gt=0)
    growth_per_kg: int = Field(ge=0)
    source: str = Field(min_length=3)


class Methodology(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")
    version: int = Field(ge=1)
    title: str
    effective_from: datetime
    rates: Rates
    travel: dict[str, TravelKind] = Field(default_factory=dict)
    steps: StepsRule | None = None

    @field_validator("effective_from")
    @classmethod
    def _zoned(cls, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("needs a time zone")
        return moment

    @field_validator("travel")
    @classmethod
    def _kind_names(cls, travel: dict[str, TravelKind]) -> dict[str, TravelKind]:
        for name in travel:
            if name == "steps" or not name.replace("_", "").isalnum() or not name.islower():
                raise ValueError(f"kind name {name!r} must be lower-case letters, digits, _")
        return travel

    @property
    def kinds(self) -> list[str]:
        return sorted(self.travel) + (["steps"] if self.steps else [])
