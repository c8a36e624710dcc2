"""Which methodology applies to an activity: the highest version in effect when it happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from methodology.loader import load_directory
from methodology.model import Methodology

FILES = Path(__file__).parent / "files"


@dataclass(frozen=True)
class PublicFactor:
    key: str
    value: str
    unit: str
    source: str


@dataclass(frozen=True)
class PublicCap:
    key: str
    value: int
    unit: str


class MethodologyRegistry:
    def __init__(self, methodologies: list[Methodology]) -> None:
        self._all = sorted(methodologies, key=lambda m: (m.id, m.version))

    def all(self) -> list[Methodology]:
        return list(self._all)

    def for_kind(self, kind: str, at: datetime) -> Methodology | None:
        candidates = [m for m in self._all if kind in m.kinds and m.effective_from <= at]
        return max(candidates, key=lambda m: (m.effective_from, m.version), default=None)


def public_factors(m: Methodology) -> list[PublicFactor]:
    factors = []
    for kind, rule in sorted(m.travel.items()):
        for name, factor in (("baseline", rule.baseline), ("mode", rule.mode)):
            factors.append(PublicFactor(f"{kind}.{name}", factor.value, factor.unit, factor.source))
    rates = m.rates
    factors.append(PublicFactor("rates.grams_per_point", str(rates.grams_per_point), "gCO2e/point", rates.source))
    factors.append(PublicFactor("rates.growth_per_kg", str(rates.growth_per_kg), "growth/kgCO2e", rates.source))
    if m.steps:
        factors.append(PublicFactor("steps.steps_per_growth", str(m.steps.steps_per_growth), "steps/growth", m.steps.source))
        factors.append(PublicFactor("steps.steps_per_energy", str(m.steps.steps_per_energy), "steps/energy", m.steps.source))
    return factors


def public_caps(m: Methodology) -> list[PublicCap]:
    caps = []
    for kind, rule in sorted(m.travel.items()):
        caps.append(PublicCap(f"{kind}.daily_cap_grams", rule.daily_cap_grams, "gCO2e/day"))
        caps.append(PublicCap(f"{kind}.min_distance_m", rule.min_distance_m, "m"))
        caps.append(PublicCap(f"{kind}.max_speed_kmh", rule.max_speed_kmh, "km/h"))
    if m.steps:
        caps.append(PublicCap("steps.daily_cap_steps", m.steps.daily_cap_steps, "steps/day"))
        caps.append(PublicCap("steps.max_steps_per_day", m.steps.max_steps_per_day, "steps/day"))
    return caps


@lru_cache
def default_registry() -> MethodologyRegistry:
    """The methodologies shipped in `methodology/files/`."""
    return MethodologyRegistry(load_directory(FILES))
