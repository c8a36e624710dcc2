"""Reading a partner's request body: structure (or a 400) and each record's fields."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_ID_LENGTH = 200


class BadRequest(Exception):
    """The body is not JSON or breaks the documented schema: 400, nothing is processed."""


def parse_body(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise BadRequest('body must be an object with a "records" list')
    for index, record in enumerate(data["records"]):
        if not isinstance(record, dict):
            raise BadRequest(f"records[{index}] is not an object")
        record_id = record.get("id")
        if not isinstance(record_id, str) or not 0 < len(record_id) <= MAX_ID_LENGTH:
            raise BadRequest(f"records[{index}].id must be a string of 1 to {MAX_ID_LENGTH} characters")
    return data["records"]


@dataclass(frozen=True)
class RecordFields:
    subject: str
    kind: str
    started_at: datetime
    ended_at: datetime
    distance_meters: int


class FieldError(Exception):
    """One record's field is missing or wrong: the record is rejected as INVALID_FIELD."""


def _time(record: dict, name: str) -> datetime:
    value = record.get(name)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise FieldError(f"{name} must be an ISO 8601 time with a zone")
    return moment


def parse_fields(record: dict) -> RecordFields:
    subject, kind = record.get("subject"), record.get("kind")
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_ID_LENGTH:
        raise FieldError("subject must be a non-empty string")
    if not isinstance(kind, str) or not kind:
        raise FieldError("kind must be a non-empty string")
    started_at, ended_at = _time(record, "startedAt"), _time(record, "endedAt")
    if ended_at <= started_at:
        raise FieldError("endedAt must be after startedAt")
    distance = record.get("distanceMeters")
    if isinstance(distance, bool) or not isinstance(distance, int) or not 0 < distance <= 1_000_000:
        raise FieldError("distanceMeters must be an integer from 1 to 1000000")
    return RecordFields(subject, kind, started_at, ended_at, distance)


def subject_as_player_id(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None
