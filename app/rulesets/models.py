"""Every published rule set, kept forever: a rollback publishes an earlier content again."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class RuleSet(Model):
    id = fields.BigIntField(primary_key=True)
    version = fields.IntField(unique=True)
    content = fields.TextField()
    checksum = fields.CharField(max_length=64)
    author = fields.CharField(max_length=80)
    note = fields.CharField(max_length=500)
    created_at = fields.DatetimeField(auto_now_add=True)
    effective_from = fields.DatetimeField()

    class Meta:
        table = "rule_set"
