"""Merchants, their staff, points paid to them at the till, and settlements."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Merchant(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=120)
    city = fields.CharField(max_length=40, null=True)
    active = fields.BooleanField(default=True)
    idempotency_key = fields.CharField(max_length=200, unique=True, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "merchant"


class MerchantStaff(Model):
    id = fields.BigIntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="staff", on_delete=fields.CASCADE
    )
    merchant_id: uuid.UUID  # the column behind `merchant`, for type checkers
    player_id = fields.UUIDField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "merchant_staff"
        unique_together = (("merchant", "player_id"),)


class MerchantPayment(Model):
    """Points a player paid a merchant. `settlement_id` is set once a settlement takes it."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="payments", on_delete=fields.RESTRICT
    )
    merchant_id: uuid.UUID  # the column behind `merchant`, for type checkers
    player_id = fields.UUIDField(db_index=True)
    points = fields.BigIntField()
    idempotency_key = fields.CharField(max_length=200)
    settlement_id = fields.UUIDField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "merchant_payment"
        unique_together = (("player_id", "idempotency_key"),)
        indexes = (("merchant_id", "created_at", "id"),)  # a merchant's payments, newest first


class SettlementStatus(StrEnum):
    PENDING_PAYOUT = "PENDING_PAYOUT"
    PAID = "PAID"
    FAILED = "FAILED"  # the payout failed for good; the points went back to the merchant


class Settlement(Model):
    """One merchant's period, closed once: (merchant, period) is unique."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="settlements", on_delete=fields.RESTRICT
    )
    merchant_id: uuid.UUID  # the column behind `merchant`, for type checkers
    period = fields.CharField(max_length=20)
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    payments = fields.IntField()
    points = fields.BigIntField()
    cash_fen = fields.BigIntField()
    points_per_yuan = fields.IntField()
    status = fields.CharField(max_length=20)
    statement = fields.TextField(default="")  # the CSV statement, also written to a file
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "settlement"
        unique_together = (("merchant", "period"),)
