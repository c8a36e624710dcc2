"""From an activity to grams, points, growth and energy: pure and integer-valued.

Rounding rule: every division rounds down (floor), so the service never credits
more than the figures give. Per trip: grams = floor(saving_mg × metres / 10^6),
then the daily cap; points = floor(grams / grams_per_point); growth =
floor(grams × growth_per_kg / 1000). Steps credit on the day's running total, as
floor(total / k) − floor(previous / k), so no remainder is lost across syncs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from methodology.model import Methodology

REASONS = ("UNKNOWN_KIND", "INVALID_FIELD", "IMPLAUSIBLE_SPEED", "IMPLAUSIBLE_STEPS",
           "TOO_SHORT", "DAILY_CAP_REACHED")


@dataclass(frozen=True)
class ActivityInput:
    kind: str
    distance_meters: int | None = None
    steps: int | None = None  # for steps: the increase over the day's previous report
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class DailyTotals:
    """What the player already got today for this kind (for steps: the previous report)."""

    reduction_grams: int = 0
    points: int = 0
    growth: int = 0
    energy: int = 0
    steps: int = 0


@dataclass(frozen=True)
class Rejection:
    reason: str
    message: str


@dataclass(frozen=True)
class Calculation:
    reduction_grams: int
    points: int
    growth: int
    energy: int
    methodology_id: str
    methodology_version: int
    factors: dict[str, str] = field(default_factory=dict)
    caps_applied: list[str] = field(default_factory=list)
    rejection: Rejection | None = None


def _result(m: Methodology, **amounts) -> Calculation:
    return Calculation(methodology_id=m.id, methodology_version=m.version, **amounts)


def _rejected(m: Methodology, reason: str, message: str, factors=None) -> Calculation:
    return _result(m, reduction_grams=0, points=0, growth=0, energy=0, factors=factors or {},
                   rejection=Rejection(reason, message))


def calculate(m: Methodology, activity: ActivityInput, today: DailyTotals) -> Calculation:
    if activity.kind == "steps" and m.steps is not None:
        return _steps(m, activity, today)
    rule = m.travel.get(activity.kind)
    if rule is None:
        return _rejected(m, "UNKNOWN_KIND", f"{m.id} v{m.version} does not cover {activity.kind!r}")
    distance = activity.distance_meters
    if not isinstance(distance, int) or distance <= 0:
        return _rejected(m, "INVALID_FIELD", "distanceMeters must be a positive integer")
    factors = {f"{activity.kind}.baseline": rule.baseline.value,
               f"{activity.kind}.mode": rule.mode.value,
               "rates.grams_per_point": str(m.rates.grams_per_point),
               "rates.growth_per_kg": str(m.rates.growth_per_kg)}
    if distance < rule.min_distance_m:
        return _rejected(m, "TOO_SHORT", f"{activity.kind} trips count from {rule.min_distance_m} m", factors)
    if activity.started_at and activity.ended_at:
        seconds = (activity.ended_at - activity.started_at).total_seconds()
        if seconds <= 0 or distance * 3600 > rule.max_speed_kmh * 1000 * seconds:
            return _rejected(m, "IMPLAUSIBLE_SPEED",
                             f"faster than {rule.max_speed_kmh} km/h on average for {activity.kind}", factors)
    grams = (rule.baseline.milligrams - rule.mode.milligrams) * distance // 1_000_000
    caps: list[str] = []
    room = rule.daily_cap_grams - today.reduction_grams
    if room <= 0:
        return _rejected(m, "DAILY_CAP_REACHED",
                         f"{activity.kind} is capped at {rule.daily_cap_grams} g a day", factors)
    if grams > room:
        grams = room
        caps.append(f"{activity.kind}.daily_cap_grams")
    return _result(m, reduction_grams=grams, points=grams // m.rates.grams_per_point,
                   growth=grams * m.rates.growth_per_kg // 1000, energy=0, factors=factors,
                   caps_applied=caps)


def _steps(m: Methodology, activity: ActivityInput, today: DailyTotals) -> Calculation:
    rule = m.steps
    assert rule is not None
    increase = activity.steps
    factors = {"steps.steps_per_growth": str(rule.steps_per_growth),
               "steps.steps_per_energy": str(rule.steps_per_energy)}
    if not isinstance(increase, int) or increase < 0:
        return _rejected(m, "INVALID_FIELD", "steps must be a non-negative integer", factors)
    total = today.steps + increase
    if total > rule.max_steps_per_day:
        return _rejected(m, "IMPLAUSIBLE_STEPS", f"more than {rule.max_steps_per_day} steps in a day", factors)
    before, after = min(today.steps, rule.daily_cap_steps), min(total, rule.daily_cap_steps)
    if increase and after == before:
        return _rejected(m, "DAILY_CAP_REACHED", f"steps count up to {rule.daily_cap_steps} a day", factors)
    caps = ["steps.daily_cap_steps"] if total > rule.daily_cap_steps else []
    return _result(
        m, reduction_grams=0, points=0,
        growth=after // rule.steps_per_growth - before // rule.steps_per_growth,
        energy=after // rule.steps_per_energy - before // rule.steps_per_energy,
        factors=factors, caps_applied=caps,
    )
