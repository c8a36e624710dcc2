"""Sending signed partner requests the way a transit operator's system does."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import httpx

from app.credits.signatures import sign
from tests.conftest import PARTNER_ID, PARTNER_SECRETS

CST = timezone(timedelta(hours=8))


def yesterday_at(hour: int, minute: int = 0) -> datetime:
    """A fixed local time yesterday: trips on one local day, whenever the test runs."""
    day = datetime.now(CST).date() - timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST)


def trip(record_id: str, subject: str, kind: str = "metro", meters: int = 12850,
         minutes: int = 31, ago: timedelta = timedelta(hours=1), start: datetime | None = None,
         **overrides) -> dict:
    start = start or datetime.now(CST) - ago
    record = {"id": record_id, "subject": subject, "kind": kind,
              "startedAt": start.isoformat(),
              "endedAt": (start + timedelta(minutes=minutes)).isoformat(),
              "distanceMeters": meters}
    record.update(overrides)
    return record


async def send(http: httpx.AsyncClient, records: list[dict] | None = None, *, body: bytes | None = None,
               secret: str = PARTNER_SECRETS[1], partner: str = PARTNER_ID,
               timestamp: int | None = None, signature: str | None = None) -> httpx.Response:
    raw = body if body is not None else json.dumps({"records": records}).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", "X-Partner-Id": partner, "X-Timestamp": stamp,
               "X-Signature": signature or sign(secret, stamp, raw)}
    return await http.post("/partner/v1/activities", content=raw, headers=headers)
