"""Certified batches: a methodology version's accepted reductions of one month, sealed with
one serial per gram, and which activity went into which batch."""

from __future__ import annotations

import uuid
from typing import Any

from tortoise import fields
from tortoise.models import Model


class CertifiedBatch(Model):
    """A sealed, supplementary or adjustment batch of one period and methodology version.

    Serial n of the batch is printed f"{serial_prefix}-{n:09d}", and the numbers continue across
    a period's sealed and supplementary batches, so no serial repeats. A batch without grams
    has first_serial = last_serial + 1, and an adjustment batch issues no serials: its grams are
    the negative total of the certified activities withdrawn since the previous close.
    A batch is written in the transaction of its close and never changed afterwards.
    """

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=80, unique=True)
    period = fields.CharField(max_length=7)  # YYYY-MM, in the city's time zone
    methodology_id = fields.CharField(max_length=80)
    methodology_version = fields.IntField()
    kind = fields.CharField(max_length=20)  # sealed | supplementary | adjustment
    serial_prefix = fields.CharField(max_length=80)
    first_serial = fields.BigIntField()
    last_serial = fields.BigIntField()
    grams = fields.BigIntField()
    activity_count = fields.IntField()
    participants = fields.IntField()
    manifest: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    content_hash = fields.CharField(max_length=64)
    closed_at = fields.DatetimeField()
    closed_by = fields.CharField(max_length=80)
    # the close call that made it: the same key again returns this batch
    idempotency_key = fields.CharField(max_length=200, null=True, unique=True)

    class Meta:
        table = "certified_batch"
        indexes = (("period", "methodology_id", "methodology_version"),)


class CertifiedActivity(Model):
    """One activity's part of a batch. `kind` is `certified` (its grams, serials
    first_serial..last_serial) or `withdrawn` (in an adjustment batch: the negative grams,
    with the serials it had been given). (activity, kind) is unique: an activity is
    certified once and withdrawn once."""

    id = fields.BigIntField(primary_key=True)
    # relations without database constraints: a close writes a million rows in one
    # statement, and a foreign key check (a row lock on the activity) per row would double
    # its time; the rows are only ever written by that statement, from existing rows
    activity: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Activity", related_name=False, on_delete=fields.RESTRICT, db_constraint=False)
    activity_id: uuid.UUID  # the column behind `activity`, for type checkers
    batch: fields.ForeignKeyRelation[CertifiedBatch] = fields.ForeignKeyField(
        "models.CertifiedBatch", related_name="activities", on_delete=fields.RESTRICT,
        db_constraint=False)
    batch_id: int  # the column behind `batch`, for type checkers
    kind = fields.CharField(max_length=20)  # certified | withdrawn
    grams = fields.BigIntField()
    first_serial = fields.BigIntField()
    last_serial = fields.BigIntField()
    player_id = fields.UUIDField()  # the activity's player (not indexed: find a player's
    # rows through activity__player_id, the activity table's index)
    # what the content hash and the manifest read, as sealed (the activity row is not read
    # again: a batch's hash is recomputed from these rows alone)
    scene = fields.CharField(max_length=30)
    local_date = fields.DateField()
    partner = fields.CharField(max_length=80)  # the activity's source

    class Meta:
        table = "certified_activity"
        unique_together = (("activity", "kind"),)
        indexes = (("batch_id", "first_serial"),)


class ActivityWithdrawal(Model):
    """An activity withdrawn after it was credited (a partner recalled it, an operator found
    it fraudulent): the correction record. The activity's amounts are not edited, its status
    becomes `withdrawn`, and the reversal is a ledger transaction of its own."""

    id = fields.BigIntField(primary_key=True)
    activity: fields.OneToOneRelation = fields.OneToOneField(
        "models.Activity", related_name=False, on_delete=fields.RESTRICT)
    activity_id: uuid.UUID  # the column behind `activity`, for type checkers
    previous_status = fields.CharField(max_length=20)
    reason = fields.CharField(max_length=40)  # a WithdrawalReason value, shown translated
    note = fields.CharField(max_length=300, null=True)  # the operator's or partner's words
    withdrawn_by = fields.CharField(max_length=80)
    idempotency_key = fields.CharField(max_length=200, unique=True)
    # asset -> amount taken back through the ledger, and the part the player had already
    # spent (a reversal takes what the balance holds, never below zero: the rest is owed)
    reversed_amounts: fields.JSONField[dict[str, int]] = fields.JSONField(default=dict)
    owed_amounts: fields.JSONField[dict[str, int]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "activity_withdrawal"
