"""Per-player limit periods: the key of the period a moment falls in (local calendar)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.shop.models import LimitPeriod


def period_key(period: LimitPeriod | str, moment: datetime, timezone: str) -> str:
    """'2026-11-21' (day), '2026-W47' (ISO week), '2026-11' (month) or 'total'."""
    local = moment.astimezone(ZoneInfo(timezone))
    period = LimitPeriod(period)
    if period is LimitPeriod.DAY:
        return local.date().isoformat()
    if period is LimitPeriod.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if period is LimitPeriod.MONTH:
        return f"{local.year}-{local.month:02d}"
    return "total"
