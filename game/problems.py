"""A problem found in a rules file: the path of the value it is about, and why, as an
English message with named placeholders. The game does no translating; the service shows
the message in the reader's language from its catalogues (the msgids are marked `N_` here
so the catalogue extractor finds them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(text: str) -> str:
    """Marks `text` as a msgid for the catalogues; the text itself is returned."""
    return text


@dataclass(frozen=True, eq=True)
class Problem:
    path: str  # "themes.1.requirements.0.at_least"; "" when about the whole file
    text: str  # the English msgid, with %(name)s placeholders
    params: Mapping[str, Any] = field(default_factory=dict)

    def message(self, translate: Callable[[str, Mapping[str, Any]], str] | None = None) -> str:
        """The reason (no path), through `translate(msgid, params)` when given."""
        return translate(self.text, self.params) if translate else self.text % self.params

    def render(self, translate: Callable[[str, Mapping[str, Any]], str] | None = None) -> str:
        reason = self.message(translate)
        return f"{self.path}: {reason}" if self.path else reason

    def __str__(self) -> str:
        return self.render()

    __hash__ = None  # type: ignore[assignment]
