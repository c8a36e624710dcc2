"""The audit log of operator changes (shop items, coupon pools, merchants, cancellations)."""

from __future__ import annotations

from typing import Any

from app.shop.models import AuditEntry


async def record(actor_id: str, action: str, target_type: str, target_id: str,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
                 note: str | None = None) -> AuditEntry:
    """Write one entry; call inside the transaction that makes the change."""
    return await AuditEntry.create(actor_id=actor_id, action=action, target_type=target_type,
                                   target_id=str(target_id), before=before, after=after,
                                   note=note)


async def entries(target_type: str | None = None, target_id: str | None = None,
                  limit: int = 50, before_id: int | None = None) -> list[AuditEntry]:
    """Newest first."""
    query = AuditEntry.all()
    if target_type:
        query = query.filter(target_type=target_type)
    if target_id:
        query = query.filter(target_id=str(target_id))
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return await query.order_by("-id").limit(limit)
