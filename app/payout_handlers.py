"""Every purpose the payout outbox pays for, with the domain told when such a payout
ends. A process that runs a payout worker (the server, `carbon-planet payouts work`)
calls `register_payout_handlers()` at start; the outbox itself imports no domain.
"""

from __future__ import annotations

from app.merchants.settlement import SettlementPayouts
from app.payouts import outbox
from app.shop.redemption import OrderPayouts


def register_payout_handlers() -> None:
    outbox.register("order", OrderPayouts())
    outbox.register("settlement", SettlementPayouts())
