"""The payout outbox as operators see it: pending, retrying and failed cash payouts with
the provider's last answer. Read only: the worker sends and retries (app.payouts.worker)."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from app.auth.roles import Role
from app.ledger.chain import EPOCH, micros
from app.payouts import queries
from app.payouts.models import Payout as PayoutModel
from app.payouts.models import PayoutStatus as PayoutStatusEnum
from schema.pagination import Connection, decode_cursor, paginate
from schema.permissions import requires_role

strawberry.enum(PayoutStatusEnum, name="PayoutStatus")  # marks the class itself (the alias below)
PayoutStatus = PayoutStatusEnum
IsOperator = requires_role(Role.OPERATOR)


@strawberry.type
class Payout:
    id: strawberry.ID = strawberry.field(description='Stable: "order:<id>" or "settlement:<id>".')
    purpose: str = strawberry.field(description="order (a red packet) or settlement (a merchant).")
    reference: str = strawberry.field(description="The order's or the settlement's id.")
    recipient: str = strawberry.field(description='"player:<id>" or "merchant:<id>".')
    amount_fen: int
    status: PayoutStatus
    attempts: int
    retrying: bool = strawberry.field(
        description="Pending after a failed attempt: the worker tries again at nextAttemptAt.")
    next_attempt_at: datetime
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed (for FAILED: why it failed for good).")
    provider_reference: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_model(cls, p: PayoutModel) -> Payout:
        return cls(id=strawberry.ID(p.id), purpose=p.purpose, reference=p.reference,
                   recipient=p.recipient, amount_fen=int(p.amount_fen),
                   status=PayoutStatusEnum(p.status), attempts=p.attempts,
                   retrying=p.status == PayoutStatusEnum.PENDING and p.attempts > 0,
                   next_attempt_at=p.next_attempt_at, last_error=p.last_error,
                   provider_reference=p.provider_reference, created_at=p.created_at,
                   finished_at=p.finished_at)


def _key(p: PayoutModel) -> tuple:
    # payout ids hold ":", the cursor's separator: hex keeps them out of its way
    return (micros(p.created_at), p.id.encode().hex())


def _decode(cursor: str | None) -> tuple | None:
    return decode_cursor(cursor, lambda v: EPOCH + timedelta(microseconds=int(v)),
                         lambda v: bytes.fromhex(v).decode())


@strawberry.type
class PayoutQuery:
    @strawberry.field(permission_classes=[IsOperator], description=(
        "Cash payouts in the outbox, newest first (operators); all statuses when none is given."))
    async def payouts(self, status: PayoutStatus | None = None, first: int | None = None,
                      after: str | None = None) -> Connection[Payout]:
        wanted = status.value if status else None
        return await paginate(first, after, lambda n, key: queries.payouts(wanted, n, key),
                              Payout.from_model, _key, _decode)
