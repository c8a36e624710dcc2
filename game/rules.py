"""Loading the designer-editable rule files in `game/rules/`."""

from __future__ import annotations

import tomllib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from game.model import TEXT_FIELDS, Egg, Quiz, Rules, RuleValueError, Theme
from game.problems import N_, Problem
from game.validate import check_rules

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

RULES_FILE = Path(__file__).parent / "rules" / "planet.toml"


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and every field at fault."""


def _has_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _fill_pair(item: object, field: str, fallback: str | None = None) -> None:
    """`field` and `field_en` of one table: either filled from the other when missing or
    blank; both from `fallback` and its `_en` when both are."""
    if not isinstance(item, dict):
        return
    english = f"{field}_en"
    if not _has_text(item.get(field)) and not _has_text(item.get(english)) and fallback:
        item[field], item[english] = item.get(fallback), item.get(f"{fallback}_en")
    if not _has_text(item.get(english)) and _has_text(item.get(field)):
        item[english] = item[field]
    if not _has_text(item.get(field)) and _has_text(item.get(english)):
        item[field] = item[english]


def fill_missing_text(data: dict) -> dict:
    """Rules published before the content was bilingual, made loadable: a text missing in
    one language is shown in the other (so such a version shows its one text to readers of
    both), and a theme or egg without a description shows its name. Changes `data`."""
    for theme in _tables(data.get("themes")):
        _fill_pair(theme, "name")
        _fill_pair(theme, "description", fallback="name")
    for egg in _tables(data.get("eggs")):
        _fill_pair(egg, "name")
        _fill_pair(egg, "description", fallback="name")
    quiz = data.get("quiz")
    for question in _tables(quiz.get("questions") if isinstance(quiz, dict) else None):
        _fill_pair(question, "question")
        _fill_pair(question, "explanation")
        for choice in _tables(question.get("choices")):
            _fill_pair(choice, "text")
    return data


def _tables(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# pydantic's messages people meet in a rules file, as msgids with its context's names; a
# message is translated only when the template gives exactly pydantic's English text
PYDANTIC_MESSAGES = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "string_type": N_("Input should be a valid string"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "list_type": N_("Input should be a valid list"),
    "date_type": N_("Input should be a valid date"),
    "greater_than": N_("Input should be greater than %(gt)s"),
    "greater_than_equal": N_("Input should be greater than or equal to %(ge)s"),
    "less_than": N_("Input should be less than %(lt)s"),
    "less_than_equal": N_("Input should be less than or equal to %(le)s"),
    "literal_error": N_("Input should be %(expected)s"),
    "model_type": N_("Input should be a valid dictionary or instance of %(class_name)s"),
}
AS_IS = "%(message)s"  # no msgid: shown as pydantic wrote it


def _problem(error: ErrorDetails) -> Problem:
    where = ".".join(str(p) for p in error["loc"]) or "(top)"
    field = error["loc"][-1] if error["loc"] else None
    if error["type"] == "missing" and isinstance(field, str):
        if field.endswith("_en") and field.removesuffix("_en") in TEXT_FIELDS:
            return Problem(where, N_("the English text is missing (every text is written in "
                                     "Chinese and English)"))
        if field in TEXT_FIELDS:
            return Problem(where, N_("the Chinese text is missing (every text is written in "
                                     "Chinese and English)"))
    context = dict(error.get("ctx") or {})
    refused = context.get("error")
    if isinstance(refused, RuleValueError):
        return Problem(where, refused.text, refused.params)
    template = PYDANTIC_MESSAGES.get(error["type"])
    if template is not None:
        params = {name: str(value) for name, value in context.items()}
        try:
            if template % params == error["msg"]:
                return Problem(where, template, params)
        except (KeyError, ValueError, TypeError):
            pass
    return Problem(where, AS_IS, {"message": error["msg"].removeprefix("Value error, ")})


def rules_problems(text: str, known_kinds: set[str] | None = None,
                   today: date | None = None, *,
                   fill_missing: bool = False) -> tuple[Rules | None, list[Problem]]:
    """The parsed rules (None if they do not parse) and every problem found.

    `fill_missing` loads a version published before the content was bilingual
    (`fill_missing_text`); anything a designer writes now must carry both languages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [Problem("", N_("not valid TOML: %(error)s"), {"error": str(exc)})]
    except RecursionError:
        return None, [Problem("", N_("not valid TOML: arrays or tables nested too deeply"))]
    if fill_missing:
        data = fill_missing_text(data)
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        field_problems = [_problem(e) for e in exc.errors()]
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
                                          description="", description_en="", art="", order=0,
                                          requirements=[])
        if theme is not None:
            themes.append(theme)
    eggs = [e for e in (_valid(Egg, raw) for raw in data.get("eggs") or []) if e is not None]
    levels = data.get("levels")
    if not (isinstance(levels, list) and levels and all(isinstance(x, int) for x in levels)):
        levels = [0]
    quiz = _valid(Quiz, data.get("quiz")) or Quiz.model_construct(correct_growth=0, questions=[])
    return Rules.model_construct(levels=levels, themes=themes, eggs=eggs, quiz=quiz)


def parse_rules(text: str, name: str, known_kinds: set[str] | None = None,
                today: date | None = None, *, fill_missing: bool = False) -> Rules:
    rules, problems = rules_problems(text, known_kinds, today, fill_missing=fill_missing)
    if problems or rules is None:
        raise RulesError(f"{name}: " + "; ".join(map(str, problems)))
    return rules


def load_rules(path: Path, *, fill_missing: bool = False) -> Rules:
    return parse_rules(path.read_text(encoding="utf-8"), path.name, fill_missing=fill_missing)


@lru_cache
def default_rules() -> Rules:
    return load_rules(RULES_FILE)
