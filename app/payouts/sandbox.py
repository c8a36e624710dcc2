"""The development payout provider: pays everyone, into its own table.

It behaves like a real provider where it matters for the worker: one payment per
payout id, so a resend after a crash returns the first reference and pays nothing
twice, even when two sends race (the primary key decides).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.exceptions import IntegrityError

from app.payouts.models import SandboxPayment
from app.payouts.provider import PermanentPayoutError, ProviderRecord


class SandboxProvider:
    async def send(self, payout_id: str, recipient: str, amount_fen: int, memo: str) -> str:
        try:
            row = await SandboxPayment.create(payout_id=payout_id, recipient=recipient,
                                              amount_fen=amount_fen,
                                              reference=f"sandbox-{uuid.uuid4().hex}")
        except IntegrityError:
            row = await SandboxPayment.get(payout_id=payout_id)
            if (row.recipient, row.amount_fen) != (recipient, amount_fen):
                raise PermanentPayoutError(
                    f"payout id {payout_id} was already used for {row.amount_fen} fen "
                    f"to {row.recipient}") from None
        return row.reference

    async def records(self, since: datetime | None) -> list[ProviderRecord]:
        query = SandboxPayment.all() if since is None else SandboxPayment.filter(created_at__gte=since)
        return [ProviderRecord(r.payout_id, r.recipient, int(r.amount_fen), r.reference, r.created_at)
                for r in await query.order_by("created_at", "payout_id")]
