"""Reading the payout outbox for operators: newest first, by status (keyset pages)."""

from __future__ import annotations

from datetime import datetime

from app.database import newest_first
from app.payouts.models import Payout


async def payouts(status: str | None, limit: int,
                  after: tuple[datetime, str] | None) -> list[Payout]:
    """Payouts in `status` (all when None), newest first by (created_at, id)."""
    query = Payout.all() if status is None else Payout.filter(status=status)
    return await newest_first(query, after).limit(limit)
