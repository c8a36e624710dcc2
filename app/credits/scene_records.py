"""Reading a partner record of a scene beyond travel: the fields its methodology names.

A scene record carries `id`, `subject`, `kind`, `occurredAt` (when it happened: the
receipt, the payment, the check-in, the bill) and the scene's `record_fields` under the
names the methodology gives them (published by the `methodologies` query). Types follow
the field's role: dates (`period_start`, `period_end`, `*_date`) are ISO dates; readings,
`household_size` and the scene's `quantity_field` whole numbers; `verified` a boolean; the
rest (ids, the material) non-empty strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.credits.records import MAX_ID_LENGTH, FieldError
from methodology import EventInput, MeterReadingInput, Methodology, QuantityInput
from methodology.model import BaselineScene, EventScene, QuantityScene

WHOLE_FIELDS = {"start_reading", "end_reading", "household_size"}
METER_FIELDS = ["meter_id", "period_start", "period_end", *sorted(WHOLE_FIELDS)]
MAX_WHOLE = 10**12  # a reading or quantity beyond this is no meter's or scale's
# the dedup key's digest is of this text: a change would let a real event already claimed
# count again, so it is fixed (compact JSON, UTF-8 kept as it is)
_KEY_TEXT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class DedupKey:
    """The values that identify one real event, whoever reports it, and their digest (the
    claim's key): SHA-256 of the values as a compact JSON list."""

    values: dict[str, str | int | bool]
    digest: str

    @classmethod
    def of(cls, values: dict[str, str | int | bool]) -> DedupKey:
        return cls(values, hashlib.sha256(_KEY_TEXT(list(values.values())).encode()).hexdigest())


@dataclass(frozen=True)
class SceneRecord:
    kind: str
    occurred_at: datetime
    calculation_input: QuantityInput | MeterReadingInput | EventInput  # `previous` filled later
    dedup_key: DedupKey | None


def is_date_field(name: str) -> bool:
    return name in ("period_start", "period_end") or name.endswith("_date")


Value = str | int | bool | date
Reader = Callable[[Any], Value]  # a present field's value -> what it holds, or FieldError


def _date_reader(name: str) -> Reader:
    def read(value: Any) -> Value:
        try:
            if isinstance(value, str) and len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise FieldError(f"{name} must be an ISO date (YYYY-MM-DD)")
    return read


def _whole_reader(name: str) -> Reader:
    def read(value: Any) -> Value:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WHOLE:
            raise FieldError(f"{name} must be a whole number from 0 to {MAX_WHOLE}")
        return value
    return read


def _flag(value: Any) -> Value:
    if not isinstance(value, bool):
        raise FieldError("verified must be true or false")
    return value


def _text_reader(name: str) -> Reader:
    def read(value: Any) -> Value:
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
            raise FieldError(f"{name} must be a string of 1 to {MAX_ID_LENGTH} characters")
        return value
    return read


def _reader(name: str, whole: bool) -> Reader:
    """How the field `name` is read: by its role (see the module's docstring)."""
    if is_date_field(name):
        return _date_reader(name)
    if whole:
        return _whole_reader(name)
    return _flag if name == "verified" else _text_reader(name)


@dataclass(frozen=True)
class SceneReader:
    """How one scene's records are read: each field in turn with its reader (the first
    problem is the one reported), and the fields of its dedup key."""

    scene: QuantityScene | BaselineScene | EventScene
    fields: tuple[tuple[str, Reader], ...]
    key_fields: tuple[str, ...]

    @classmethod
    def of(cls, methodology: Methodology, kind: str) -> SceneReader:
        formula = methodology.scene_kind(kind)
        scene: QuantityScene | BaselineScene | EventScene
        if formula == "quantity":
            scene = methodology.quantity[kind]
            whole = {scene.quantity_field} if scene.quantity_field else set()
            needed = list(scene.record_fields)
        elif formula == "baseline":
            scene = methodology.baseline[kind]
            whole = set(WHOLE_FIELDS)
            needed = list(dict.fromkeys([*scene.record_fields, *METER_FIELDS]))
        elif formula == "event":
            scene = methodology.event[kind]
            whole = set()
            needed = list(scene.record_fields)
        else:
            raise FieldError(f"{kind} is not a scene with record fields")
        return cls(scene, tuple((name, _reader(name, name in whole)) for name in needed),
                   tuple(name for name in needed if name in scene.dedup_key))

    def read(self, record: dict, kind: str, occurred_at: datetime) -> SceneRecord:
        values: dict[str, Value] = {}
        for name, read in self.fields:
            value = record.get(name)
            if value is None:
                raise FieldError(f"{name} is required for this kind")
            values[name] = read(value)
        scene = self.scene
        key = DedupKey.of({name: v.isoformat() if isinstance(v := values[name], date) else v
                           for name in self.key_fields}) if self.key_fields else None
        calc_input: QuantityInput | MeterReadingInput | EventInput
        if isinstance(scene, QuantityScene):
            variety = values[scene.variety_field] if scene.variety_field else None
            quantity = values[scene.quantity_field] if scene.quantity_field else 1
            calc_input = QuantityInput(kind, quantity, variety)  # type: ignore[arg-type]
        elif isinstance(scene, BaselineScene):
            calc_input = MeterReadingInput(
                kind, values["meter_id"], values["period_start"], values["period_end"],  # type: ignore[arg-type]
                values["start_reading"], values["end_reading"], values["household_size"])  # type: ignore[arg-type]
        else:
            # the partner vouches for its check-ins unless the scene asks for `verified`
            event_id = "/".join(str(v) for v in key.values.values()) if key else str(record["id"])
            calc_input = EventInput(kind, event_id, values.get("verified", True) is True)
        return SceneRecord(kind, occurred_at, calc_input, key)


# (id of a methodology, kind) -> the methodology (held, so the id is not reused) and its
# reader: built once per methodology version and kind, not for every record
_readers: dict[tuple[int, str], tuple[Methodology, SceneReader]] = {}


def parse_scene_record(record: dict, methodology: Methodology, kind: str,
                       occurred_at: datetime) -> SceneRecord:
    """The record's fields for its `kind`'s scene in `methodology` (its kind and
    `occurredAt` already read), or FieldError."""
    known = _readers.get((id(methodology), kind))
    if known is None or known[0] is not methodology:
        known = _readers[(id(methodology), kind)] = (methodology, SceneReader.of(methodology, kind))
    return known[1].read(record, kind, occurred_at)
