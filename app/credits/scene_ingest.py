"""Partner records of scenes beyond travel (quantity, baseline, event), through the same
daily totals, game hooks and ledger credit as a trip, in the transaction of the batch
they came in (`Ingestor._ingest_together`; a record alone is a batch of one).

Before the batch's records are credited, the meters they read are locked and the claims
on their real events (a scene's dedup key: a meter and its period, a ticket) and the
meters' kept periods are read (`app.credits.batch_rows`). A record whose event is claimed
is a `duplicate` of the claiming activity; else the calculation sees the meter's periods,
the activity and partner record are written, the bill's period kept (when credited, and
for a valid bill without saving or baseline) and, when credited, the claim and the ledger
credit. A concurrent report of the same event meets the claim's unique index, rolls back
and is answered again, as a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from app.accounts.models import Player
from app.clock import utcnow
from app.credits.batch_rows import BatchRows, ClaimKey, MeterKey, SceneHistory, as_json, meter_period_row
from app.credits.crediting import CreditService, add_to_daily, credit_entry, provenance, totals
from app.credits.models import Activity, DailyCredit
from app.credits.outcomes import RecordOutcome, accepted
from app.credits.records import FieldError, parse_subject_and_kind, parse_time
from app.credits.scene_records import SceneRecord, parse_scene_record
from app.settings import PartnerConfig
from methodology import (
    AnyInput,
    Calculation,
    CreditedPeriod,
    MeterReadingInput,
    Methodology,
    QuantityInput,
    Reason,
    calculate,
    check_time_window,
)

SCENE_FORMULAS = ("quantity", "baseline", "event")
# a valid bill that credits nothing still joins the meter's history: it is the household's
# own consumption, the base of its moving average, and no later bill may overlap it
METER_HISTORY_REASONS = (Reason.NO_SAVING, Reason.NO_BASELINE)
MAX_MESSAGE = 300  # the message columns' width


def credited_quantity(methodology: Methodology, reading: AnyInput, calc: Calculation
                      ) -> tuple[int, str | None]:
    """What the game counts for the scene's quantity requirements, in the scene's unit: the
    quantity recycled, generated or charged; a meter's saving against its baseline."""
    if isinstance(reading, QuantityInput):
        return reading.quantity, methodology.quantity[reading.kind].quantity_unit
    if isinstance(reading, MeterReadingInput):
        saving = int(calc.inputs["baseline"]) - int(calc.inputs["consumption"])
        return saving, methodology.baseline[reading.kind].quantity_unit
    return 0, None


class SceneRefused(Exception):
    def __init__(self, reason: str, message: str, player: Player | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.player = reason, message[:MAX_MESSAGE], player


def scene_activity(partner_id: str, scene: SceneRecord, player: Player, local_date: date,
                   calc: Calculation) -> Activity:
    """The activity a scene record's calculation makes (accepted, or rejected with the
    calculator's reason), whether it is written at once or with its batch."""
    rejection = calc.rejection
    return Activity(
        player=player, kind=scene.kind, source=f"partner:{partner_id}",
        occurred_at=scene.occurred_at, local_date=local_date,
        reduction_grams=calc.reduction_grams, points=calc.points, growth=calc.growth,
        energy=calc.energy, status="rejected" if rejection else "accepted",
        reject_reason=rejection.reason if rejection else None,
        reject_message=rejection.message[:MAX_MESSAGE] if rejection else None,
        methodology_id=calc.methodology_id, methodology_version=calc.methodology_version,
        provenance=provenance(calc))


def scene_not_allowed(partner_id: str, kind: str) -> str:
    return f"partner {partner_id} is not registered for {kind} records"


@dataclass(frozen=True)
class ScenePlan:
    """A scene record that can be computed: its fields, player and methodology, and the
    meter and claim (real event) it is read against."""

    scene: SceneRecord
    player: Player
    methodology: Methodology
    local_date: date
    meter: MeterKey | None
    claim: ClaimKey | None

    @classmethod
    def of(cls, scene: SceneRecord, player: Player, methodology: Methodology,
           local_date: date) -> ScenePlan:
        reading, key = scene.calculation_input, scene.dedup_key
        return cls(scene, player, methodology, local_date,
                   (scene.kind, reading.meter_id) if isinstance(reading, MeterReadingInput) else None,
                   (scene.kind, key.digest) if key is not None else None)


class SceneCrediting(CreditService):
    """What `Ingestor` adds for scene records: planning and crediting them in a batch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._partners = {p.id: p for p in self.settings.partners}

    def partner_config(self, partner_id: str) -> PartnerConfig | None:
        return self._partners.get(partner_id)

    def partner_allows(self, partner_id: str, kind: str, formula: str | None) -> bool:
        partner = self.partner_config(partner_id)
        return formula == "travel" if partner is None else partner.allows(kind, formula)

    def scene_methodology(self, record: dict) -> Methodology | None:
        """The methodology in effect now that computes the record's kind as a scene beyond
        travel; None for a trip's kind (or no kind)."""
        kind = record.get("kind")
        if not isinstance(kind, str):
            return None
        methodology = self.registry.for_kind(kind, utcnow())
        return methodology if methodology is not None and methodology.scene_kind(kind) in SCENE_FORMULAS \
            else None

    def _prepare_scene(self, partner_id: str, record: dict, players: Mapping[Any, Any],
                       current: Methodology | None = None) -> tuple[SceneRecord, Player, Methodology]:
        """`current`: the methodology in effect now for the record's kind, if known."""
        try:
            subject, kind = parse_subject_and_kind(record)
        except FieldError as exc:
            raise SceneRefused("INVALID_FIELD", str(exc)) from None
        found = players.get(subject)
        if found is not None and not isinstance(found, Player):  # a subjectRef with no usable link
            raise SceneRefused(found.reason, found.message)
        player: Player | None = found
        now = utcnow()
        current = current or self.registry.for_kind(kind, now)
        if not self.partner_allows(partner_id, kind, current.scene_kind(kind) if current else None):
            raise SceneRefused("SCENE_NOT_ALLOWED", scene_not_allowed(partner_id, kind), player)
        try:
            occurred_at = parse_time(record, "occurredAt")
        except FieldError as exc:
            raise SceneRefused("INVALID_FIELD", str(exc), player) from None
        # the version in effect now is the one in effect at any moment since it took effect
        methodology = current if current is not None and current.effective_from <= occurred_at <= now \
            else self.registry.for_kind(kind, occurred_at)
        if methodology is None or methodology.scene_kind(kind) not in SCENE_FORMULAS:
            raise SceneRefused("UNKNOWN_KIND", f"no methodology covers kind {kind!r} on"
                                               f" {occurred_at.date()}", player)
        try:
            scene_record = parse_scene_record(record, methodology, kind, occurred_at)
        except FieldError as exc:
            raise SceneRefused("INVALID_FIELD", str(exc), player) from None
        if player is None:
            raise SceneRefused("UNKNOWN_SUBJECT", "no player has this id or host-app subject")
        rejection = check_time_window(
            occurred_at, None, now, timedelta(days=self.settings.activity_max_age_days),
            future_tolerance=timedelta(seconds=self.settings.activity_future_tolerance_seconds))
        if rejection is not None:
            raise SceneRefused(rejection.reason, rejection.message, player)
        return scene_record, player, methodology

    def _refused_scene_activity(self, refused: SceneRefused, partner_id: str,
                                record: dict) -> Activity | None:
        """A refused record of a known player shows in their activities, with the reason."""
        if refused.player is None:
            return None
        try:
            _, kind = parse_subject_and_kind(record)
            occurred_at = parse_time(record, "occurredAt")
        except FieldError:
            return None
        return Activity(player=refused.player, kind=kind, source=f"partner:{partner_id}",
                        occurred_at=occurred_at, local_date=occurred_at.astimezone(self.zone).date(),
                        status="rejected", reject_reason=refused.reason,
                        reject_message=refused.message)

    def plan_scene(self, partner_id: str, record: dict, players: Mapping[Any, Any],
                   current: Methodology | None = None) -> ScenePlan | SceneRefused:
        """A batch's scene record prepared (its fields, player, methodology), or refused."""
        try:
            scene, player, methodology = self._prepare_scene(partner_id, record, players, current)
        except SceneRefused as refused:
            return refused
        return ScenePlan.of(scene, player, methodology, scene.occurred_at.astimezone(self.zone).date())

    def refuse_scene_in_batch(self, partner_id: str, record: dict, refused: SceneRefused,
                              rows: BatchRows) -> RecordOutcome:
        activity = self._refused_scene_activity(refused, partner_id, record)
        if activity is not None:
            rows.activities.append(activity)
        rows.claim_record(partner_id, record, "rejected", refused.reason, refused.message,
                          activity.id if activity is not None else None)
        return RecordOutcome(record["id"], "rejected", reason=refused.reason, message=refused.message)

    def credit_scene_in_batch(self, partner_id: str, record: dict, plan: ScenePlan,
                              daily: DailyCredit, history: SceneHistory, rows: BatchRows
                              ) -> RecordOutcome:
        """A scene record credited (or refused, or a duplicate) in memory: the claims and
        meter periods it meets are the batch's `history`, which its own claim and period
        then join."""
        record_id, scene = record["id"], plan.scene
        claimed = history.claims.get(plan.claim) if plan.claim is not None else None
        if claimed is not None:
            rows.claim_record(partner_id, record, "duplicate", None,
                              f"the same {scene.kind} event was credited before", claimed)
            return RecordOutcome(record_id, "duplicate", activityId=claimed)
        reading = scene.calculation_input
        if plan.meter is not None and isinstance(reading, MeterReadingInput):
            reading = replace(reading, previous=tuple(history.periods[plan.meter]))
        calc = calculate(plan.methodology, reading, totals(daily))
        rejection = calc.rejection
        activity = scene_activity(partner_id, scene, plan.player, plan.local_date, calc)
        message = activity.reject_message
        rows.activities.append(activity)
        rows.claim_record(partner_id, record, activity.status, activity.reject_reason, message,
                          activity.id)
        if plan.meter is not None and isinstance(reading, MeterReadingInput) and (
                rejection is None or rejection.reason in METER_HISTORY_REASONS):
            history.periods[plan.meter].append(CreditedPeriod(
                reading.period_start, reading.period_end, reading.end_reading - reading.start_reading,
                reading.start_reading, reading.end_reading))
            rows.meter_periods.append(meter_period_row(scene.kind, reading, activity.id, rows.now))
        if rejection is not None:
            return RecordOutcome(record_id, "rejected", reason=rejection.reason, message=message)
        if plan.claim is not None and scene.dedup_key is not None:
            history.claims[plan.claim] = str(activity.id)
            rows.scene_claims.append((scene.kind, plan.claim[1], as_json(scene.dedup_key.values),
                                      str(activity.id), partner_id, rows.now))
        player_id = str(plan.player.id)
        entry = credit_entry(player_id, activity.id, add_to_daily(daily, calc))
        rows.credit(plan.player, daily, calc.reduction_grams, entry,
                    (player_id, scene.kind, calc.growth, plan.local_date, 1,
                     *credited_quantity(plan.methodology, reading, calc)))
        return accepted(record_id, activity)
