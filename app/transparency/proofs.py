"""Proofs from the stored tree: each reads the nodes it needs in one query
(`transparency.merkle` names them), never rebuilding the tree.

Inclusion proofs are for any tree size up to the log's; consistency proofs are between
two published checkpoints (what a witness or an auditor holds). A player's proof of one
of their transactions is against the latest checkpoint.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise import connections

from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.ledger.models import LedgerLine
from app.ledger.service import player_owner
from app.transparency import leaves, store
from transparency import merkle
from transparency.leaf import encode

MAX_SIZE = 2**63 - 1  # sizes and indexes are bigint in the database
MAX_LEAVES = 1000  # leaves in one /log/leaves answer
RETRY_SECONDS = 5


def _number(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SIZE:
        raise invalid(field, N_("%(field)s must be a whole number from 0 to %(max)s.", field=field,
                                max=MAX_SIZE))
    return value


def not_yet() -> ServiceError:
    return ServiceError(ErrorCode.NOT_AVAILABLE,
                        N_("This transaction is not in the log yet; try again in a few seconds."),
                        retry_after_seconds=RETRY_SECONDS)


async def latest_checkpoint() -> store.StoredCheckpoint:
    found = await store.latest_checkpoint(connections.get("default"))
    if found is None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("The log has no checkpoint yet."))
    return found


async def inclusion(index: int, size: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `size` leaves."""
    _number("index", index)
    _number("size", size)
    if index >= size:
        raise invalid("index", N_("Leaf index %(index)s is not below the tree size %(size)s.",
                                  index=index, size=size))
    conn = connections.get("default")
    spans = merkle.inclusion_spans(index, size)
    hashes = await store.hashes(conn, merkle.nodes_for(spans))
    try:
        return merkle.assemble(spans, hashes)
    except KeyError:  # a node not stored yet: the tree is smaller than `size`
        raise invalid("size", N_("The log has fewer than %(size)s leaves.", size=size)) from None


async def consistency(first: int, second: int) -> list[bytes]:
    """The consistency proof between the published checkpoints of sizes `first` ≤ `second`."""
    _number("from", first)
    _number("to", second)
    if first > second:
        raise invalid("from", N_("The first size must not be larger than the second."))
    conn = connections.get("default")
    found = await store.checkpoints(conn, sorted({first, second}))
    for field, size in (("from", first), ("to", second)):
        if size not in found:
            raise ServiceError(ErrorCode.NOT_FOUND,
                               N_("No checkpoint of size %(size)s was published.", size=size), field)
    spans = merkle.consistency_spans(first, second)
    return merkle.assemble(spans, await store.hashes(conn, merkle.nodes_for(spans)))


@dataclass(frozen=True)
class LeafEntry:
    index: int
    leaf: bytes  # as the ledger's rows give it now (an edited row changes it)
    leaf_hash: bytes  # as sequenced


async def leaf_range(start: int, end: int) -> list[LeafEntry]:
    """The leaves [start, end) (at most MAX_LEAVES), rebuilt from the ledger's rows."""
    _number("start", start)
    _number("end", end)
    if end <= start or end - start > MAX_LEAVES:
        raise invalid("end", N_("Ask for 1 to %(max)s leaves: end must be above start by at most that.",
                                max=MAX_LEAVES))
    conn = connections.get("default")
    stored = await store.leaves(conn, start, end)
    records = await leaves.records(conn, [leaf.transaction_id for leaf in stored])
    return [LeafEntry(leaf.index, encode(records[leaf.transaction_id]), leaf.leaf_hash)
            for leaf in stored if leaf.transaction_id in records]


@dataclass(frozen=True)
class LedgerProof:
    transaction_id: str
    leaf: bytes
    leaf_index: int
    tree_size: int
    inclusion_proof: list[bytes]
    checkpoint: str


async def ledger_proof(player_id: str, transaction_id: str) -> LedgerProof:
    """The proof that one of the player's transactions is in the log, against the latest
    checkpoint: NOT_FOUND for a transaction that is not theirs, NOT_AVAILABLE (retry in a
    few seconds) for one not sequenced or not checkpointed yet."""
    try:
        tx_id = str(uuid.UUID(transaction_id))
    except (ValueError, AttributeError, TypeError):
        raise invalid("transactionId", N_("This is not a transaction id.")) from None
    if not await LedgerLine.filter(transaction_id=tx_id, account__owner=player_owner(player_id)).exists():
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No transaction of yours has this id."), "transactionId")
    conn = connections.get("default")
    leaf = await store.leaf_of_transaction(conn, tx_id)
    checkpoint = await store.latest_checkpoint(conn)
    if leaf is None or checkpoint is None or leaf.index >= checkpoint.size:
        raise not_yet()
    records = await leaves.records(conn, [tx_id])
    proof = await inclusion(leaf.index, checkpoint.size)
    return LedgerProof(tx_id, encode(records[tx_id]), leaf.index, checkpoint.size, proof, checkpoint.note)
