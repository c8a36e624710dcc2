"""Leaves from the ledger's rows: a transaction with its lines (account owner, asset,
amount) as the canonical `transparency.leaf.LeafRecord`. The sequencer hashes them into
the log; `ledger verify` and the proofs read them again, so an edited row shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.transparency.store import aware_time
from transparency.leaf import LeafPosting, LeafRecord


async def records(conn: Any, transaction_ids: Sequence[str]) -> dict[str, LeafRecord]:
    """The leaf record of each transaction found (one query), by transaction id."""
    if not transaction_ids:
        return {}
    params: list[Any]
    if conn.capabilities.dialect == "postgres":
        where, params = "t.id = ANY($1::uuid[])", [list(transaction_ids)]
    else:
        where, params = f"t.id IN ({', '.join('?' * len(transaction_ids))})", list(transaction_ids)
    _, rows = await conn.execute_query(  # rows by position: no dict per line
        "SELECT t.id, t.type, t.idempotency_key, t.created_at, a.owner, l.asset, l.amount "
        "FROM ledger_transaction t JOIN ledger_line l ON l.transaction_id = t.id "
        f"JOIN ledger_account a ON a.id = l.account_id WHERE {where}", params)
    head: dict[str, tuple[str, str, Any]] = {}
    postings: dict[str, list[LeafPosting]] = {}
    for tx, type_, key, created_at, owner, asset, amount in rows:
        tx_id = str(tx)
        if tx_id not in head:
            head[tx_id] = (type_, key, created_at)
            postings[tx_id] = []
        postings[tx_id].append(LeafPosting(owner, asset, amount))
    return {tx_id: LeafRecord.of(tx_id, type_, postings[tx_id], key, aware_time(created_at))
            for tx_id, (type_, key, created_at) in head.items()}
