"""The public description of a methodology (the GraphQL `methodologies` query): every
factor and rate with its value as written, unit and source, and every cap and bound."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from methodology.model import QUANTITY_UNITS, Methodology

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
class PublicScene:
    kind: str  # the activity kind, e.g. "household_electricity"
    scene_kind: str  # the formula: travel, steps, quantity, baseline or event
    title: str
    formula: str  # in words, with its units
    record_fields: list[str]  # what a record of this scene must carry
    dedup_key: list[str]  # the fields that identify one real event across sources


@dataclass(frozen=True)
class MethodologyDescription:
    id: str
    version: int
    title: str
    kinds: list[str]
    effective_from: datetime
    factors: list[PublicFactor]
    caps: list[PublicCap]
    scenes: list[PublicScene]


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
    for kind, q in sorted(m.quantity.items()):
        unit = q.factor_unit
        if q.factor is not None:
            factors.append(PublicFactor(f"{kind}.factor", q.factor.value, unit, q.factor.source))
        for variety, f in sorted(q.varieties.items()):
            factors.append(PublicFactor(f"{kind}.varieties.{variety}", f.value, unit, f.source))
    for kind, b in sorted(m.baseline.items()):
        for f in b.factors:
            factors.append(PublicFactor(f"{kind}.factors.{f.effective_from}", f.value,
                                        b.factor_unit, f.source))
        if b.city_daily_per_person is not None:
            factors.append(PublicFactor(f"{kind}.city_daily_per_person",
                                        str(b.city_daily_per_person),
                                        f"{b.quantity_unit}/person/day", b.city_source or ""))
    for kind, e in sorted(m.event.items()):
        factors.append(PublicFactor(f"{kind}.amount", e.amount.value, "gCO2e/event",
                                    e.amount.source))
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
    for kind, q in sorted(m.quantity.items()):
        caps.append(PublicCap(f"{kind}.max_quantity", q.max_quantity, q.quantity_unit))
        caps.append(PublicCap(f"{kind}.daily_cap_grams", q.daily_cap_grams, "gCO2e/day"))
        if q.daily_cap_points is not None:
            caps.append(PublicCap(f"{kind}.daily_cap_points", q.daily_cap_points, "points/day"))
    for kind, b in sorted(m.baseline.items()):
        caps.append(PublicCap(f"{kind}.min_period_days", b.min_period_days, "days"))
        caps.append(PublicCap(f"{kind}.max_period_days", b.max_period_days, "days"))
        caps.append(PublicCap(f"{kind}.max_daily_per_household", b.max_daily_per_household,
                              f"{b.quantity_unit}/day"))
        caps.append(PublicCap(f"{kind}.cap_grams_per_period", b.cap_grams_per_period,
                              "gCO2e/period"))
    for kind, e in sorted(m.event.items()):
        caps.append(PublicCap(f"{kind}.daily_cap_grams", e.daily_cap_grams, "gCO2e/day"))
        if e.daily_cap_points is not None:
            caps.append(PublicCap(f"{kind}.daily_cap_points", e.daily_cap_points, "points/day"))
    return caps


_BASELINES = {
    "city_per_capita": "the city's per-person daily figure × household size × days",
    "own_average": "the household's own average over its last {n} periods × days",
    "city_then_own": ("the city's per-person daily figure × household size × days; a household"
                      " above it: its own average over its last {n} periods × days"),
}


def public_scenes(m: Methodology) -> list[PublicScene]:
    """Every kind the methodology covers, with its formula, record fields and dedup key."""
    scenes = []
    for kind, t in sorted(m.travel.items()):
        scenes.append(PublicScene(kind, "travel", t.title,
                                  "(baseline − mode) gCO2e/pkm × distance km",
                                  ["subject", "startedAt", "endedAt", "distanceMeters"], ["id"]))
    if m.steps:
        scenes.append(PublicScene("steps", "steps", m.steps.title,
                                  "the day's steps → growth and energy", ["date", "steps"], []))
    for kind, q in sorted(m.quantity.items()):
        per = QUANTITY_UNITS[q.quantity_unit][0]
        by = f" (factor by {q.variety_field})" if q.variety_field else ""
        scenes.append(PublicScene(kind, "quantity", q.title,
                                  f"quantity {q.quantity_unit} × factor gCO2e/{per}{by}",
                                  list(q.record_fields), list(q.dedup_key)))
    for kind, b in sorted(m.baseline.items()):
        per = QUANTITY_UNITS[b.quantity_unit][0]
        scenes.append(PublicScene(
            kind, "baseline", b.title,
            f"(baseline − consumption) {b.quantity_unit} × grid/dated factor gCO2e/{per} in"
            f" effect on the period's first day; baseline: "
            + _BASELINES[b.baseline].format(n=b.average_periods),
            list(b.record_fields), list(b.dedup_key)))
    for kind, e in sorted(m.event.items()):
        scenes.append(PublicScene(kind, "event", e.title, "amount gCO2e per verified event",
                                  list(e.record_fields), list(e.dedup_key)))
    return scenes


def describe(m: Methodology) -> MethodologyDescription:
    return MethodologyDescription(
        id=m.id, version=m.version, title=m.title, kinds=m.kinds,
        effective_from=m.effective_from, factors=public_factors(m), caps=public_caps(m),
        scenes=public_scenes(m),
    )
