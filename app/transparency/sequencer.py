"""The sequencer: queued ledger transactions become leaves, in queue order, and the log's
checkpoints are signed from the stored tree.

Each batch is one database transaction under a single-sequencer lock (a PostgreSQL
advisory lock; SQLite has one writer at a time): take the oldest queued rows (deleting
them), build each transaction's leaf from the ledger rows, append the leaves and the
perfect nodes they complete (computed from the stored right edge, never the whole tree).
A crash anywhere in a batch rolls it back whole; a crash before it leaves the queue as it
was. So every committed transaction gets exactly one leaf.

A checkpoint is signed only for the stored tree, under the same lock, at a size no
smaller than the last one's, after checking the stored tree is consistent with the last
checkpoint: the log never signs two checkpoints inconsistent with each other.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.settings import Settings
from app.transparency import leaves, store
from app.transparency.keys import log_signer
from transparency import merkle
from transparency.checkpoint import Checkpoint, sign_checkpoint
from transparency.leaf import encode
from transparency.note import Signer

log = logging.getLogger("carbon_planet.transparency")

LOCK_KEY = 0x7107_5E0C  # the advisory lock every sequencer and checkpoint signer takes


class SequencingError(RuntimeError):
    """The ledger and the queue disagree (a queued transaction has no ledger rows)."""


async def _lock(conn: Any) -> None:
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])


async def _take_queued(conn: Any, limit: int) -> list[str]:
    """Delete and return the oldest `limit` queued transaction ids, in queue order."""
    mark = "$1" if conn.capabilities.dialect == "postgres" else "?"
    rows = await conn.execute_query_dict(
        "DELETE FROM log_pending WHERE id IN "
        f"(SELECT id FROM log_pending ORDER BY id LIMIT {mark}) RETURNING id, transaction_id", [limit])
    return [str(r["transaction_id"]) for r in sorted(rows, key=lambda r: int(r["id"]))]


async def sequence_batch(limit: int) -> int:
    """Sequence up to `limit` queued transactions in one database transaction; how many."""
    async with in_transaction() as conn:
        await _lock(conn)
        queued = await _take_queued(conn, limit)
        if not queued:
            return 0
        size = await store.tree_size(conn)
        frontier = await store.hashes(conn, merkle.root_nodes(size))
        records = await leaves.records(conn, queued)
        missing = [t for t in queued if t not in records]
        if missing:
            raise SequencingError(f"queued ledger transactions without lines: {', '.join(missing[:5])}")
        hashes = [merkle.leaf_hash(encode(records[t])) for t in queued]
        created = merkle.append(size, frontier, hashes)
        await store.append(conn, size, queued, hashes, created)
        return len(queued)


async def sequence_all(batch: int) -> int:
    """Sequence the whole queue, batch by batch; how many transactions."""
    total = 0
    while count := await sequence_batch(batch):
        total += count
    return total


@dataclass(frozen=True)
class Published:
    size: int
    note: str


async def publish_checkpoint(signer: Signer, min_interval_seconds: float = 0.0) -> Published | None:
    """Sign a checkpoint of the stored tree if it grew since the last one and that one is at
    least `min_interval_seconds` old; None when nothing was signed."""
    async with in_transaction() as conn:
        await _lock(conn)
        size = await store.tree_size(conn)
        last = await store.latest_checkpoint(conn)
        now = utcnow()
        if size == 0 or (last is not None and (
                last.size >= size or now - last.created_at < timedelta(seconds=min_interval_seconds))):
            return None
        wanted = set(merkle.root_nodes(size))
        if last is not None:
            wanted |= merkle.consistency_nodes(last.size, size)
        hashes = await store.hashes(conn, wanted)
        root = merkle.root_from_nodes(size, hashes)
        if last is not None:  # never sign a tree that does not extend what was signed
            merkle.verify_consistency(last.size, size, merkle.consistency_proof(last.size, size, hashes),
                                      last.root, root)
        note = sign_checkpoint(Checkpoint(signer.name, size, root), signer)
        await store.save_checkpoint(conn, store.StoredCheckpoint(size, root, note, now))
        return Published(size, note)


async def keep_log_sequenced(settings: Settings) -> None:
    """The server's background task: sequence the queue every few tenths of a second and
    publish a checkpoint every few seconds when the log grew."""
    signer = log_signer(settings)
    while True:
        await asyncio.sleep(settings.transparency_sequence_seconds)
        try:
            await sequence_all(settings.transparency_sequence_batch)
            await publish_checkpoint(signer, settings.transparency_checkpoint_seconds)
        except Exception as exc:  # noqa: BLE001 - rolled back whole; tried again next round
            log.warning("transparency log not sequenced: %s", exc)
