"""The methodology package: shipped figures, rounding, caps, rejections, selection,
validation errors and properties of the pure calculator."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from methodology import (
    FILES,
    ActivityInput,
    Calculation,
    DailyTotals,
    MethodologyDescription,
    MethodologyError,
    MethodologyRegistry,
    PublicCap,
    Reason,
    calculate,
    check_time_window,
    default_registry,
    describe,
    load_directory,
    load_methodology,
    parse_methodology,
    public_caps,
    public_factors,
)

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=CST)
V1_TEXT = (FILES / "travel-v1.toml").read_text(encoding="utf-8")
V1 = load_methodology(FILES / "travel-v1.toml")
TRAVEL = ["metro", "bus", "cycling", "bike_share", "walking"]


def ride(kind: str, meters: int, minutes: float | None = 60, start: datetime = T0) -> ActivityInput:
    """A trip; with `minutes`, timed (so the speed check runs)."""
    if minutes is None:
        return ActivityInput(kind, distance_meters=meters)
    return ActivityInput(kind, distance_meters=meters, started_at=start,
                         ended_at=start + timedelta(minutes=minutes))


def amounts(calc: Calculation) -> tuple[int, int, int, int]:
    return calc.reduction_grams, calc.points, calc.growth, calc.energy


SMALL = """
id = "test-city"
version = {version}
title = "Test city"
effective_from = "{effective_from}"

[rates]
grams_per_point = 10
growth_per_kg = 1000
source = "assumption: test"

[travel.bus]
title = "Bus"
baseline = {{ value = "100", unit = "gCO2e/pkm", source = "assumption: test" }}
mode = {{ value = "{bus_mode}", source = "assumption: test" }}
min_distance_m = 100
max_speed_kmh = 60
daily_cap_grams = {cap_grams}
{points_cap}

[steps]
title = "Steps"
steps_per_growth = 1000
steps_per_energy = 50
max_steps_per_day = 90000
daily_cap_steps = 10000
source = "assumption: test"
{steps_reduction}
"""


def small(version: int = 1, effective_from: str = "2026-01-01T00:00:00+08:00", bus_mode: str = "50",
          cap_grams: int = 1000, cap_points: int | None = None, steps_reduction: str | None = None,
          name: str = "small.toml"):
    text = SMALL.format(
        version=version, effective_from=effective_from, bus_mode=bus_mode, cap_grams=cap_grams,
        points_cap=f"daily_cap_points = {cap_points}" if cap_points else "",
        steps_reduction=(f'reduction = {{ value = "{steps_reduction}", unit = "gCO2e/1000steps",'
                         f' source = "assumption: test" }}') if steps_reduction else "",
    )
    return parse_methodology(text, name)


# --- the shipped file ----------------------------------------------------------------

def test_shipped_v1_covers_the_kinds_and_labels_every_factor():
    assert (V1.id, V1.version) == ("cn-low-carbon-travel", 1)
    assert V1.effective_from == datetime(2026, 1, 1, tzinfo=CST)
    assert set(V1.kinds) == {*TRAVEL, "steps"}
    description = describe(V1)
    assert isinstance(description, MethodologyDescription)
    assert (description.id, description.version, description.title) == (V1.id, 1, V1.title)
    for factor in description.factors:
        assert factor.value and factor.unit and len(factor.source) > 10, factor
    factors = {f.key: f for f in description.factors}
    assert factors["bus.baseline"].value == "170" and "UK government" in factors["bus.baseline"].source
    assert factors["bus.mode"].value == "143.1" and "Shenzhen 2021" in factors["bus.mode"].source
    assert factors["metro.mode"].value == "123.3" and "Shenzhen 2021" in factors["metro.mode"].source
    for kind in ("cycling", "bike_share", "walking"):
        assert factors[f"{kind}.mode"].value == "0"
        assert factors[f"{kind}.baseline"].source.startswith("assumption:")
    assert factors["rates.grams_per_point"].value == "8" and "Luzhou" in factors["rates.grams_per_point"].source
    assert (factors["steps.steps_per_growth"].unit, factors["steps.steps_per_energy"].unit) == (
        "steps/growth", "steps/energy")
    assert "steps.reduction" not in factors  # steps give no CO2e in v1
    caps = {c.key: c for c in description.caps}
    assert caps["metro.daily_cap_grams"] == PublicCap("metro.daily_cap_grams", 3000, "gCO2e/day")
    assert caps["steps.daily_cap_steps"] == PublicCap("steps.daily_cap_steps", 20000, "steps/day")
    assert caps["walking.max_speed_kmh"].unit == "km/h"
    assert public_factors(V1) == description.factors and public_caps(V1) == description.caps


def test_published_savings_come_out_exactly():
    bus, metro = V1.travel["bus"], V1.travel["metro"]
    assert bus.baseline.milligrams - bus.mode.milligrams == 26_900  # Shenzhen 2021: 26.9 g/pkm
    assert metro.baseline.milligrams - metro.mode.milligrams == 46_700  # Shenzhen 2021: 46.7 g/pkm


def test_bus_10_km_and_metro_12850_m():
    bus = calculate(V1, ride("bus", 10_000, minutes=40), DailyTotals())
    assert bus.rejection is None and bus.caps_applied == []
    assert amounts(bus) == (269, 33, 26, 0)  # 26.9 × 10; ⌊269 / 8⌋; ⌊269 × 100 / 1000⌋
    assert bus.factors == {"bus.baseline": "170", "bus.mode": "143.1",
                           "rates.grams_per_point": "8", "rates.growth_per_kg": "100"}
    assert (bus.methodology_id, bus.methodology_version) == ("cn-low-carbon-travel", 1)
    metro = calculate(V1, ride("metro", 12_850, minutes=31), DailyTotals())
    assert amounts(metro) == (600, 75, 60, 0)  # ⌊46.7 × 12.85 = 600.095⌋


def test_every_division_rounds_down():
    # 46.7 × 1.999 = 93.35 g -> 93; 93 / 8 = 11.6 -> 11 points; 9.3 -> 9 growth
    assert amounts(calculate(V1, ride("metro", 1999), DailyTotals())) == (93, 11, 9, 0)
    # 26.9 × 0.2 = 5.38 g -> 5; 5 / 8 -> 0 points; 0.5 -> 0 growth
    assert amounts(calculate(V1, ride("walking", 200, minutes=5), DailyTotals())) == (5, 0, 0, 0)
    # 26.9 × 0.3 = 8.07 g -> 8 -> exactly 1 point
    assert amounts(calculate(V1, ride("bus", 300, minutes=5), DailyTotals()))[:2] == (8, 1)
    # steps: 99 -> 0 growth, 0 energy; one more step makes 1 each
    first = calculate(V1, ActivityInput("steps", steps=99), DailyTotals())
    assert (first.growth, first.energy) == (0, 0)
    second = calculate(V1, ActivityInput("steps", steps=1), DailyTotals(steps=99))
    assert (second.growth, second.energy) == (1, 1)


@given(kind=st.sampled_from(TRAVEL), meters=st.integers(1, 60_000))
def test_rounding_matches_exact_arithmetic_floored(kind, meters):
    rule = V1.travel[kind]
    result = calculate(V1, ride(kind, meters, minutes=None), DailyTotals())
    if meters < rule.min_distance_m:
        assert result.rejection.reason == Reason.TOO_SHORT
        return
    saving = Fraction(rule.baseline.value) - Fraction(rule.mode.value)  # g per km, exact
    exact = saving * Fraction(meters, 1000)
    grams = min(int(exact), rule.daily_cap_grams)  # int() of a positive Fraction is its floor
    assert result.reduction_grams == grams <= exact
    assert result.points == int(Fraction(grams, 8))
    assert result.growth == int(Fraction(grams * 100, 1000))


# --- caps ------------------------------------------------------------------------------

def test_gram_cap_cuts_in_part_then_refuses():
    part = calculate(V1, ride("metro", 12_850), DailyTotals(reduction_grams=2_700, points=337))
    assert part.rejection is None and part.caps_applied == ["metro.daily_cap_grams"]
    assert amounts(part) == (300, 37, 30, 0)  # points and growth follow the capped grams
    full = calculate(V1, ride("metro", 12_850), DailyTotals(reduction_grams=3_000))
    assert full.rejection.reason == Reason.DAILY_CAP_REACHED and amounts(full) == (0, 0, 0, 0)
    assert full.caps_applied == ["metro.daily_cap_grams"] and "metro.daily_cap_grams" in full.rejection.message
    other_kind = calculate(V1, ride("bus", 10_000), DailyTotals())  # caps are per kind
    assert other_kind.reduction_grams == 269


def test_points_cap_cuts_points_only():
    m = small(cap_points=12)  # bus saves 50 g/km, 10 g a point
    part = calculate(m, ride("bus", 3_000), DailyTotals(reduction_grams=0, points=5))
    assert part.rejection is None and part.caps_applied == ["bus.daily_cap_points"]
    assert amounts(part) == (150, 7, 150, 0)  # 15 points would exceed 12 a day
    spent = calculate(m, ride("bus", 3_000), DailyTotals(reduction_grams=150, points=12))
    assert spent.rejection is None and amounts(spent) == (150, 0, 150, 0)  # the reduction still counts
    both = calculate(m, ride("bus", 3_000), DailyTotals(reduction_grams=1_000, points=12))
    assert both.rejection.reason == Reason.DAILY_CAP_REACHED and amounts(both) == (0, 0, 0, 0)
    assert both.caps_applied == ["bus.daily_cap_grams"]  # nothing was left for the point cap to cut
    assert {c.key for c in public_caps(m)} >= {"bus.daily_cap_grams", "bus.daily_cap_points"}


def test_steps_cap_cuts_in_part_then_refuses():
    part = calculate(V1, ActivityInput("steps", steps=11_000), DailyTotals(steps=15_000, growth=150, energy=150))
    assert part.rejection is None and part.caps_applied == ["steps.daily_cap_steps"]
    assert (part.steps, part.growth, part.energy) == (5_000, 50, 50)
    full = calculate(V1, ActivityInput("steps", steps=4_000), DailyTotals(steps=20_000))
    assert full.rejection.reason == Reason.DAILY_CAP_REACHED and full.steps == 0
    assert amounts(full) == (0, 0, 0, 0) and full.caps_applied == ["steps.daily_cap_steps"]
    # the caller may pass the previous highest report instead of the credited steps
    over = calculate(V1, ActivityInput("steps", steps=4_000), DailyTotals(steps=26_000))
    assert over.rejection.reason == Reason.DAILY_CAP_REACHED


# --- steps -------------------------------------------------------------------------------

def test_steps_give_growth_and_energy_but_no_co2e():
    result = calculate(V1, ActivityInput("steps", steps=12_345), DailyTotals())
    assert amounts(result) == (0, 0, 123, 123) and result.steps == 12_345
    assert result.factors == {"steps.steps_per_growth": "100", "steps.steps_per_energy": "100"}


def test_steps_give_co2e_only_when_the_methodology_says_so():
    m = small(steps_reduction="20")  # 20 g per 1,000 steps, 10 g a point
    result = calculate(m, ActivityInput("steps", steps=7_777), DailyTotals())
    assert amounts(result) == (155, 15, 7, 155)  # ⌊155.54⌋ g, ⌊15.5⌋ points, ⌊7.777⌋, ⌊155.54⌋
    assert result.factors["steps.reduction"] == "20"
    assert amounts(calculate(small(), ActivityInput("steps", steps=7_777), DailyTotals()))[:2] == (0, 0)


@given(reports=st.lists(st.integers(0, 90_000), min_size=1, max_size=10))
def test_step_syncs_sum_to_one_pass_over_the_best_report(reports):
    m = small(steps_reduction="13.7")
    credited, got = 0, [0, 0, 0, 0]
    highest = 0
    for report in reports:
        if report <= highest:
            continue
        result = calculate(m, ActivityInput("steps", steps=report - highest), DailyTotals(steps=credited))
        assert result.rejection is None or result.rejection.reason == Reason.DAILY_CAP_REACHED
        credited += result.steps
        got = [a + b for a, b in zip(got, amounts(result))]
        highest = report
    once = calculate(m, ActivityInput("steps", steps=highest), DailyTotals())
    expected = amounts(once) if once.rejection is None else (0, 0, 0, 0)
    assert tuple(got) == expected
    assert credited == min(highest, 10_000)


# --- rejections ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "activity, reason",
    [
        (ride("rocket", 1_000), Reason.UNKNOWN_KIND),
        (ride("metro", 0), Reason.INVALID_FIELD),
        (ride("metro", -5), Reason.INVALID_FIELD),
        (ActivityInput("metro", distance_meters=None), Reason.INVALID_FIELD),
        (ActivityInput("metro", distance_meters="1200"), Reason.INVALID_FIELD),  # type: ignore[arg-type]
        (ActivityInput("metro", distance_meters=True), Reason.INVALID_FIELD),
        (ActivityInput("metro", 5_000, started_at=datetime(2026, 11, 20, 8), ended_at=T0), Reason.INVALID_FIELD),
        (ActivityInput("metro", 5_000, started_at=T0, ended_at=T0 - timedelta(minutes=1)), Reason.INVALID_FIELD),
        (ride("metro", 499), Reason.TOO_SHORT),
        (ride("walking", 199), Reason.TOO_SHORT),
        (ride("metro", 60_000, minutes=10), Reason.IMPLAUSIBLE_SPEED),  # 360 km/h
        (ride("cycling", 20_000, minutes=30), Reason.IMPLAUSIBLE_SPEED),  # 40 km/h
        (ride("walking", 3_000, minutes=10), Reason.IMPLAUSIBLE_SPEED),  # 18 km/h
        (ride("bus", 1_000, minutes=0), Reason.IMPLAUSIBLE_SPEED),  # no time at all
        (ActivityInput("steps"), Reason.INVALID_FIELD),
        (ActivityInput("steps", steps=-1), Reason.INVALID_FIELD),
        (ActivityInput("steps", steps=100_001), Reason.IMPLAUSIBLE_STEPS),
    ],
)
def test_each_rejection_reason_gives_nothing(activity, reason):
    result = calculate(V1, activity, DailyTotals())
    assert result.rejection is not None and result.rejection.reason == reason, result
    assert result.rejection.message
    assert amounts(result) == (0, 0, 0, 0) and result.steps == 0
    assert (result.methodology_id, result.methodology_version) == ("cn-low-carbon-travel", 1)


def test_speed_limit_is_inclusive_and_exact():
    # metro: 120 km/h; 20 km in exactly 10 minutes is 120 km/h, one metre more is faster
    assert calculate(V1, ride("metro", 20_000, minutes=10), DailyTotals()).rejection is None
    assert calculate(V1, ride("metro", 20_001, minutes=10), DailyTotals()).rejection.reason == \
        Reason.IMPLAUSIBLE_SPEED


def test_steps_above_the_plausible_day_count_with_what_came_before():
    result = calculate(V1, ActivityInput("steps", steps=30_000), DailyTotals(steps=80_000))
    assert result.rejection.reason == Reason.IMPLAUSIBLE_STEPS


def test_daily_totals_must_not_be_negative():
    with pytest.raises(ValueError):
        calculate(V1, ride("bus", 1_000), DailyTotals(points=-1))


def test_time_window():
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    week = timedelta(days=7)
    assert check_time_window(now - timedelta(hours=1), now, now, week) is None
    assert check_time_window(now, now + timedelta(seconds=1), now, week).reason == Reason.IN_FUTURE
    assert check_time_window(now, now + timedelta(seconds=299), now, week,
                             future_tolerance=timedelta(seconds=300)) is None
    assert check_time_window(now - week - timedelta(seconds=1), now - week, now, week).reason == Reason.TOO_OLD
    assert check_time_window(datetime(2026, 11, 21, 11), None, now, week).reason == Reason.INVALID_FIELD
    assert check_time_window(None, None, now, week) is None
    with pytest.raises(ValueError):
        check_time_window(None, None, datetime(2026, 11, 21), week)


# --- selection -------------------------------------------------------------------------

def test_version_selection_by_effective_from():
    v1 = small(1, "2026-01-01T00:00:00+08:00", bus_mode="50", name="v1.toml")
    v2 = small(2, "2026-07-01T00:00:00+08:00", bus_mode="40", name="v2.toml")
    v3 = small(3, "2027-01-01T00:00:00+08:00", bus_mode="30", name="v3.toml")
    registry = MethodologyRegistry([v3, v1, v2])
    assert [m.version for m in registry.all()] == [1, 2, 3]
    assert registry.for_kind("bus", datetime(2025, 12, 31, 23, 59, tzinfo=CST)) is None
    assert registry.for_kind("bus", datetime(2026, 1, 1, tzinfo=CST)).version == 1
    assert registry.for_kind("bus", datetime(2026, 6, 30, 15, 59, 59, tzinfo=UTC)).version == 1
    assert registry.for_kind("bus", datetime(2026, 6, 30, 16, 0, tzinfo=UTC)).version == 2  # = 07-01 +08
    assert registry.for_kind("steps", datetime(2030, 1, 1, tzinfo=CST)).version == 3
    assert registry.for_kind("metro", datetime(2030, 1, 1, tzinfo=CST)) is None
    assert registry.get("test-city", 2) is v2 and registry.get("test-city", 9) is None
    at_v2 = registry.for_kind("bus", datetime(2026, 8, 1, tzinfo=CST))
    assert calculate(at_v2, ride("bus", 1_000), DailyTotals()).reduction_grams == 60  # (100 − 40) × 1 km
    with pytest.raises(ValueError):
        registry.for_kind("bus", datetime(2026, 8, 1))


def test_another_methodology_taking_effect_later_is_chosen_for_its_kinds():
    city = parse_methodology(V1_TEXT.replace('id = "cn-low-carbon-travel"', 'id = "city-travel"').replace(
        'effective_from = "2026-01-01T00:00:00+08:00"', 'effective_from = "2026-06-01T00:00:00+08:00"'),
        "city.toml")
    registry = MethodologyRegistry([V1, city])
    assert registry.for_kind("metro", datetime(2026, 5, 1, tzinfo=CST)).id == "cn-low-carbon-travel"
    assert registry.for_kind("metro", datetime(2026, 6, 1, tzinfo=CST)).id == "city-travel"


def test_default_registry_is_the_shipped_files_loaded_once():
    registry = default_registry()
    assert registry is default_registry()
    assert [(m.id, m.version) for m in registry.all()] == [
        ("cn-green-finance", 1), ("cn-household-energy", 1), ("cn-low-carbon-life", 1),
        ("cn-low-carbon-travel", 1), ("cn-recycling", 1), ("cn-solar-pv", 1)]
    assert registry.for_kind("bus", T0).origin == "travel-v1.toml"


def test_registry_refuses_duplicates_and_versions_out_of_order():
    with pytest.raises(MethodologyError, match="b.toml: version: .*also defined in a.toml"):
        MethodologyRegistry([small(1, name="a.toml"), small(1, name="b.toml")])
    with pytest.raises(MethodologyError, match="v2.toml: effective_from: "):
        MethodologyRegistry([small(1, "2026-06-01T00:00:00+08:00", name="v1.toml"),
                             small(2, "2026-06-01T00:00:00+08:00", name="v2.toml")])


# --- validation ------------------------------------------------------------------------

def _bad(tmp_path: Path, old: str, new: str, count: int = 1) -> str:
    assert old in V1_TEXT, old
    (tmp_path / "city.toml").write_text(V1_TEXT.replace(old, new, count), encoding="utf-8")
    with pytest.raises(MethodologyError) as error:
        load_directory(tmp_path)
    assert error.value.file == "city.toml"
    return str(error.value)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ('value = "143.1"', 'value = "1,5"', "city.toml: travel.bus.mode.value: not a decimal number"),
        ('value = "143.1"', "value = 143.1", "city.toml: travel.bus.mode.value: write the number as a quoted"),
        ('value = "143.1"', 'value = "-1"', "city.toml: travel.bus.mode.value: must not be negative"),
        ('value = "143.1"', 'value = "143.1234"', "city.toml: travel.bus.mode.value: at most 3 decimals"),
        ('value = "143.1"', 'value = "1e2"', "city.toml: travel.bus.mode.value: not a decimal number"),
        ('value = "143.1", unit = "gCO2e/pkm"', 'value = "143.1", unit = "kgCO2e/pkm"',
         "city.toml: travel.bus.mode.unit: unknown unit 'kgCO2e/pkm'"),
        ('value = "143.1"', 'value = "170.001"', "city.toml: travel.bus.mode: value 170.001 is above the baseline"),
        ("grams_per_point = 8 ", "grams_per_point = 0 ", "city.toml: rates.grams_per_point: "),
        ("grams_per_point = 8 ", 'grams_per_point = "8" ', "city.toml: rates.grams_per_point: "),
        ("growth_per_kg = 100 ", "growth_per_kg = -1 ", "city.toml: rates.growth_per_kg: "),
        ("max_speed_kmh = 120", "max_speed_kmh = 0", "city.toml: travel.metro.max_speed_kmh: "),
        ("min_distance_m = 500", "min_distance_m = -1", "city.toml: travel.metro.min_distance_m: "),
        ("daily_cap_grams = 3000", "daily_cap_grams = 2999.5", "city.toml: travel.metro.daily_cap_grams: "),
        ("daily_cap_steps = 20000", "daily_cap_steps = 200000",
         "city.toml: steps.daily_cap_steps: 200000 is above max_steps_per_day"),
        ("steps_per_energy = 100", "steps_per_energy = 0", "city.toml: steps.steps_per_energy: "),
        ('effective_from = "2026-01-01T00:00:00+08:00"', 'effective_from = "2026-01-01T00:00:00"',
         "city.toml: effective_from: needs a time zone"),
        ('effective_from = "2026-01-01T00:00:00+08:00"', "effective_from = 2026-01-01",
         "city.toml: effective_from: must be an ISO 8601 date-time with a zone"),
        ('effective_from = "2026-01-01T00:00:00+08:00"', 'effective_from = "soon"',
         "city.toml: effective_from: not an ISO 8601 date-time"),
        ("version = 1", "version = 0", "city.toml: version: "),
        ('id = "cn-low-carbon-travel"', 'id = "CN travel"', "city.toml: id: "),
        ("[travel.bus]", "[travel.steps]", "city.toml: travel: kind name 'steps'"),
        ("[travel.bus]", "[travel.Bus]", "city.toml: travel: kind name 'Bus'"),
        ('title = "Metro"\n', 'title = "Metro"\nspeed = 3\n', "city.toml: travel.metro.speed: unknown field"),
        ('title = "Metro"\n', "", "city.toml: travel.metro.title: required field is missing"),
        ("id = ", "id == ", "city.toml: not valid TOML"),
    ],
)
def test_validation_errors_name_the_file_the_field_and_why(tmp_path, old, new, expected):
    assert expected in _bad(tmp_path, old, new)


def test_every_problem_in_a_file_is_reported(tmp_path):
    assert _bad(tmp_path, 'value = "123.3"', "value = 1").count("city.toml: ") == 1
    text = V1_TEXT.replace('value = "123.3"', "value = 1").replace("version = 1", "version = -1")
    with pytest.raises(MethodologyError) as error:
        parse_methodology(text, "two.toml")
    assert {path for path, _ in error.value.problems} == {"travel.metro.mode.value", "version"}


def test_a_file_must_cover_some_kind():
    text = V1_TEXT[: V1_TEXT.index("[travel.metro]")]
    with pytest.raises(MethodologyError, match="empty.toml: covers no kind"):
        parse_methodology(text, "empty.toml")


def test_directory_problems(tmp_path):
    with pytest.raises(MethodologyError, match="holds no"):
        load_directory(tmp_path)
    with pytest.raises(MethodologyError, match="not a directory"):
        load_directory(tmp_path / "missing")
    (tmp_path / "a.toml").write_text(V1_TEXT, encoding="utf-8")
    (tmp_path / "b.toml").write_text(V1_TEXT, encoding="utf-8")
    clash = "b.toml: version: cn-low-carbon-travel version 1 is also defined in a.toml"
    with pytest.raises(MethodologyError, match=clash):
        load_directory(tmp_path)
    (tmp_path / "b.toml").write_text(V1_TEXT.replace("version = 1", "version = 2"), encoding="utf-8")
    with pytest.raises(MethodologyError, match="b.toml: effective_from: .*must take effect later"):
        load_directory(tmp_path)
    (tmp_path / "b.toml").write_text(V1_TEXT.replace("version = 1", "version = 2").replace(
        "2026-01-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"), encoding="utf-8")
    assert [m.version for m in load_directory(tmp_path)] == [1, 2]


def test_a_toml_offset_datetime_and_a_factor_without_unit_are_accepted():
    text = V1_TEXT.replace('effective_from = "2026-01-01T00:00:00+08:00"',
                           "effective_from = 2026-01-01T00:00:00+08:00").replace(
        'value = "143.1", unit = "gCO2e/pkm", ', 'value = "143.1", ')
    m = parse_methodology(text, "ok.toml")
    assert m.effective_from == V1.effective_from and m.travel["bus"].mode.unit == "gCO2e/pkm"
    assert m.travel["bus"].mode.milligrams == 143_100


# --- properties ------------------------------------------------------------------------

TIMED = st.one_of(st.none(), st.integers(60, 6 * 3600))  # trip duration in seconds, or untimed
CAPPED = small(cap_grams=700, cap_points=40)
UNCAPPED = small(cap_grams=10**12)


def _trip(kind: str, meters: int, seconds: int | None) -> ActivityInput:
    if seconds is None:
        return ActivityInput(kind, distance_meters=meters)
    return ActivityInput(kind, distance_meters=meters, started_at=T0, ended_at=T0 + timedelta(seconds=seconds))


@given(kind=st.sampled_from(TRAVEL), meters=st.integers(-10, 400_000), extra=st.integers(0, 400_000),
       seconds=TIMED, grams=st.integers(0, 4_000), points=st.integers(0, 500))
def test_trip_amounts_never_negative_never_above_uncapped_and_monotone_in_distance(
        kind, meters, extra, seconds, grams, points):
    today = DailyTotals(reduction_grams=grams, points=points)
    shorter = calculate(V1, _trip(kind, meters, seconds), today)
    uncapped = calculate(V1, _trip(kind, meters, seconds), DailyTotals())
    for result in (shorter, uncapped):
        assert min(amounts(result)) >= 0
    assert all(a <= b for a, b in zip(amounts(shorter), amounts(uncapped)))
    assert grams + shorter.reduction_grams <= max(grams, V1.travel[kind].daily_cap_grams)
    if shorter.rejection is not None:
        assert amounts(shorter) == (0, 0, 0, 0)
    # adding distance never lowers the reduction (given a long enough time to stay plausible)
    longer = calculate(V1, _trip(kind, meters + extra, None if seconds is None else 10**6), today)
    slower = calculate(V1, _trip(kind, meters, None if seconds is None else 10**6), today)
    assert longer.reduction_grams >= slower.reduction_grams


@given(meters=st.integers(100, 100_000), grams=st.integers(0, 1_000), points=st.integers(0, 60),
       steps=st.integers(0, 50_000), credited_steps=st.integers(0, 12_000))
def test_caps_only_ever_lower_amounts(meters, grams, points, steps, credited_steps):
    today = DailyTotals(reduction_grams=grams, points=points, steps=credited_steps)
    trip = ActivityInput("bus", distance_meters=meters)
    capped, free = calculate(CAPPED, trip, today), calculate(UNCAPPED, trip, today)
    assert all(0 <= a <= b for a, b in zip(amounts(capped), amounts(free)))
    assert points + capped.points <= max(points, 40) and grams + capped.reduction_grams <= max(grams, 700)
    if capped.rejection is not None:  # untimed and long enough: only a cap can refuse it
        assert capped.rejection.reason == Reason.DAILY_CAP_REACHED and capped.caps_applied
        assert amounts(capped) == (0, 0, 0, 0)
    else:
        assert capped.caps_applied or amounts(capped) == amounts(free)
    walk = calculate(CAPPED, ActivityInput("steps", steps=steps), today)
    assert 0 <= walk.steps <= steps and min(amounts(walk)) >= 0
    assert credited_steps + walk.steps <= max(credited_steps, 10_000)


def test_calculation_is_pure():
    activity, today = ride("metro", 12_850), DailyTotals(reduction_grams=100)
    first, second = calculate(V1, activity, today), calculate(V1, activity, today)
    assert first == second and today == DailyTotals(reduction_grams=100)
    assert replace(first, points=0) != first  # a plain dataclass the caller may copy
