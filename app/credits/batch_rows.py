"""The rows a partner batch writes in its one transaction, gathered in memory record by
record and then written a statement per table, and what the batch reads up front for its
scene records (meter locks, the claims already made, the meters' kept periods)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections

from app.accounts.models import Player
from app.credits.models import Activity, DailyCredit
from app.database import insert_rows, row_date, select_by_keys, update_rows
from app.ledger.service import Entry
from methodology import CreditedPeriod, MeterReadingInput

DAILY_TOTALS = {"reduction_grams": "bigint", "points": "bigint", "growth": "bigint", "energy": "bigint"}
ACTIVITY_COLUMNS = {
    "id": "uuid", "player_id": "uuid", "kind": "text", "source": "text", "occurred_at": "timestamptz",
    "ended_at": "timestamptz", "local_date": "date", "distance_meters": "int", "steps": "int",
    "reduction_grams": "bigint", "points": "bigint", "growth": "bigint", "energy": "bigint",
    "status": "text", "reject_reason": "text", "reject_message": "text", "methodology_id": "text",
    "methodology_version": "int", "provenance": "jsonb", "created_at": "timestamptz",
    "updated_at": "timestamptz"}
PARTNER_RECORD_COLUMNS = {
    "partner_id": "text", "record_id": "text", "received_at": "timestamptz", "payload": "jsonb",
    "status": "text", "reason": "text", "message": "text", "activity_id": "uuid"}
METER_PERIOD_COLUMNS = {
    "kind": "text", "meter_id": "text", "period_start": "date", "period_end": "date",
    "consumption": "bigint", "start_reading": "bigint", "end_reading": "bigint",
    "activity_id": "uuid", "created_at": "timestamptz"}
SCENE_CLAIM_COLUMNS = {
    "kind": "text", "digest": "text", "dedup_key": "jsonb", "activity_id": "uuid",
    "partner_id": "text", "created_at": "timestamptz"}

MeterKey = tuple[str, str]  # (kind, meter id)
ClaimKey = tuple[str, str]  # (kind, digest of the dedup key)


# one encoder for every row: json.dumps with separators builds a new one per call
as_json: Callable[[Any], str] = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class Credited:
    """A credited record's part in the after-commit hooks; `entry` indexes `credits`."""

    player: Player
    reduction_grams: int
    entry: int | None


@dataclass
class BatchRows:
    now: datetime
    activities: list[Activity] = field(default_factory=list)
    dailies: dict[int, DailyCredit] = field(default_factory=dict)  # changed ones, by id
    partner_records: dict[str, tuple] = field(default_factory=dict)  # record id -> row
    meter_periods: list[tuple] = field(default_factory=list)
    scene_claims: list[tuple] = field(default_factory=list)
    credits: list[Entry] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)  # the game's, in record order
    credited: list[Credited] = field(default_factory=list)

    def claim_record(self, partner_id: str, record: dict, status: str, reason: str | None,
                     message: str | None, activity_id: Any) -> None:
        self.partner_records[record["id"]] = (
            partner_id, record["id"], self.now, as_json(record), status, reason, message,
            str(activity_id) if activity_id is not None else None)

    def credit(self, player: Player, daily: DailyCredit, grams: int, entry: Entry | None,
               event: tuple) -> None:
        """A credited record: its changed daily totals, ledger entry and game event."""
        self.dailies[daily.id] = daily
        if entry is not None:
            self.credits.append(entry)
        self.events.append(event)
        self.credited.append(Credited(player, grams, len(self.credits) - 1 if entry is not None else None))

    async def write(self) -> None:
        """One statement per table (not Tortoise's bulk_create, which converts a model's
        fields one by one and sends a statement per row), activities first for the keys."""
        conn = connections.get("default")
        await insert_rows(conn, "activity", ACTIVITY_COLUMNS,
                          [_activity_row(activity, self.now) for activity in self.activities])
        await update_rows(conn, "daily_credit", "id", DAILY_TOTALS,
                          [(d.id, d.reduction_grams, d.points, d.growth, d.energy)
                           for d in self.dailies.values()])
        await insert_rows(conn, "partner_record", PARTNER_RECORD_COLUMNS,
                          list(self.partner_records.values()))
        await insert_rows(conn, "meter_period", METER_PERIOD_COLUMNS, self.meter_periods)
        await insert_rows(conn, "scene_claim", SCENE_CLAIM_COLUMNS, self.scene_claims)


def _activity_row(a: Activity, now: datetime) -> tuple:
    """An unsaved activity as a row in the order of ACTIVITY_COLUMNS, created now."""
    a.created_at = a.updated_at = now
    return (str(a.id), str(a.player_id), a.kind, a.source, a.occurred_at, a.ended_at, a.local_date,
            a.distance_meters, a.steps, a.reduction_grams, a.points, a.growth, a.energy, a.status,
            a.reject_reason, a.reject_message, a.methodology_id, a.methodology_version,
            as_json(a.provenance), now, now)


@dataclass
class SceneHistory:
    """What a batch's scene records meet: the claims made (before and within the batch)
    and each meter's kept periods, extended in memory as the batch's bills join them."""

    claims: dict[ClaimKey, str]  # -> the credited activity's id
    periods: dict[MeterKey, list[CreditedPeriod]]


async def lock_meters(meters: list[MeterKey]) -> None:
    """Lock the meters (PostgreSQL advisory locks, in the order of their lock ids, so
    concurrent batches cannot deadlock): two bills of one meter at once must not both
    pass the overlap check. SQLite runs one writer at a time."""
    conn = connections.get("default")
    if not meters or conn.capabilities.dialect != "postgres":
        return
    names = sorted({f"meter:{kind}:{meter}" for kind, meter in meters})
    await conn.execute_query(
        "SELECT pg_advisory_xact_lock(h) FROM (SELECT hashtext(n) AS h FROM unnest($1::text[]) AS n "
        "ORDER BY h) AS ordered", [names])


async def scene_history(claims: list[ClaimKey], meters: list[MeterKey]) -> SceneHistory:
    """The claims and meter periods already kept for these keys, in two queries, each
    looking its keys up in its table's index on (kind, …)."""
    conn = connections.get("default")
    found = {(row["kind"], row["digest"]): str(row["activity_id"]) for row in await select_by_keys(
        conn, "scene_claim", ["kind", "digest", "activity_id"], ["kind", "digest"], sorted(set(claims)))}
    periods: dict[MeterKey, list[CreditedPeriod]] = {key: [] for key in meters}
    for row in await select_by_keys(
            conn, "meter_period", ["kind", "meter_id", "period_start", "period_end", "consumption",
                                   "start_reading", "end_reading"],
            ["kind", "meter_id"], sorted(periods), order_by=("id",)):
        periods[(row["kind"], row["meter_id"])].append(CreditedPeriod(
            row_date(row["period_start"]), row_date(row["period_end"]), row["consumption"],
            row["start_reading"], row["end_reading"]))
    return SceneHistory(found, periods)


def meter_period_row(kind: str, reading: MeterReadingInput, activity_id: Any, now: datetime) -> tuple:
    """A bill's period as a row in the order of METER_PERIOD_COLUMNS."""
    return (kind, reading.meter_id, reading.period_start, reading.period_end,
            reading.end_reading - reading.start_reading, reading.start_reading, reading.end_reading,
            str(activity_id), now)
