"""Reading and writing the stored tree: leaves, perfect nodes, checkpoints (raw SQL on the
caller's connection, one statement per call).

A node `(level, index)` of level ≥ 1 is stored in `log_node` under the key
`index·64 + level` (its primary key: a proof's nodes are one `key IN (…)` lookup);
level 0 is the leaf hash in `log_leaf`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.database import insert_rows
from transparency.merkle import Node

LEAF_COLUMNS = {"index": "bigint", "transaction_id": "uuid", "leaf_hash": "text"}
NODE_COLUMNS = {"key": "bigint", "level": "smallint", "index": "bigint", "hash": "text"}
CHECKPOINT_COLUMNS = {"size": "bigint", "root": "text", "note": "text", "created_at": "timestamptz"}


def node_key(node: Node) -> int:
    return node.index * 64 + node.level


def _postgres(conn: Any) -> bool:
    return conn.capabilities.dialect == "postgres"


def _in_list(conn: Any, column: str, values: Sequence[Any], cast: str) -> tuple[str, list[Any]]:
    """`column IN (…)` as one fixed statement text on PostgreSQL (`= ANY($1)`)."""
    if _postgres(conn):
        return f"{column} = ANY($1::{cast}[])", [list(values)]
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


async def tree_size(conn: Any) -> int:
    rows = await conn.execute_query_dict('SELECT MAX("index") AS last FROM log_leaf')
    last = rows[0]["last"] if rows else None
    return 0 if last is None else int(last) + 1


async def hashes(conn: Any, nodes: Iterable[Node]) -> dict[Node, bytes]:
    """The stored hashes of `nodes` (missing ones left out), in one query."""
    wanted = set(nodes)
    leaves = sorted(n.index for n in wanted if n.level == 0)
    inner = sorted(node_key(n) for n in wanted if n.level > 0)
    found: dict[Node, bytes] = {}
    parts: list[str] = []
    params: list[Any] = []
    for values, select in ((leaves, 'SELECT 0 AS level, "index", leaf_hash AS hash FROM log_leaf WHERE "index"'),
                           (inner, 'SELECT level, "index", hash FROM log_node WHERE key')):
        if not values:
            continue
        if _postgres(conn):
            params.append(values)
            parts.append(f"{select} = ANY(${len(params)}::bigint[])")
        else:
            params.extend(values)
            parts.append(f"{select} IN ({', '.join('?' * len(values))})")
    if not parts:
        return found
    for row in await conn.execute_query_dict(" UNION ALL ".join(parts), params):
        found[Node(int(row["level"]), int(row["index"]))] = bytes.fromhex(row["hash"])
    return found


async def append(conn: Any, first_index: int, transaction_ids: Sequence[str],
                 leaf_hashes: Sequence[bytes], nodes: Mapping[Node, bytes]) -> None:
    """Store the leaves from `first_index` on and the interior nodes they completed."""
    await insert_rows(conn, "log_leaf", LEAF_COLUMNS,
                      [(first_index + i, t, h.hex())
                       for i, (t, h) in enumerate(zip(transaction_ids, leaf_hashes, strict=True))])
    await insert_rows(conn, "log_node", NODE_COLUMNS,
                      [(node_key(n), n.level, n.index, h.hex()) for n, h in nodes.items() if n.level > 0])


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime


def aware_time(moment: Any) -> datetime:
    """A timestamp read with raw SQL: SQLite hands it back as text; the app's are UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _checkpoint(row: dict[str, Any]) -> StoredCheckpoint:
    return StoredCheckpoint(int(row["size"]), bytes.fromhex(row["root"]), row["note"],
                            aware_time(row["created_at"]))


async def latest_checkpoint(conn: Any) -> StoredCheckpoint | None:
    rows = await conn.execute_query_dict(
        "SELECT size, root, note, created_at FROM log_checkpoint ORDER BY size DESC LIMIT 1")
    return _checkpoint(rows[0]) if rows else None


async def checkpoints(conn: Any, sizes: Sequence[int]) -> dict[int, StoredCheckpoint]:
    where, params = _in_list(conn, "size", sizes, "bigint")
    rows = await conn.execute_query_dict(
        f"SELECT size, root, note, created_at FROM log_checkpoint WHERE {where}", params)
    return {int(r["size"]): _checkpoint(r) for r in rows}


async def save_checkpoint(conn: Any, checkpoint: StoredCheckpoint) -> None:
    await insert_rows(conn, "log_checkpoint", CHECKPOINT_COLUMNS,
                      [(checkpoint.size, checkpoint.root.hex(), checkpoint.note, checkpoint.created_at)])


@dataclass(frozen=True)
class StoredLeaf:
    index: int
    transaction_id: str
    leaf_hash: bytes


async def leaf_of_transaction(conn: Any, transaction_id: str) -> StoredLeaf | None:
    mark = "$1" if _postgres(conn) else "?"
    rows = await conn.execute_query_dict(
        f'SELECT "index", transaction_id, leaf_hash FROM log_leaf WHERE transaction_id = {mark}',
        [transaction_id])
    return _leaf(rows[0]) if rows else None


def _leaf(row: dict[str, Any]) -> StoredLeaf:
    return StoredLeaf(int(row["index"]), str(row["transaction_id"]), bytes.fromhex(row["leaf_hash"]))


async def leaves(conn: Any, start: int, end: int) -> list[StoredLeaf]:
    """The leaves [start, end), in index order."""
    marks = ("$1", "$2") if _postgres(conn) else ("?", "?")
    rows = await conn.execute_query_dict(
        f'SELECT "index", transaction_id, leaf_hash FROM log_leaf WHERE "index" >= {marks[0]} '
        f'AND "index" < {marks[1]} ORDER BY "index"', [start, end])
    return [_leaf(r) for r in rows]
