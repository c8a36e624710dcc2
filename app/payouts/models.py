"""The payout outbox, and the sandbox provider's own record of what it paid."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class PayoutStatus(StrEnum):
    PENDING = "PENDING"  # waiting for (another) attempt
    PAID = "PAID"
    FAILED = "FAILED"  # failed for good; the purpose's failure handler gave the value back


class Payout(Model):
    """One cash payout, written in the same transaction as what causes it.

    `id` is stable ("order:<uuid>", "settlement:<uuid>") and sent to the provider, so
    a payout resent after a crash is recognised there and paid once."""

    id = fields.CharField(max_length=100, primary_key=True)
    purpose = fields.CharField(max_length=20)  # "order" or "settlement"
    reference = fields.CharField(max_length=100)  # the order or settlement id
    recipient = fields.CharField(max_length=100)  # "player:<id>" or "merchant:<id>"
    amount_fen = fields.BigIntField()
    status = fields.CharField(max_length=10, default=PayoutStatus.PENDING.value)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    claimed_until = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=100, null=True)
    last_error = fields.CharField(max_length=500, null=True)
    provider_reference = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payout"
        # the workers' poll for what is due: PENDING, oldest attempt first
        indexes = (("status", "next_attempt_at", "id"),)


class SandboxPayment(Model):
    """What the sandbox provider paid: one row per payout id, so it de-duplicates resends."""

    payout_id = fields.CharField(max_length=100, primary_key=True)
    recipient = fields.CharField(max_length=100)
    amount_fen = fields.BigIntField()
    reference = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sandbox_payment"
