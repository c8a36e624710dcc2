"""Partner ingestion: each record credited exactly once, or kept with why it was not.

Per record, one database transaction: lock the player's totals for that day and kind,
compute with the methodology in effect when the activity started, write the activity,
post its credit to the ledger, update the planet, and claim (partner, record id) by
inserting the partner record last: a duplicate, even a concurrent one, meets the
unique index there and rolls its whole transaction back. Records already received and
the batch's players are read once per batch.
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
        """Each record in turn; what is already known (earlier records, players) is read
        for the whole batch in two queries first."""
        ids = [record["id"] for record in records]
        seen = {r.record_id: r for r in
                await PartnerRecord.filter(partner_id=partner_id, record_id__in=ids)}
        players = await self._players({record.get("subject") for record in records})
        outcomes = []
        for record in records:
            earlier = seen.get(record["id"])
            outcomes.append(_duplicate(earlier) if earlier is not None
                            else await self.ingest_one(partner_id, record, players))
        return outcomes

    async def ingest_one(self, partner_id: str, record: dict,
                         players: dict[str, Player] | None = None) -> RecordOutcome:
        record_id = record["id"]
        if players is None:
            existing = await PartnerRecord.get_or_none(partner_id=partner_id, record_id=record_id)
            if existing is not None:
                return _duplicate(existing)
        try:
            return await self._process(partner_id, record, players)
        except IntegrityError:  # a concurrent (or same-batch) copy of the record came first
            existing = await PartnerRecord.get_or_none(partner_id=partner_id, record_id=record_id)
            if existing is None:
                raise
            return _duplicate(existing)

    async def _players(self, subjects: set) -> dict[str, Player]:
        """subject -> player, for subjects that are player ids or one host-app subject."""
        subjects = {s for s in subjects if isinstance(s, str)}
        by_id = {str(pid): s for s in subjects if (pid := subject_as_player_id(s)) is not None}
        found = {by_id[str(p.id)]: p for p in await Player.filter(id__in=list(by_id))}
        rest = [s for s in subjects if s not in found]
        if rest:
            links: dict[str, list[Player]] = {}
            for link in await HostIdentity.filter(subject__in=rest).prefetch_related("player"):
                links.setdefault(link.subject, []).append(link.player)
            found.update({s: ps[0] for s, ps in links.items() if len(ps) == 1})
        return found

    async def _player(self, subject: str, players: dict[str, Player] | None) -> Player:
        if players is None:
            players = await self._players({subject})
        player = players.get(subject)
        if player is None:
            raise Refused("UNKNOWN_SUBJECT", "no player has this id or host-app subject")
        return player

    def _check_times(self, fields: RecordFields) -> None:
        rejection = check_time_window(
            fields.started_at, fields.ended_at, utcnow(),
            timedelta(days=self.settings.activity_max_age_days),
            future_tolerance=timedelta(seconds=self.settings.activity_future_tolerance_seconds),
        )
        if rejection is not None:
            raise Refused(rejection.reason, rejection.message)

    async def _process(self, partner_id: str, record: dict,
                       players: dict[str, Player] | None) -> RecordOutcome:
        record_id = record["id"]
        player = None
        try:
            try:
                fields = parse_fields(record)
            except FieldError as exc:
                raise Refused("INVALID_FIELD", str(exc)) from None
            player = await self._player(fields.subject, players)
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
            # claimed last: a concurrent copy of this record meets the unique index here
            # and the whole transaction rolls back (the daily lock has serialised the two)
            await PartnerRecord.create(
                partner_id=partner_id, record_id=record_id, payload=record,
                status=activity.status, reason=activity.reject_reason,
                message=activity.reject_message, activity=activity)
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
