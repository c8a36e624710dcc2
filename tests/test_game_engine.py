"""The pure planet engine: rules validation, unlocks, eggs, levels, and its invariants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from game.engine import (
    ActivityEvent,
    EggFound,
    LevelUp,
    PlanetState,
    QuizEvent,
    ThemeUnlockedEffect,
    apply,
    progress,
    replay,
)
from game.rules import RULES_FILE, RulesError, default_rules, parse_rules

RULES = default_rules()
DAY = date(2026, 11, 20)
AT = datetime(2026, 11, 20, 8, tzinfo=UTC)


def metro(day: date = DAY, growth: int = 60) -> ActivityEvent:
    return ActivityEvent("metro", growth, day, AT)


def test_nine_themes_with_chinese_and_english_names():
    assert len(RULES.themes) == 9
    assert [t.name for t in RULES.themes[:3]] == ["绿能群岛", "阳光之城", "生态氧界"]
    assert all(t.name_en and t.art for t in RULES.themes)


def test_three_metro_rides_unlock_city_of_sunshine_and_find_an_egg_once():
    state, effects = replay([metro(), metro(), metro()], RULES)
    assert state.counts == {"metro": 3}
    assert "city-of-sunshine" in state.unlocked and "green-energy-islands" in state.unlocked
    eggs = [e.egg_id for e in effects if isinstance(e, EggFound)]
    assert eggs.count("first-metro") == 1
    assert state.growth == 180 + 20 + 10  # rides + two egg rewards
    assert LevelUp(2) in effects


def test_streak_counts_consecutive_days_and_ignores_late_records():
    events = [metro(DAY + timedelta(days=i), 1) for i in range(3)] + [metro(DAY - timedelta(days=5), 1)]
    state, effects = replay(events, RULES)
    assert (state.streak, state.best_streak) == (3, 3)
    assert ThemeUnlockedEffect("clearwater-bay") in effects
    broken, _ = apply(state, metro(DAY + timedelta(days=5), 1), RULES)
    assert (broken.streak, broken.best_streak) == (1, 3)


def test_progress_reports_value_and_target():
    state, _ = replay([metro()], RULES)
    sunshine = RULES.theme("city-of-sunshine")
    [bar] = [progress(state, r, RULES, DAY) for r in sunshine.requirements]
    assert (bar.progress, bar.target, bar.met) == (1, 3, False)
    eco = RULES.theme("eco-oxygen-realm")
    bars = [progress(state, r, RULES, DAY) for r in eco.requirements]
    assert [(b.progress, b.target) for b in bars] == [(80, 500), (0, 1)]


def test_quiz_answers_count_towards_bamboo_grove():
    events = [QuizEvent(True, 10, DAY, AT) for _ in range(5)]
    state, effects = replay(events, RULES)
    assert state.quiz_correct == 5 and ThemeUnlockedEffect("bamboo-grove") in effects


def test_a_stricter_rule_set_never_locks_a_theme_again():
    state, _ = replay([metro(), metro(), metro()], RULES)
    strict = parse_rules(RULES_FILE.read_text().replace('kind = "metro", at_least = 3',
                                                        'kind = "metro", at_least = 300'), "strict.toml")
    later, effects = apply(state, metro(), strict)
    assert "city-of-sunshine" in later.unlocked and not any(isinstance(e, ThemeUnlockedEffect) for e in effects)


@pytest.mark.parametrize(
    "change, expected",
    [
        (("levels = [0, 100", "levels = [5, 100"), "levels.0: the first level must start at 0"),
        (('theme = "green-energy-islands" }', 'theme = "atlantis" }'), "unknown theme 'atlantis'"),
        (('answer = "b"', 'answer = "z"'), "quiz.questions.0"),
        (('type = "growth", at_least = 100 }]', 'type = "height", at_least = 100 }]'), "themes.0.requirements.0"),
        (("reward_growth = 20", "reward_growth = -1"), "eggs.0.reward_growth"),
    ],
)
def test_invalid_rules_name_the_field(change, expected):
    with pytest.raises(RulesError) as error:
        parse_rules(RULES_FILE.read_text().replace(*change, 1), "bad.toml")
    assert str(error.value).startswith("bad.toml: ") and expected in str(error.value), str(error.value)


events = st.lists(
    st.one_of(
        st.builds(ActivityEvent, kind=st.sampled_from(["metro", "bus", "bike_share", "steps"]),
                  growth=st.integers(0, 400), day=st.dates(DAY, DAY + timedelta(days=30)),
                  at=st.just(AT), count=st.integers(0, 1)),
        st.builds(QuizEvent, correct=st.booleans(), growth=st.integers(0, 10),
                  day=st.dates(DAY, DAY + timedelta(days=30)), at=st.just(AT)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(events)
def test_growth_never_decreases_unlocks_stay_rewards_once_and_replay_is_deterministic(evs):
    state = PlanetState()
    found: list[str] = []
    for event in evs:
        new, effects = apply(state, event, RULES)
        assert new.growth >= state.growth and new.level >= state.level
        assert set(state.unlocked) <= set(new.unlocked) and set(state.eggs) <= set(new.eggs)
        found += [e.egg_id for e in effects if isinstance(e, EggFound)]
        state = new
    assert len(found) == len(set(found)) == len(state.eggs)
    again, _ = replay(list(evs), RULES)
    assert again == state


def test_apply_copies_every_field_and_never_touches_the_old_state():
    from dataclasses import fields

    old = PlanetState(growth=90, level=1, counts={"metro": 2}, quiz_correct=4,
                      last_active="2026-11-19", streak=2, best_streak=2,
                      unlocked={"clearwater-bay": "x"}, eggs={"first-metro": "y"})
    snapshot = old.to_json()
    new, _ = apply(old, metro(), RULES)
    assert old.to_json() == snapshot
    for f in fields(PlanetState):  # a field added to PlanetState must be carried over
        if f.name not in ("growth", "level", "counts", "last_active", "streak", "best_streak",
                          "unlocked", "eggs", "days", "recent_days"):
            assert getattr(new, f.name) == getattr(old, f.name), f.name
    assert new.counts == {"metro": 3} and new.streak == 3 and new.quiz_correct == 4
    assert new.days == {"metro": 1} and old.days == {} and old.recent_days == {}
    assert new.unlocked["clearwater-bay"] == "x" and "city-of-sunshine" in new.unlocked
    assert new.eggs["first-metro"] == "y" and "three-day-streak" in new.eggs


def test_to_json_holds_every_field_and_round_trips():
    from dataclasses import asdict, fields

    state = PlanetState(growth=90, level=2, counts={"metro": 2}, quiz_correct=4,
                        last_active="2026-11-19", streak=2, best_streak=5,
                        unlocked={"clearwater-bay": "x"}, eggs={"first-metro": "y"})
    stored = state.to_json()
    assert set(stored) == {f.name for f in fields(PlanetState)}  # a new field must be stored
    assert stored == asdict(state) and PlanetState.from_json(stored) == state
    stored["counts"]["metro"] = 99  # a copy: the state is not changed through it
    assert state.counts == {"metro": 2}


@given(st.integers(0, 20_000), st.integers(0, 30), st.integers(0, 20), st.integers(0, 12))
@settings(max_examples=200, deadline=None)
def test_is_met_agrees_with_progress(growth, metro_rides, streak, quiz):
    from game.engine import is_met

    state = PlanetState(growth=growth, counts={"metro": metro_rides, "bus": metro_rides // 2},
                        best_streak=streak, quiz_correct=quiz,
                        unlocked={"green-energy-islands": "x"} if growth > 100 else {})
    for theme in RULES.themes:
        for req in theme.requirements:
            assert is_met(state, req, DAY) == progress(state, req, RULES, DAY).met
