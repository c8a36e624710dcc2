"""Ledger tables: accounts with their running balance, transactions, and hash-chained lines."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model


class LedgerAccount(Model):
    """One owner's balance in one asset. `owner` is 'player:<id>' or 'system:<name>'."""

    id = fields.BigIntField(primary_key=True)
    owner = fields.CharField(max_length=80)
    asset = fields.CharField(max_length=20)
    balance = fields.BigIntField(default=0)
    allow_negative = fields.BooleanField(default=False)
    line_count = fields.BigIntField(default=0)
    last_hash = fields.CharField(max_length=64, default="")

    class Meta:
        table = "ledger_account"
        unique_together = (("owner", "asset"),)


class LedgerTransaction(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    type = fields.CharField(max_length=40)
    idempotency_key = fields.CharField(max_length=200, unique=True)
    reference = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_transaction"


class LedgerLine(Model):
    """A posting: `amount` moved into (positive) or out of (negative) an account."""

    id = fields.BigIntField(primary_key=True)
    transaction: fields.ForeignKeyRelation[LedgerTransaction] = fields.ForeignKeyField(
        "models.LedgerTransaction", related_name="lines", on_delete=fields.RESTRICT
    )
    transaction_id: uuid.UUID  # the column behind `transaction`, for type checkers
    account: fields.ForeignKeyRelation[LedgerAccount] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="lines", on_delete=fields.RESTRICT
    )
    account_id: int  # the column behind `account`, for type checkers
    seq = fields.BigIntField()
    asset = fields.CharField(max_length=20)
    amount = fields.BigIntField()
    balance_after = fields.BigIntField()
    created_at = fields.DatetimeField()
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "ledger_line"
        unique_together = (("account", "seq"),)
        # a transaction's lines: the log's sequencer, the proofs and the reports read them
        # by transaction (without it each read scans every line ever written)
        indexes = (("transaction_id",),)
