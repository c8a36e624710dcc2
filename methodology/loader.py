"""Loading methodology files, with errors that name the file and the field."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from methodology.model import Methodology


class MethodologyError(ValueError):
    """A methodology file that cannot be used; the message names file, field and reason."""


def parse_methodology(text: str, name: str) -> Methodology:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MethodologyError(f"{name}: not valid TOML: {exc}") from None
    try:
        return Methodology.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise MethodologyError(f"{name}: {problems}") from None


def load_methodology(path: Path) -> Methodology:
    return parse_methodology(path.read_text(encoding="utf-8"), path.name)


def load_directory(directory: Path) -> list[Methodology]:
    loaded = [load_methodology(path) for path in sorted(directory.glob("*.toml"))]
    seen: dict[tuple[str, int], str] = {}
    for path, methodology in zip(sorted(directory.glob("*.toml")), loaded, strict=True):
        key = (methodology.id, methodology.version)
        if key in seen:
            raise MethodologyError(f"{path.name}: id/version {key} is also in {seen[key]}")
        seen[key] = path.name
    return loaded
