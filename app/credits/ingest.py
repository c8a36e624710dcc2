"""Partner ingestion: each record credited exactly once, or kept with why it was not.

Per record, one database transaction: claim (partner, record id) by inserting the
partner record (a duplicate, even a concurrent one, meets the unique index), lock the
player's totals for that day and kind, compute with the methodology in effect when
the activity started, write the activity and post its credit to the ledger.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.accounts.models import HostIdentity, Player
from app.clock import utcnow
from app.credits.crediting import CreditService, credit_activity, provenance, totals
from app.credits.daily import lock_daily
from app.credits.models import Activity, PartnerRecord
from app.credits.records import FieldError, RecordFields, parse_fields, subject_as_player_id
from methodology import ActivityInput, calculate, check_time_window


@dataclass
class RecordOutcome:
    id: str
    status: str
    activityId: str | None = None  # noqa: N815 - the contract's JSON names
    reductionGrams: int | None = None  # noqa: N815
    points: int | None = None
    reason: str | None = None
    message: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Refused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class Ingestor(CreditService):
    async def ingest(self, partner_id: str, records: list[dict]) -> list[RecordOutcome]:
        return [await self.ingest_one(partner_id, record) for record in records]

    async def ingest_one(self, partner_id: str, record: dict) -> RecordOutcome:
        record_id = record["id"]
        existing = await PartnerRecord.get_or_none(partner_id=partner_id, record_id=record_id)
        if existing is not None:
            return _duplicate(existing)
        try:
            return await self._process(partner_id, record)
        except IntegrityError:
            existing = await PartnerRecord.get_or_none(partner_id=partner_id, record_id=record_id)
            if existing is None:
                raise
            return _duplicate(existing)

    async def _player(self, subject: str) -> Player:
        player_id = subject_as_player_id(subject)
        if player_id is not None:
            player = await Player.get_or_none(id=player_id)
            if player is not None:
                return player
        links = await HostIdentity.filter(subject=subject).limit(2).prefetch_related("player")
        if len(links) == 1:
            return links[0].player
        raise Refused("UNKNOWN_SUBJECT", "no player has this id or host-app subject")

    def _check_times(self, fields: RecordFields) -> None:
        rejection = check_time_window(
            fields.started_at, fields.ended_at, utcnow(),
            timedelta(days=self.settings.activity_max_age_days),
            future_tolerance=timedelta(seconds=self.settings.activity_future_tolerance_seconds),
        )
        if rejection is not None:
            raise Refused(rejection.reason, rejection.message)

    async def _process(self, partner_id: str, record: dict) -> RecordOutcome:
        record_id = record["id"]
        player = None
        try:
            try:
                fields = parse_fields(record)
            except FieldError as exc:
                raise Refused("INVALID_FIELD", str(exc)) from None
            player = await self._player(fields.subject)
            self._check_times(fields)
            methodology = self.registry.for_kind(fields.kind, fields.started_at)
            if methodology is None:
                raise Refused("UNKNOWN_KIND", f"no methodology covers kind {fields.kind!r}")
        except Refused as refused:
            async with in_transaction():
                activity = None
                if player is not None and isinstance(record.get("kind"), str):
                    activity = await self._rejected_activity(player, partner_id, record, refused)
                await PartnerRecord.create(
                    partner_id=partner_id, record_id=record_id, payload=record, status="rejected",
                    reason=refused.reason, message=refused.message, activity=activity,
                )
            return RecordOutcome(record_id, "rejected", reason=refused.reason, message=refused.message)

        local_date = fields.started_at.astimezone(self.zone).date()
        async with in_transaction():
            partner_record = await PartnerRecord.create(
                partner_id=partner_id, record_id=record_id, payload=record, status="accepted"
            )
            daily = await lock_daily(str(player.id), local_date, fields.kind)
            calc = calculate(
                methodology,
                ActivityInput(kind=fields.kind, distance_meters=fields.distance_meters,
                              started_at=fields.started_at, ended_at=fields.ended_at),
                totals(daily),
            )
            rejection = calc.rejection
            activity = await Activity.create(
                player=player, kind=fields.kind, source=f"partner:{partner_id}",
                occurred_at=fields.started_at, ended_at=fields.ended_at, local_date=local_date,
                distance_meters=fields.distance_meters,
                reduction_grams=calc.reduction_grams, points=calc.points, growth=calc.growth,
                energy=calc.energy, status="rejected" if rejection else "accepted",
                reject_reason=rejection.reason if rejection else None,
                reject_message=rejection.message if rejection else None,
                methodology_id=calc.methodology_id, methodology_version=calc.methodology_version,
                provenance=provenance(calc),
            )
            effects, credited_at = [], None
            if rejection is None:
                credited_at = await credit_activity(activity, calc, daily, key=f"activity:{activity.id}")
                effects = await self.game.on_activity(str(player.id), fields.kind, calc.growth,
                                                      local_date, 1)
            partner_record.activity = activity
            partner_record.status = activity.status
            partner_record.reason = activity.reject_reason
            partner_record.message = activity.reject_message
            await partner_record.save(update_fields=["activity_id", "status", "reason", "message"])
        if rejection is not None:
            return RecordOutcome(record_id, "rejected", reason=rejection.reason, message=rejection.message)
        await self.game.after_commit(player, calc.reduction_grams, credited_at, effects)
        return RecordOutcome(record_id, "accepted", activityId=str(activity.id),
                             reductionGrams=calc.reduction_grams, points=calc.points)

    async def _rejected_activity(self, player: Player, partner_id: str, record: dict,
                                 refused: Refused) -> Activity | None:
        """A refused record of a known player shows in their activities, with the reason."""
        try:
            fields = parse_fields(record)
        except FieldError:
            return None
        return await Activity.create(
            player=player, kind=fields.kind, source=f"partner:{partner_id}",
            occurred_at=fields.started_at, ended_at=fields.ended_at,
            local_date=fields.started_at.astimezone(self.zone).date(),
            distance_meters=fields.distance_meters, status="rejected",
            reject_reason=refused.reason, reject_message=refused.message,
        )


def _duplicate(existing: PartnerRecord) -> RecordOutcome:
    return RecordOutcome(existing.record_id, "duplicate",
                         activityId=str(existing.activity_id) if existing.activity_id else None)
