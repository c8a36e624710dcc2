"""A draft rules file against the live one, through the game simulator, for the console
and `simulateRules`: the same synthetic players (same seed) under both."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.rulesets import service as rulesets
from game.model import Rules
from game.simulate import SimulationResult, load_profile, simulate

MAX_PLAYER_DAYS = 1_000_000  # about ten seconds of one core


@dataclass(frozen=True)
class ThemeCurves:
    theme_id: str
    name: str
    draft: list[float]  # share of players unlocked by the end of each day
    live: list[float]  # empty when the live rules have no such theme
    draft_median_days: float | None
    live_median_days: float | None


@dataclass(frozen=True)
class LevelChange:
    level: int
    live_growth: int | None  # None: the level does not exist in that file
    draft_growth: int | None


@dataclass(frozen=True)
class Comparison:
    players: int
    days: int
    live_version: int
    themes: list[ThemeCurves]
    levels: list[LevelChange]


def _medians(result: SimulationResult) -> dict[str, float | None]:
    return {s.theme_id: s.median_days for s in result.summaries()}


def level_changes(live: Rules, draft: Rules) -> list[LevelChange]:
    """Every level threshold that differs, level 1 first."""
    changes = []
    for i in range(max(len(live.levels), len(draft.levels))):
        old = live.levels[i] if i < len(live.levels) else None
        new = draft.levels[i] if i < len(draft.levels) else None
        if old != new:
            changes.append(LevelChange(i + 1, old, new))
    return changes


async def compare(content: str, known_kinds: set[str], players: int, days: int,
                  seed: int = 1) -> Comparison:
    if not 1 <= players or not 1 <= days <= 3650 or players * days > MAX_PLAYER_DAYS:
        raise ServiceError(ErrorCode.INVALID_INPUT,
                           N_("players × days is at most %(max)s.",
                              max=format(MAX_PLAYER_DAYS, ",")),
                           "players")
    draft = rulesets.validated(content, known_kinds)
    live_version, _ = await rulesets.live_version_and_checksum()
    live = rulesets.validated(await rulesets.content_of(live_version), known_kinds,
                              published_before=True)
    profile = load_profile()

    def run() -> tuple[SimulationResult, SimulationResult]:
        return (simulate(draft, profile, players, days, seed, workers=1, label="draft"),
                simulate(live, profile, players, days, seed, workers=1, label="live"))

    ran_draft, ran_live = await asyncio.to_thread(run)
    draft_medians, live_medians = _medians(ran_draft), _medians(ran_live)
    themes = [
        ThemeCurves(
            theme_id=theme.id, name=theme.name,
            draft=[round(float(x), 4) for x in ran_draft.curves[theme.id]],
            live=[round(float(x), 4) for x in ran_live.curves.get(theme.id, [])],
            draft_median_days=draft_medians.get(theme.id),
            live_median_days=live_medians.get(theme.id))
        for theme in draft.themes
    ]
    return Comparison(players, days, live_version, themes, level_changes(live, draft))
