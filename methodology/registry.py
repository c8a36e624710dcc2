"""Which methodology applies to an activity: the highest version in effect when it happened."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from pathlib import Path

from methodology.loader import check_collection, load_directory
from methodology.model import Methodology

FILES = Path(__file__).parent / "files"


class MethodologyRegistry:
    """A consistent set of methodologies: (id, version) unique, and within an id a higher
    version takes effect later (MethodologyError otherwise)."""

    def __init__(self, methodologies: Iterable[Methodology]) -> None:
        self._all = check_collection(methodologies)

    def all(self) -> list[Methodology]:
        """Every methodology, by id then version."""
        return list(self._all)

    def get(self, id: str, version: int) -> Methodology | None:  # noqa: A002 - the field's name
        return next((m for m in self._all if (m.id, m.version) == (id, version)), None)

    def for_kind(self, kind: str, at: datetime) -> Methodology | None:
        """Among those covering `kind` and in effect at `at` (effective_from <= at), the one
        that took effect last: within one id, the highest version. None if there is none."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at needs a time zone")
        candidates = [m for m in self._all if m.covers(kind) and m.effective_from <= at]
        return max(candidates, key=lambda m: (m.effective_from, m.version), default=None)


@cache
def default_registry() -> MethodologyRegistry:
    """The methodologies shipped in `methodology/files/` (loaded once)."""
    return MethodologyRegistry(load_directory(FILES))
