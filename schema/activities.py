"""Methodologies, activities, step sync and received partner records: thin resolvers."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from app.auth.roles import Role
from app.certification.models import ActivityWithdrawal as WithdrawalModel
from app.certification.withdrawal import reason_text
from app.credits import queries
from app.credits.crediting import explained
from app.credits.models import Activity as ActivityModel
from app.credits.models import PartnerRecord as PartnerRecordModel
from app.credits.reasons import reason_text as rejection_text
from app.errors import ServiceError
from methodology import Methodology as MethodologyModel
from methodology import public_caps, public_factors, public_scenes
from schema.credits import Asset
from schema.errors import UserError, client_error, user_errors
from schema.loaders import Loaders, PageKey
from schema.pagination import (
    Connection,
    decode_newest,
    newest_key,
    paginate,
)
from schema.permissions import IsAuthenticated, Public, requires_role


@strawberry.enum
class ActivityStatus(Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@strawberry.type
class MethodologyFactor:
    key: str
    value: str = strawberry.field(description="As written in the methodology file (decimal).")
    unit: str
    source: str


@strawberry.type
class MethodologyCap:
    key: str
    value: int
    unit: str


@strawberry.type(description="One activity kind a methodology credits, and how.")
class MethodologyScene:
    kind: str = strawberry.field(description="The activity kind, e.g. household_electricity.")
    scene_kind: str = strawberry.field(
        description="The formula: travel, steps, quantity (quantity × factor), baseline "
                    "(saving against a baseline per billing period) or event (fixed amount).")
    title: str
    formula: str = strawberry.field(description="The formula in words, with its units.")
    record_fields: list[str] = strawberry.field(
        description="The fields a record of this scene carries.")
    dedup_key: list[str] = strawberry.field(
        description="The fields that identify one real event when two sources report it.")


@strawberry.type
class Methodology:
    id: strawberry.ID
    version: int
    title: str
    kinds: list[str]
    effective_from: datetime
    factors: list[MethodologyFactor]
    caps: list[MethodologyCap]
    scenes: list[MethodologyScene]

    @classmethod
    def from_model(cls, m: MethodologyModel) -> Methodology:
        return cls(
            id=strawberry.ID(m.id), version=m.version, title=m.title, kinds=m.kinds,
            effective_from=m.effective_from,
            factors=[MethodologyFactor(key=f.key, value=f.value, unit=f.unit, source=f.source)
                     for f in public_factors(m)],
            caps=[MethodologyCap(key=c.key, value=c.value, unit=c.unit) for c in public_caps(m)],
            scenes=[MethodologyScene(kind=s.kind, scene_kind=s.scene_kind, title=s.title,
                                     formula=s.formula, record_fields=s.record_fields,
                                     dedup_key=s.dedup_key) for s in public_scenes(m)],
        )


@strawberry.type
class MethodologyRef:
    id: strawberry.ID
    version: int


@strawberry.enum
class WithdrawalReason(Enum):
    PARTNER_RECALL = "PARTNER_RECALL"
    FRAUD = "FRAUD"
    DUPLICATE = "DUPLICATE"
    DATA_ERROR = "DATA_ERROR"


@strawberry.type
class AssetAmount:
    asset: Asset
    amount: int


def _amounts(found: dict[str, int]) -> list[AssetAmount]:
    return [AssetAmount(asset=Asset(a), amount=int(n)) for a, n in sorted(found.items())]


@strawberry.type(description="Why and when an activity was withdrawn, and what was taken back.")
class ActivityWithdrawal:
    reason: WithdrawalReason
    reason_text: str = strawberry.field(description="The reason, in the reader's language.")
    note: str | None = strawberry.field(description="The operator's or partner's own words.")
    withdrawn_at: datetime
    reversed: list[AssetAmount] = strawberry.field(
        description="Taken back from the player's balances through the ledger "
                    "(transaction type activity.withdrawal).")
    owed: list[AssetAmount] = strawberry.field(
        description="What the player had already spent, so could not be taken back: recorded, "
                    "not collected.")

    @classmethod
    def from_model(cls, w: WithdrawalModel) -> ActivityWithdrawal:
        return cls(reason=WithdrawalReason(w.reason), reason_text=str(reason_text(w.reason)),
                   note=w.note, withdrawn_at=w.created_at,
                   reversed=_amounts(w.reversed_amounts), owed=_amounts(w.owed_amounts))


@strawberry.type
class Activity:
    id: strawberry.ID
    kind: str
    source: str
    occurred_at: datetime
    distance_meters: int | None
    steps: int | None
    reduction_grams: int
    points_awarded: int
    growth_awarded: int
    energy_awarded: int
    status: ActivityStatus
    reject_reason: str | None
    methodology: MethodologyRef | None
    kept_provenance: strawberry.Private[dict]

    @strawberry.field(description="JSON: the factors used (`factors`) with their sources "
                                  "(`sources`), the caps that cut this activity (`capsApplied`) "
                                  "and, for scenes beyond travel, the inputs as read (`inputs`) "
                                  "and the formula with its rounding (`rounding`).")
    def provenance(self, info: Info) -> str:
        methodology = self.methodology
        shown = explained(self.kept_provenance, self.kind,
                          str(methodology.id) if methodology else None,
                          methodology.version if methodology else None,
                          info.context.services.methodologies)
        return json.dumps(shown, ensure_ascii=False)

    @strawberry.field(description="Why the activity earned nothing (status REJECTED), one "
                                  "sentence in the reader's language; null otherwise.")
    def reject_reason_text(self) -> str | None:
        text = rejection_text(self.reject_reason) if self.status == ActivityStatus.REJECTED else None
        return str(text) if text is not None else None

    @classmethod
    def from_model(cls, a: ActivityModel) -> Activity:
        return cls(
            id=strawberry.ID(str(a.id)), kind=a.kind, source=a.source, occurred_at=a.occurred_at,
            distance_meters=a.distance_meters, steps=a.steps, reduction_grams=a.reduction_grams,
            points_awarded=a.points, growth_awarded=a.growth, energy_awarded=a.energy,
            status=ActivityStatus(a.status), reject_reason=a.reject_reason,
            methodology=MethodologyRef(id=strawberry.ID(a.methodology_id), version=a.methodology_version)
            if a.methodology_id and a.methodology_version is not None else None,
            kept_provenance=a.provenance,
        )

    @strawberry.field(description="Set when the activity was withdrawn (status WITHDRAWN).")
    async def withdrawal(self, info: Info) -> ActivityWithdrawal | None:
        if self.status != ActivityStatus.WITHDRAWN:
            return None
        found = await info.context.loaders.activity_withdrawals.load(str(self.id))
        return ActivityWithdrawal.from_model(found) if found else None


@strawberry.type
class PartnerRecord:
    id: strawberry.ID
    partner_id: str
    record_id: str
    received_at: datetime
    status: str
    reason: str | None
    message: str | None
    activity_id: strawberry.ID | None
    payload: str = strawberry.field(description="The record as the partner sent it (JSON).")

    @classmethod
    def from_model(cls, r: PartnerRecordModel) -> PartnerRecord:
        return cls(
            id=strawberry.ID(str(r.id)), partner_id=r.partner_id, record_id=r.record_id,
            received_at=r.received_at, status=r.status, reason=r.reason, message=r.message,
            activity_id=strawberry.ID(str(r.activity_id)) if r.activity_id else None,
            payload=json.dumps(r.payload, ensure_ascii=False),
        )


@strawberry.type
class PartnerRecordDay:
    date: date = strawberry.field(
        description="The city's local day the records were received on.")
    partner_id: str
    status: str = strawberry.field(description="accepted or rejected.")
    reason: str | None = strawberry.field(description="Why they were refused (rejected only).")
    records: int


@strawberry.type
class SyncStepsPayload:
    activity: Activity | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def activities_of(loaders: Loaders, player_id: str, first: int | None,
                        after: str | None) -> Connection[Activity]:
    return await paginate(first, after,
                          lambda n, key: loaders.player_activities.load(PageKey(player_id, n, key)),
                          Activity.from_model, newest_key, decode_newest)


@strawberry.type
class CreditsQuery:
    @strawberry.field(permission_classes=[Public],
                      description="How every kind of activity becomes grams, points and growth.")
    def methodologies(self, info: Info) -> list[Methodology]:
        return [Methodology.from_model(m) for m in info.context.services.methodologies.all()]

    @strawberry.field(permission_classes=[requires_role(Role.OPERATOR)], description=(
        "Records received from partners on each of the city's local days from since to until "
        "(both included, at most 92 days), counted by partner, status and refusal reason "
        "(operators)."))
    async def partner_record_days(self, info: Info, since: date, until: date,
                                  partner_id: str | None = None) -> list[PartnerRecordDay]:
        try:
            rows = await queries.partner_record_days(
                since, until, info.context.services.settings.default_timezone, partner_id)
        except ServiceError as exc:
            raise client_error(exc) from None
        return [PartnerRecordDay(**asdict(r)) for r in rows]

    @strawberry.field(permission_classes=[requires_role(Role.OPERATOR)],
                      description="Records received from partners, newest first (operators).")
    async def partner_records(
        self,
        partner_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PartnerRecord]:
        return await paginate(
            first, after,
            lambda n, key: queries.partner_records(n, key[0] if key else None, partner_id,
                                                   status, since, until),
            PartnerRecord.from_model, lambda r: (r.id,))


@strawberry.type
class CreditsMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def sync_steps(self, info: Info, date: date, steps: int) -> SyncStepsPayload:
        player = await info.context.player()
        try:
            activity = await info.context.services.steps.sync(player, date, steps)
        except ServiceError as exc:
            return SyncStepsPayload(errors=user_errors(exc))
        return SyncStepsPayload(activity=Activity.from_model(activity))
