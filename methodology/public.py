"""The public description of a methodology (the GraphQL `methodologies` query): every
factor and rate with its value as written, unit and source, and every cap and bound."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from methodology.model import Methodology

RATE_UNITS = {"grams_per_point": "gCO2e/point", "growth_per_kg": "growth/kgCO2e"}
STEP_UNITS = {"steps_per_growth": "steps/growth", "steps_per_energy": "steps/energy"}


@dataclass(frozen=True)
class PublicFactor:
    key: str  # e.g. "bus.baseline", "rates.grams_per_point"
    value: str  # as written in the file
    unit: str
    source: str


@dataclass(frozen=True)
class PublicCap:
    key: str  # e.g. "bus.daily_cap_grams"; the same key appears in Calculation.caps_applied
    value: int
    unit: str


@dataclass(frozen=True)
class MethodologyDescription:
    id: str
    version: int
    title: str
    kinds: list[str]
    effective_from: datetime
    factors: list[PublicFactor]
    caps: list[PublicCap]


def public_factors(m: Methodology) -> list[PublicFactor]:
    factors = []
    for kind, rule in sorted(m.travel.items()):
        for name, factor in (("baseline", rule.baseline), ("mode", rule.mode)):
            factors.append(PublicFactor(f"{kind}.{name}", factor.value, factor.unit or factor.UNIT, factor.source))
    for name, unit in RATE_UNITS.items():
        value = str(getattr(m.rates, name))
        factors.append(PublicFactor(f"rates.{name}", value, unit, m.rates.source))
    if m.steps:
        for name, unit in STEP_UNITS.items():
            value = str(getattr(m.steps, name))
            factors.append(PublicFactor(f"steps.{name}", value, unit, m.steps.source))
        if m.steps.reduction:
            r = m.steps.reduction
            factors.append(PublicFactor("steps.reduction", r.value, r.unit or r.UNIT, r.source))
    return factors


def public_caps(m: Methodology) -> list[PublicCap]:
    """Daily caps and plausibility bounds, each with its unit."""
    caps = []
    for kind, rule in sorted(m.travel.items()):
        caps.append(PublicCap(f"{kind}.daily_cap_grams", rule.daily_cap_grams, "gCO2e/day"))
        if rule.daily_cap_points is not None:
            caps.append(PublicCap(f"{kind}.daily_cap_points", rule.daily_cap_points, "points/day"))
        caps.append(PublicCap(f"{kind}.min_distance_m", rule.min_distance_m, "m"))
        caps.append(PublicCap(f"{kind}.max_speed_kmh", rule.max_speed_kmh, "km/h"))
    if m.steps:
        caps.append(PublicCap("steps.daily_cap_steps", m.steps.daily_cap_steps, "steps/day"))
        caps.append(PublicCap("steps.max_steps_per_day", m.steps.max_steps_per_day, "steps/day"))
    return caps


def describe(m: Methodology) -> MethodologyDescription:
    return MethodologyDescription(
        id=m.id, version=m.version, title=m.title, kinds=m.kinds,
        effective_from=m.effective_from, factors=public_factors(m), caps=public_caps(m),
    )
