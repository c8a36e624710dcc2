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
from dataclasses import dataclass
from datetime import date, datetime

from app.credits.records import MAX_ID_LENGTH, FieldError
from methodology import EventInput, MeterReadingInput, Methodology, QuantityInput
from methodology.model import BaselineScene, EventScene, QuantityScene

WHOLE_FIELDS = {"start_reading", "end_reading", "household_size"}
METER_FIELDS = ["meter_id", "period_start", "period_end", *sorted(WHOLE_FIELDS)]
MAX_WHOLE = 10**12  # a reading or quantity beyond this is no meter's or scale's


@dataclass(frozen=True)
class DedupKey:
    """The values that identify one real event, whoever reports it, and their digest (the
    claim's key): SHA-256 of the values as a compact JSON list."""

    values: dict[str, str | int | bool]
    digest: str

    @classmethod
    def of(cls, values: dict[str, str | int | bool]) -> DedupKey:
        text = json.dumps(list(values.values()), separators=(",", ":"), ensure_ascii=False)
        return cls(values, hashlib.sha256(text.encode()).hexdigest())


@dataclass(frozen=True)
class SceneRecord:
    kind: str
    occurred_at: datetime
    calculation_input: QuantityInput | MeterReadingInput | EventInput  # `previous` filled later
    dedup_key: DedupKey | None


def is_date_field(name: str) -> bool:
    return name in ("period_start", "period_end") or name.endswith("_date")


def _field(record: dict, name: str, whole: bool) -> str | int | bool | date:
    value = record.get(name)
    if value is None:
        raise FieldError(f"{name} is required for this kind")
    if is_date_field(name):
        try:
            if isinstance(value, str) and len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise FieldError(f"{name} must be an ISO date (YYYY-MM-DD)")
    if whole:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WHOLE:
            raise FieldError(f"{name} must be a whole number from 0 to {MAX_WHOLE}")
        return value
    if name == "verified":
        if not isinstance(value, bool):
            raise FieldError("verified must be true or false")
        return value
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise FieldError(f"{name} must be a string of 1 to {MAX_ID_LENGTH} characters")
    return value


def parse_scene_record(record: dict, methodology: Methodology, kind: str,
                       occurred_at: datetime) -> SceneRecord:
    """The record's fields for its `kind`'s scene in `methodology` (its kind and
    `occurredAt` already read), or FieldError."""
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
    values = {name: _field(record, name, name in whole) for name in needed}
    key = DedupKey.of({name: v.isoformat() if isinstance(v, date) else v
                       for name, v in values.items() if name in scene.dedup_key}) if scene.dedup_key else None
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
