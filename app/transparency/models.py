"""The log's tables: the queue of committed transactions not yet sequenced, the leaves,
the stored perfect-subtree nodes and the signed checkpoints."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class LogPending(Model):
    """A committed ledger transaction waiting for its leaf: written in the ledger's own
    database transaction, so a crash before sequencing loses nothing."""

    id = fields.BigIntField(primary_key=True)
    transaction_id = fields.UUIDField()

    class Meta:
        table = "log_pending"


class LogLeaf(Model):
    """The leaf at `index`: one ledger transaction, its RFC 6962 leaf hash (hex)."""

    index = fields.BigIntField(primary_key=True, generated=False)
    transaction_id = fields.UUIDField(unique=True)
    leaf_hash = fields.CharField(max_length=64)

    class Meta:
        table = "log_leaf"


class LogNode(Model):
    """A perfect subtree's hash (hex): `level` ≥ 1, covering leaves
    [index·2^level, (index+1)·2^level). `key` packs both (see app.transparency.store)."""

    key = fields.BigIntField(primary_key=True, generated=False)
    level = fields.SmallIntField()
    index = fields.BigIntField()
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "log_node"


class LogCheckpoint(Model):
    """A signed tree head: the note as published."""

    size = fields.BigIntField(primary_key=True, generated=False)
    root = fields.CharField(max_length=64)
    note = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "log_checkpoint"
