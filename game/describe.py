"""Requirements in words, in Chinese and in English, generated from their data.

A designer writes `{ type = "activity_count", kind = "metro", at_least = 3 }`; players
read "乘坐地铁 3 次" or "Take the metro 3 times". Pure: the caller says which language
("en" for English; anything else is Chinese, the programme's default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from game.model import (
    ActivityCount,
    DateWindow,
    GrowthAtLeast,
    QuizCorrect,
    Requirement,
    Rules,
    Streak,
    ThemeUnlocked,
    in_language,
)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n:,} times")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


@dataclass(frozen=True)
class ActivityKindWords:
    """An activity kind's name and the sentence for doing it n times, in both languages."""

    name: str
    name_en: str
    times: Callable[[int], str]
    times_en: Callable[[int], str]

    def name_in(self, language: str) -> str:
        return self.name_en if language == "en" else self.name


ACTIVITY_KINDS: dict[str, ActivityKindWords] = {
    "metro": ActivityKindWords("地铁", "metro", lambda n: f"乘坐地铁 {n:,} 次",
                               lambda n: f"Take the metro {_times(n)}"),
    "bus": ActivityKindWords("公交", "bus", lambda n: f"乘坐公交 {n:,} 次",
                             lambda n: f"Take the bus {_times(n)}"),
    "bike_share": ActivityKindWords("共享单车", "shared bike", lambda n: f"骑共享单车 {n:,} 次",
                                    lambda n: f"Ride a shared bike {_times(n)}"),
    "cycling": ActivityKindWords("骑行", "cycling", lambda n: f"骑自行车出行 {n:,} 次",
                                 lambda n: f"Make {_plural(n, 'trip', 'trips')} by bike"),
    "walking": ActivityKindWords("步行", "walking", lambda n: f"步行出行 {n:,} 次",
                                 lambda n: f"Make {_plural(n, 'trip', 'trips')} on foot"),
    "steps": ActivityKindWords("步数", "steps", lambda n: f"同步 {n:,} 天的步数",
                               lambda n: f"Sync your steps on {_plural(n, 'day', 'days')}"),
}


def activity_kind_name(kind: str, language: str) -> str:
    """The name of an activity kind (the kind itself when it has no words here yet)."""
    words = ACTIVITY_KINDS.get(kind)
    return words.name_in(language) if words else kind


def _activity_count(req: ActivityCount, language: str) -> str:
    words = ACTIVITY_KINDS.get(req.kind)
    english = language == "en"
    if words is None:  # a kind a newer methodology added: still a readable sentence
        return f"Log {req.kind} {_times(req.at_least)}" if english else f"完成「{req.kind}」{req.at_least:,} 次"
    return words.times_en(req.at_least) if english else words.times(req.at_least)


def describe_requirement(req: Requirement, rules: Rules, language: str) -> str:
    """One requirement as a sentence a player reads, in `language`."""
    english = language == "en"
    if isinstance(req, GrowthAtLeast):
        return f"Reach {req.at_least:,} growth" if english else f"成长值达到 {req.at_least:,}"
    if isinstance(req, ActivityCount):
        return _activity_count(req, language)
    if isinstance(req, Streak):
        return (f"Be active {_plural(req.days, 'day', 'days')} in a row" if english
                else f"连续活跃 {req.days:,} 天")
    if isinstance(req, QuizCorrect):
        return (f"Answer {_plural(req.at_least, 'quiz question', 'quiz questions')} right" if english
                else f"答对 {req.at_least:,} 道问答题")
    if isinstance(req, ThemeUnlocked):
        theme = rules.theme(req.theme)
        name = in_language(theme, "name", language) if theme else req.theme
        return f"Unlock {name} first" if english else f"先解锁「{name}」"
    assert isinstance(req, DateWindow)
    start, end = req.start.isoformat(), req.end.isoformat()
    return f"Open from {start} to {end}" if english else f"{start} 至 {end} 期间开放"
