"""Writing to the payout outbox, and who is told when a payout ends.

`enqueue` runs inside the caller's database transaction, so a payout exists exactly
when what caused it (an order, a settlement) does. A worker sends it later
(`app.payouts.worker`). When a payout is paid or fails for good, the handler
registered for its purpose is called inside the worker's transaction that records
the outcome: the shop marks the order paid or refunds it, a settlement is marked
paid or its points go back to the merchant.

The outbox knows its purposes only through `register`: the processes that run a
worker register every handler at start (`app.payout_handlers`), so this module
imports none of the domains it pays for.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
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


_handlers: dict[str, PayoutHandler] = {}


def register(purpose: str, handler: PayoutHandler) -> None:
    """Name who is told when a payout of `purpose` ends (registering again replaces it)."""
    _handlers[purpose] = handler


def handlers() -> Mapping[str, PayoutHandler]:
    """Purpose -> handler, as registered so far (read when a payout ends)."""
    return MappingProxyType(_handlers)
