"""The log's queue: a row per committed ledger transaction, written in the ledger's own
database transaction (`app.ledger.service.post_many_in_transaction`).

Rows are numbered by a bigint identity taken after the ledger has locked the accounts a
transaction moves, so two transactions on one account are queued in the order of their
lines; the sequencer (app.transparency.sequencer) takes rows in number order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.database import insert_rows

PENDING_COLUMNS = {"transaction_id": "uuid"}

_enabled = True


def set_enabled(on: bool) -> None:
    """Whether ledger writes queue their transactions (CARBON_TRANSPARENCY_LOG), set by the
    server at start and by commands that write to the ledger."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


async def enqueue(conn: Any, transaction_ids: Sequence[str]) -> None:
    """Queue the transactions, in order, in one statement on the caller's connection."""
    if _enabled and transaction_ids:
        await insert_rows(conn, "log_pending", PENDING_COLUMNS, [(t,) for t in transaction_ids])
