"""The methodology files and the pure calculator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from methodology import (
    ActivityInput,
    DailyTotals,
    MethodologyError,
    MethodologyRegistry,
    calculate,
    default_registry,
    load_directory,
    parse_methodology,
)

V1 = (Path(__file__).parents[1] / "methodology" / "files" / "travel-v1.toml").read_text()
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=timezone(timedelta(hours=8)))
M = default_registry().for_kind("metro", NOW)


def trip(kind: str, meters: int, minutes: int | None = None) -> ActivityInput:
    end = NOW + timedelta(minutes=minutes) if minutes else None
    return ActivityInput(kind, distance_meters=meters, started_at=NOW if minutes else None, ended_at=end)


def test_published_savings_come_out_exactly():
    bus = calculate(M, trip("bus", 10_000), DailyTotals())
    assert (bus.reduction_grams, bus.points, bus.growth, bus.energy) == (269, 33, 26, 0)
    metro = calculate(M, trip("metro", 12_850), DailyTotals())
    assert (metro.reduction_grams, metro.points, metro.growth) == (600, 75, 60)
    assert metro.factors["metro.baseline"] == "170" and metro.factors["metro.mode"] == "123.3"
    assert (metro.methodology_id, metro.methodology_version) == ("cn-low-carbon-travel", 1)


def test_rounding_is_always_down():
    # 46.7 g/km x 1.999 km = 93.3533 g -> 93 g; 93 / 8 = 11.6 -> 11 points; 9.3 -> 9 growth
    result = calculate(M, trip("metro", 1999), DailyTotals())
    assert (result.reduction_grams, result.points, result.growth) == (93, 11, 9)
    assert calculate(M, trip("walking", 200), DailyTotals()).reduction_grams == 5  # 5.38 g


def test_cap_cuts_in_part_then_refuses():
    part = calculate(M, trip("metro", 12_850), DailyTotals(reduction_grams=2700))
    assert part.rejection is None and part.reduction_grams == 300
    assert part.caps_applied == ["metro.daily_cap_grams"] and part.points == 37
    full = calculate(M, trip("metro", 12_850), DailyTotals(reduction_grams=3000))
    assert full.rejection.reason == "DAILY_CAP_REACHED" and full.reduction_grams == 0


@pytest.mark.parametrize(
    "activity, reason",
    [
        (trip("rocket", 1000), "UNKNOWN_KIND"),
        (trip("metro", 0), "INVALID_FIELD"),
        (trip("metro", 499), "TOO_SHORT"),
        (trip("cycling", 20_000, minutes=30), "IMPLAUSIBLE_SPEED"),  # 40 km/h on a bike
        (trip("walking", 3000, minutes=10), "IMPLAUSIBLE_SPEED"),  # 18 km/h on foot
    ],
)
def test_rejections(activity, reason):
    result = calculate(M, activity, DailyTotals())
    assert result.rejection is not None and result.rejection.reason == reason
    assert (result.reduction_grams, result.points, result.growth, result.energy) == (0, 0, 0, 0)


def test_plausible_speed_passes():
    assert calculate(M, trip("cycling", 5000, minutes=20), DailyTotals()).rejection is None  # 15 km/h


def test_steps_give_growth_and_energy_not_co2e():
    result = calculate(M, ActivityInput("steps", steps=12_345), DailyTotals())
    assert (result.reduction_grams, result.points, result.growth, result.energy) == (0, 0, 123, 123)
    # remainders carry over: 4,321 then +5,729 = 10,050 -> 43 then 57 more (100 in all)
    later = calculate(M, ActivityInput("steps", steps=5729), DailyTotals(steps=4321))
    assert later.growth == 57
    too_many = calculate(M, ActivityInput("steps", steps=100_001), DailyTotals())
    assert too_many.rejection.reason == "IMPLAUSIBLE_STEPS"


def test_newer_version_applies_from_its_effective_time():
    v2 = V1.replace("version = 1", "version = 2").replace(
        'effective_from = "2026-01-01T00:00:00+08:00"', 'effective_from = "2027-01-01T00:00:00+08:00"'
    ).replace('value = "123.3"', 'value = "120"')
    registry = MethodologyRegistry([parse_methodology(V1, "v1.toml"), parse_methodology(v2, "v2.toml")])
    assert registry.for_kind("metro", NOW).version == 1
    later = registry.for_kind("metro", datetime(2027, 1, 2, tzinfo=UTC))
    assert later.version == 2
    assert calculate(later, trip("metro", 10_000), DailyTotals()).reduction_grams == 500
    assert registry.for_kind("metro", datetime(2025, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    "change, expected",
    [
        (('value = "123.3"', 'value = "12x"'), "travel.metro.mode.value"),
        (('value = "123.3"', 'value = "171"'), "travel.metro"),
        (("grams_per_point = 8", "grams_per_point = 0"), "rates.grams_per_point"),
        (('effective_from = "2026-01-01T00:00:00+08:00"', 'effective_from = "2026-01-01T00:00:00"'),
         "effective_from"),
        (("max_speed_kmh = 120", 'max_speed_kmh = "fast"'), "travel.metro.max_speed_kmh"),
        (("daily_cap_steps = 20000", "daily_cap_steps = 200000"), "steps"),
        (("[travel.metro]", "[travel.Metro]"), "travel"),
        (('version = 1', 'version = 1\nsurprise = true'), "surprise"),
    ],
)
def test_validation_names_the_file_and_field(tmp_path, change, expected):
    (tmp_path / "city.toml").write_text(V1.replace(*change, 1))
    with pytest.raises(MethodologyError) as error:
        load_directory(tmp_path)
    message = str(error.value)
    assert message.startswith("city.toml: ") and expected in message, message


def test_duplicate_id_and_version_is_refused(tmp_path):
    (tmp_path / "a.toml").write_text(V1)
    (tmp_path / "b.toml").write_text(V1)
    with pytest.raises(MethodologyError, match="b.toml"):
        load_directory(tmp_path)


def test_not_toml(tmp_path):
    (tmp_path / "bad.toml").write_text("id = ")
    with pytest.raises(MethodologyError, match="bad.toml: not valid TOML"):
        load_directory(tmp_path)


kinds = st.sampled_from(["metro", "bus", "cycling", "bike_share", "walking"])


@given(kind=kinds, meters=st.integers(1, 200_000), extra=st.integers(0, 50_000),
       already=st.integers(0, 5000))
def test_amounts_are_never_negative_capped_and_monotone(kind, meters, extra, already):
    today = DailyTotals(reduction_grams=already)
    short = calculate(M, trip(kind, meters), today)
    uncapped = calculate(M, trip(kind, meters), DailyTotals())
    longer = calculate(M, trip(kind, meters + extra), today)
    for result in (short, uncapped, longer):
        assert min(result.reduction_grams, result.points, result.growth, result.energy) >= 0
    assert short.reduction_grams <= uncapped.reduction_grams
    assert already + short.reduction_grams <= max(already, M.travel[kind].daily_cap_grams)
    if short.rejection is None:
        assert longer.reduction_grams >= short.reduction_grams


@given(reports=st.lists(st.integers(0, 60_000), min_size=1, max_size=8))
def test_steps_credit_never_exceeds_one_pass_over_the_best_report(reports):
    highest, growth = 0, 0
    for report in reports:
        if report > highest:
            result = calculate(M, ActivityInput("steps", steps=report - highest), DailyTotals(steps=highest))
            growth += result.growth
            highest = report
    assert growth == min(highest, 20_000) // 100
