"""The hash chain over each account's lines (pure).

Each line's hash covers its content and the previous line's hash, so changing,
removing or reordering any line breaks every hash after it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def line_hash(
    prev_hash: str,
    account_id: int,
    seq: int,
    transaction_id: str,
    asset: str,
    amount: int,
    balance_after: int,
    created_at: datetime,
) -> str:
    content = "|".join(
        str(part)
        for part in (prev_hash, account_id, seq, transaction_id, asset, amount, balance_after,
                     micros(created_at))
    )
    return hashlib.sha256(content.encode()).hexdigest()
