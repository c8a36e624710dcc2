"""Unlock-rate simulation: run the real planet engine over a synthetic player population.

    result = simulate(rules, load_profile(DEFAULT_PROFILE), players=100_000, days=90, seed=1)
    print_table(result); write_csv(result, "sim.csv"); write_chart({"planet.toml": result}, "sim.png")

The population is described by a profile file (TOML, `game/profiles/default.toml`):
daily probability of being active, daily churn, a lognormal step distribution, Poisson
trips per active day by kind with lognormal distances, quiz participation and accuracy,
and optionally scenes beyond travel (`[scenes.<kind>]`: Poisson records per active day,
each with a lognormal quantity in the scene's unit). A scene the profile leaves out is
never done by the synthetic players, so a requirement on it is never met.
`load_profile`/`parse_profile` validate it and raise `ProfileError` naming each field.

How a day is simulated
----------------------
Players are cut into fixed blocks of `BLOCK_SIZE`. For every (block, day) a numpy
Generator seeded with (seed, block, day) draws the day's behaviour of the whole block at
once: churn, activity, steps, trips and distances, quiz. Growth is computed in numpy from
the methodology (`methodology.default_registry()`), exactly as `methodology.calculate`
does it: per trip grams = floor(saving_mg × metres / 10^6) cut to the kind's daily gram
cap (a trip the cap leaves nothing for is rejected and not counted), growth =
floor(grams × growth_per_kg / 1000); steps growth = min(steps, daily_cap_steps) //
steps_per_growth. Trips shorter than min_distance_m are rejected as TOO_SHORT. A scene's
records (quantity or event scenes; their draws come after all others, so a profile without
scenes draws exactly as before) go one by one through `methodology.calculate` itself, the
day's totals carried from record to record, so its caps and refusals are the real ones.

Then every active player-day goes through the REAL engine, `game.engine.apply`, with
aggregated events: one ActivityEvent("steps", growth, count=1) when steps were synced,
one ActivityEvent per trip kind with the day's summed growth and accepted trip count,
one per scene with its accepted records and their summed quantity, and one QuizEvent.
(Unlock conditions are monotone within a day, so aggregating a day's events gives the
same end-of-day state as applying them one by one; only the times recorded in `unlocked`
differ, and the simulation records days.)

Speed (see bench/simulate_bench.py): blocks run on a process pool (one worker per core); since each
block draws from its own (seed, block, day) streams, the result for a seed does not depend on the worker count.
Memoising apply on (state, events) was measured and dropped: states diverge within a
couple of days (growth differs), so hits are too rare to pay for the key.
"""

from __future__ import annotations

import csv
import math
import multiprocessing
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from game.engine import ActivityEvent, Event, PlanetState, QuizEvent, ThemeUnlockedEffect, apply
from game.model import ActivityAmount, ActivityCount, ActivityDays, Rules
from methodology.model import Methodology

DEFAULT_PROFILE = Path(__file__).parent / "profiles" / "default.toml"
BLOCK_SIZE = 2_500  # players per random stream and per pool task; part of what a seed means
MILESTONES = (7, 30, 90)
CST = timezone(timedelta(hours=8))


# --------------------------------------------------------------------------- profile


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and every field at fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Probability = Annotated[float, Field(ge=0, le=1)]


class Engagement(_Strict):
    active_probability: Probability
    churn_probability: Probability


class StepsProfile(_Strict):
    sync_probability: Probability
    median: int = Field(gt=0)
    sigma: float = Field(ge=0, le=5)
    max: int = Field(gt=0)

    @model_validator(mode="after")
    def _median_below_max(self) -> StepsProfile:
        if self.median > self.max:
            raise ValueError(f"median {self.median} is above max {self.max}")
        return self


class RideProfile(_Strict):
    mean_per_active_day: float = Field(ge=0, le=50)
    median_distance_m: int = Field(gt=0)
    sigma: float = Field(ge=0, le=5)
    max_distance_m: int = Field(gt=0)

    @model_validator(mode="after")
    def _median_below_max(self) -> RideProfile:
        if self.median_distance_m > self.max_distance_m:
            raise ValueError(
                f"median_distance_m {self.median_distance_m} is above max_distance_m "
                f"{self.max_distance_m}")
        return self


class SceneProfile(_Strict):
    """Records of a scene beyond travel: Poisson per active day; each a lognormal quantity in
    the scene's quantity unit (event scenes have none: leave the quantity fields out). For a
    scene saving against a baseline the quantity is the saving of a 30-day bill against
    `usual_per_period`, the household's consumption in its three earlier periods."""

    mean_per_active_day: float = Field(ge=0, le=50)
    median_quantity: int = Field(default=1, gt=0)
    sigma: float = Field(default=0, ge=0, le=5)
    max_quantity: int = Field(default=1, gt=0)
    variety: str | None = None  # the variety drawn, for a scene with varieties (a material)
    usual_per_period: int | None = Field(default=None, gt=0)  # baseline scenes only

    @model_validator(mode="after")
    def _median_below_max(self) -> SceneProfile:
        if self.median_quantity > self.max_quantity:
            raise ValueError(f"median_quantity {self.median_quantity} is above max_quantity "
                             f"{self.max_quantity}")
        return self


class QuizProfile(_Strict):
    participation_probability: Probability
    correct_probability: Probability


class Profile(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    start_date: date
    engagement: Engagement
    steps: StepsProfile
    rides: dict[str, RideProfile] = Field(default_factory=dict)
    scenes: dict[str, SceneProfile] = Field(default_factory=dict)
    quiz: QuizProfile


def parse_profile(text: str, name: str = "<profile>") -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{name}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ProfileError(f"{name}: not valid TOML: nested too deeply") from None
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ProfileError(f"{name}: {problems}") from None


def load_profile(path: Path | str = DEFAULT_PROFILE) -> Profile:
    path = Path(path)
    return parse_profile(path.read_text(encoding="utf-8"), path.name)


# --------------------------------------------------------------------------- methodology


@dataclass(frozen=True)
class _TripRule:
    kind: str
    saving_mg: int  # (baseline − mode) per person-km, milligrams
    min_distance_m: int
    daily_cap_grams: int
    growth_per_kg: int
    profile: RideProfile


@dataclass(frozen=True)
class _SceneRule:
    kind: str
    methodology: Methodology
    table: str  # "quantity", "baseline" or "event"
    quantity_unit: str | None  # None for an event scene
    profile: SceneProfile


@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs, picklable."""

    rules: Rules
    profile: Profile
    trips: tuple[_TripRule, ...]
    steps_per_growth: int
    daily_cap_steps: int
    max_steps_per_day: int
    quiz_growth: int
    theme_ids: tuple[str, ...]
    days: int
    seed: int
    fold: bool = True  # merge uncounted kinds into one event, skip no-op wrong answers
    counted_kinds: frozenset[str] = frozenset()  # kinds some requirement names
    scenes: tuple[_SceneRule, ...] = ()


def counted_kinds(rules: Rules) -> frozenset[str]:
    """Activity kinds whose count, amount or days some theme requirement or egg condition reads."""
    reqs = [r for t in rules.themes for r in t.requirements] + [e.condition for e in rules.eggs]
    return frozenset(r.kind for r in reqs
                     if isinstance(r, ActivityCount | ActivityAmount | ActivityDays))


def _make_plan(rules: Rules, profile: Profile, days: int, seed: int, fold: bool = True
               ) -> _Plan:
    from methodology import default_registry

    registry = default_registry()
    at = datetime.combine(profile.start_date, time(12), CST)
    trips = []
    for kind, ride in profile.rides.items():
        meth = registry.for_kind(kind, at)
        if meth is None or kind not in meth.travel:
            raise ProfileError(f"rides.{kind}: no methodology covers {kind!r} on "
                               f"{profile.start_date.isoformat()}")
        rule = meth.travel[kind]
        trips.append(_TripRule(kind, rule.baseline.milligrams - rule.mode.milligrams,
                               rule.min_distance_m, rule.daily_cap_grams,
                               meth.rates.growth_per_kg, ride))
    steps_meth = registry.for_kind("steps", at)
    if steps_meth is None or steps_meth.steps is None:
        raise ProfileError("steps: no methodology covers steps")
    sr = steps_meth.steps
    return _Plan(rules, profile, tuple(trips), sr.steps_per_growth, sr.daily_cap_steps,
                 sr.max_steps_per_day, rules.quiz.correct_growth,
                 tuple(t.id for t in rules.themes_in_order),
                 days, seed, fold, counted_kinds(rules),
                 tuple(_scene_rule(registry, kind, scene, profile.start_date, at)
                       for kind, scene in profile.scenes.items()))


def _scene_rule(registry, kind: str, scene: SceneProfile, start: date, at: datetime
                ) -> _SceneRule:
    meth = registry.for_kind(kind, at)
    where = f"scenes.{kind}"
    if meth is None:
        raise ProfileError(f"{where}: no methodology covers {kind!r} on {start.isoformat()}")
    table = meth.scene_kind(kind)
    if table == "event":
        return _SceneRule(kind, meth, table, None, scene)
    if table == "baseline":
        if scene.usual_per_period is None:
            raise ProfileError(f"{where}.usual_per_period: a baseline scene needs the "
                               "household's usual consumption per 30-day period")
        return _SceneRule(kind, meth, table, meth.baseline[kind].quantity_unit, scene)
    if table != "quantity":
        raise ProfileError(f"{where}: {kind!r} is credited as {table}, not as a scene")
    rule = meth.quantity[kind]
    if rule.varieties and scene.variety not in rule.varieties:
        raise ProfileError(f"{where}.variety: give one of {sorted(rule.varieties)}")
    return _SceneRule(kind, meth, table, rule.quantity_unit, scene)


def _scene_record(rule: _SceneRule, i: int, quantity: int, day: date):
    """The calculator's input for one synthetic record of a scene."""
    from methodology import CreditedPeriod, EventInput, MeterReadingInput, QuantityInput

    if rule.table == "event":
        return EventInput(rule.kind, f"sim-{i}", True)
    if rule.table == "quantity":
        return QuantityInput(rule.kind, quantity, rule.profile.variety)
    usual = rule.profile.usual_per_period or 0
    period = timedelta(days=30)
    earlier = tuple(CreditedPeriod(day - k * period, day - (k - 1) * period, usual)
                    for k in (4, 3, 2))
    return MeterReadingInput(rule.kind, "sim", day - period, day, 0, max(0, usual - quantity), 1,
                             earlier)


def scene_records(rule: _SceneRule, quantities: list[int], owner: list[int], n_players: int,
                  day: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per player: (growth, accepted records, credited quantity) for the day's records of one
    scene, each through `methodology.calculate` with the player's totals so far today (the
    credited quantity of a baseline scene is the saving against the baseline it chose)."""
    from methodology import DailyTotals, calculate

    growth = np.zeros(n_players, dtype=np.int64)
    accepted = np.zeros(n_players, dtype=np.int64)
    amount = np.zeros(n_players, dtype=np.int64)
    today: dict[int, DailyTotals] = {}
    for i, (quantity, p) in enumerate(zip(quantities, owner)):
        record = _scene_record(rule, i, quantity, day)
        so_far = today.get(p, DailyTotals())
        calc = calculate(rule.methodology, record, so_far)
        if calc.rejection is not None:
            continue
        today[p] = DailyTotals(so_far.reduction_grams + calc.reduction_grams,
                               so_far.points + calc.points, so_far.growth + calc.growth,
                               so_far.energy + calc.energy)
        growth[p] += calc.growth
        accepted[p] += 1
        if rule.table == "baseline":
            amount[p] += int(calc.inputs["baseline"]) - int(calc.inputs["consumption"])
        elif rule.table == "quantity":
            amount[p] += quantity
    return growth, accepted, amount


def trip_growth(rule: _TripRule, distances: np.ndarray, owner: np.ndarray, n_players: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per player: (growth, accepted trip count, grams) for the day's trips of one kind.

    `distances` are the day's trips in order, `owner` the player index of each trip
    (sorted ascending). Matches methodology.calculate trip by trip, the daily gram cap
    included."""
    distances = distances.astype(np.int64)
    valid = distances >= rule.min_distance_m
    grams = np.where(valid, rule.saving_mg * distances // 1_000_000, 0)
    cum = np.cumsum(grams)
    start = np.searchsorted(owner, owner, side="left")  # first trip of each trip's owner
    before = cum - grams - np.where(start > 0, cum[start - 1], 0)  # owner's grams so far today
    cap = rule.daily_cap_grams
    credited = np.minimum(before + grams, cap) - np.minimum(before, cap)
    # calculate() rejects a trip only when the cap cut it to nothing (DAILY_CAP_REACHED)
    accepted = valid & ((before < cap) | (grams == 0))
    growth = credited * rule.growth_per_kg // 1000
    return (np.bincount(owner, weights=growth, minlength=n_players).astype(np.int64),
            np.bincount(owner, weights=accepted, minlength=n_players).astype(np.int64),
            np.bincount(owner, weights=credited, minlength=n_players).astype(np.int64))


# --------------------------------------------------------------------------- engine loop


@dataclass
class _BlockOut:
    block: int
    first_unlock: np.ndarray  # (players, themes) int16: day index (0-based), -1 never
    active_player_days: int = 0
    engine_calls: int = 0
    transit_grams: int = 0
    steps: int = 0
    final_growth: np.ndarray | None = None


def _run_block(plan: _Plan, block: int, start: int, n: int) -> _BlockOut:
    prof = plan.profile
    theme_index = {t: i for i, t in enumerate(plan.theme_ids)}
    first = np.full((n, len(plan.theme_ids)), -1, dtype=np.int16)
    states = [PlanetState() for _ in range(n)]
    alive = np.ones(n, dtype=bool)
    out = _BlockOut(block, first)
    log_steps = math.log(prof.steps.median)
    rules = plan.rules
    for d in range(plan.days):
        rng = np.random.default_rng([plan.seed, block, d])
        if d > 0:
            alive &= rng.random(n) >= prof.engagement.churn_probability
        active = alive & (rng.random(n) < prof.engagement.active_probability)
        # steps
        synced = active & (rng.random(n) < prof.steps.sync_probability)
        raw = np.clip(rng.lognormal(log_steps, prof.steps.sigma, n), 0, prof.steps.max)
        steps = np.where(synced, raw.astype(np.int64), 0)
        steps = np.where(steps > plan.max_steps_per_day, 0, steps)  # IMPLAUSIBLE_STEPS
        credited_steps = np.minimum(steps, plan.daily_cap_steps)
        steps_growth = credited_steps // plan.steps_per_growth
        out.steps += int(credited_steps.sum())
        # trips
        zero = np.zeros(n, dtype=np.int64)
        kinds: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, str | None]] = [
            ("steps", steps_growth, synced.astype(np.int64), zero, None)]
        for rule in plan.trips:
            ride = rule.profile
            count = np.where(active, rng.poisson(ride.mean_per_active_day, n), 0)
            total = int(count.sum())
            dist = np.clip(rng.lognormal(math.log(ride.median_distance_m), ride.sigma, total),
                           0, ride.max_distance_m)
            owner = np.repeat(np.arange(n), count)
            growth, accepted, grams = trip_growth(rule, dist, owner, n)
            out.transit_grams += int(grams.sum())
            kinds.append((rule.kind, growth, accepted, zero, None))
        # quiz
        answered = active & (rng.random(n) < prof.quiz.participation_probability)
        correct = answered & (rng.random(n) < prof.quiz.correct_probability)
        # scenes beyond travel: drawn last, so a profile without them draws as before
        for scene in plan.scenes:
            sp = scene.profile
            count = np.where(active, rng.poisson(sp.mean_per_active_day, n), 0)
            total = int(count.sum())
            drawn = rng.lognormal(math.log(sp.median_quantity), sp.sigma, total)
            quantities = np.clip(drawn, 1, sp.max_quantity).astype(np.int64)
            owner = np.repeat(np.arange(n), count)
            growth, accepted, amount = scene_records(scene, quantities.tolist(), owner.tolist(), n,
                                                     prof.start_date + timedelta(days=d))
            kinds.append((scene.kind, growth, accepted, amount, scene.quantity_unit))

        if plan.fold:  # kinds no requirement counts: one event carries their growth
            own = [k for k in kinds if k[0] in plan.counted_kinds]
            rest = [k for k in kinds if k[0] not in plan.counted_kinds]
            rest_growth = sum((r[1] for r in rest), np.zeros(n, dtype=np.int64)).tolist()
            rest_any = np.any([r[2] > 0 for r in rest], axis=0).tolist() if rest else [False] * n
            rest_counts = [(r[0], r[2].tolist()) for r in rest]
        else:
            own = kinds
        own_lists = [(k, g.tolist(), c.tolist(), q.tolist(), unit) for k, g, c, q, unit in own]
        day = prof.start_date + timedelta(days=d)
        at = datetime.combine(day, time(12), CST)
        answered_l, correct_l = answered.tolist(), correct.tolist()
        right = QuizEvent(True, plan.quiz_growth, day, at)
        wrong = QuizEvent(False, 0, day, at)
        calls = 0
        for p in np.flatnonzero(active).tolist():
            activities = [ActivityEvent(kind, growth[p], day, at, count[p], quantity[p], unit)
                          for kind, growth, count, quantity, unit in own_lists if count[p]]
            if plan.fold and rest_any[p]:
                if activities:
                    first_event = activities[0]
                    activities[0] = ActivityEvent(first_event.kind, first_event.growth + rest_growth[p],
                                                  day, at, first_event.count, first_event.quantity,
                                                  first_event.unit)
                else:
                    kind, count = next((k, c[p]) for k, c in rest_counts if c[p])
                    activities.append(ActivityEvent(kind, rest_growth[p], day, at, count))
            events: Sequence[Event] = activities
            if correct_l[p]:
                events = [*activities, right]
            elif answered_l[p] and not (plan.fold and activities):
                # after the day's activity events a wrong answer (no growth, no count) meets
                # a state the engine already closed for this day: folding skips that no-op
                events = [*activities, wrong]
            state = states[p]
            for event in events:
                state, effects = apply(state, event, rules)
                for effect in effects:
                    if isinstance(effect, ThemeUnlockedEffect):
                        first[p, theme_index[effect.theme_id]] = d
            states[p] = state
            calls += len(events)
        out.engine_calls += calls
        out.active_player_days += int(active.sum())
    out.final_growth = np.array([s.growth for s in states], dtype=np.int64)
    return out


_WORKER_PLAN: _Plan | None = None


def _init_worker(plan: _Plan) -> None:
    global _WORKER_PLAN
    _WORKER_PLAN = plan


def _work(task: tuple[int, int, int]) -> _BlockOut:
    assert _WORKER_PLAN is not None
    return _run_block(_WORKER_PLAN, *task)


# --------------------------------------------------------------------------- result


@dataclass
class ThemeSummary:
    theme_id: str
    name: str
    share_by: dict[int, float]  # day -> share of players unlocked by the end of that day
    median_days: float | None  # among those who unlocked; day 1 = the first day


@dataclass
class SimulationResult:
    label: str
    players: int
    days: int
    seed: int
    profile: str
    theme_ids: list[str]
    theme_names: dict[str, str]
    first_unlock_day: np.ndarray  # (players, themes): 1-based day of first unlock, 0 = never
    active_player_days: int = 0
    engine_calls: int = 0
    transit_grams: int = 0
    steps: int = 0
    mean_growth: float = 0.0
    seconds: float = 0.0
    workers: int = 1
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # theme -> share by day 1..days

    def __post_init__(self) -> None:
        if not self.curves:
            for i, theme in enumerate(self.theme_ids):
                col = self.first_unlock_day[:, i]
                per_day = np.bincount(col, minlength=self.days + 1)[1:self.days + 1]
                self.curves[theme] = np.cumsum(per_day) / max(self.players, 1)

    def milestones(self) -> list[int]:
        marks = [m for m in MILESTONES if m < self.days]
        return marks + [self.days]

    def share(self, theme: str, day: int) -> float:
        """Share of players who unlocked `theme` by the end of `day` (1-based)."""
        return float(self.curves[theme][min(day, self.days) - 1])

    def summaries(self) -> list[ThemeSummary]:
        rows = []
        for i, theme in enumerate(self.theme_ids):
            col = self.first_unlock_day[:, i]
            done = col[col > 0]
            rows.append(ThemeSummary(
                theme, self.theme_names.get(theme, theme),
                {m: self.share(theme, m) for m in self.milestones()},
                float(np.median(done)) if done.size else None))
        return rows


def simulate(rules: Rules, profile: Profile, players: int, days: int, seed: int,
             progress: Callable[[int, int], None] | None = None, *, label: str = "rules",
             workers: int | None = None, fold: bool = True) -> SimulationResult:
    """Run `players` synthetic players for `days` days through the engine.

    `progress(done_player_days, total_player_days)` is called as blocks finish.
    `workers`: processes (default: one per core, at most one per block); the result
    does not depend on it. `fold=False` sends every kind as its own event and every
    quiz answer (same unlock days, more engine calls)."""
    if players < 1:
        raise ValueError("players must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    started = datetime.now()
    plan = _make_plan(rules, profile, days, seed, fold)
    tasks = [(b, start, min(BLOCK_SIZE, players - start))
             for b, start in enumerate(range(0, players, BLOCK_SIZE))]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    total, done = players * days, 0
    outs: list[_BlockOut] = []
    if progress:
        progress(0, total)
    if workers == 1:
        for task in tasks:
            outs.append(_run_block(plan, *task))
            done += task[2] * days
            if progress:
                progress(done, total)
    else:
        # never plain fork: a process with threads (a server, a test's stand-ins) may be
        # forked while another thread holds a lock, and the child waits on it for ever
        method = ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                  else "spawn")
        with multiprocessing.get_context(method).Pool(workers, _init_worker, (plan,)) as pool:
            for out in pool.imap_unordered(_work, tasks):
                outs.append(out)
                done += out.first_unlock.shape[0] * days
                if progress:
                    progress(done, total)
    outs.sort(key=lambda o: o.block)
    first = np.concatenate([o.first_unlock for o in outs]).astype(np.int32) + 1  # 0 = never
    growth = np.concatenate([o.final_growth for o in outs])
    return SimulationResult(
        label=label, players=players, days=days, seed=seed, profile=profile.name,
        theme_ids=list(plan.theme_ids),
        theme_names={t.id: t.name_en for t in rules.themes},
        first_unlock_day=first,
        active_player_days=sum(o.active_player_days for o in outs),
        engine_calls=sum(o.engine_calls for o in outs),
        transit_grams=sum(o.transit_grams for o in outs),
        steps=sum(o.steps for o in outs),
        mean_growth=float(growth.mean()),
        seconds=(datetime.now() - started).total_seconds(),
        workers=workers,
    )


# --------------------------------------------------------------------------- output


def table_rows(result: SimulationResult) -> list[list[str]]:
    """Rows for a table: theme, share by each milestone day, median days to unlock."""
    rows = []
    for s in result.summaries():
        rows.append([f"{s.name} ({s.theme_id})",
                     *(_percent(share) for share in s.share_by.values()),
                     "—" if s.median_days is None else f"{s.median_days:g}"])
    return rows


def _percent(share: float) -> str:
    """0.0% only when nobody did; a handful of players shows as <0.1%."""
    return "<0.1%" if 0 < share < 0.0005 else f"{share:.1%}"


def table_header(result: SimulationResult) -> list[str]:
    return ["theme", *(f"by day {m}" for m in result.milestones()), "median days"]


def print_table(result: SimulationResult, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"{result.label}: {result.players:,} players × {result.days} days, "
                        f"seed {result.seed}, profile {result.profile}")
    for i, head in enumerate(table_header(result)):
        table.add_column(head, justify="left" if i == 0 else "right")
    for row in table_rows(result):
        table.add_row(*row)
    console.print(table)
    console.print(
        f"active player-days {result.active_player_days:,} · engine calls "
        f"{result.engine_calls:,} · mean growth {result.mean_growth:,.0f} · transit "
        f"{result.transit_grams / max(result.players, 1):,.0f} g and steps "
        f"{result.steps / max(result.players, 1):,.0f} per player · {result.seconds:.1f} s "
        f"on {result.workers} process(es)")


def write_csv(result: SimulationResult | Mapping[str, SimulationResult], path: Path | str) -> None:
    """`theme,day,share` for every theme and day; for several results a leading `file` column."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    many = not isinstance(result, SimulationResult)
    results = {result.label: result} if isinstance(result, SimulationResult) else dict(result)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow((["file"] if many else []) + ["theme", "day", "share"])
        for label, res in results.items():
            for theme in res.theme_ids:
                for day, share in enumerate(res.curves[theme], start=1):
                    out.writerow(([label] if many else []) + [theme, day, f"{share:.6f}"])


def write_chart(results: Mapping[str, SimulationResult] | SimulationResult,
                path: Path | str) -> None:
    """Unlock curves per theme (share of players vs day); two results side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(results, SimulationResult):
        results = {results.label: results}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(results)
    fig, axes = plt.subplots(1, n, figsize=(7.5 * n + 2.5, 6), sharey=True, squeeze=False)
    colours = plt.get_cmap("tab10")
    themes: list[str] = []
    for res in results.values():
        themes += [t for t in res.theme_ids if t not in themes]
    for ax, (label, res) in zip(axes[0], results.items()):
        days = np.arange(1, res.days + 1)
        for theme in res.theme_ids:
            i = themes.index(theme)
            ax.plot(days, res.curves[theme], color=colours(i % 10),
                    linestyle="-" if i < 10 else "--", linewidth=1.8,
                    label=res.theme_names.get(theme, theme))
        for m in res.milestones():
            ax.axvline(m, color="0.8", linewidth=0.8, linestyle=":")
        ax.set_title(f"{label}\n{res.players:,} players, seed {res.seed}, profile {res.profile}",
                     fontsize=10)
        ax.set_xlabel("day")
        ax.set_xlim(1, res.days)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes[0][0].set_ylabel("share of players who unlocked the theme")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="center right", title="theme", fontsize=9)
    fig.suptitle("Theme unlocks over time" + (" — rule files compared" if n > 1 else ""))
    fig.tight_layout(rect=(0, 0, 1 - 2.3 / fig.get_figwidth(), 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_cli(files: list[Path], players: int = 10_000, days: int = 90, seed: int = 1,
            profile_path: Path | None = None, out_dir: Path = Path("."),
            console=None, workers: int | None = None) -> dict[str, SimulationResult]:
    """What `carbon-planet rules simulate FILE [FILE2]` does: load rules (and profile),
    simulate each file with a progress bar, print the tables, write simulation.csv and
    simulation.png into `out_dir`; returns {file name: result}. RulesError/ProfileError
    propagate for the CLI to report."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from game.rules import load_rules

    if not 1 <= len(files) <= 2:
        raise ValueError("give one rules file, or two to compare")
    console = console or Console()
    profile = load_profile(profile_path or DEFAULT_PROFILE)
    loaded = [(Path(f), load_rules(Path(f))) for f in files]
    labels = [p.name for p, _ in loaded]
    if len(set(labels)) < len(labels):
        labels = [str(p) for p, _ in loaded]
    results: dict[str, SimulationResult] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                  console=console) as bar:

        def advance(task: TaskID) -> Callable[[int, int], None]:
            return lambda done, total: bar.update(task, completed=done)

        for label, (_, rules) in zip(labels, loaded):
            task = bar.add_task(f"simulating {label}", total=players * days)
            results[label] = simulate(rules, profile, players, days, seed, label=label, workers=workers,
                                      progress=advance(task))
    for res in results.values():
        print_table(res, console)
    out_dir = Path(out_dir)
    write_csv(results if len(results) > 1 else next(iter(results.values())),
              out_dir / "simulation.csv")
    write_chart(results, out_dir / "simulation.png")
    console.print(f"wrote {out_dir / 'simulation.csv'} and {out_dir / 'simulation.png'}")
    return results
