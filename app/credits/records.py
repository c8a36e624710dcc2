"""Reading a partner's request body: its structure (or a 400), each record's text (or that
record alone is refused), then each record's fields."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.i18n.messages import N_, Text
from app.text import text_problem

MAX_ID_LENGTH = 200
MAX_TEXT_CHARS = 1000  # any other string in a record (extra fields are kept as sent)
MAX_NESTING = 8  # objects and lists inside a record
FIRST_YEAR, LAST_YEAR = 1970, 2999  # times outside are refused before any arithmetic


class BadRequest(Exception):
    """The body is not JSON or not an object with a records list: 400, nothing is processed.
    `str()` of it is the reason in the reader's language."""

    def __init__(self, message: Text) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class UnreadableRecord:
    """A record that cannot be read (not an object, no usable id, text no database can
    keep): refused alone with INVALID_FIELD and not kept, the rest of the batch proceeds."""

    id: str | None
    message: str

    def to_json(self) -> dict:
        return {"id": self.id, "status": "rejected", "reason": "INVALID_FIELD",
                "message": self.message}


def _number(text: str) -> Any:
    """JSON numbers Python would refuse or could not write back (a 5,000-digit integer,
    1e999) stay the text they were: the field is then not a number and is refused."""
    if "." in text or "e" in text or "E" in text:
        value = float(text)
        return value if math.isfinite(value) else text
    return int(text) if len(text) <= 30 else text


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes) -> list[dict[str, Any] | UnreadableRecord]:
    """The records in order: each a dict to ingest, or an UnreadableRecord."""
    try:
        data = json.loads(body, parse_int=_number, parse_float=_number,
                          parse_constant=_no_constants)
    except RecursionError:
        raise BadRequest(N_("body is nested too deeply")) from None
    except UnicodeDecodeError:
        raise BadRequest(N_("body is not UTF-8 text")) from None
    except json.JSONDecodeError as exc:
        raise BadRequest(N_("body is not valid JSON: %(why)s at line %(line)s column %(column)s",
                            why=exc.msg, line=exc.lineno, column=exc.colno)) from None
    except ValueError:
        raise BadRequest(N_("body is not valid JSON")) from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise BadRequest(N_('body must be an object with a "records" list'))
    return [_readable(index, record) for index, record in enumerate(data["records"])]


def _readable(index: int, record: Any) -> dict[str, Any] | UnreadableRecord:
    if not isinstance(record, dict):
        return UnreadableRecord(None, f"records[{index}] is not an object")
    record_id = record.get("id")
    if not isinstance(record_id, str) or text_problem("id", record_id, max_chars=MAX_ID_LENGTH):
        usable = isinstance(record_id, str) and len(record_id) <= MAX_ID_LENGTH
        shown = record_id if usable else None
        return UnreadableRecord(shown, f"records[{index}].id must be a string of 1 to "
                                       f"{MAX_ID_LENGTH} characters without control characters")
    if not record_id:
        return UnreadableRecord(None, f"records[{index}].id must not be empty")
    problem = _text_problem(record, "record", 0)
    return UnreadableRecord(record_id, problem) if problem else record


def _text_problem(value: Any, name: str, depth: int) -> str | None:
    """The first string (key or value) in a record that cannot be kept, in English like
    every per-record message (kept records answer a resend with their stored message; the
    `reason` code is what a partner acts on)."""
    if isinstance(value, str):
        bad_text = text_problem(name, value, max_chars=MAX_TEXT_CHARS)
        return bad_text.render("en") if bad_text else None
    if depth > MAX_NESTING:
        return f"{name} is nested more than {MAX_NESTING} levels deep"
    if isinstance(value, dict):
        for key, item in value.items():
            bad_key = text_problem("a field name", key, max_chars=100)
            problem = bad_key.render("en") if bad_key else _text_problem(item, key, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            if problem := _text_problem(item, name, depth + 1):
                return problem
    return None


@dataclass(frozen=True)
class SubjectRef:
    """A record's `subjectRef`: the partner's own id for the person, resolved through a
    partner link (never equal to a `subject`, which is a plain string)."""

    ref: str


@dataclass(frozen=True)
class RecordFields:
    subject: str | SubjectRef
    kind: str
    started_at: datetime
    ended_at: datetime
    distance_meters: int


class FieldError(Exception):
    """One record's field is missing or wrong: the record is rejected as INVALID_FIELD."""


def parse_time(record: dict, name: str) -> datetime:
    value = record.get(name)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise FieldError(f"{name} must be an ISO 8601 time with a zone")
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise FieldError(f"{name} must be a time between {FIRST_YEAR} and {LAST_YEAR}")
    return moment


def parse_subject_and_kind(record: dict) -> tuple[str | SubjectRef, str]:
    subject, kind = record_subject(record), record.get("kind")
    if not isinstance(kind, str) or not 0 < len(kind) <= 30:
        raise FieldError("kind must be a string of 1 to 30 characters")
    return subject, kind


def parse_fields(record: dict) -> RecordFields:
    """A trip record's fields (scenes beyond travel: `app.credits.scene_records`)."""
    subject, kind = parse_subject_and_kind(record)
    started_at, ended_at = parse_time(record, "startedAt"), parse_time(record, "endedAt")
    if ended_at <= started_at:
        raise FieldError("endedAt must be after startedAt")
    distance = record.get("distanceMeters")
    if isinstance(distance, bool) or not isinstance(distance, int) or not 0 < distance <= 1_000_000:
        raise FieldError("distanceMeters must be an integer from 1 to 1000000")
    return RecordFields(subject, kind, started_at, ended_at, distance)


def record_subject(record: dict) -> str | SubjectRef:
    """The player's id (or host-app subject) as `subject`, or the partner's own id for the
    person as `subjectRef`: exactly one of the two."""
    subject, ref = record.get("subject"), record.get("subjectRef")
    if subject is not None and ref is not None:
        raise FieldError("send subject or subjectRef, not both")
    if ref is not None:
        if not isinstance(ref, str) or not 0 < len(ref) <= MAX_ID_LENGTH:
            raise FieldError("subjectRef must be a non-empty string")
        return SubjectRef(ref)
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_ID_LENGTH:
        raise FieldError("subject must be a non-empty string")
    return subject


def subject_as_player_id(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None
