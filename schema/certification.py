"""Certification periods: closing a month, withdrawing an activity, the batches' public
figures and a player's certified reductions. Thin resolvers over `app.certification`."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from app.auth.roles import Role
from app.certification import service, withdrawal
from app.certification.models import CertifiedActivity as CertifiedActivityModel
from app.certification.models import CertifiedBatch as BatchModel
from app.certification.periods import serial
from app.errors import ServiceError
from schema.activities import Activity, ActivityWithdrawal, WithdrawalReason
from schema.errors import UserError, user_errors
from schema.pagination import Connection, paginate
from schema.permissions import Public, requires_role
from schema.scalars import Long

IsOperator = requires_role(Role.OPERATOR)


@strawberry.enum
class CertifiedBatchKind(Enum):
    SEALED = "sealed"
    SUPPLEMENTARY = "supplementary"
    ADJUSTMENT = "adjustment"


@strawberry.enum
class CertifiedEntryKind(Enum):
    CERTIFIED = "certified"
    WITHDRAWN = "withdrawn"


@strawberry.type(description=(
    "A certified batch: one month's (period's) reductions of one methodology version, one "
    "serial per gram. Public figures, no player appears."))
class CertifiedBatch:
    code: str
    period: str = strawberry.field(description="The month, YYYY-MM, in the city's time zone.")
    methodology_id: str
    methodology_version: int
    kind: CertifiedBatchKind
    serial_prefix: str
    first_serial: str | None = strawberry.field(description=(
        "The batch's first serial, printed (null when it issued none: an empty or an "
        "adjustment batch)."))
    last_serial: str | None
    grams: Long = strawberry.field(description=(
        "Grams certified (= serials issued); negative for an adjustment: the grams withdrawn."))
    activity_count: int
    participants: int
    content_hash: str = strawberry.field(description=(
        "SHA-256 over the batch's activities in serial order (the encoding is in the "
        "manifest and the regulator's documentation)."))
    closed_at: datetime
    manifest: str = strawberry.field(description=(
        "JSON: counts and grams by scene, methodology version, district and partner, "
        "participants, the hash and its encoding; an adjustment also names the batches the "
        "withdrawn grams came from."))

    @classmethod
    def from_model(cls, b: BatchModel) -> CertifiedBatch:
        issued = b.kind != "adjustment" and b.last_serial >= b.first_serial
        return cls(
            code=b.code, period=b.period, methodology_id=b.methodology_id,
            methodology_version=b.methodology_version, kind=CertifiedBatchKind(b.kind),
            serial_prefix=b.serial_prefix,
            first_serial=serial(b.serial_prefix, b.first_serial) if issued else None,
            last_serial=serial(b.serial_prefix, b.last_serial) if issued else None,
            grams=b.grams, activity_count=b.activity_count, participants=b.participants,
            content_hash=b.content_hash, closed_at=b.closed_at,
            manifest=json.dumps(b.manifest, ensure_ascii=False, sort_keys=True))


@strawberry.type(description="One of the player's activities in a certified batch.")
class CertifiedReduction:
    activity_id: strawberry.ID
    kind: CertifiedEntryKind = strawberry.field(description=(
        "CERTIFIED: sealed with these serials; WITHDRAWN: taken out again in an adjustment "
        "batch (the serials it had are void)."))
    grams: int
    first_serial: str | None = strawberry.field(description=(
        "Its first serial, printed (CERTIFIED only: a withdrawn activity's void serials are "
        "those of its CERTIFIED entry)."))
    last_serial: str | None
    batch: CertifiedBatch


@strawberry.type
class CloseCertificationPeriodPayload:
    batch: CertifiedBatch | None = strawberry.field(default=None, description=(
        "The sealed batch (first close of the period) or a supplementary one (records that "
        "arrived since); the period's last batch when nothing arrived."))
    adjustment: CertifiedBatch | None = strawberry.field(default=None, description=(
        "Certified activities withdrawn since the last close, taken out as negative grams."))
    created: bool = strawberry.field(default=False,
                                     description="False when this call wrote nothing.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WithdrawActivityPayload:
    activity: Activity | None = None
    withdrawal: ActivityWithdrawal | None = None
    certified: bool = strawberry.field(default=False, description=(
        "It had been certified: the next close of its methodology version carries it in an "
        "adjustment batch; the sealed batch is unchanged."))
    errors: list[UserError] = strawberry.field(default_factory=list)


async def certified_reductions_of(player_id: str, first: int | None,
                                  after: str | None) -> Connection[CertifiedReduction]:
    """A player's certified (and withdrawn) activities, newest first."""
    async def fetch(n: int, key: tuple | None) -> list[CertifiedActivityModel]:
        query = CertifiedActivityModel.filter(activity__player_id=player_id)
        if key is not None:
            query = query.filter(id__lt=int(key[0]))
        return list(await query.order_by("-id").limit(n).prefetch_related("batch"))

    def to_node(row: CertifiedActivityModel) -> CertifiedReduction:
        issued = row.kind == "certified" and row.last_serial >= row.first_serial
        prefix = row.batch.serial_prefix
        return CertifiedReduction(
            activity_id=strawberry.ID(str(row.activity_id)),
            kind=CertifiedEntryKind(row.kind), grams=row.grams,
            first_serial=serial(prefix, row.first_serial) if issued else None,
            last_serial=serial(prefix, row.last_serial) if issued else None,
            batch=CertifiedBatch.from_model(row.batch))

    return await paginate(first, after, fetch, to_node, lambda r: (r.id,))


@strawberry.type
class CertificationQuery:
    @strawberry.field(permission_classes=[Public], description=(
        "Certified batches with their public figures, oldest first (a period's, YYYY-MM, "
        "and a methodology's, when given; at most 200)."))
    async def certified_batches(self, period: str | None = None,
                                methodology_id: str | None = None) -> list[CertifiedBatch]:
        return [CertifiedBatch.from_model(b) for b in await service.batches(period, methodology_id)]


@strawberry.type
class CertificationMutation:
    @strawberry.mutation(permission_classes=[IsOperator], description=(
        "Close a month (YYYY-MM, over in the city's time zone) for a methodology version: its "
        "accepted activities not yet certified are sealed, one serial per gram (operators). "
        "The same idempotency key again returns the same batches."))
    async def close_certification_period(
        self, info: Info, period: str, methodology_id: str, version: int, idempotency_key: str
    ) -> CloseCertificationPeriodPayload:
        principal = await info.context.principal()
        settings = info.context.services.settings
        try:
            result = await service.close_period(
                period, methodology_id, version, f"player:{principal.player_id}",
                idempotency_key, timezone=settings.default_timezone,
                serial_city=settings.certification_serial_city,
                methodologies=info.context.services.methodologies)
        except ServiceError as exc:
            return CloseCertificationPeriodPayload(errors=user_errors(exc))
        return CloseCertificationPeriodPayload(
            batch=CertifiedBatch.from_model(result.batch),
            adjustment=CertifiedBatch.from_model(result.adjustment) if result.adjustment else None,
            created=result.created)

    @strawberry.mutation(permission_classes=[IsOperator], description=(
        "Withdraw an accepted activity (a partner recalled it, it was fraudulent): its status "
        "becomes WITHDRAWN, the player's points, growth, energy and grams are taken back through "
        "the ledger as far as the balances hold, and the player sees the reason (operators). "
        "After PARTNER_RECALL or DATA_ERROR a scene record's real event and a bill's billing "
        "period are released, so a corrected record of the same event can be credited."))
    async def withdraw_activity(
        self, info: Info, activity_id: strawberry.ID, reason: WithdrawalReason,
        idempotency_key: str, note: str | None = None,
    ) -> WithdrawActivityPayload:
        principal = await info.context.principal()
        try:
            found = await withdrawal.withdraw(str(activity_id), reason.value, note,
                                              f"player:{principal.player_id}", idempotency_key)
        except ServiceError as exc:
            return WithdrawActivityPayload(errors=user_errors(exc))
        return WithdrawActivityPayload(
            activity=Activity.from_model(found.activity),
            withdrawal=ActivityWithdrawal.from_model(found.withdrawal),
            certified=found.certified)
