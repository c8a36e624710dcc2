"""Which methodology applies to an activity: the highest version in effect when it happened."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from pathlib import Path

from methodology.loader import check_collection, load_directory
from methodology.model import Methodology
from methodology.public import public_factors

FILES = Path(__file__).parent / "files"


class MethodologyRegistry:
    """A consistent set of methodologies: (id, version) unique, and within an id a higher
    version takes effect later (MethodologyError otherwise)."""

    def __init__(self, methodologies: Iterable[Methodology]) -> None:
        self._all = check_collection(methodologies)
        # kind -> its methodologies, the one that took effect last first (looked up per record)
        self._by_kind: dict[str, list[Methodology]] = {}
        for m in sorted(self._all, key=lambda m: (m.effective_from, m.version), reverse=True):
            for kind in m.kinds:
                self._by_kind.setdefault(kind, []).append(m)
        self._by_version = {(m.id, m.version): m for m in self._all}
        self._sources: dict[tuple[str, int], dict[str, str]] = {}

    def all(self) -> list[Methodology]:
        """Every methodology, by id then version."""
        return list(self._all)

    def get(self, id: str, version: int) -> Methodology | None:  # noqa: A002 - the field's name
        return self._by_version.get((id, version))

    def factor_sources(self, id: str, version: int) -> dict[str, str]:  # noqa: A002
        """Each factor key of that version (as calculations record it) -> its source; {}
        for a version not here."""
        if (id, version) not in self._sources:
            m = self.get(id, version)
            self._sources[(id, version)] = {f.key: f.source for f in public_factors(m)} if m else {}
        return self._sources[(id, version)]

    def for_kind(self, kind: str, at: datetime) -> Methodology | None:
        """Among those covering `kind` and in effect at `at` (effective_from <= at), the one
        that took effect last: within one id, the highest version. None if there is none."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at needs a time zone")
        return next((m for m in self._by_kind.get(kind, ()) if m.effective_from <= at), None)


@cache
def default_registry() -> MethodologyRegistry:
    """The methodologies shipped in `methodology/files/` (loaded once)."""
    return MethodologyRegistry(load_directory(FILES))
