"""From an activity to grams, points, growth and energy: pure and integer-valued.

Rounding rule: every division rounds down (floor), so the service never credits more
than the figures give.

- Trip: grams = floor((baseline_mg − mode_mg) × metres / 10^6), then the kind's daily
  gram cap; points = floor(grams / grams_per_point), then the optional daily point
  cap; growth = floor(grams × growth_per_kg / 1000). A trip gives no energy.
- Steps: credited = the increase, cut so the day stays within daily_cap_steps.
  Amounts are taken on the day's running total and differenced, e.g. growth =
  floor(after / steps_per_growth) − floor(before / steps_per_growth), so the
  remainders of earlier syncs are not lost and the day's sum is the same however the
  phone splits its reports. Steps give CO2e only if the rule has a `reduction` factor.

A cap that cuts an activity in part leaves `rejection` None with reduced amounts and
names the cap in `caps_applied`; a cap that leaves nothing is DAILY_CAP_REACHED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from methodology.model import Methodology, StepsRule, TravelKind

if TYPE_CHECKING:
    from typing_extensions import TypeIs

_MICROSECOND = timedelta(microseconds=1)
_US_PER_HOUR_PER_KM = 3_600_000  # metres × this / µs = km/h


class Reason(StrEnum):
    """Rejection reasons: the partner-ingestion contract's names, plus IMPLAUSIBLE_STEPS
    (the contract lists "at least" its own; step reports reach the caller, not partners)."""

    UNKNOWN_KIND = "UNKNOWN_KIND"
    INVALID_FIELD = "INVALID_FIELD"
    IMPLAUSIBLE_SPEED = "IMPLAUSIBLE_SPEED"
    IMPLAUSIBLE_STEPS = "IMPLAUSIBLE_STEPS"  # more steps in a day than a person walks
    TOO_SHORT = "TOO_SHORT"
    DAILY_CAP_REACHED = "DAILY_CAP_REACHED"
    IN_FUTURE = "IN_FUTURE"
    TOO_OLD = "TOO_OLD"


@dataclass(frozen=True)
class ActivityInput:
    kind: str
    distance_meters: int | None = None
    steps: int | None = None  # for steps: the increase over the day's previous highest report
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class DailyTotals:
    """What the player already got today for this kind.

    For steps, `steps` is what was already credited today; passing the day's previous
    highest report instead gives the same result (below the cap the two are equal, at
    or above it nothing more is credited either way)."""

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
    factors: dict[str, str] = field(default_factory=dict)  # factor key -> value as written
    caps_applied: list[str] = field(default_factory=list)  # cap keys, as in public_caps
    rejection: Rejection | None = None
    steps: int = 0  # steps credited by this calculation (steps kind only)


def calculate(methodology: Methodology, activity: ActivityInput,
              credited_today: DailyTotals = DailyTotals()) -> Calculation:
    """The amounts `activity` earns under `methodology`, given today's credit for its kind."""
    for name in ("reduction_grams", "points", "growth", "energy", "steps"):
        if getattr(credited_today, name) < 0:
            raise ValueError(f"credited_today.{name} is negative")
    calc = _Calc(methodology)
    if activity.kind == "steps" and methodology.steps is not None:
        return calc.steps(methodology.steps, activity, credited_today)
    rule = methodology.travel.get(activity.kind)
    if rule is None:
        return calc.reject(
            Reason.UNKNOWN_KIND,
            f"{methodology.id} v{methodology.version} does not cover {activity.kind!r}")
    return calc.trip(activity.kind, rule, activity, credited_today)


def check_time_window(started_at: datetime | None, ended_at: datetime | None, now: datetime,
                      max_age: timedelta, *, future_tolerance: timedelta = timedelta(0)
                      ) -> Rejection | None:
    """IN_FUTURE if the activity ends (or starts) after now + tolerance; TOO_OLD if it
    started before now − max_age; INVALID_FIELD for times without a zone. `now` must be aware."""
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    moments = [t for t in (started_at, ended_at) if t is not None]
    if any(t.tzinfo is None or t.utcoffset() is None for t in moments):
        return Rejection(Reason.INVALID_FIELD, "times need a time zone")
    if moments and max(moments) > now + future_tolerance:
        return Rejection(Reason.IN_FUTURE, "the activity ends in the future")
    if moments and min(moments) < now - max_age:
        whole_days = max_age % timedelta(days=1) == timedelta(0)
        age = f"{max_age.days} days" if whole_days else str(max_age)
        return Rejection(Reason.TOO_OLD, f"the activity is older than {age}")
    return None


def _whole(value: object) -> TypeIs[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _times_problem(activity: ActivityInput) -> str | None:
    for name in ("started_at", "ended_at"):
        moment = getattr(activity, name)
        if moment is not None and (not isinstance(moment, datetime) or moment.utcoffset() is None):
            return f"{name} must be a date-time with a time zone"
    if activity.started_at and activity.ended_at and activity.ended_at < activity.started_at:
        return "ended_at is before started_at"
    return None


class _Calc:
    def __init__(self, m: Methodology) -> None:
        self.m = m
        self.factors: dict[str, str] = {}

    def result(self, *, grams: int = 0, points: int = 0, growth: int = 0, energy: int = 0,
               steps: int = 0, caps: list[str] | None = None,
               rejection: Rejection | None = None) -> Calculation:
        return Calculation(grams, points, growth, energy, self.m.id, self.m.version,
                           dict(self.factors), list(caps or []), rejection, steps)

    def reject(self, reason: str, message: str, caps: list[str] | None = None) -> Calculation:
        return self.result(caps=caps, rejection=Rejection(reason, message))

    def capped_out(self, caps: list[str], amounts: tuple[int, ...]) -> Calculation | None:
        if caps and not any(amounts):
            return self.reject(Reason.DAILY_CAP_REACHED,
                               "today's cap is reached: " + ", ".join(caps), caps)
        return None

    def trip(self, kind: str, rule: TravelKind, activity: ActivityInput,
             today: DailyTotals) -> Calculation:
        rates = self.m.rates
        self.factors = {f"{kind}.baseline": rule.baseline.value, f"{kind}.mode": rule.mode.value,
                        "rates.grams_per_point": str(rates.grams_per_point),
                        "rates.growth_per_kg": str(rates.growth_per_kg)}
        distance = activity.distance_meters
        if not _whole(distance) or distance <= 0:
            return self.reject(Reason.INVALID_FIELD,
                               "distance_meters must be a positive whole number")
        problem = _times_problem(activity)
        if problem:
            return self.reject(Reason.INVALID_FIELD, problem)
        if distance < rule.min_distance_m:
            return self.reject(
                Reason.TOO_SHORT,
                f"{kind} trips count from {rule.min_distance_m} m; this one is {distance} m")
        if activity.started_at is not None and activity.ended_at is not None:
            micros = (activity.ended_at - activity.started_at) // _MICROSECOND
            if distance * _US_PER_HOUR_PER_KM > rule.max_speed_kmh * micros:
                return self.reject(Reason.IMPLAUSIBLE_SPEED,
                                   f"faster than {rule.max_speed_kmh} km/h on average for {kind}")

        caps: list[str] = []
        full = (rule.baseline.milligrams - rule.mode.milligrams) * distance // 1_000_000
        grams = min(full, max(rule.daily_cap_grams - today.reduction_grams, 0))
        if grams < full:
            caps.append(f"{kind}.daily_cap_grams")
        full_points = grams // rates.grams_per_point
        points = full_points
        if rule.daily_cap_points is not None:
            points = min(full_points, max(rule.daily_cap_points - today.points, 0))
            if points < full_points:
                caps.append(f"{kind}.daily_cap_points")
        growth = grams * rates.growth_per_kg // 1000
        return self.capped_out(caps, (grams, points, growth)) or self.result(
            grams=grams, points=points, growth=growth, caps=caps)

    def steps(self, rule: StepsRule, activity: ActivityInput, today: DailyTotals) -> Calculation:
        self.factors = {"steps.steps_per_growth": str(rule.steps_per_growth),
                        "steps.steps_per_energy": str(rule.steps_per_energy)}
        if rule.reduction:
            self.factors["steps.reduction"] = rule.reduction.value
            self.factors["rates.grams_per_point"] = str(self.m.rates.grams_per_point)
        increase = activity.steps
        if not _whole(increase) or increase < 0:
            return self.reject(Reason.INVALID_FIELD, "steps must be a whole number, at least 0")
        problem = _times_problem(activity)
        if problem:
            return self.reject(Reason.INVALID_FIELD, problem)
        # today.steps never exceeds the day's real total, so this is a lower bound of it.
        if today.steps + increase > rule.max_steps_per_day:
            return self.reject(Reason.IMPLAUSIBLE_STEPS,
                               f"more than {rule.max_steps_per_day} steps in a day")

        caps: list[str] = []
        before = min(today.steps, rule.daily_cap_steps)
        after = min(today.steps + increase, rule.daily_cap_steps)
        if after - before < increase:
            caps.append("steps.daily_cap_steps")

        def delta(per: int) -> int:
            return after // per - before // per

        grams = points = 0
        if rule.reduction:
            mg, per_point = rule.reduction.milligrams, self.m.rates.grams_per_point
            before_g, after_g = before * mg // 1_000_000, after * mg // 1_000_000
            grams = after_g - before_g
            points = after_g // per_point - before_g // per_point
        growth = delta(rule.steps_per_growth)
        energy = delta(rule.steps_per_energy)
        credited = after - before
        return self.capped_out(caps, (credited, grams, points, growth, energy)) or self.result(
            grams=grams, points=points, growth=growth, energy=energy, steps=credited, caps=caps)
