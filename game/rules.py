"""Loading the designer-editable rule files in `game/rules/`."""

from __future__ import annotations

import tomllib
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from game.model import Egg, Quiz, Rules, Theme
from game.validate import check_rules

RULES_FILE = Path(__file__).parent / "rules" / "planet.toml"


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and every field at fault."""


def rules_problems(text: str, known_kinds: set[str] | None = None,
                   today: date | None = None) -> tuple[Rules | None, list[str]]:
    """The parsed rules (None if they do not parse) and every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"not valid TOML: {exc}"]
    except RecursionError:
        return None, ["not valid TOML: arrays or tables nested too deeply"]
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        field_problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        # still report the whole-file problems of the parts that did validate
        return None, field_problems + check_rules(_salvage(data), known_kinds, today)
    return rules, check_rules(rules, known_kinds, today)


def _valid(model, value):
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _salvage(data: dict) -> Rules:
    """The valid parts of a file that failed validation (a theme that failed keeps its id,
    so references to it are not reported as unknown)."""
    themes = []
    for raw in data.get("themes") or []:
        theme = _valid(Theme, raw)
        if theme is None and isinstance(raw, dict) and isinstance(raw.get("id"), str):
            theme = Theme.model_construct(id=raw["id"], name=raw["id"], name_en=raw["id"],
                                          description="", art="", order=0, requirements=[])
        if theme is not None:
            themes.append(theme)
    eggs = [e for e in (_valid(Egg, raw) for raw in data.get("eggs") or []) if e is not None]
    levels = data.get("levels")
    if not (isinstance(levels, list) and levels and all(isinstance(x, int) for x in levels)):
        levels = [0]
    quiz = _valid(Quiz, data.get("quiz")) or Quiz.model_construct(correct_growth=0, questions=[])
    return Rules.model_construct(levels=levels, themes=themes, eggs=eggs, quiz=quiz)


def parse_rules(text: str, name: str, known_kinds: set[str] | None = None,
                today: date | None = None) -> Rules:
    rules, problems = rules_problems(text, known_kinds, today)
    if problems or rules is None:
        raise RulesError(f"{name}: " + "; ".join(problems))
    return rules


def load_rules(path: Path) -> Rules:
    return parse_rules(path.read_text(encoding="utf-8"), path.name)


@lru_cache
def default_rules() -> Rules:
    return load_rules(RULES_FILE)
