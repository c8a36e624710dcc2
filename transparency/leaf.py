"""The canonical leaf encoding of one ledger transaction.

A leaf is the UTF-8 bytes of one JSON object with exactly these keys, sorted, no white
space between tokens, non-ASCII characters unescaped (``json.dumps(..., sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``)::

    {"idempotency_key_hash":"<64 lowercase hex: SHA-256 of the UTF-8 idempotency key>",
     "postings":[{"amount":-5,"asset":"CARBON_POINT","owner":"system:issuance:03"}, ...],
     "time":"2026-05-01T08:30:00.123456Z",
     "transaction_id":"<the transaction's id, e.g. a lowercase UUID>",
     "type":"<the transaction type, e.g. credit>",
     "v":1}

(shown on several lines here; the leaf is one line). Postings are sorted by (owner, asset,
amount); amounts are integers (points, grams). ``time`` is the commit time in UTC with exactly
six fractional digits and ``Z``. The idempotency key itself is not in the log, only its hash:
a partner's key can be checked by whoever knows it, not read by everyone.

Its RFC 6962 leaf hash is ``SHA-256(0x00 ‖ leaf bytes)`` (:func:`transparency.merkle.leaf_hash`).
:func:`decode` accepts only the canonical bytes, so one record has exactly one encoding.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from transparency.errors import LeafError
from transparency.merkle import leaf_hash

VERSION = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_KEYS = {"idempotency_key_hash", "postings", "time", "transaction_id", "type", "v"}
_POSTING_KEYS = {"amount", "asset", "owner"}


def idempotency_key_hash(key: str) -> str:
    """The SHA-256 (lowercase hex) of a transaction's idempotency key, as the leaf carries it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, order=True)
class LeafPosting:
    """One posting of the transaction: ``amount`` of ``asset`` into (or, negative, out of) ``owner``."""

    owner: str
    asset: str
    amount: int

    def __post_init__(self) -> None:
        if not isinstance(self.owner, str) or not self.owner or not isinstance(self.asset, str) or not self.asset:
            raise LeafError("a posting has a non-empty owner and asset")
        if not _is_int(self.amount):
            raise LeafError("a posting's amount is an integer")


def format_time(moment: datetime) -> str:
    """UTC, microseconds, ``Z``: ``2026-05-01T08:30:00.123456Z``."""
    if moment.tzinfo is None:
        raise LeafError("a leaf's time must carry its time zone")
    t = moment.astimezone(UTC)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."
            f"{t.microsecond:06d}Z")


@dataclass(frozen=True)
class LeafRecord:
    transaction_id: str
    type: str
    postings: tuple[LeafPosting, ...]
    idempotency_key_hash: str
    time: datetime

    def __post_init__(self) -> None:
        for name in ("transaction_id", "type"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise LeafError(f"a leaf's {name} is a non-empty string")
        if not isinstance(self.idempotency_key_hash, str) or not _HEX64.fullmatch(self.idempotency_key_hash):
            raise LeafError("a leaf's idempotency_key_hash is 64 lowercase hex digits (SHA-256)")
        if not self.postings or not all(isinstance(p, LeafPosting) for p in self.postings):
            raise LeafError("a leaf has at least one posting")
        if not isinstance(self.time, datetime) or self.time.tzinfo is None:
            raise LeafError("a leaf's time is a datetime with its time zone")
        # sorted, so that the same transaction always has the same leaf
        object.__setattr__(self, "postings", tuple(sorted(self.postings)))

    @classmethod
    def of(cls, transaction_id: str, type: str, postings: list[tuple[str, str, int]] | list[LeafPosting],
           idempotency_key: str, time: datetime) -> LeafRecord:
        """A record from a transaction's raw fields (the idempotency key is hashed here)."""
        items = tuple(p if isinstance(p, LeafPosting) else LeafPosting(*p) for p in postings)
        return cls(transaction_id, type, items, idempotency_key_hash(idempotency_key), time)

    def to_json_object(self) -> dict[str, Any]:
        return {
            "idempotency_key_hash": self.idempotency_key_hash,
            "postings": [{"amount": p.amount, "asset": p.asset, "owner": p.owner} for p in self.postings],
            "time": format_time(self.time),
            "transaction_id": self.transaction_id,
            "type": self.type,
            "v": VERSION,
        }


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode(record: LeafRecord) -> bytes:
    """The leaf bytes of ``record`` (see the module docstring)."""
    return _ENCODER.encode(record.to_json_object()).encode("utf-8")


def record_hash(record: LeafRecord) -> bytes:
    """The RFC 6962 leaf hash of the record's encoding."""
    return leaf_hash(encode(record))


def decode(data: bytes) -> LeafRecord:
    """The record in canonical leaf bytes; refuses anything :func:`encode` would not produce."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise LeafError("a leaf is one UTF-8 JSON object") from None
    if not isinstance(raw, dict) or set(raw) != _KEYS:
        raise LeafError(f"a leaf is a JSON object with exactly the keys {', '.join(sorted(_KEYS))}")
    if raw["v"] != VERSION or not _is_int(raw["v"]):
        raise LeafError(f"unknown leaf version {raw['v']!r}")
    if not isinstance(raw["time"], str) or not _TIME.fullmatch(raw["time"]):
        raise LeafError("a leaf's time is RFC 3339 UTC with six fractional digits and Z")
    try:
        time = datetime.strptime(raw["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise LeafError("a leaf's time is not a real moment") from None
    postings = raw["postings"]
    if not isinstance(postings, list) or not all(isinstance(p, dict) and set(p) == _POSTING_KEYS for p in postings):
        raise LeafError("a leaf's postings are objects with exactly amount, asset and owner")
    record = LeafRecord(raw["transaction_id"], raw["type"],
                        tuple(LeafPosting(p["owner"], p["asset"], p["amount"]) for p in postings),
                        raw["idempotency_key_hash"], time)
    if encode(record) != data:
        raise LeafError("the leaf is not in canonical form (key order, spacing, posting order or escapes)")
    return record
