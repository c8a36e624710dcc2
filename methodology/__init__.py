"""Carbon-reduction methodologies (方法学): versioned data files and a pure, integer calculator.

No I/O beyond reading the methodology files when they are loaded; no database, no network.

File format
-----------
One methodology version per TOML file in `methodology/files/` (e.g. `travel-v1.toml`;
`CARBON_METHODOLOGY_DIR` points the service at another directory)::

    id = "cn-low-carbon-travel"          # lower-case letters, digits, "-"
    version = 1                           # whole number >= 1
    title = "Low-carbon travel and daily steps, version 1"
    effective_from = "2026-01-01T00:00:00+08:00"   # ISO 8601 with a zone (or a TOML
                                                    # offset date-time); a local time is refused

    [rates]                               # whole numbers, one source for both
    grams_per_point = 8                   # gCO2e per carbon point
    growth_per_kg = 100                   # growth per kg CO2e reduced
    source = "points: Luzhou ...; growth: assumption: ..."

    [travel.bus]                          # one table per trip kind; the kind is the key
    title = "Bus (battery-electric)"
    baseline = { value = "170",   unit = "gCO2e/pkm", source = "..." }
    mode     = { value = "143.1", unit = "gCO2e/pkm", source = "derived: 170 − 26.9 ..." }
    min_distance_m = 300                  # shorter: TOO_SHORT
    max_speed_kmh = 80                    # faster on average: IMPLAUSIBLE_SPEED
    daily_cap_grams = 3000                # CO2e credited per player, day and kind
    # daily_cap_points = 375              # optional: carbon points per player, day and kind

    [steps]                               # optional: the day's step count
    title = "Daily steps (health account)"
    steps_per_growth = 100                # steps for one growth
    steps_per_energy = 100                # steps for one energy
    max_steps_per_day = 100000            # more in a day: IMPLAUSIBLE_STEPS
    daily_cap_steps = 20000               # steps credited per player and day
    source = "assumption: ..."
    # reduction = { value = "20", unit = "gCO2e/1000steps", source = "..." }
    #   optional; without it steps give growth and energy but no CO2e and no points

Scenes beyond travel sit in three more tables, named by their formula (see
docs/regulator/methodologies.md for every field)::

    [quantity.rooftop_pv]                 # reduction = quantity × factor
    quantity_unit = "kWh"                 # kWh, Wh, kg, g, m3, L, item, action, ticket, meal
    factor = { value = "420", unit = "gCO2e/kWh", source = "..." }
    #   or variety_field = "material" and [quantity.<kind>.varieties] paper = {...}, ...
    max_quantity = 150000                 # per record; more: IMPLAUSIBLE_QUANTITY
    daily_cap_grams = 63000000
    record_fields = ["system_id", "period_start", "period_end", "generated_kwh"]
    dedup_key = ["system_id", "period_start", "period_end"]   # identifies one real event
    quantity_field = "generated_kwh"      # the record field with the quantity (without it,
                                          # each record is one unit: a statement, a ticket)

    [baseline.household_electricity]      # (baseline − consumption) × dated factor
    quantity_unit = "kWh"                 # kWh, Wh, m3, L
    baseline = "city_then_own"            # or city_per_capita, own_average
    city_daily_per_person = 3             # with city_source, for the city rules
    average_periods = 3                   # the own moving average's periods
    factors = [{ effective_from = 2022-01-01, value = "536.6", source = "..." }]
    min_period_days, max_period_days, max_daily_per_household, cap_grams_per_period,
    record_fields, dedup_key

    [event.reusable_cup]                  # a fixed amount per verified event
    amount = { value = "30", unit = "gCO2e/event", source = "..." }
    daily_cap_grams, record_fields, dedup_key

Emission factors are quoted decimal strings ("26.9", at most 3 decimals) so no float is
ever parsed; they are held as integer milligrams. Each has a source; `unit` may be left
out, and if written must be the one shown (others are refused). Rates, bounds and caps
are whole numbers in fixed units (published with `public_factors`/`public_caps`). Our
own figures say "assumption:" in their source. Published savings (Shenzhen 2021: bus
26.9, metro 46.7 g per person-km) are written as mode = baseline − saving, so they come
out exactly.

Validation
----------
`load_methodology(path)`, `load_directory(dir)` and `parse_methodology(text, name)` raise
`MethodologyError`, whose message reads "<file>: <field.path>: <why>" for each problem,
e.g. "travel-v1.toml: travel.bus.mode.value: not a decimal number: '1,5'". Refused:
invalid TOML, unknown or missing fields, floats, ints or negatives as factors, more
than 3 decimals, unknown units, a mode factor above its baseline, zero or negative rates,
bounds and caps, a step cap above the plausible maximum, a time without zone, a file
covering no kind, the same (id, version) twice, and within an id a higher version that
does not take effect strictly later than a lower one.

Calculation
-----------
`calculate(methodology, ActivityInput, DailyTotals) -> Calculation` is pure and works in
whole numbers. Every division rounds DOWN (floor), so the service never credits more than
the figures give:

- trip: grams = floor((baseline_mg − mode_mg) × metres / 10^6), cut to the kind's
  daily_cap_grams; points = floor(grams / grams_per_point), cut to daily_cap_points;
  growth = floor(grams × growth_per_kg / 1000); energy = 0.
- steps (`ActivityInput.steps` is the increase over the day's previous highest report;
  `DailyTotals.steps` what is already credited): the increase is cut to daily_cap_steps
  and growth = floor(after / steps_per_growth) − floor(before / steps_per_growth), the
  same for energy (and grams, points with `reduction`), on the day's running totals so
  no remainder is lost across syncs.

Checks, in order, give a `Rejection(reason, message)` with zero amounts: UNKNOWN_KIND,
INVALID_FIELD (distance not a positive whole number, steps not a whole number >= 0, a
time without zone, ended before started), TOO_SHORT, IMPLAUSIBLE_SPEED (average speed,
checked when both times are given: partner records always have them),
IMPLAUSIBLE_STEPS (more steps in a day than max_steps_per_day), DAILY_CAP_REACHED (a
cap leaves nothing). A cap that cuts in part is not a rejection: the amounts are reduced
and `caps_applied` names the cap by its public key (e.g. "bus.daily_cap_grams"). A point
cap limits points only: the reduction and growth still count. Other scenes take their own
typed input (`QuantityInput`, `MeterReadingInput` with the meter's earlier
`CreditedPeriod`s, `EventInput`); their refusals are listed in `Reason`. IN_FUTURE and TOO_OLD need
the clock: `check_time_window(started_at, ended_at, now, max_age)`.

Selection and description
-------------------------
`MethodologyRegistry.for_kind(kind, at)` picks, among the methodologies covering the kind
with effective_from <= at, the one that took effect last (within an id: the highest
version); activities keep the id and version they were computed with.
`default_registry()` loads the shipped files once. `describe(methodology)` (and
`public_factors`/`public_caps`) give the public description:
factors as (key, value as written, unit, source), e.g. "bus.baseline", "rates.grams_per_point";
caps and bounds as (key, whole value, unit), e.g. "bus.daily_cap_grams", "bus.max_speed_kmh".
A city changes figures by adding a file with a higher version and a later effective_from.
"""

from methodology.calculator import (
    ActivityInput,
    AnyInput,
    Calculation,
    CreditedPeriod,
    DailyTotals,
    EventInput,
    MeterReadingInput,
    QuantityInput,
    Reason,
    Rejection,
    calculate,
    check_time_window,
    rounding_text,
)
from methodology.loader import (
    MethodologyError,
    check_collection,
    load_directory,
    load_methodology,
    parse_methodology,
)
from methodology.model import Methodology
from methodology.public import (
    MethodologyDescription,
    PublicCap,
    PublicFactor,
    PublicScene,
    describe,
    public_caps,
    public_factors,
    public_scenes,
)
from methodology.registry import FILES, MethodologyRegistry, default_registry

__all__ = [
    "FILES",
    "ActivityInput",
    "AnyInput",
    "Calculation",
    "CreditedPeriod",
    "DailyTotals",
    "EventInput",
    "MeterReadingInput",
    "Methodology",
    "MethodologyDescription",
    "MethodologyError",
    "MethodologyRegistry",
    "PublicCap",
    "PublicFactor",
    "PublicScene",
    "QuantityInput",
    "Reason",
    "Rejection",
    "calculate",
    "check_collection",
    "check_time_window",
    "default_registry",
    "describe",
    "load_directory",
    "load_methodology",
    "parse_methodology",
    "public_caps",
    "public_factors",
    "public_scenes",
    "rounding_text",
]
