"""Whole-file checks of a rule set: every problem at once, each naming the field and why.

Field-level problems (types, ranges) come from the pydantic model; this module adds
what only the whole file can tell: unknown references, cycles, themes that can never
be unlocked, thresholds that do not increase, duplicate ids.
"""

from __future__ import annotations

from datetime import date

from game.model import (
    ActivityAmount,
    DateWindow,
    KindRequirement,
    KnownScenes,
    Requirement,
    Rules,
    ThemeUnlocked,
    units_fit,
)
from game.problems import N_, Problem

TWICE = N_("%(id)s is used twice")
UNKNOWN_THEME = N_("unknown theme %(theme)s")
NO_METHODOLOGY = N_("no methodology credits %(kind)s, so %(theme)s can never be unlocked")
NO_METHODOLOGY_EGG = N_("no methodology credits %(kind)s, so egg %(egg)s can never be found")
NO_AMOUNT = N_("%(kind)s is credited per trip or event, not by an amount: count it with "
               "activity_count, or its days with activity_days")
UNIT_MISFIT = N_("%(unit)s does not fit %(kind)s, which is measured in %(scene_unit)s")


def _kind_problems(req: Requirement, where: str, owner: dict[str, str],
                   known_kinds: set[str] | None) -> list[Problem]:
    """An unknown kind, or an amount in a unit the scene is not measured in (the unit is
    checked only when `known_kinds` carries the scenes' units, a `KnownScenes`)."""
    if known_kinds is None or not isinstance(req, KindRequirement):
        return []
    if req.kind not in known_kinds:
        text = NO_METHODOLOGY if "theme" in owner else NO_METHODOLOGY_EGG
        return [Problem(f"{where}.kind", text, {"kind": repr(req.kind), **owner})]
    if isinstance(req, ActivityAmount) and isinstance(known_kinds, KnownScenes):
        scene_unit = known_kinds.units.get(req.kind)
        if scene_unit is None:
            return [Problem(f"{where}.kind", NO_AMOUNT, {"kind": repr(req.kind)})]
        if not units_fit(req.unit, scene_unit):
            return [Problem(f"{where}.unit", UNIT_MISFIT, {"unit": repr(req.unit),
                                                           "kind": repr(req.kind),
                                                           "scene_unit": scene_unit})]
    return []


def _unlock_order_problems(rules: Rules) -> tuple[list[Problem], set[str]]:
    """Cycles in "unlock X after Y"; returns the problems and the themes caught in one."""
    needs = {t.id: [r.theme for r in t.requirements if isinstance(r, ThemeUnlocked)] for t in rules.themes}
    problems: list[Problem] = []
    cyclic: set[str] = set()
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(theme_id: str, path: list[str]) -> None:
        if state.get(theme_id) == 2 or theme_id not in needs:
            return
        if state.get(theme_id) == 1:
            cycle = path[path.index(theme_id):] + [theme_id]
            cyclic.update(cycle)
            problems.append(Problem("themes", N_("unlock order has a cycle: %(cycle)s"),
                                    {"cycle": " -> ".join(cycle)}))
            return
        state[theme_id] = 1
        for required in needs[theme_id]:
            visit(required, [*path, theme_id])
        state[theme_id] = 2

    for theme_id in needs:
        visit(theme_id, [])
    return problems, cyclic


def check_rules(rules: Rules, known_kinds: set[str] | None = None,
                today: date | None = None) -> list[Problem]:
    problems: list[Problem] = []
    levels = rules.levels
    if levels[0] != 0:
        problems.append(Problem("levels.0", N_("the first level must start at 0 growth")))
    for i, (a, b) in enumerate(zip(levels, levels[1:]), start=1):
        if b <= a:
            problems.append(Problem(f"levels.{i}", N_(
                "%(value)s does not increase on the level before (%(before)s)"),
                {"value": b, "before": a}))
    ids = [t.id for t in rules.themes]
    for i, theme_id in enumerate(ids):
        if ids.index(theme_id) != i:
            problems.append(Problem(f"themes.{i}.id", TWICE, {"id": repr(theme_id)}))
    egg_ids = [e.id for e in rules.eggs]
    for i, egg_id in enumerate(egg_ids):
        if egg_ids.index(egg_id) != i:
            problems.append(Problem(f"eggs.{i}.id", TWICE, {"id": repr(egg_id)}))
    question_ids = [q.id for q in rules.quiz.questions]
    for i, q in enumerate(rules.quiz.questions):
        if question_ids.index(q.id) != i:
            problems.append(Problem(f"quiz.questions.{i}.id", TWICE, {"id": repr(q.id)}))
    cycle_problems, cyclic = _unlock_order_problems(rules)
    problems += cycle_problems
    never = set(cyclic)
    for i, theme in enumerate(rules.themes):
        for j, req in enumerate(theme.requirements):
            where = f"themes.{i}.requirements.{j}"
            if isinstance(req, ThemeUnlocked) and req.theme not in ids:
                problems.append(Problem(f"{where}.theme", UNKNOWN_THEME, {"theme": repr(req.theme)}))
                never.add(theme.id)
            found = _kind_problems(req, where, {"theme": theme.id}, known_kinds)
            if found:
                problems += found
                never.add(theme.id)
            if isinstance(req, DateWindow):
                if req.end < req.start:
                    problems.append(Problem(where, N_("the window ends before it starts")))
                    never.add(theme.id)
                elif today is not None and req.end < today:
                    problems.append(Problem(where, N_(
                        "the window ended on %(end)s, so %(theme)s can never be unlocked"),
                        {"end": req.end.isoformat(), "theme": theme.id}))
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
                    problems.append(Problem(f"themes.{i}", N_(
                        "%(theme)s needs %(required)s, which can never be unlocked"),
                        {"theme": theme.id, "required": req.theme}))
                    never.add(theme.id)
                    changed = True
                    break
    for i, egg in enumerate(rules.eggs):
        if egg.theme not in ids:
            problems.append(Problem(f"eggs.{i}.theme", UNKNOWN_THEME, {"theme": repr(egg.theme)}))
        problems += _kind_problems(egg.condition, f"eggs.{i}.condition", {"egg": egg.id},
                                   known_kinds)
        if isinstance(egg.condition, ThemeUnlocked) and egg.condition.theme not in ids:
            problems.append(Problem(f"eggs.{i}.condition.theme", UNKNOWN_THEME,
                                    {"theme": repr(egg.condition.theme)}))
    return problems
