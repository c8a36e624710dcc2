"""What changed between two rule sets, in words a designer reads."""

from __future__ import annotations

from game.describe import describe_requirement
from game.model import Rules

_EGG_TEXT = ("name", "name_en", "description", "description_en")
_QUESTION_TEXT = ("question", "question_en", "explanation", "explanation_en")


def _requirements(rules: Rules, theme_id: str) -> list[str]:
    theme = rules.theme(theme_id)
    assert theme is not None
    return [describe_requirement(r, rules, "en") for r in theme.requirements]


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
        for name in ("name", "name_en", "description", "description_en", "art", "order"):
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
            lines.append(f"Egg added: {egg.name_en} ({egg.name}) (+{egg.reward_growth} growth)")
            continue
        old_egg = old_eggs[egg_id]
        if old_egg.reward_growth != egg.reward_growth:
            lines.append(f"Egg {egg.name_en}: reward {old_egg.reward_growth} -> {egg.reward_growth} growth")
        elif old_egg.condition != egg.condition:
            lines.append(f"Egg {egg.name_en}: condition changed")
        for name in _EGG_TEXT:
            if getattr(old_egg, name) != getattr(egg, name):
                lines.append(f"Egg {egg.name_en}: {name} {getattr(old_egg, name)!r} -> {getattr(egg, name)!r}")
    for egg_id, egg in old_eggs.items():
        if egg_id not in new_eggs:
            lines.append(f"Egg removed: {egg.name_en} ({egg.name}); players who found it keep it")
    if old.quiz.correct_growth != new.quiz.correct_growth:
        lines.append(f"Quiz reward: {old.quiz.correct_growth} -> {new.quiz.correct_growth} growth a right answer")
    old_q, new_q = {q.id: q for q in old.quiz.questions}, {q.id: q for q in new.quiz.questions}
    if new_q.keys() - old_q.keys():
        lines.append(f"Quiz questions added: {', '.join(sorted(new_q.keys() - old_q.keys()))}")
    if old_q.keys() - new_q.keys():
        lines.append(f"Quiz questions removed: {', '.join(sorted(old_q.keys() - new_q.keys()))}")
    for question_id, question in new_q.items():
        old_question = old_q.get(question_id)
        if old_question is None:
            continue
        changed = [name for name in _QUESTION_TEXT if getattr(old_question, name) != getattr(question, name)]
        if old_question.choices != question.choices:
            changed.append("choices")
        if old_question.answer != question.answer:
            changed.append("answer")
        if changed:
            lines.append(f"Quiz question {question_id}: {', '.join(changed)} changed")
    return lines
