"""Reading activities and received partner records, newest first (keyset pages)."""

from __future__ import annotations

import uuid
from datetime import datetime

from app.credits.models import Activity, PartnerRecord
from app.database import newest_first


async def player_activities(
    player_id: str, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> list[Activity]:
    return await newest_first(Activity.filter(player_id=player_id), after).limit(limit)


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
