"""Shop tables: items, coupon codes, orders, per-player limit counters and the audit log."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class ItemKind(StrEnum):
    COUPON = "COUPON"
    PHYSICAL_GIFT = "PHYSICAL_GIFT"
    CASH_RED_PACKET = "CASH_RED_PACKET"
    DONATION = "DONATION"
    TRANSIT_RIDE = "TRANSIT_RIDE"


class LimitPeriod(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    TOTAL = "TOTAL"


class OrderStatus(StrEnum):
    CONFIRMED = "CONFIRMED"  # paid in points and fulfilled (code issued, gift to ship, ...)
    PENDING_PAYOUT = "PENDING_PAYOUT"  # a red packet waiting for its cash payout
    PAID_OUT = "PAID_OUT"  # the red packet's cash reached the player
    CANCELLED = "CANCELLED"  # cancelled by an operator, points refunded
    REFUNDED = "REFUNDED"  # the payout failed for good, points refunded


class ShopItem(Model):
    """Something points buy. `remaining` NULL means unlimited stock."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    kind = fields.CharField(max_length=20)
    title = fields.CharField(max_length=120)
    title_en = fields.CharField(max_length=120)
    description = fields.TextField(default="")
    description_en = fields.TextField(default="")
    price_points = fields.BigIntField()
    remaining = fields.BigIntField(null=True)
    sold = fields.BigIntField(default=0)
    per_player_limit = fields.IntField(null=True)
    limit_period = fields.CharField(max_length=10, default=LimitPeriod.TOTAL.value)
    available_from = fields.DatetimeField(null=True)
    available_until = fields.DatetimeField(null=True)
    cities: fields.JSONField[list[str]] = fields.JSONField(default=list)  # empty: every city
    cash_fen = fields.BigIntField(null=True)  # red packets: cash per unit, in fen
    uses_codes = fields.BooleanField(default=False)  # coupons drawn from an imported pool
    active = fields.BooleanField(default=True)
    idempotency_key = fields.CharField(max_length=200, unique=True, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "shop_item"


class CouponCode(Model):
    """One code of an item's pool. It goes to exactly one order and never back to the pool."""

    id = fields.BigIntField(primary_key=True)
    item: fields.ForeignKeyRelation[ShopItem] = fields.ForeignKeyField(
        "models.ShopItem", related_name="codes", on_delete=fields.RESTRICT
    )
    item_id: uuid.UUID  # the column behind `item`, for type checkers
    code = fields.CharField(max_length=100)
    order_id = fields.UUIDField(null=True, db_index=True)
    assigned_at = fields.DatetimeField(null=True)
    imported_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "shop_coupon_code"
        unique_together = (("item", "code"),)


class Order(Model):
    """A redemption. (player, idempotency_key) is unique: a retry finds the same order."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    player_id = fields.UUIDField(db_index=True)
    item: fields.ForeignKeyRelation[ShopItem] = fields.ForeignKeyField(
        "models.ShopItem", related_name="orders", on_delete=fields.RESTRICT
    )
    item_id: uuid.UUID  # the column behind `item`, for type checkers
    quantity = fields.IntField()
    points_spent = fields.BigIntField()
    status = fields.CharField(max_length=20)
    idempotency_key = fields.CharField(max_length=200)
    limit_period_key = fields.CharField(max_length=20, null=True)
    coupon_codes: fields.JSONField[list[str]] = fields.JSONField(default=list)
    cash_fen = fields.BigIntField(default=0)
    cancel_reason = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "shop_order"
        unique_together = (("player_id", "idempotency_key"),)


class LimitCounter(Model):
    """Units of an item a player redeemed in one limit period (kept with a conditional UPDATE)."""

    id = fields.BigIntField(primary_key=True)
    player_id = fields.UUIDField()
    item_id = fields.UUIDField()
    period = fields.CharField(max_length=20)
    used = fields.IntField(default=0)

    class Meta:
        table = "shop_limit_counter"
        unique_together = (("player_id", "item_id", "period"),)


class AuditEntry(Model):
    """Who changed what in the shop and merchant setup, with the values before and after."""

    id = fields.BigIntField(primary_key=True)
    actor_id = fields.CharField(max_length=80)
    action = fields.CharField(max_length=40)
    target_type = fields.CharField(max_length=40)
    target_id = fields.CharField(max_length=80)
    before: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    after: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    note = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_entry"
