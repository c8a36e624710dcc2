"""Market tables: buyers, the inventory cursor, sales (each one certificate) and the serial
ranges each sale took."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class BuyerKind(StrEnum):
    COMPANY = "COMPANY"  # a company offsetting its emissions
    EVENT = "EVENT"  # an event going carbon neutral
    ORGANISATION = "ORGANISATION"  # a public body, a school, a charity
    INDIVIDUAL = "INDIVIDUAL"


class SaleMode(StrEnum):
    SALE = "SALE"  # the buyer holds the grams (ledger owner buyer:<id>)
    RETIREMENT = "RETIREMENT"  # the grams are cancelled for good (ledger owner retired:<sale id>)


class Buyer(Model):
    """Who buys or retires certified grams. `idempotency_key` makes a retried create one buyer."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=120)
    kind = fields.CharField(max_length=20)
    contact = fields.CharField(max_length=200, null=True)
    idempotency_key = fields.CharField(max_length=200, unique=True)
    created_by = fields.CharField(max_length=80)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "market_buyer"


class MarketCursor(Model):
    """One row per inventory ("certified"): every sale locks it first (`FOR UPDATE` on
    PostgreSQL), so sales take serials one after another, and numbers certificates."""

    id = fields.CharField(max_length=40, primary_key=True)
    certificates = fields.BigIntField(default=0)  # certificates issued: the last number used

    class Meta:
        table = "market_cursor"


class MarketSale(Model):
    """A sale or retirement and its certificate. Written once, never changed."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    number = fields.CharField(max_length=40, unique=True)  # the certificate number
    mode = fields.CharField(max_length=20)
    buyer: fields.ForeignKeyRelation[Buyer] = fields.ForeignKeyField(
        "models.Buyer", related_name="sales", on_delete=fields.RESTRICT)
    buyer_id: uuid.UUID  # the column behind `buyer`, for type checkers
    grams = fields.BigIntField()
    price_fen_per_tonne = fields.BigIntField()
    total_fen = fields.BigIntField()
    shop_share_percent = fields.IntField()  # the setting when sold
    shop_fund_fen = fields.BigIntField()
    note = fields.CharField(max_length=300, null=True)  # e.g. the event a retirement offsets
    digest = fields.CharField(max_length=64)  # SHA-256 of the certificate's canonical text
    idempotency_key = fields.CharField(max_length=200, unique=True)
    created_by = fields.CharField(max_length=80)
    created_at = fields.DatetimeField()

    class Meta:
        table = "market_sale"
        indexes = (("buyer_id", "created_at"), ("created_at", "id"))


class MarketAllocation(Model):
    """Serials first_serial..last_serial (inclusive) of a certified batch, taken by a sale.

    No two allocations overlap: the sales take them in order under the cursor lock, and the
    database refuses an overlap too (unique starts, and an exclusion constraint on
    PostgreSQL or a trigger on SQLite, both added by the migration)."""

    id = fields.BigIntField(primary_key=True)
    sale: fields.ForeignKeyRelation[MarketSale] = fields.ForeignKeyField(
        "models.MarketSale", related_name="allocations", on_delete=fields.RESTRICT)
    sale_id: uuid.UUID  # the column behind `sale`, for type checkers
    batch: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.CertifiedBatch", related_name=False, on_delete=fields.RESTRICT)
    batch_id: int  # the column behind `batch`, for type checkers
    position = fields.IntField()  # the range's place in its sale's certificate
    first_serial = fields.BigIntField()
    last_serial = fields.BigIntField()
    grams = fields.BigIntField()

    class Meta:
        table = "market_allocation"
        unique_together = (("batch", "first_serial"), ("batch", "last_serial"))
        indexes = (("sale_id", "position"),)
