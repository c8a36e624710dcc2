"""The log checked against the ledger (run by `ledger verify`): every sequenced leaf is
rebuilt from the ledger's rows and compared with the leaf hash in the tree, and the root
of the rebuilt leaves is compared with the latest checkpoint's. A ledger row edited in the
database changes its transaction's leaf, so the log names that transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise import connections

from app.transparency import leaves, store
from transparency.leaf import encode
from transparency.merkle import leaf_hash, node_hash

BATCH = 5000


@dataclass
class LogAudit:
    leaves: int = 0
    checkpoint_size: int | None = None
    unsequenced: int = 0  # transactions neither in the log nor queued (posted with the log off)
    problems: list[str] = field(default_factory=list)


class _Root:
    """The RFC 6962 root of leaf hashes fed in order, kept as the right edge's perfect subtrees."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []

    def add(self, value: bytes) -> None:
        count = 1
        while self.stack and self.stack[-1][0] == count:
            count, value = 2 * count, node_hash(self.stack.pop()[1], value)
        self.stack.append((count, value))

    def root(self) -> bytes:
        result = self.stack[-1][1]
        for _, value in reversed(self.stack[:-1]):
            result = node_hash(value, result)
        return result


async def audit_log() -> LogAudit:
    conn = connections.get("default")
    audit = LogAudit()
    checkpoint = await store.latest_checkpoint(conn)
    audit.checkpoint_size = checkpoint.size if checkpoint else None
    rebuilt = _Root()
    start = 0
    while True:
        batch = await store.leaves(conn, start, start + BATCH)
        records = await leaves.records(conn, [leaf.transaction_id for leaf in batch])
        for leaf in batch:
            if leaf.index != audit.leaves:
                audit.problems.append(f"log leaf {audit.leaves} is missing (the next stored is {leaf.index})")
                return audit
            record = records.get(leaf.transaction_id)
            if record is None:
                audit.problems.append(f"log leaf {leaf.index}: ledger_transaction {leaf.transaction_id} "
                                      "has no lines in the ledger")
                value = leaf.leaf_hash
            else:
                value = leaf_hash(encode(record))
                if value != leaf.leaf_hash:
                    audit.problems.append(
                        f"log leaf {leaf.index}: ledger_transaction {leaf.transaction_id} no longer matches "
                        "its leaf (a row of the transaction or of its lines was changed)")
            rebuilt.add(value)
            audit.leaves += 1
            if checkpoint is not None and audit.leaves == checkpoint.size and rebuilt.root() != checkpoint.root:
                audit.problems.append(f"log checkpoint of size {checkpoint.size}: its root is not the root of "
                                      "the leaves rebuilt from the ledger")
        if len(batch) < BATCH:
            break
        start += BATCH
    if checkpoint is not None and audit.leaves < checkpoint.size:
        audit.problems.append(f"log checkpoint of size {checkpoint.size} signed, but only {audit.leaves} leaves "
                              "are stored")
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n FROM ledger_transaction t WHERE NOT EXISTS "
        "(SELECT 1 FROM log_leaf l WHERE l.transaction_id = t.id) AND NOT EXISTS "
        "(SELECT 1 FROM log_pending p WHERE p.transaction_id = t.id)")
    audit.unsequenced = int(rows[0]["n"])
    return audit
