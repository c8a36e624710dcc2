"""What the partner endpoint answers for each record: accepted, duplicate or rejected."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from app.credits.models import Activity, PartnerRecord


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


def accepted(record_id: str, activity: Activity) -> RecordOutcome:
    return RecordOutcome(record_id, "accepted", activityId=str(activity.id),
                         reductionGrams=activity.reduction_grams, points=activity.points)


def duplicate(existing: PartnerRecord) -> RecordOutcome:
    """A record received before (or, for a scene, the same real event credited before)."""
    return RecordOutcome(existing.record_id, "duplicate",
                         activityId=str(existing.activity_id) if existing.activity_id else None)
