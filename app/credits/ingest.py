"""Partner ingestion: each record credited exactly once, or kept with why it was not.

For a record: lock the player's totals for that day and kind, compute with the
methodology in effect when the activity started, write the activity, claim (partner,
record id) by inserting the partner record (a duplicate, even a concurrent one, meets the
unique index there and rolls its whole transaction back), update the planet, and post the
credit to the ledger last, so the shared issuance accounts are locked only until commit.
A batch's new records, trips and scene records (app/credits/scene_ingest.py), do all this
together in one transaction, a statement per kind of row; if that transaction fails, each
record is tried again in its own.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.accounts.models import HostIdentity, Player
from app.clock import utcnow
from app.credits.batch_rows import BatchRows, lock_meters, scene_history
from app.credits.crediting import add_to_daily, credit_entry, provenance, totals
from app.credits.daily import DailyKey, lock_dailies
from app.credits.models import Activity, DailyCredit, PartnerRecord
from app.credits.outcomes import RecordOutcome
from app.credits.outcomes import accepted as _accepted
from app.credits.outcomes import duplicate as _duplicate
from app.credits.records import (
    MAX_ID_LENGTH,
    FieldError,
    RecordFields,
    SubjectRef,
    parse_fields,
    subject_as_player_id,
)
from app.credits.scene_ingest import SceneCrediting, ScenePlan, SceneRefused, scene_not_allowed
from app.database import DATABASE_ERRORS
from app.partner_links.service import LinkRefusal, resolve_refs
from methodology import ActivityInput, Calculation, Methodology, calculate, check_time_window

log = logging.getLogger("carbon_planet.ingest")
# a record's subject (or subjectRef) -> its player, or why a subjectRef names nobody
Subjects = dict[str | SubjectRef, Player | LinkRefusal]


class Refused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message
        self.player: Player | None = None


# a batch's record: a trip to credit (fields, player, methodology), a scene to credit, a
# refusal of either, or None for a record repeated within the batch
Plan = tuple["RecordFields", Player, "Methodology"] | ScenePlan | SceneRefused | Refused | None


class Ingestor(SceneCrediting):
    async def ingest(self, partner_id: str, records: list[dict]) -> list[RecordOutcome]:
        """A batch: what is already known (earlier records, players) is read in two
        queries, then the new records are credited together in one transaction. Should
        that fail (a concurrent copy of a record, a deadlock), it rolls back whole and
        the records go one by one, each in its own transaction."""
        ids = [record["id"] for record in records]
        seen = {r.record_id: r for r in
                await PartnerRecord.filter(partner_id=partner_id, record_id__in=ids)}
        players = await self._subjects(partner_id, records)
        fresh = [record for record in records if record["id"] not in seen]
        together: dict[int, RecordOutcome] = {}
        if len(fresh) > 1:
            try:
                together = dict(zip(map(id, fresh), await self._ingest_together(partner_id, fresh, players),
                                    strict=True))
            except DATABASE_ERRORS as exc:
                log.info("%d records credited one by one after the batch failed: %s", len(fresh), exc)
        outcomes = []
        for record in records:
            earlier = seen.get(record["id"])
            if earlier is not None:
                outcomes.append(_duplicate(earlier))
            elif id(record) in together:
                outcomes.append(together[id(record)])
            else:
                outcomes.append(await self.ingest_one(partner_id, record, players))
        return outcomes

    async def _ingest_together(self, partner_id: str, records: list[dict],
                               players: Subjects) -> list[RecordOutcome]:
        """New records, trips and scenes, in one transaction, in the per-record order of
        locks (meters, the day's totals, then planets, then accounts), each kind of lock
        taken by one statement in key order, each kind of row written by one statement.
        Scene claims and meter periods are read once and kept in memory as the batch adds
        to them. A concurrent copy of any record (or of a scene's real event) meets a
        unique index and rolls the whole batch back."""
        rows = BatchRows(utcnow())
        plans: list[Plan] = []
        first: dict[str, int] = {}
        for record in records:
            if record["id"] in first:
                plans.append(None)  # the same record twice in one batch
                continue
            first[record["id"]] = len(plans)
            plans.append(self._plan(partner_id, record, players))
        scenes = [plan for plan in plans if isinstance(plan, ScenePlan)]
        outcomes: list[RecordOutcome | None] = []
        async with in_transaction():
            await lock_meters([plan.meter for plan in scenes if plan.meter is not None])
            dailies = await lock_dailies([key for plan in plans if (key := self._daily_key(plan))])
            history = await scene_history([plan.claim for plan in scenes if plan.claim is not None],
                                          [plan.meter for plan in scenes if plan.meter is not None])
            for record, plan in zip(records, plans, strict=True):
                if plan is None:
                    outcomes.append(None)
                elif isinstance(plan, ScenePlan):
                    daily = dailies[(str(plan.player.id), plan.local_date, plan.scene.kind)]
                    outcomes.append(self.credit_scene_in_batch(partner_id, record, plan, daily,
                                                               history, rows))
                elif isinstance(plan, SceneRefused):
                    outcomes.append(self.refuse_scene_in_batch(partner_id, record, plan, rows))
                elif isinstance(plan, Refused):
                    outcomes.append(self._refuse_in_batch(partner_id, record, plan, rows))
                else:
                    fields, player, methodology = plan
                    daily = dailies[(str(player.id), fields.started_at.astimezone(self.zone).date(),
                                     fields.kind)]
                    outcomes.append(self._credit_in_batch(partner_id, record, fields, player,
                                                          methodology, daily, rows))
            await rows.write()
            effects, txs = await self.play_then_post(rows.events, rows.credits)
        await self.game.after_commit_many([
            (c.player, c.reduction_grams, txs[c.entry].created_at if c.entry is not None else rows.now,
             found) for c, found in zip(rows.credited, effects, strict=True)])
        return [outcome if outcome is not None else
                RecordOutcome(record["id"], "duplicate", activityId=rows.partner_records[record["id"]][-1])
                for record, outcome in zip(records, outcomes, strict=True)]

    def _plan(self, partner_id: str, record: dict, players: Subjects) -> Plan:
        current = self.scene_methodology(record)
        if current is not None:
            return self.plan_scene(partner_id, record, players, current)
        try:
            return self._prepare(partner_id, record, players)
        except Refused as refused:
            return refused

    def _daily_key(self, plan: Plan) -> DailyKey | None:
        if isinstance(plan, ScenePlan):
            return str(plan.player.id), plan.local_date, plan.scene.kind
        if plan is None or isinstance(plan, (Refused, SceneRefused)):
            return None
        fields, player, _ = plan
        return str(player.id), fields.started_at.astimezone(self.zone).date(), fields.kind

    def _refuse_in_batch(self, partner_id: str, record: dict, refused: Refused,
                         rows: BatchRows) -> RecordOutcome:
        activity = self._refused_activity(refused.player, partner_id, record, refused)
        if activity is not None:
            rows.activities.append(activity)
        rows.claim_record(partner_id, record, "rejected", refused.reason, refused.message,
                          activity.id if activity is not None else None)
        return RecordOutcome(record["id"], "rejected", reason=refused.reason, message=refused.message)

    def _credit_in_batch(self, partner_id: str, record: dict, fields: RecordFields, player: Player,
                         methodology: Methodology, daily: DailyCredit, rows: BatchRows
                         ) -> RecordOutcome:
        calc, activity = self._calculated(partner_id, fields, player, methodology, daily)
        rows.activities.append(activity)
        rows.claim_record(partner_id, record, activity.status, activity.reject_reason,
                          activity.reject_message, activity.id)
        if calc.rejection is not None:
            return RecordOutcome(record["id"], activity.status, reason=activity.reject_reason,
                                 message=activity.reject_message)
        entry = credit_entry(str(player.id), activity.id, add_to_daily(daily, calc))
        rows.credit(player, daily, calc.reduction_grams, entry,
                    (str(player.id), fields.kind, calc.growth, activity.local_date, 1))
        return _accepted(record["id"], activity)

    async def ingest_one(self, partner_id: str, record: dict,
                         players: Subjects | None = None) -> RecordOutcome:
        """One record in its own transaction, by the same steps as a batch. A concurrent
        copy of it that commits first makes it a duplicate of that one; so does another
        report of the same real event (the claim's unique index rolls this one back, and
        read again the event is claimed)."""
        record_id = record["id"]
        if players is None:
            existing = await PartnerRecord.get_or_none(partner_id=partner_id, record_id=record_id)
            if existing is not None:
                return _duplicate(existing)
            players = await self._subjects(partner_id, [record])
        for attempt in range(2):
            try:
                [outcome] = await self._ingest_together(partner_id, [record], players)
                return outcome
            except IntegrityError:
                existing = await PartnerRecord.get_or_none(partner_id=partner_id, record_id=record_id)
                if existing is not None:
                    return _duplicate(existing)
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _subjects(self, partner_id: str, records: list[dict]) -> Subjects:
        """Each record's subject (a player id or host-app subject) or subjectRef (through
        the partner's links) -> its player."""
        found: Subjects = {}
        found.update(await self._players([record.get("subject") for record in records]))
        found.update(await resolve_refs(partner_id, [record.get("subjectRef") for record in records]))
        return found

    async def _players(self, subjects: list) -> dict[str, Player]:
        """subject -> player, for subjects that are player ids or one host-app subject
        (anything else a partner sends as a subject finds nobody)."""
        wanted = {s for s in subjects if isinstance(s, str) and 0 < len(s) <= MAX_ID_LENGTH}
        by_id = {str(pid): s for s in wanted if (pid := subject_as_player_id(s)) is not None}
        found = {by_id[str(p.id)]: p  # a closed account is nobody: it earns nothing more
                 for p in await Player.filter(id__in=list(by_id), closed_at=None)}
        rest = [s for s in wanted if s not in found]
        if rest:
            links: dict[str, list[Player]] = {}
            for link in await HostIdentity.filter(subject__in=rest).prefetch_related("player"):
                links.setdefault(link.subject, []).append(link.player)
            found.update({s: ps[0] for s, ps in links.items() if len(ps) == 1})
        return found

    def _check_times(self, fields: RecordFields) -> None:
        rejection = check_time_window(
            fields.started_at, fields.ended_at, utcnow(),
            timedelta(days=self.settings.activity_max_age_days),
            future_tolerance=timedelta(seconds=self.settings.activity_future_tolerance_seconds),
        )
        if rejection is not None:
            raise Refused(rejection.reason, rejection.message)

    def _prepare(self, partner_id: str, record: dict, players: Subjects | None
                 ) -> tuple[RecordFields, Player, Methodology]:
        """Fields, player and methodology of a record that can be credited, or Refused
        (naming the player once known, for the refused activity)."""
        try:
            fields = parse_fields(record)
        except FieldError as exc:
            raise Refused("INVALID_FIELD", str(exc)) from None
        if players is None or fields.subject not in players:
            raise Refused("UNKNOWN_SUBJECT", "no player has this id or host-app subject")
        player = players[fields.subject]
        if isinstance(player, LinkRefusal):
            raise Refused(player.reason, player.message)
        try:
            self._check_times(fields)
            methodology = self.registry.for_kind(fields.kind, fields.started_at)
            if methodology is None:
                raise Refused("UNKNOWN_KIND", f"no methodology covers kind {fields.kind!r}")
            scene = methodology.scene_kind(fields.kind)
            if scene not in ("travel", "steps"):
                # a trip record carries no quantity, reading or check-in to compute from
                raise Refused("UNKNOWN_KIND",
                              f"{fields.kind!r} is a {scene} scene of {methodology.id}: its records"
                              " carry occurredAt and the scene's fields, not a trip's")
            if not self.partner_allows(partner_id, fields.kind, scene):
                raise Refused("SCENE_NOT_ALLOWED", scene_not_allowed(partner_id, fields.kind))
        except Refused as refused:
            refused.player = player
            raise
        return fields, player, methodology

    def _calculated(self, partner_id: str, fields: RecordFields, player: Player,
                    methodology: Methodology, daily: DailyCredit) -> tuple[Calculation, Activity]:
        """The calculation against the day's totals so far, and its (unsaved) activity."""
        calc = calculate(
            methodology,
            ActivityInput(kind=fields.kind, distance_meters=fields.distance_meters,
                          started_at=fields.started_at, ended_at=fields.ended_at),
            totals(daily),
        )
        rejection = calc.rejection
        return calc, Activity(
            player=player, kind=fields.kind, source=f"partner:{partner_id}",
            occurred_at=fields.started_at, ended_at=fields.ended_at,
            local_date=fields.started_at.astimezone(self.zone).date(),
            distance_meters=fields.distance_meters,
            reduction_grams=calc.reduction_grams, points=calc.points, growth=calc.growth,
            energy=calc.energy, status="rejected" if rejection else "accepted",
            reject_reason=rejection.reason if rejection else None,
            reject_message=rejection.message if rejection else None,
            methodology_id=calc.methodology_id, methodology_version=calc.methodology_version,
            provenance=provenance(calc),
        )

    def _refused_activity(self, player: Player | None, partner_id: str, record: dict,
                          refused: Refused) -> Activity | None:
        """A refused record of a known player shows in their activities, with the reason."""
        if player is None or not isinstance(record.get("kind"), str):
            return None
        try:
            fields = parse_fields(record)
        except FieldError:
            return None
        return Activity(
            player=player, kind=fields.kind, source=f"partner:{partner_id}",
            occurred_at=fields.started_at, ended_at=fields.ended_at,
            local_date=fields.started_at.astimezone(self.zone).date(),
            distance_meters=fields.distance_meters, status="rejected",
            reject_reason=refused.reason, reject_message=refused.message,
        )
