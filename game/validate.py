"""Whole-file checks of a rule set: every problem at once, each naming the field and why.

Field-level problems (types, ranges) come from the pydantic model; this module adds
what only the whole file can tell: unknown references, cycles, themes that can never
be unlocked, thresholds that do not increase, duplicate ids.
"""

from __future__ import annotations

from datetime import date

from game.model import ActivityCount, DateWindow, Rules, ThemeUnlocked


def _unlock_order_problems(rules: Rules) -> tuple[list[str], set[str]]:
    """Cycles in "unlock X after Y"; returns the problems and the themes caught in one."""
    needs = {t.id: [r.theme for r in t.requirements if isinstance(r, ThemeUnlocked)] for t in rules.themes}
    problems, cyclic = [], set()
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(theme_id: str, path: list[str]) -> None:
        if state.get(theme_id) == 2 or theme_id not in needs:
            return
        if state.get(theme_id) == 1:
            cycle = path[path.index(theme_id):] + [theme_id]
            cyclic.update(cycle)
            problems.append("themes: unlock order has a cycle: " + " -> ".join(cycle))
            return
        state[theme_id] = 1
        for required in needs[theme_id]:
            visit(required, [*path, theme_id])
        state[theme_id] = 2

    for theme_id in needs:
        visit(theme_id, [])
    return problems, cyclic


def check_rules(rules: Rules, known_kinds: set[str] | None = None,
                today: date | None = None) -> list[str]:
    problems = []
    levels = rules.levels
    if levels[0] != 0:
        problems.append("levels.0: the first level must start at 0 growth")
    for i, (a, b) in enumerate(zip(levels, levels[1:]), start=1):
        if b <= a:
            problems.append(f"levels.{i}: {b} does not increase on the level before ({a})")
    ids = [t.id for t in rules.themes]
    for i, theme_id in enumerate(ids):
        if ids.index(theme_id) != i:
            problems.append(f"themes.{i}.id: {theme_id!r} is used twice")
    egg_ids = [e.id for e in rules.eggs]
    for i, egg_id in enumerate(egg_ids):
        if egg_ids.index(egg_id) != i:
            problems.append(f"eggs.{i}.id: {egg_id!r} is used twice")
    question_ids = [q.id for q in rules.quiz.questions]
    for i, q in enumerate(rules.quiz.questions):
        if question_ids.index(q.id) != i:
            problems.append(f"quiz.questions.{i}.id: {q.id!r} is used twice")
    cycle_problems, cyclic = _unlock_order_problems(rules)
    problems += cycle_problems
    never = set(cyclic)
    for i, theme in enumerate(rules.themes):
        for j, req in enumerate(theme.requirements):
            where = f"themes.{i}.requirements.{j}"
            if isinstance(req, ThemeUnlocked) and req.theme not in ids:
                problems.append(f"{where}.theme: unknown theme {req.theme!r}")
                never.add(theme.id)
            if isinstance(req, ActivityCount) and known_kinds is not None and req.kind not in known_kinds:
                problems.append(
                    f"{where}.kind: no methodology credits {req.kind!r}, so {theme.id} can never be unlocked")
                never.add(theme.id)
            if isinstance(req, DateWindow):
                if req.end < req.start:
                    problems.append(f"{where}: the window ends before it starts")
                    never.add(theme.id)
                elif today is not None and req.end < today:
                    problems.append(f"{where}: the window ended on {req.end}, so {theme.id} can never be unlocked")
                    never.add(theme.id)
    # a theme that needs a theme that can never be unlocked can never be unlocked either
    changed = True
    while changed:
        changed = False
        for i, theme in enumerate(rules.themes):
            if theme.id in never:
                continue
            for req in theme.requirements:
                if isinstance(req, ThemeUnlocked) and req.theme in never:
                    problems.append(f"themes.{i}: {theme.id} needs {req.theme}, which can never be unlocked")
                    never.add(theme.id)
                    changed = True
                    break
    for i, egg in enumerate(rules.eggs):
        if egg.theme not in ids:
            problems.append(f"eggs.{i}.theme: unknown theme {egg.theme!r}")
        if isinstance(egg.condition, ThemeUnlocked) and egg.condition.theme not in ids:
            problems.append(f"eggs.{i}.condition.theme: unknown theme {egg.condition.theme!r}")
    return problems
