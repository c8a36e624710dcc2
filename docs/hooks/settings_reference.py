"""mkdocs hook: the configuration table, generated from `app.settings.Settings`.

Every field of the pydantic Settings class becomes a row: its environment variable(s), its
default and its meaning. The meaning comes from `settings.yml` beside this file, or else
from the field's own `description`. A field with neither, or an entry in `settings.yml`
for a field that no longer exists, is a warning, which fails `mkdocs build --strict`.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import yaml
from marker_page import fill_marker
from pydantic import AliasChoices
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- settings-table -->"
PAGE = "operators/configuration.md"

log = logging.getLogger("mkdocs.hooks.settings_reference")


def env_names(name: str, field) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    return [f"CARBON_{name.upper()}"]


def default_of(field) -> object:
    if field.default_factory is not None:
        return field.default_factory()
    return None if field.default is PydanticUndefined else field.default


def shown(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, dict)):
        return f"`{json.dumps(value, ensure_ascii=False, separators=(',', ':'))}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def bounds(field) -> str:
    parts = []
    for item in field.metadata:
        for attr, word in (("ge", "min"), ("gt", "above"), ("le", "max"), ("lt", "below")):
            limit = getattr(item, attr, None)
            if limit is not None:
                parts.append(f"{word} {limit}")
    return f" ({', '.join(parts)})" if parts else ""


def cell(text: str) -> str:
    """One table cell: one line, pipes escaped, angle brackets outside code shown as text."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(part if n % 2 else part.replace("<", "&lt;").replace(">", "&gt;")
                    for n, part in enumerate(parts))


def table() -> str:
    sys.path.insert(0, str(ROOT))
    from app.settings import Settings

    meanings = yaml.safe_load((Path(__file__).with_name("settings.yml")).read_text("utf-8"))
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        entry = meanings.get(name) or {}
        meaning = entry.get("meaning") or field.description
        if not meaning:
            log.warning("setting %s has no meaning in docs/hooks/settings.yml and no "
                        "description in app/settings.py", name)
            meaning = ""
        default = entry.get("default") or shown(default_of(field))
        limits = bounds(field)
        if limits and default.endswith(")"):  # "`2097152` (2 MiB)" + " (min 1024)"
            default, limits = default[:-1], ", " + limits[2:]
        variables = " or ".join(f"`{env}`" for env in env_names(name, field))
        rows.append(f"| {variables} | {default}{limits} | {cell(meaning)} |")
    for stale in sorted(set(meanings) - set(Settings.model_fields)):
        log.warning("docs/hooks/settings.yml describes %s, which app/settings.py no longer has",
                    stale)
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:
    return fill_marker(markdown, page, source=PAGE, marker=MARKER, render=table, log=log)
