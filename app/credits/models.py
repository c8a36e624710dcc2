"""Activities, the partner records they came from, and per-day credited totals."""

from __future__ import annotations

import uuid
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Activity(Model):
    """One credited (or refused) green action, with how its amounts were computed."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    player: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Player", related_name="activities", on_delete=fields.RESTRICT
    )
    player_id: uuid.UUID  # the column behind `player`, for type checkers
    kind = fields.CharField(max_length=30)
    source = fields.CharField(max_length=80)
    occurred_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    local_date = fields.DateField()
    distance_meters = fields.IntField(null=True)
    steps = fields.IntField(null=True)
    reduction_grams = fields.BigIntField(default=0)
    points = fields.BigIntField(default=0)
    growth = fields.BigIntField(default=0)
    energy = fields.BigIntField(default=0)
    status = fields.CharField(max_length=20)
    reject_reason = fields.CharField(max_length=40, null=True)
    reject_message = fields.CharField(max_length=300, null=True)
    methodology_id = fields.CharField(max_length=80, null=True)
    methodology_version = fields.IntField(null=True)
    provenance: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "activity"
        # by local day: a certification close and the regulator's report read one month
        # (or year) of a table that keeps growing
        indexes = (("player_id", "created_at"), ("local_date",))


class PartnerRecord(Model):
    """Every record a partner sent, kept with its outcome. (partner, record id) is unique forever."""

    id = fields.BigIntField(primary_key=True)
    partner_id = fields.CharField(max_length=60)
    record_id = fields.CharField(max_length=200)
    received_at = fields.DatetimeField(auto_now_add=True)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField()
    status = fields.CharField(max_length=20)
    reason = fields.CharField(max_length=40, null=True)
    message = fields.CharField(max_length=300, null=True)
    activity: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Activity", related_name="partner_records", null=True, on_delete=fields.RESTRICT
    )
    activity_id: uuid.UUID | None  # the column behind `activity`, for type checkers

    class Meta:
        table = "partner_record"
        unique_together = (("partner_id", "record_id"),)
        indexes = (("partner_id", "status", "received_at"),)


class DailyCredit(Model):
    """What a player was credited for one kind on one local day: the base of daily caps.

    Its row is locked while a credit for that (player, day, kind) is computed, so
    concurrent records cannot both slip under a cap.
    """

    id = fields.BigIntField(primary_key=True)
    player: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Player", related_name="daily_credits", on_delete=fields.RESTRICT
    )
    player_id: uuid.UUID  # the column behind `player`, for type checkers
    local_date = fields.DateField()
    kind = fields.CharField(max_length=30)
    reduction_grams = fields.BigIntField(default=0)
    points = fields.BigIntField(default=0)
    growth = fields.BigIntField(default=0)
    energy = fields.BigIntField(default=0)
    steps = fields.BigIntField(default=0)
    activity: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Activity", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    activity_id: uuid.UUID | None  # the column behind `activity`, for type checkers

    class Meta:
        table = "daily_credit"
        unique_together = (("player", "local_date", "kind"),)


class SceneClaim(Model):
    """The one activity credited for a real event two partners could both report (a meter's
    billing period, a ticket): unique on (kind, digest of the scene's dedup key values),
    written in the transaction of the credit, so a second report is a duplicate."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=30)
    digest = fields.CharField(max_length=64)  # sha256 of the dedup key's values, as JSON
    dedup_key: fields.JSONField[dict[str, Any]] = fields.JSONField()  # field -> value, readable
    activity: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Activity", related_name=False, on_delete=fields.RESTRICT
    )
    activity_id: uuid.UUID  # the column behind `activity`, for type checkers
    partner_id = fields.CharField(max_length=60)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "scene_claim"
        unique_together = (("kind", "digest"),)
        indexes = (("activity_id",),)  # released when its activity is withdrawn


class MeterPeriod(Model):
    """A meter's credited billing period [period_start, period_end): the baseline scenes'
    history (overlaps are refused, own moving averages are taken over these)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=30)
    meter_id = fields.CharField(max_length=200)
    period_start = fields.DateField()
    period_end = fields.DateField()
    consumption = fields.BigIntField()
    # the bill's readings (null on periods kept before they were): a later bill of the
    # meter must not start below the end reading of the one before it
    start_reading = fields.BigIntField(null=True)
    end_reading = fields.BigIntField(null=True)
    activity: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Activity", related_name=False, on_delete=fields.RESTRICT
    )
    activity_id: uuid.UUID  # the column behind `activity`, for type checkers
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "meter_period"
        # a meter's periods; and those released when their activity is withdrawn
        indexes = (("kind", "meter_id", "period_start"), ("activity_id",))
