"""A rules file as form fields and back: the console's editor shows every value of the
file as a field named by its path (`themes.1.requirements.0.at_least`), the same paths
that validation problems name, and writes the fields back as TOML.

Works on the raw TOML data, not the validated model, so a draft with problems still
shows (and keeps) what the designer typed.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import tomli_w

REQUIREMENT_TYPES: dict[str, dict[str, Any]] = {  # each type with its fields' defaults
    "growth": {"at_least": 100},
    "activity_count": {"kind": "metro", "at_least": 1},
    "activity_amount": {"kind": "recycling", "at_least": 1, "unit": "kg"},
    "activity_days": {"kind": "garbage_sorting", "days": 1},
    "streak": {"days": 3},
    "quiz_correct": {"at_least": 1},
    "theme": {"theme": ""},
    "date_window": {"start": date(2026, 1, 1), "end": date(2026, 12, 31)},
}
HEADER = """\
# The low-carbon planet: levels, the nine theme worlds, easter eggs and the daily quiz.
# Written by the console's rules editor. Requirement types: growth {at_least} ·
# activity_count {kind, at_least} · activity_amount {kind, at_least, unit} ·
# activity_days {kind, days} · streak {days} · quiz_correct {at_least} ·
# theme {theme} · date_window {start, end}.
"""


class DocumentError(ValueError):
    """The text is not TOML (the message names the line)."""


@dataclass(frozen=True)
class FormField:
    path: str
    value: Any

    @property
    def kind(self) -> str:
        """How the form shows and reads it back: int, date, bool, text or choice."""
        if isinstance(self.value, bool):
            return "bool"
        if isinstance(self.value, int):
            return "int"
        if isinstance(self.value, date):
            return "date"
        if self.path.endswith(".type") and self.value in REQUIREMENT_TYPES:
            return "choice"
        return "text"


def parse(content: str) -> dict[str, Any]:
    try:
        return tomllib.loads(content)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise DocumentError(str(exc)) from None


def dump(data: dict[str, Any]) -> str:
    return HEADER + "\n" + tomli_w.dumps(data)


def fields(data: Any, prefix: str = "") -> list[FormField]:
    """Every scalar of the file, in file order, named by its path."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = ((str(i), v) for i, v in enumerate(data))
    else:
        return [FormField(prefix, data)]
    found = []
    for key, value in items:
        found.extend(fields(value, f"{prefix}.{key}" if prefix else str(key)))
    return found


def _typed(kind: str, value: Any) -> Any:
    """A form's string as the file's type; kept as typed when it is not one (validation
    then names the field)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "date":
            return date.fromisoformat(text)
    except ValueError:
        return value
    if kind == "bool":
        return text in ("true", "on", "1")
    return value


def with_values(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`data` with each path in `values` set (as the type the field had)."""
    kinds = {f.path: f.kind for f in fields(data)}
    result = copy.deepcopy(data)
    for path, value in values.items():
        if path not in kinds:
            continue
        *parents, last = path.split(".")
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        node[key] = _typed(kinds[path], value)
    return result


def _container(data: dict[str, Any], path: str) -> tuple[Any, Any]:
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, (int(last) if isinstance(node, list) else last)


def apply(data: dict[str, Any], action: str) -> dict[str, Any]:
    """A structural edit: `add:<list path>` appends (a copy of the last item, or a new
    requirement), `remove:<item path>` deletes, `type:<requirement path>=<type>` changes
    a requirement's type with that type's fields."""
    result = copy.deepcopy(data)
    verb, _, target = action.partition(":")
    try:
        if verb == "add":
            parent, key = _container(result, target)
            items = parent[key]
            if not isinstance(items, list):
                return data  # only lists grow
            if target.endswith("requirements"):
                items.append({"type": "growth", **REQUIREMENT_TYPES["growth"]})
            elif items:
                items.append(copy.deepcopy(items[-1]))
        elif verb == "remove":
            parent, key = _container(result, target)
            if isinstance(parent, list) and len(parent) > 1:
                del parent[key]
        elif verb == "type":
            path, _, kind = target.partition("=")
            parent, key = _container(result, path)
            if kind in REQUIREMENT_TYPES and isinstance(parent[key], dict) and "type" in parent[key]:
                parent[key] = {"type": kind, **copy.deepcopy(REQUIREMENT_TYPES[kind])}
    except (KeyError, IndexError, ValueError, TypeError):
        return data  # a stale form: nothing to do
    return result


def field_of(problem: str, paths: set[str]) -> tuple[str | None, str]:
    """The form field a validation problem (`themes.0.requirements.0.growth.at_least: …`)
    is about, and its message; None when no field is (the problem is about the whole)."""
    where, sep, message = problem.partition(": ")
    if not sep:
        return None, problem
    parts = [p for p in where.split(".") if p not in REQUIREMENT_TYPES]
    while parts:
        candidate = ".".join(parts)
        if candidate in paths or any(p.startswith(candidate + ".") for p in paths):
            return candidate, message
        parts.pop()
    return None, problem
