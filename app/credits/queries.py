"""Reading activities and received partner records: newest first (keyset pages), and
received records counted by local day."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Case, RawSQL, When
from tortoise.functions import Count

from app.credits.models import Activity, PartnerRecord
from app.database import newest_first
from app.database_pages import first_rows_per_owner
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_


async def player_activities(
    player_ids: Sequence[str], limit: int, after: tuple[datetime, uuid.UUID] | None
) -> dict[str, list[Activity]]:
    """Up to `limit` activities of each player, newest first."""
    query = newest_first(Activity.filter(player_id__in=list(player_ids)), after)
    rows = await first_rows_per_owner(query, len(player_ids), '"activity"."player_id"',
                                      ["-created_at", "-id"], limit)
    found: dict[str, list[Activity]] = {p: [] for p in player_ids}
    for row in rows:
        found[str(row.player_id)].append(row)
    return found


async def partner_records(
    limit: int,
    before_id: int | None,
    partner_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PartnerRecord]:
    query = PartnerRecord.all()
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    if partner_id is not None:
        query = query.filter(partner_id=partner_id)
    if status is not None:
        query = query.filter(status=status)
    if since is not None:
        query = query.filter(received_at__gte=since)
    if until is not None:
        query = query.filter(received_at__lt=until)
    return await query.order_by("-id").limit(limit)


# Field names are the GraphQL type's (schema/activities.py builds it from these).
@dataclass(frozen=True)
class PartnerRecordDay:
    date: date  # the city's local day the record was received on
    partner_id: str
    status: str  # accepted or rejected
    reason: str | None  # why a record was refused (a code such as IMPLAUSIBLE_SPEED)
    records: int


MAX_RECORD_DAYS = 92


async def partner_record_days(since: date, until: date, zone: str,
                              partner_id: str | None = None) -> list[PartnerRecordDay]:
    """Records received on each local day from `since` to `until` (both included), counted
    by partner, status and reason: one grouped query, each record's day picked by comparing
    its time with the days' boundaries (so any time zone, and either database, works)."""
    if until < since:
        raise ServiceError(ErrorCode.INVALID_INPUT, N_("until is before since."), "until")
    for name, day in (("since", since), ("until", until)):  # days at the calendar's ends overflow
        if not 2000 <= day.year <= 2100:
            raise ServiceError(ErrorCode.INVALID_INPUT, N_("The year must be from 2000 to 2100."), name)
    if (until - since).days >= MAX_RECORD_DAYS:
        raise ServiceError(ErrorCode.INVALID_INPUT,
                           N_("At most %(max)s days at a time.", max=MAX_RECORD_DAYS), "until")
    tz = ZoneInfo(zone)
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    starts = [datetime.combine(d, time(), tz).astimezone(UTC) for d in days]
    end = datetime.combine(until + timedelta(days=1), time(), tz).astimezone(UTC)
    # the day a record falls on: the first day whose end it is before (the day numbers are
    # written into the SQL: as parameters PostgreSQL would take the CASE for text)
    ends = [*starts[1:], end]
    # (Tortoise renders RawSQL here; its annotations leave it out)
    day_of = Case(*[When(received_at__lt=day_end, then=RawSQL(str(n)))  # type: ignore[arg-type]
                    for n, day_end in enumerate(ends)],
                  default=RawSQL(str(len(days) - 1)))  # type: ignore[arg-type]
    query = PartnerRecord.filter(received_at__gte=starts[0], received_at__lt=end)
    if partner_id is not None:
        query = query.filter(partner_id=partner_id)
    rows = await query.annotate(day=day_of, records=Count("id")).group_by(
        "day", "partner_id", "status", "reason").values(
        "day", "partner_id", "status", "reason", "records")
    found = [PartnerRecordDay(days[int(r["day"])], r["partner_id"], r["status"], r["reason"],
                              int(r["records"])) for r in rows]
    return sorted(found, key=lambda r: (r.date, r.partner_id, r.status, r.reason or ""))
