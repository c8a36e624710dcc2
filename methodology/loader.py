"""Loading methodology files, with errors that name the file, the field and why."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from methodology.model import Methodology

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


class MethodologyError(ValueError):
    """A methodology that cannot be used. `str()` is "<file>: <field.path>: <why>" per problem
    ("<file>: <why>" for the file as a whole); `file` and `problems` (a list of (field path
    or "", why)) hold the same for programs."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("; ".join(
            f"{file}: {path}: {why}" if path else f"{file}: {why}" for path, why in problems
        ))


def _why(error: ErrorDetails) -> str:
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    return error["msg"]


def parse_methodology(text: str, name: str = "<string>") -> Methodology:
    """Parse and validate one methodology from TOML text; `name` is used in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MethodologyError(name, [("", f"not valid TOML: {exc}")]) from None
    try:
        methodology = Methodology.model_validate(data)
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in error["loc"]), _why(error))
            for error in exc.errors()
        ]
        raise MethodologyError(name, problems) from None
    methodology._origin = name
    return methodology


def load_methodology(path: Path | str) -> Methodology:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MethodologyError(path.name, [("", f"cannot be read: {exc}")]) from None
    return parse_methodology(text, path.name)


def check_collection(methodologies: Iterable[Methodology]) -> list[Methodology]:
    """Methodologies that can be used together: (id, version) unique, and within an id a
    higher version takes effect strictly later than a lower one. Sorted by (id, version)."""
    ordered = sorted(methodologies, key=lambda m: (m.id, m.version))
    for before, after in pairwise(ordered):
        if before.id != after.id:
            continue
        if before.version == after.version:
            raise MethodologyError(after.origin, [(
                "version", f"{after.id} version {after.version} is also defined in {before.origin}"
            )])
        if after.effective_from <= before.effective_from:
            raise MethodologyError(after.origin, [(
                "effective_from",
                f"{after.id} version {after.version} takes effect"
                f" {after.effective_from.isoformat()},"
                f" not after version {before.version} ({before.origin},"
                f" {before.effective_from.isoformat()}); a higher version must take effect later",
            )])
    return ordered


def load_directory(directory: Path | str) -> list[Methodology]:
    """Every `*.toml` in `directory`, validated one by one and together."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MethodologyError(str(directory), [("", "not a directory")])
    loaded = [load_methodology(path) for path in sorted(directory.glob("*.toml"))]
    if not loaded:
        raise MethodologyError(str(directory), [("", "holds no *.toml methodology")])
    check_collection(loaded)
    return loaded
