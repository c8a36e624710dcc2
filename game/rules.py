"""Loading the designer-editable rule files in `game/rules/`."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from game.model import Rules

RULES_FILE = Path(__file__).parent / "rules" / "planet.toml"


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and every field at fault."""


def parse_rules(text: str, name: str) -> Rules:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{name}: not valid TOML: {exc}") from None
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise RulesError(f"{name}: {problems}") from None


def load_rules(path: Path) -> Rules:
    return parse_rules(path.read_text(encoding="utf-8"), path.name)


@lru_cache
def default_rules() -> Rules:
    return load_rules(RULES_FILE)
