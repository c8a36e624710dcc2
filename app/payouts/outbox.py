"""Writing to the payout outbox, and who is told when a payout ends.

`enqueue` runs inside the caller's database transaction, so a payout exists exactly
when what caused it (an order, a settlement) does. A worker sends it later
(`app.payouts.worker`). When a payout is paid or fails for good, the handler
registered for its purpose is called inside the worker's transaction that records
the outcome: the shop marks the order paid or refunds it, a settlement is marked
paid or its points go back to the merchant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from app.payouts.models import Payout, PayoutStatus


class PayoutHandler(Protocol):
    async def paid(self, payout: Payout) -> None: ...

    async def failed(self, payout: Payout) -> None: ...


async def enqueue(payout_id: str, purpose: str, reference: str, recipient: str,
                  amount_fen: int, now: datetime) -> Payout:
    """Add a payout; call inside the transaction that creates its cause."""
    if amount_fen <= 0:
        raise ValueError("a payout pays a positive amount")
    return await Payout.create(id=payout_id, purpose=purpose, reference=reference,
                               recipient=recipient, amount_fen=amount_fen,
                               status=PayoutStatus.PENDING.value, next_attempt_at=now)


def handlers() -> dict[str, PayoutHandler]:
    """Purpose -> handler (imported here, not at module load, to keep imports one-way)."""
    from app.merchants.settlement import SettlementPayouts
    from app.shop.redemption import OrderPayouts

    return {"order": OrderPayouts(), "settlement": SettlementPayouts()}
