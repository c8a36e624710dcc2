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

- Quantity (`QuantityInput`): grams = floor(factor_mg × quantity / (1000 × scale)),
  where scale is how many quantity units make the factor's unit (1000 Wh a kWh, 1000 g
  a kg, 1000 L a m3, else 1); then the daily gram and point caps as for a trip.
- Baseline (`MeterReadingInput`): consumption = end − start reading; the baseline is
  the city's per-person daily figure × household size × days, or the household's own
  moving average (floor(sum of its last N periods × days / their days)), or, for
  "city_then_own", the city's unless the household's own average is above it;
  grams = floor((baseline − consumption) × factor_mg / (1000 × scale)) with the dated
  factor in effect on the period's first day, cut to the per-period cap.
- Event (`EventInput`): floor(amount_mg / 1000) grams per verified event, daily caps.

A cap that cuts an activity in part leaves `rejection` None with reduced amounts and
names the cap in `caps_applied`; a cap that leaves nothing is DAILY_CAP_REACHED.
Every result carries its provenance: the factors used (`factors`), their sources
(`sources`), the inputs as read (`inputs`) and the rounding (`rounding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from methodology.model import (
    QUANTITY_UNITS,
    BaselineScene,
    EventScene,
    Methodology,
    QuantityScene,
    SceneFactor,
    StepsRule,
    TravelKind,
)

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
    # scenes beyond travel
    UNKNOWN_VARIETY = "UNKNOWN_VARIETY"  # e.g. a material the scene has no factor for
    IMPLAUSIBLE_QUANTITY = "IMPLAUSIBLE_QUANTITY"
    READING_BACKWARDS = "READING_BACKWARDS"
    PERIOD_OVERLAP = "PERIOD_OVERLAP"  # overlaps a period already credited
    INVALID_PERIOD = "INVALID_PERIOD"  # shorter or longer than the scene allows
    IMPLAUSIBLE_CONSUMPTION = "IMPLAUSIBLE_CONSUMPTION"
    NO_BASELINE = "NO_BASELINE"  # own moving average asked for, no earlier period given
    NO_FACTOR = "NO_FACTOR"  # no dated factor in effect for the period
    NO_SAVING = "NO_SAVING"  # consumption not below the baseline
    NOT_VERIFIED = "NOT_VERIFIED"


@dataclass(frozen=True)
class ActivityInput:
    kind: str
    distance_meters: int | None = None
    steps: int | None = None  # for steps: the increase over the day's previous highest report
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class QuantityInput:
    """A quantity in the scene's `quantity_unit` (e.g. Wh generated, g of paper recycled);
    `variety` picks the factor in scenes with varieties (e.g. the material)."""

    kind: str
    quantity: int
    variety: str | None = None


@dataclass(frozen=True)
class CreditedPeriod:
    """A billing period of the same meter already kept: [start, end), its consumption and,
    where known, its readings (a later bill must not start below this one's end reading)."""

    start: date
    end: date
    consumption: int
    start_reading: int | None = None
    end_reading: int | None = None


@dataclass(frozen=True)
class MeterReadingInput:
    """A billing period [period_start, period_end) of one meter, with its two readings
    (in the scene's quantity unit) and the household's earlier credited periods."""

    kind: str
    meter_id: str
    period_start: date
    period_end: date
    start_reading: int
    end_reading: int
    household_size: int
    previous: tuple[CreditedPeriod, ...] = ()


@dataclass(frozen=True)
class EventInput:
    """One event (a check-in); only a verified one is credited."""

    kind: str
    event_id: str
    verified: bool


AnyInput = ActivityInput | QuantityInput | MeterReadingInput | EventInput


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
    inputs: dict[str, str] = field(default_factory=dict)  # scenes beyond travel: as read
    sources: dict[str, str] = field(default_factory=dict)  # factor key -> its source
    rounding: str = ""  # the formula and its rounding, in words


_INPUT_OF: dict[str, type] = {"travel": ActivityInput, "steps": ActivityInput,
                               "quantity": QuantityInput, "baseline": MeterReadingInput,
                               "event": EventInput}


def calculate(methodology: Methodology, activity: AnyInput,
              credited_today: DailyTotals = DailyTotals()) -> Calculation:
    """The amounts `activity` earns under `methodology`, given today's credit for its kind;
    dispatched on the kind's scene (travel, steps, quantity, baseline, event)."""
    for name in ("reduction_grams", "points", "growth", "energy", "steps"):
        if getattr(credited_today, name) < 0:
            raise ValueError(f"credited_today.{name} is negative")
    calc = _Calc(methodology)
    kind = activity.kind
    scene = methodology.scene_kind(kind)
    if scene is None:
        return calc.reject(
            Reason.UNKNOWN_KIND,
            f"{methodology.id} v{methodology.version} does not cover {kind!r}")
    expected = _INPUT_OF[scene]
    if not isinstance(activity, expected):
        return calc.reject(Reason.INVALID_FIELD,
                           f"{kind!r} is a {scene} scene: it takes a {expected.__name__}")
    if isinstance(activity, QuantityInput):
        return calc.quantity(kind, methodology.quantity[kind], activity, credited_today)
    if isinstance(activity, MeterReadingInput):
        return calc.baseline(kind, methodology.baseline[kind], activity)
    if isinstance(activity, EventInput):
        return calc.event(kind, methodology.event[kind], activity, credited_today)
    if scene == "steps" and methodology.steps is not None:
        return calc.steps(methodology.steps, activity, credited_today)
    return calc.trip(kind, methodology.travel[kind], activity, credited_today)


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


def _backwards_across_bills(r: MeterReadingInput) -> str | None:
    """Why the meter ran backwards between this bill and the nearest kept one before or
    after it (None if it did not, or their readings are unknown): a meter only counts up."""
    known = [p for p in r.previous if p.start_reading is not None and p.end_reading is not None]
    before = max((p for p in known if p.end <= r.period_start), key=lambda p: p.end, default=None)
    if before is not None and r.start_reading < (before.end_reading or 0):
        return (f"the start reading {r.start_reading} is below the end reading"
                f" {before.end_reading} of the bill {before.start}–{before.end}")
    after = min((p for p in known if p.start >= r.period_end), key=lambda p: p.start, default=None)
    if after is not None and r.end_reading > (after.start_reading or 0):
        return (f"the end reading {r.end_reading} is above the start reading"
                f" {after.start_reading} of the later bill {after.start}–{after.end}")
    return None


def _reading_problem(r: MeterReadingInput) -> str | None:
    if not isinstance(r.meter_id, str) or not r.meter_id:
        return "meter_id must be a non-empty string"
    if not all(isinstance(d, date) and not isinstance(d, datetime)
               for d in (r.period_start, r.period_end)):
        return "period_start and period_end must be dates"
    if r.period_end <= r.period_start:
        return "period_end must be after period_start"
    if not (_whole(r.start_reading) and _whole(r.end_reading)) or r.start_reading < 0:
        return "readings must be whole numbers, at least 0"
    if not _whole(r.household_size) or not 1 <= r.household_size <= 20:
        return "household_size must be a whole number from 1 to 20"
    for p in r.previous:
        if p.end <= p.start or not _whole(p.consumption) or p.consumption < 0:
            return "each previous period needs start < end and a consumption of at least 0"
    return None


def rounding_text(m: Methodology, kind: str) -> str:
    """The formula of a scene beyond travel and its rounding, in words ("" for trips and
    steps): the same for every record of the kind in one methodology version."""
    if kind in m.quantity:
        unit = m.quantity[kind].quantity_unit
        per, scale = QUANTITY_UNITS[unit]
        return (f"grams = floor(quantity {unit} × factor mg/{per} / {1000 * scale});"
                " points = floor(grams / grams_per_point)")
    if kind in m.baseline:
        unit = m.baseline[kind].quantity_unit
        per, scale = QUANTITY_UNITS[unit]
        return (f"grams = floor((baseline − consumption) {unit} × factor mg/{per} / {1000 * scale});"
                " own moving average rounded down; points = floor(grams / grams_per_point)")
    if kind in m.event:
        return "grams = floor(amount mg / 1000); points = floor(grams / grams_per_point)"
    return ""


class _Calc:
    def __init__(self, m: Methodology) -> None:
        self.m = m
        self.factors: dict[str, str] = {}

        self.sources: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.rounding = ""

    def result(self, *, grams: int = 0, points: int = 0, growth: int = 0, energy: int = 0,
               steps: int = 0, caps: list[str] | None = None,
               rejection: Rejection | None = None) -> Calculation:
        return Calculation(grams, points, growth, energy, self.m.id, self.m.version,
                           dict(self.factors), list(caps or []), rejection, steps,
                           dict(self.inputs), dict(self.sources), self.rounding)

    def use(self, key: str, factor: SceneFactor) -> None:
        self.factors[key] = factor.value
        self.sources[key] = factor.source

    def use_rates(self) -> None:
        rates = self.m.rates
        for name in ("grams_per_point", "growth_per_kg"):
            self.factors[f"rates.{name}"] = str(getattr(rates, name))
            self.sources[f"rates.{name}"] = rates.source

    def credit(self, kind: str, full: int, today: DailyTotals, cap_grams: int,
               cap_points: int | None, cap_name: str = "daily_cap_grams") -> Calculation:
        """`full` grams, cut to what the cap leaves today; points and growth from them."""
        rates = self.m.rates
        caps: list[str] = []
        grams = min(full, max(cap_grams - today.reduction_grams, 0))
        if grams < full:
            caps.append(f"{kind}.{cap_name}")
        full_points = grams // rates.grams_per_point
        points = full_points
        if cap_points is not None:
            points = min(full_points, max(cap_points - today.points, 0))
            if points < full_points:
                caps.append(f"{kind}.daily_cap_points")
        growth = grams * rates.growth_per_kg // 1000
        return self.capped_out(caps, (grams, points, growth)) or self.result(
            grams=grams, points=points, growth=growth, caps=caps)

    def quantity(self, kind: str, scene: QuantityScene, activity: QuantityInput,
                 today: DailyTotals) -> Calculation:
        self.use_rates()
        self.inputs = {"quantity": str(activity.quantity),
                       "quantity_unit": scene.quantity_unit}
        _, scale = QUANTITY_UNITS[scene.quantity_unit]
        self.rounding = rounding_text(self.m, kind)
        if scene.varieties:
            self.inputs[scene.variety_field or "variety"] = str(activity.variety)
            factor = scene.varieties.get(activity.variety or "")
            if factor is None:
                return self.reject(Reason.UNKNOWN_VARIETY,
                                   f"{kind} has no factor for {scene.variety_field}"
                                   f" {activity.variety!r}; known: {', '.join(sorted(scene.varieties))}")
            self.use(f"{kind}.varieties.{activity.variety}", factor)
        else:
            assert scene.factor is not None  # the model requires factor or varieties
            factor = scene.factor
            self.use(f"{kind}.factor", factor)
        quantity = activity.quantity
        if not _whole(quantity) or quantity <= 0:
            return self.reject(Reason.INVALID_FIELD, "quantity must be a positive whole number")
        if quantity > scene.max_quantity:
            return self.reject(Reason.IMPLAUSIBLE_QUANTITY,
                               f"more than {scene.max_quantity} {scene.quantity_unit}"
                               f" in one {kind} record")
        full = factor.milligrams * quantity // (1000 * scale)
        return self.credit(kind, full, today, scene.daily_cap_grams, scene.daily_cap_points)

    def baseline(self, kind: str, scene: BaselineScene, reading: MeterReadingInput) -> Calculation:
        self.use_rates()
        self.inputs = {"meter_id": str(reading.meter_id),
                       "period_start": str(reading.period_start),
                       "period_end": str(reading.period_end),
                       "start_reading": str(reading.start_reading),
                       "end_reading": str(reading.end_reading),
                       "household_size": str(reading.household_size),
                       "quantity_unit": scene.quantity_unit}
        _, scale = QUANTITY_UNITS[scene.quantity_unit]
        self.rounding = rounding_text(self.m, kind)
        problem = _reading_problem(reading)
        if problem:
            return self.reject(Reason.INVALID_FIELD, problem)
        days = (reading.period_end - reading.period_start).days
        if not scene.min_period_days <= days <= scene.max_period_days:
            return self.reject(Reason.INVALID_PERIOD,
                               f"a {kind} period lasts {scene.min_period_days} to"
                               f" {scene.max_period_days} days; this one {days}")
        consumption = reading.end_reading - reading.start_reading
        if consumption < 0:
            return self.reject(Reason.READING_BACKWARDS,
                               f"the end reading {reading.end_reading} is below the start"
                               f" reading {reading.start_reading}")
        for p in reading.previous:
            if p.start < reading.period_end and reading.period_start < p.end:
                return self.reject(Reason.PERIOD_OVERLAP,
                                   f"the period overlaps {p.start}–{p.end}, already credited")
        backwards = _backwards_across_bills(reading)
        if backwards:
            return self.reject(Reason.READING_BACKWARDS, backwards)
        if consumption > scene.max_daily_per_household * days:
            return self.reject(Reason.IMPLAUSIBLE_CONSUMPTION,
                               f"more than {scene.max_daily_per_household}"
                               f" {scene.quantity_unit} a day for one household")
        factor = scene.factor_on(reading.period_start)
        if factor is None:
            return self.reject(Reason.NO_FACTOR,
                               f"no {kind} factor in effect on {reading.period_start}")
        self.use(f"{kind}.factors.{factor.effective_from}", factor)
        recent = sorted((p for p in reading.previous if p.end <= reading.period_start),
                        key=lambda p: p.end)[-scene.average_periods:]
        own_days = sum((p.end - p.start).days for p in recent)
        own_total = sum(p.consumption for p in recent)
        city = None
        if scene.city_daily_per_person is not None:
            self.factors[f"{kind}.city_daily_per_person"] = str(scene.city_daily_per_person)
            self.sources[f"{kind}.city_daily_per_person"] = scene.city_source or ""
            city = scene.city_daily_per_person * reading.household_size * days
        # city_then_own: a household whose recent daily average is above the city's
        # per-person figure × its size is compared with its own average instead
        use_own = scene.baseline == "own_average" or bool(
            scene.baseline == "city_then_own" and recent
            and own_total > (scene.city_daily_per_person or 0) * reading.household_size * own_days)
        if use_own:
            if not recent:
                return self.reject(Reason.NO_BASELINE,
                                   f"{kind} compares with the household's own recent periods;"
                                   " none was given")
            baseline = own_total * days // own_days
            self.inputs["baseline.rule"] = "own_average"
            self.inputs["baseline.periods"] = ", ".join(f"{p.start}–{p.end}" for p in recent)
        else:
            assert city is not None  # the model requires the city figure for these rules
            baseline = city
            self.inputs["baseline.rule"] = "city_per_capita"
        self.inputs["baseline"] = str(baseline)
        self.inputs["consumption"] = str(consumption)
        if consumption >= baseline:
            return self.reject(Reason.NO_SAVING,
                               f"consumption {consumption} {scene.quantity_unit} is not below"
                               f" the baseline {baseline}")
        full = (baseline - consumption) * factor.milligrams // (1000 * scale)
        return self.credit(kind, full, DailyTotals(), scene.cap_grams_per_period, None,
                           "cap_grams_per_period")

    def event(self, kind: str, scene: EventScene, event: EventInput,
              today: DailyTotals) -> Calculation:
        self.use_rates()
        self.use(f"{kind}.amount", scene.amount)
        self.inputs = {"event_id": str(event.event_id), "verified": str(event.verified)}
        self.rounding = rounding_text(self.m, kind)
        if not isinstance(event.event_id, str) or not event.event_id:
            return self.reject(Reason.INVALID_FIELD, "event_id must be a non-empty string")
        if event.verified is not True:
            return self.reject(Reason.NOT_VERIFIED, f"the {kind} check-in is not verified")
        return self.credit(kind, scene.amount.milligrams // 1000, today,
                           scene.daily_cap_grams, scene.daily_cap_points)

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
