"""Scenes beyond travel: each shipped scene's grams and points by hand from its published
factors, the refusals, the baseline choice and the dated grid factor; the GraphQL listing."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from app.credits.crediting import explained
from methodology import (
    ActivityInput,
    CreditedPeriod,
    DailyTotals,
    EventInput,
    MeterReadingInput,
    MethodologyError,
    QuantityInput,
    calculate,
    default_registry,
    describe,
    parse_methodology,
    rounding_text,
)
from methodology.model import Methodology


def scene(kind: str) -> Methodology:
    m = default_registry().for_kind(kind, datetime.fromisoformat("2026-06-01T09:00:00+08:00"))
    assert m is not None, kind
    return m


def published(kind: str, key: str) -> str:
    """A factor's value as the methodology publishes it."""
    [value] = [f.value for f in describe(scene(kind)).factors if f.key == key]
    return value


# (kind, input, factor key, its published value, grams by hand, points by hand)
QUANTITY_CASES = [
    # 1,234 kWh × 420 g/kWh (Shanghai 2024 rooftop PV)
    ("rooftop_pv", QuantityInput("rooftop_pv", 1234), "rooftop_pv.factor", "420", 518280, 64785),
    # 2,500 g of paper × 1,200 g/kg
    ("recycling", QuantityInput("recycling", 2500, "paper"), "recycling.varieties.paper", "1200",
     3000, 375),
    ("recycling", QuantityInput("recycling", 1000, "plastic"), "recycling.varieties.plastic",
     "1000", 1000, 125),
    ("recycling", QuantityInput("recycling", 750, "metal"), "recycling.varieties.metal", "4000",
     3000, 375),
    # 3,333 g × 300 g/kg = 999.9 g, rounded down
    ("recycling", QuantityInput("recycling", 3333, "glass"), "recycling.varieties.glass", "300",
     999, 124),
    ("e_waste", QuantityInput("e_waste", 800), "e_waste.factor", "1500", 1200, 150),
    ("clothes", QuantityInput("clothes", 2000), "clothes.factor", "3000", 6000, 750),
    ("appliances", QuantityInput("appliances", 2, "refrigerator"),
     "appliances.varieties.refrigerator", "100000", 200000, 25000),
    ("appliances", QuantityInput("appliances", 1, "television"),
     "appliances.varieties.television", "30000", 30000, 3750),
    ("e_statement", QuantityInput("e_statement", 1), "e_statement.factor", "30", 30, 3),
    ("online_transfer", QuantityInput("online_transfer", 1), "online_transfer.factor", "10", 10, 1),
    # Ant Forest's 5 g: below one point (8 g), still 5 g of CO2e
    ("online_payment", QuantityInput("online_payment", 1), "online_payment.factor", "5", 5, 0),
    # 45 kWh × 596.7 g/kWh = 26,851.5 g, rounded down
    ("ev_charging", QuantityInput("ev_charging", 45), "ev_charging.factor", "596.7", 26851, 3356),
    ("island_boat", QuantityInput("island_boat", 1), "island_boat.factor", "1500", 1500, 187),
    ("clean_plate", QuantityInput("clean_plate", 1), "clean_plate.factor", "250", 250, 31),
    ("garbage_sorting", EventInput("garbage_sorting", "c-1", verified=True),
     "garbage_sorting.amount", "20", 20, 2),
    ("reusable_cup", EventInput("reusable_cup", "r-1", verified=True), "reusable_cup.amount", "30",
     30, 3),
]


@pytest.mark.parametrize("kind, activity, key, value, grams, points", QUANTITY_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(QUANTITY_CASES)])
def test_quantity_and_event_scenes_match_the_hand_calculation(kind, activity, key, value, grams,
                                                               points):
    assert published(kind, key) == value
    result = calculate(scene(kind), activity)
    assert result.rejection is None
    assert (result.reduction_grams, result.points, result.growth) == (grams, points, grams // 10)
    assert result.factors[key] == value and result.sources[key]
    assert result.sources["rates.grams_per_point"] and result.rounding.startswith("grams = floor(")
    if isinstance(activity, QuantityInput):
        assert result.inputs["quantity"] == str(activity.quantity)
    # what an activity's provenance shows later comes from the methodology version alone
    m = scene(kind)
    shown = default_registry().factor_sources(m.id, m.version)
    assert {k: shown[k] for k in result.factors} == result.sources
    assert rounding_text(m, kind) == result.rounding


def test_every_factor_a_bill_records_has_its_source_in_the_registry():
    m = scene("household_electricity")
    for previous in ((), (CreditedPeriod(date(2026, 3, 1), date(2026, 4, 1), 900),)):
        result = calculate(m, MeterReadingInput(
            "household_electricity", "M-1", date(2026, 4, 1), date(2026, 5, 1), 0, 150, 2,
            previous=previous))
        shown = default_registry().factor_sources(m.id, m.version)
        assert result.rejection is None and result.sources
        assert {k: shown[k] for k in result.factors} == result.sources
        assert rounding_text(m, "household_electricity") == result.rounding
    assert rounding_text(m, "metro") == "" and default_registry().factor_sources("nope", 1) == {}


def test_provenance_kept_with_its_sources_is_shown_as_kept():
    """Activities whose rows kept sources and rounding themselves show those."""
    m = scene("recycling")
    kept = {"factors": {"recycling.varieties.paper": "1200"}, "capsApplied": [],
            "inputs": {"quantity": "10"}, "sources": {"recycling.varieties.paper": "as it was"},
            "rounding": "as it was"}
    assert explained(kept, "recycling", m.id, m.version, default_registry()) == kept
    fresh = {key: kept[key] for key in ("factors", "capsApplied", "inputs")}
    shown = explained(fresh, "recycling", m.id, m.version, default_registry())
    assert shown["sources"]["recycling.varieties.paper"].startswith("assumption: 1.2 kg")
    assert shown["rounding"] == rounding_text(m, "recycling") and "sources" not in fresh
    # an activity of no methodology (a refused record) shows what it kept
    assert explained({}, "recycling", None, None, default_registry()) == {}


def test_at_least_fifteen_scenes_in_five_files_beside_travel():
    others = [m for m in default_registry().all() if m.id != "cn-low-carbon-travel"]
    assert len(others) >= 5
    kinds = [k for m in others for k in m.kinds]
    assert len(kinds) >= 15 and len(set(kinds)) == len(kinds)
    for m in others:
        for f in describe(m).factors:
            assert len(f.source) >= 3, f.key
        for s in describe(m).scenes:
            assert s.record_fields and set(s.dedup_key) <= set(s.record_fields), s.kind
    [pv] = [f for f in describe(scene("rooftop_pv")).factors if f.key == "rooftop_pv.factor"]
    assert "Shanghai 2024" in pv.source and "1 MW" in pv.source
    assert "not a certified" in [f.source for f in describe(scene("online_payment")).factors
                                 if f.key == "online_payment.factor"][0]


def bill(start: date, days: int, used: int, size: int = 3, previous=(), kind="household_electricity",
         first_reading: int = 1000) -> MeterReadingInput:
    return MeterReadingInput(kind, "meter-7", start, start + timedelta(days=days), first_reading,
                             first_reading + used, size, tuple(previous))


def history(*used: int, end: date = date(2026, 3, 1), days: int = 30) -> list[CreditedPeriod]:
    """Consecutive credited periods ending at `end`, oldest first."""
    periods, start = [], end - timedelta(days=days * len(used))
    for amount in used:
        periods.append(CreditedPeriod(start, start + timedelta(days=days), amount))
        start += timedelta(days=days)
    return periods


def test_household_electricity_below_the_city_figure_saves_against_it():
    assert published("household_electricity", "household_electricity.city_daily_per_person") == "3"
    assert published("household_electricity", "household_electricity.factors.2022-01-01") == "536.6"
    # 3 kWh × 3 people × 30 days = 270 kWh baseline; 200 used; 70 × 536.6 g = 37,562 g
    result = calculate(scene("household_electricity"), bill(date(2026, 3, 1), 30, 200))
    assert result.rejection is None
    assert (result.reduction_grams, result.points, result.growth) == (37562, 4695, 3756)
    assert result.inputs["baseline.rule"] == "city_per_capita" and result.inputs["baseline"] == "270"
    assert result.factors["household_electricity.factors.2022-01-01"] == "536.6"
    assert "Ministry of Ecology and Environment" in (
        result.sources["household_electricity.factors.2022-01-01"])
    # a history below the city figure (8 kWh a day for 3 people, under 9) keeps the city's
    below = calculate(scene("household_electricity"),
                      bill(date(2026, 3, 1), 30, 200, previous=history(240, 240, 240)))
    assert below.inputs["baseline.rule"] == "city_per_capita" and below.reduction_grams == 37562


def test_household_above_the_city_figure_is_compared_with_its_own_moving_average():
    # last three periods 330 + 300 + 360 = 990 kWh in 90 days (11 a day, above 3 × 3 = 9);
    # the older 900 is outside the moving average. Baseline 990 × 30 // 90 = 330; used 300.
    previous = history(900, 330, 300, 360)
    result = calculate(scene("household_electricity"),
                       bill(date(2026, 3, 1), 30, 300, previous=previous))
    assert result.rejection is None
    assert result.inputs["baseline.rule"] == "own_average" and result.inputs["baseline"] == "330"
    assert result.reduction_grams == 30 * 5366 // 10 == 16098
    assert "2025-11-01" not in result.inputs["baseline.periods"]  # the fourth period back


def test_the_grid_factor_in_effect_for_the_period_is_used():
    assert published("household_electricity", "household_electricity.factors.2021-01-01") == "570.3"
    old = calculate(scene("household_electricity"), bill(date(2021, 6, 1), 30, 200))
    new = calculate(scene("household_electricity"), bill(date(2022, 6, 1), 30, 200))
    assert old.reduction_grams == 70 * 5703 // 10 == 39921
    assert new.reduction_grams == 70 * 5366 // 10 == 37562
    assert set(old.factors) >= {"household_electricity.factors.2021-01-01"}
    assert "household_electricity.factors.2022-01-01" not in old.factors
    before = calculate(scene("household_electricity"), bill(date(2020, 6, 1), 30, 200))
    assert before.rejection.reason == "NO_FACTOR"


def test_water_against_the_city_and_gas_against_its_own_history():
    # water: 180 L × 2 people × 30 days = 10,800 L; 9,000 used; 1.8 m3 × 300 g = 540 g
    water = calculate(scene("household_water"),
                      bill(date(2026, 3, 1), 30, 9000, size=2, kind="household_water"))
    assert published("household_water", "household_water.factors.2020-01-01") == "300"
    assert (water.reduction_grams, water.points) == (540, 67)
    # gas: (30 + 33 + 36) m3 over 90 days, a 31-day period: 99 × 31 // 90 = 34; used 30;
    # 4 m3 × 2,184 g = 8,736 g
    gas = calculate(scene("household_gas"), bill(date(2026, 3, 1), 31, 30, kind="household_gas",
                                                 previous=history(30, 33, 36)))
    assert published("household_gas", "household_gas.factors.2020-01-01") == "2184"
    assert gas.inputs["baseline"] == "34" and (gas.reduction_grams, gas.points) == (8736, 1092)
    first = calculate(scene("household_gas"), bill(date(2026, 3, 1), 31, 30, kind="household_gas"))
    assert first.rejection.reason == "NO_BASELINE" and first.reduction_grams == 0


@pytest.mark.parametrize("activity, reason", [
    (bill(date(2026, 3, 1), 30, -5), "READING_BACKWARDS"),
    (bill(date(2026, 3, 1), 30, 100, previous=history(200, end=date(2026, 3, 15))),
     "PERIOD_OVERLAP"),
    (bill(date(2026, 3, 1), 30, 151 * 30), "IMPLAUSIBLE_CONSUMPTION"),
    (bill(date(2026, 3, 1), 5, 10), "INVALID_PERIOD"),
    (bill(date(2026, 3, 1), 30, 270), "NO_SAVING"),
    (bill(date(2026, 3, 1), 30, 100, size=0), "INVALID_FIELD"),
    # the meter ran backwards between bills: this one starts below the last one's end ...
    (bill(date(2026, 3, 1), 30, 100, first_reading=990, previous=[
        CreditedPeriod(date(2026, 1, 30), date(2026, 3, 1), 200, 800, 1000)]), "READING_BACKWARDS"),
    # ... or a late bill ends above the start of one kept after it
    (bill(date(2026, 3, 1), 30, 100, previous=[
        CreditedPeriod(date(2026, 3, 31), date(2026, 4, 30), 200, 1050, 1250)]), "READING_BACKWARDS"),
])
def test_billing_period_refusals(activity, reason):
    result = calculate(scene("household_electricity"), activity)
    assert result.rejection is not None and result.rejection.reason == reason
    assert result.rejection.message
    assert (result.reduction_grams, result.points, result.growth) == (0, 0, 0)


def test_bills_that_continue_the_meter_or_have_no_readings_kept_are_not_backwards():
    kept = [CreditedPeriod(date(2026, 1, 30), date(2026, 3, 1), 200, 800, 1000),
            CreditedPeriod(date(2026, 3, 31), date(2026, 4, 30), 200, 1100, 1300)]
    assert calculate(scene("household_electricity"), bill(date(2026, 3, 1), 30, 100, previous=kept)
                     ).rejection is None  # 1000 -> 1100, between the two
    unknown = [CreditedPeriod(date(2026, 1, 30), date(2026, 3, 1), 200)]  # kept without readings
    assert calculate(scene("household_electricity"), bill(date(2026, 3, 1), 30, 100, first_reading=10,
                                                          previous=unknown)).rejection is None


def test_a_period_is_cut_to_its_cap():
    # 20 people, nothing used in 60 days: 3 × 20 × 60 = 3,600 kWh saved, far above 60 kg
    result = calculate(scene("household_electricity"), bill(date(2026, 3, 1), 60, 0, size=20))
    assert result.reduction_grams == 60000
    assert result.caps_applied == ["household_electricity.cap_grams_per_period"]


@pytest.mark.parametrize("kind, activity, today, reason", [
    ("recycling", QuantityInput("recycling", 100, "wood"), DailyTotals(), "UNKNOWN_VARIETY"),
    ("recycling", QuantityInput("recycling", 100), DailyTotals(), "UNKNOWN_VARIETY"),
    ("appliances", QuantityInput("appliances", 6, "television"), DailyTotals(),
     "IMPLAUSIBLE_QUANTITY"),
    ("rooftop_pv", QuantityInput("rooftop_pv", 0), DailyTotals(), "INVALID_FIELD"),
    ("online_payment", QuantityInput("online_payment", 1), DailyTotals(reduction_grams=50),
     "DAILY_CAP_REACHED"),
    ("garbage_sorting", EventInput("garbage_sorting", "c-9", verified=False), DailyTotals(),
     "NOT_VERIFIED"),
    ("reusable_cup", EventInput("reusable_cup", "r-9", verified=True),
     DailyTotals(reduction_grams=90), "DAILY_CAP_REACHED"),
    # a trip-shaped input for a quantity scene is refused, not computed with the trip formula
    ("rooftop_pv", ActivityInput("rooftop_pv", distance_meters=5000), DailyTotals(),
     "INVALID_FIELD"),
    ("household_electricity", QuantityInput("household_electricity", 5), DailyTotals(),
     "INVALID_FIELD"),
])
def test_quantity_and_event_refusals(kind, activity, today, reason):
    result = calculate(scene(kind), activity, today)
    assert result.rejection is not None and result.rejection.reason == reason, result
    assert (result.reduction_grams, result.points) == (0, 0)


def test_a_daily_cap_cuts_an_event_in_part():
    # reusable cup: 90 g a day; 75 already credited leaves 15 of the 30
    result = calculate(scene("reusable_cup"), EventInput("reusable_cup", "r-2", verified=True),
                       DailyTotals(reduction_grams=75))
    assert result.rejection is None and result.reduction_grams == 15
    assert result.caps_applied == ["reusable_cup.daily_cap_grams"]


HEAD = '''id = "city-x"
version = 1
title = "t"
effective_from = "2026-01-01T00:00:00+08:00"
[rates]
grams_per_point = 8
growth_per_kg = 100
source = "assumption: test"
'''


@pytest.mark.parametrize("body, problem", [
    ('[quantity.a]\ntitle = "a"\nquantity_unit = "kg"\nmax_quantity = 1\ndaily_cap_grams = 1\n'
     'record_fields = ["x"]\nfactor = { value = "1", unit = "gCO2e/kWh", source = "abc" }\n',
     "unknown unit 'gCO2e/kWh', expected 'gCO2e/kg'"),
    ('[quantity.a]\ntitle = "a"\nquantity_unit = "kg"\nmax_quantity = 1\ndaily_cap_grams = 1\n'
     'record_fields = ["x"]\ndedup_key = ["y"]\nfactor = { value = "1", source = "abc" }\n',
     "dedup_key names fields not in record_fields"),
    ('[event.a]\ntitle = "a"\ndaily_cap_grams = 1\nrecord_fields = ["x"]\n'
     'amount = { value = "1", source = "abc" }\n[quantity.a]\ntitle = "a"\nquantity_unit = "kg"\n'
     'max_quantity = 1\ndaily_cap_grams = 1\nrecord_fields = ["x"]\n'
     'factor = { value = "1", source = "abc" }\n', "kind 'a' is defined in two tables"),
    ('[baseline.a]\ntitle = "a"\nquantity_unit = "kWh"\nbaseline = "city_per_capita"\n'
     'min_period_days = 1\nmax_period_days = 9\nmax_daily_per_household = 9\n'
     'cap_grams_per_period = 9\nrecord_fields = ["x"]\n'
     'factors = [{ effective_from = 2022-01-01, value = "1", source = "abc" }]\n',
     "needs city_daily_per_person and city_source"),
    ('[baseline.a]\ntitle = "a"\nquantity_unit = "kWh"\nbaseline = "own_average"\n'
     'min_period_days = 1\nmax_period_days = 9\nmax_daily_per_household = 9\n'
     'cap_grams_per_period = 9\nrecord_fields = ["x"]\n'
     'factors = [{ effective_from = 2022-01-01, value = "1", source = "abc" },'
     ' { effective_from = 2021-01-01, value = "2", source = "abc" }]\n',
     "effective_from dates must increase strictly"),
])
def test_scene_files_are_validated(body, problem):
    with pytest.raises(MethodologyError, match="city.toml: ") as caught:
        parse_methodology(HEAD + body, "city.toml")
    assert problem in str(caught.value)


QUERY = """{ methodologies { id kinds factors { key value unit source }
  scenes { kind sceneKind title formula recordFields dedupKey } } }"""


async def test_methodologies_lists_every_scene_with_factors_and_sources(gql):
    listing = (await gql(QUERY))["data"]["methodologies"]
    by_id = {m["id"]: m for m in listing}
    assert set(by_id) == {m.id for m in default_registry().all()}
    scenes = {s["kind"]: s for m in listing for s in m["scenes"]}
    kinds = {kind for m in listing for kind in m["kinds"]}
    assert kinds == set(scenes)
    assert {s["sceneKind"] for s in scenes.values()} == {
        "travel", "steps", "quantity", "baseline", "event"}
    assert sum(s["sceneKind"] not in ("travel", "steps") for s in scenes.values()) >= 15
    assert scenes["household_electricity"]["dedupKey"] == ["meter_id", "period_start", "period_end"]
    assert "own average" in scenes["household_electricity"]["formula"]
    assert scenes["island_boat"]["dedupKey"] == ["ticket_no"]
    assert all(f["source"] for m in listing for f in m["factors"])
    energy = {f["key"]: f for f in by_id["cn-household-energy"]["factors"]}
    grid = energy["household_electricity.factors.2022-01-01"]
    assert (grid["value"], grid["unit"]) == ("536.6", "gCO2e/kWh")
    assert "Ministry of Ecology and Environment" in grid["source"]
