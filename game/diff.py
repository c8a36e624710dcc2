"""What changed between two rule sets, in words a designer reads."""

from __future__ import annotations

from datetime import date

from game.engine import PlanetState, progress
from game.model import Rules

_EMPTY = PlanetState()


def _requirements(rules: Rules, theme_id: str) -> list[str]:
    theme = rules.theme(theme_id)
    assert theme is not None
    return [progress(_EMPTY, r, rules, date.min).description for r in theme.requirements]


def describe_changes(old: Rules, new: Rules) -> list[str]:
    lines = []
    old_ids, new_ids = {t.id for t in old.themes}, {t.id for t in new.themes}
    for theme in new.themes:
        if theme.id not in old_ids:
            lines.append(f"Theme added: {theme.name} ({theme.name_en}), needs: "
                         + "; ".join(_requirements(new, theme.id)))
    for theme in old.themes:
        if theme.id not in new_ids:
            lines.append(f"Theme removed: {theme.name} ({theme.name_en}); players who unlocked it keep it")
    for theme in new.themes:
        before = old.theme(theme.id)
        if before is None:
            continue
        was, now = _requirements(old, theme.id), _requirements(new, theme.id)
        if was != now:
            lines.append(f"{theme.name_en}: requirements {'; '.join(was)} -> {'; '.join(now)}")
        for name in ("name", "name_en", "description", "art", "order"):
            if getattr(before, name) != getattr(theme, name):
                lines.append(f"{theme.name_en}: {name} {getattr(before, name)!r} -> {getattr(theme, name)!r}")
    if old.levels != new.levels:
        moved = [f"level {i + 1}: {a} -> {b}" for i, (a, b) in enumerate(zip(old.levels, new.levels)) if a != b]
        if len(old.levels) != len(new.levels):
            moved.append(f"{len(old.levels)} -> {len(new.levels)} levels")
        lines.append("Level thresholds moved: " + ", ".join(moved))
    old_eggs, new_eggs = {e.id: e for e in old.eggs}, {e.id: e for e in new.eggs}
    for egg_id, egg in new_eggs.items():
        if egg_id not in old_eggs:
            lines.append(f"Egg added: {egg.name} (+{egg.reward_growth} growth)")
        elif old_eggs[egg_id].reward_growth != egg.reward_growth:
            lines.append(f"Egg {egg.name}: reward {old_eggs[egg_id].reward_growth} -> {egg.reward_growth} growth")
        elif old_eggs[egg_id].condition != egg.condition:
            lines.append(f"Egg {egg.name}: condition changed")
    for egg_id, egg in old_eggs.items():
        if egg_id not in new_eggs:
            lines.append(f"Egg removed: {egg.name}; players who found it keep it")
    if old.quiz.correct_growth != new.quiz.correct_growth:
        lines.append(f"Quiz reward: {old.quiz.correct_growth} -> {new.quiz.correct_growth} growth a right answer")
    old_q, new_q = {q.id for q in old.quiz.questions}, {q.id for q in new.quiz.questions}
    if new_q - old_q:
        lines.append(f"Quiz questions added: {', '.join(sorted(new_q - old_q))}")
    if old_q - new_q:
        lines.append(f"Quiz questions removed: {', '.join(sorted(old_q - new_q))}")
    return lines
