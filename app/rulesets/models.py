"""Every published rule set, kept forever: a rollback publishes an earlier content again."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class RuleSet(Model):
    id = fields.BigIntField(primary_key=True)
    version = fields.IntField(unique=True)
    content = fields.TextField()
    checksum = fields.CharField(max_length=64)
    author = fields.CharField(max_length=80)
    approved_by = fields.CharField(max_length=80, null=True)  # the second person, when proposed
    note = fields.CharField(max_length=500)
    created_at = fields.DatetimeField(auto_now_add=True)
    effective_from = fields.DatetimeField()

    class Meta:
        table = "rule_set"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class RuleProposal(Model):
    """A rules file a designer proposes: a second person (another designer or an admin)
    approves it, which publishes it, or rejects it. Decided proposals are kept."""

    id = fields.BigIntField(primary_key=True)
    content = fields.TextField()
    checksum = fields.CharField(max_length=64)
    note = fields.CharField(max_length=500)
    effective_from = fields.DatetimeField(null=True)
    proposed_by = fields.CharField(max_length=80)
    proposed_at = fields.DatetimeField(auto_now_add=True)
    idempotency_key = fields.CharField(max_length=100, null=True)
    status = fields.CharEnumField(ProposalStatus, max_length=16, default=ProposalStatus.PENDING)
    decided_by = fields.CharField(max_length=80, null=True)
    decided_at = fields.DatetimeField(null=True)
    decision_note = fields.CharField(max_length=500, default="")
    published_version = fields.IntField(null=True)

    class Meta:
        table = "rule_proposal"
        table_description = "Rules files proposed by one designer, approved or rejected by another."
        unique_together = (("proposed_by", "idempotency_key"),)
