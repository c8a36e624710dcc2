"""The planet engine: (state, event, rules) -> (new state, effects). Pure and deterministic.

The state keeps, per activity kind, the count of credited activities, the total quantity
(in the smallest unit of its dimension: grams, Wh, litres; see `game.model.in_small_units`)
and the number of distinct local days. Growth only grows, an unlock or an egg once
recorded is never removed (so a stricter rule set never locks a theme again), and an egg's
reward is granted exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from game.describe import describe_requirement
from game.model import (
    ActivityAmount,
    ActivityCount,
    ActivityDays,
    DateWindow,
    GrowthAtLeast,
    QuizCorrect,
    Requirement,
    Rules,
    Streak,
    ThemeUnlocked,
    in_small_units,
)

RECENT_DAYS = 7
"""Distinct days kept per kind: a late record for one of them is not counted twice; one for
an older day is taken as already counted (a day is never counted twice, at worst missed)."""


@dataclass
class PlanetState:
    growth: int = 0
    level: int = 1
    counts: dict[str, int] = field(default_factory=dict)
    quiz_correct: int = 0
    last_active: str | None = None  # ISO date
    streak: int = 0
    best_streak: int = 0
    unlocked: dict[str, str] = field(default_factory=dict)  # theme id -> ISO time
    eggs: dict[str, str] = field(default_factory=dict)  # egg id -> ISO time
    amounts: dict[str, int] = field(default_factory=dict)  # kind -> quantity, smallest unit
    days: dict[str, int] = field(default_factory=dict)  # kind -> distinct local days
    recent_days: dict[str, list[str]] = field(default_factory=dict)  # kind -> last ISO days

    def to_json(self) -> dict:  # asdict() deep-copies field by field: slow on the ingest path
        return {"growth": self.growth, "level": self.level, "counts": dict(self.counts),
                "quiz_correct": self.quiz_correct, "last_active": self.last_active,
                "streak": self.streak, "best_streak": self.best_streak,
                "unlocked": dict(self.unlocked), "eggs": dict(self.eggs),
                "amounts": dict(self.amounts), "days": dict(self.days),
                "recent_days": {k: list(v) for k, v in self.recent_days.items()}}

    @classmethod
    def from_json(cls, data: dict | None) -> PlanetState:
        return cls(**(data or {}))


@dataclass(frozen=True)
class ActivityEvent:
    kind: str
    growth: int
    day: date
    at: datetime
    count: int = 1  # 0 for a later step sync of a day already counted
    quantity: int = 0  # what the methodology credited, in `unit` (a scene's quantity_unit)
    unit: str | None = None


@dataclass(frozen=True)
class QuizEvent:
    correct: bool
    growth: int
    day: date
    at: datetime


Event = ActivityEvent | QuizEvent


@dataclass(frozen=True)
class LevelUp:
    level: int


@dataclass(frozen=True)
class ThemeUnlockedEffect:
    theme_id: str


@dataclass(frozen=True)
class EggFound:
    egg_id: str
    theme_id: str
    reward_growth: int


Effect = LevelUp | ThemeUnlockedEffect | EggFound


@dataclass(frozen=True)
class Progress:
    description: str
    progress: int
    target: int
    met: bool


def level_for(growth: int, rules: Rules) -> int:
    return sum(1 for threshold in rules.levels if growth >= threshold)


def _mark_active(state: PlanetState, day: date) -> None:
    last = date.fromisoformat(state.last_active) if state.last_active else None
    if last is not None and day <= last:
        return  # the same day, or a late record for an earlier day: the streak stands
    state.streak = state.streak + 1 if last == day - timedelta(days=1) else 1
    state.best_streak = max(state.best_streak, state.streak)
    state.last_active = day.isoformat()


def _mark_kind_day(state: PlanetState, kind: str, day: date) -> None:
    recent = state.recent_days.get(kind, [])
    iso = day.isoformat()
    if iso in recent or (len(recent) >= RECENT_DAYS and iso < recent[0]):
        return
    state.recent_days[kind] = sorted([*recent, iso])[-RECENT_DAYS:]
    state.days[kind] = state.days.get(kind, 0) + 1


def amount_target(req: ActivityAmount) -> int:
    """The requirement's amount in the smallest unit of its dimension (as the state keeps it)."""
    return in_small_units(req.at_least, req.unit)[1]


def is_met(state: PlanetState, req: Requirement, day: date) -> bool:
    """Whether one requirement holds: what `progress(...).met` says, without the words."""
    if isinstance(req, GrowthAtLeast):
        return state.growth >= req.at_least
    if isinstance(req, ActivityCount):
        return state.counts.get(req.kind, 0) >= req.at_least
    if isinstance(req, ActivityAmount):
        return state.amounts.get(req.kind, 0) >= amount_target(req)
    if isinstance(req, ActivityDays):
        return state.days.get(req.kind, 0) >= req.days
    if isinstance(req, ThemeUnlocked):
        return req.theme in state.unlocked
    if isinstance(req, Streak):
        return state.best_streak >= req.days
    if isinstance(req, QuizCorrect):
        return state.quiz_correct >= req.at_least
    assert isinstance(req, DateWindow)
    return req.start <= day <= req.end


def progress(state: PlanetState, req: Requirement, rules: Rules, day: date,
             language: str = "zh-CN") -> Progress:
    """How far the player is towards one requirement (for progress bars), described in
    `language` ("en", or Chinese)."""
    description = describe_requirement(req, rules, language)
    if isinstance(req, GrowthAtLeast):
        return _bar(description, state.growth, req.at_least)
    if isinstance(req, ActivityCount):
        return _bar(description, state.counts.get(req.kind, 0), req.at_least)
    if isinstance(req, ActivityAmount):  # in the unit the designer wrote, rounded down
        done = state.amounts.get(req.kind, 0) * req.at_least // amount_target(req)
        return Progress(description, min(done, req.at_least), req.at_least,
                        state.amounts.get(req.kind, 0) >= amount_target(req))
    if isinstance(req, ActivityDays):
        return _bar(description, state.days.get(req.kind, 0), req.days)
    if isinstance(req, Streak):
        return _bar(description, state.best_streak, req.days)
    if isinstance(req, QuizCorrect):
        return _bar(description, state.quiz_correct, req.at_least)
    if isinstance(req, ThemeUnlocked):
        return _bar(description, int(req.theme in state.unlocked), 1)
    assert isinstance(req, DateWindow)
    return _bar(description, int(req.start <= day <= req.end), 1)


def _bar(description: str, value: int, target: int) -> Progress:
    return Progress(description, min(value, target), target, value >= target)


def _copy(state: PlanetState) -> PlanetState:
    """A copy sharing nothing mutable (the dicts hold only strings and ints)."""
    return type(state)(state.growth, state.level, dict(state.counts), state.quiz_correct,
                       state.last_active, state.streak, state.best_streak,
                       dict(state.unlocked), dict(state.eggs), dict(state.amounts),
                       dict(state.days), dict(state.recent_days))  # the day lists are replaced, never changed


def apply(state: PlanetState, event: Event, rules: Rules) -> tuple[PlanetState, list[Effect]]:
    new = _copy(state)
    new.growth += max(0, event.growth)
    if isinstance(event, ActivityEvent):
        if event.count:
            new.counts[event.kind] = new.counts.get(event.kind, 0) + event.count
        if event.quantity > 0 and event.unit is not None:
            _, small = in_small_units(event.quantity, event.unit)
            new.amounts[event.kind] = new.amounts.get(event.kind, 0) + small
        _mark_kind_day(new, event.kind, event.day)
        _mark_active(new, event.day)
    elif event.correct:
        new.quiz_correct += 1
    effects: list[Effect] = []
    at = None
    day = event.day
    changed = True
    while changed:  # an egg's growth or an unlock may satisfy further requirements
        changed = False
        for egg in rules.eggs:
            if egg.id not in new.eggs and is_met(new, egg.condition, day):
                at = at or event.at.isoformat()
                new.eggs[egg.id] = at
                new.growth += egg.reward_growth
                effects.append(EggFound(egg.id, egg.theme, egg.reward_growth))
                changed = True
        for theme in rules.themes_in_order:
            if theme.id not in new.unlocked and all(
                is_met(new, req, day) for req in theme.requirements
            ):
                at = at or event.at.isoformat()
                new.unlocked[theme.id] = at
                effects.append(ThemeUnlockedEffect(theme.id))
                changed = True
    level = max(new.level, level_for(new.growth, rules))
    if level > new.level:
        new.level = level
        effects.append(LevelUp(level))
    return new, effects


def replay(events: list[Event], rules: Rules) -> tuple[PlanetState, list[Effect]]:
    state, all_effects = PlanetState(), []
    for event in events:
        state, effects = apply(state, event, rules)
        all_effects += effects
    return state, all_effects
