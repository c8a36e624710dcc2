"""Posting transactions to the ledger, reading balances.

A transaction is written whole or not at all, in one database transaction:
the transaction row (its unique idempotency key makes a retry a no-op), one
conditional `UPDATE … RETURNING` per account, and the hash-chained lines. The
conditional update is what keeps player balances from going below zero under
concurrent writers: the database refuses, not a read-then-write in Python.
Accounts are updated in id order so that concurrent transactions cannot deadlock.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.errors import ErrorCode, ServiceError
from app.ledger.chain import line_hash
from app.ledger.models import LedgerAccount, LedgerLine, LedgerTransaction


class Asset(StrEnum):
    CARBON_POINT = "CARBON_POINT"
    GROWTH = "GROWTH"
    ENERGY = "ENERGY"
    CO2E_GRAMS = "CO2E_GRAMS"


ISSUANCE_SHARDS = 16  # issuance is spread over shards so credits do not queue on one row


def player_owner(player_id: str) -> str:
    return f"player:{player_id}"


def issuance_owner(player_id: str) -> str:
    """The system account that stands on the other side of a player's credits."""
    return f"system:issuance:{zlib.crc32(str(player_id).encode()) % ISSUANCE_SHARDS:02d}"


@dataclass(frozen=True)
class Posting:
    owner: str
    asset: Asset
    amount: int


@dataclass(frozen=True)
class PostResult:
    transaction: LedgerTransaction
    created: bool


def credit(player_id: str, amounts: dict[Asset, int]) -> list[Posting]:
    """Postings that issue `amounts` to a player (zero amounts are left out)."""
    postings = []
    for asset, amount in amounts.items():
        if amount:
            postings.append(Posting(player_owner(player_id), asset, amount))
            postings.append(Posting(issuance_owner(player_id), asset, -amount))
    return postings


def _check_balanced(postings: list[Posting]) -> None:
    totals: dict[Asset, int] = defaultdict(int)
    for p in postings:
        if not isinstance(p.amount, int) or isinstance(p.amount, bool):
            raise ValueError(f"amounts are integers, not {p.amount!r}")
        totals[p.asset] += p.amount
    unbalanced = {a: t for a, t in totals.items() if t}
    if unbalanced:
        raise ValueError(f"postings do not sum to zero per asset: {unbalanced}")


async def _account_id(conn, owner: str, asset: Asset) -> int:
    """The account's id, creating it if new (safe inside a transaction and under races)."""
    await conn.execute_query(
        _sql(conn, "INSERT INTO ledger_account (owner, asset, balance, allow_negative, line_count, "
                   "last_hash) VALUES ({1}, {2}, 0, {3}, 0, '') ON CONFLICT (owner, asset) DO NOTHING"),
        [owner, asset.value, owner.startswith("system:")],
    )
    rows = await conn.execute_query_dict(
        _sql(conn, "SELECT id FROM ledger_account WHERE owner = {1} AND asset = {2}"),
        [owner, asset.value],
    )
    return int(rows[0]["id"])


async def post(
    type: str, idempotency_key: str, postings: list[Posting], reference: str | None = None
) -> PostResult:
    """Write a balanced transaction once; the same key again returns the first one."""
    _check_balanced(postings)
    existing = await LedgerTransaction.get_or_none(idempotency_key=idempotency_key)
    if existing is not None:
        return PostResult(existing, created=False)
    try:
        async with in_transaction():
            tx = await post_in_transaction(type, idempotency_key, postings, reference)
    except IntegrityError:
        existing = await LedgerTransaction.get_or_none(idempotency_key=idempotency_key)
        if existing is None:
            raise
        return PostResult(existing, created=False)
    return PostResult(tx, created=True)


async def post_in_transaction(
    type: str, idempotency_key: str, postings: list[Posting], reference: str | None = None
) -> LedgerTransaction:
    """Post inside the caller's database transaction (which a duplicate key aborts)."""
    _check_balanced(postings)
    conn = connections.get("default")
    tx = await LedgerTransaction.create(
        type=type, idempotency_key=idempotency_key, reference=reference
    )
    per_account: dict[tuple[int, Asset], int] = defaultdict(int)
    for p in postings:
        per_account[(await _account_id(conn, p.owner, p.asset), p.asset)] += p.amount
    now = tx.created_at  # lines carry their transaction's time (leaderboards replay it)
    lines = []
    for (acc_id, asset), amount in sorted(per_account.items()):
        balance, seq, prev = await _apply(conn, acc_id, amount, asset)
        digest = line_hash(prev, acc_id, seq, str(tx.id), asset, amount, balance, now)
        await conn.execute_query(
            _sql(conn, "UPDATE ledger_account SET last_hash = {1} WHERE id = {2}"), [digest, acc_id]
        )
        lines.append(LedgerLine(transaction_id=tx.id, account_id=acc_id, seq=seq, asset=asset,
                                amount=amount, balance_after=balance, created_at=now, hash=digest))
    await LedgerLine.bulk_create(lines)
    return tx


def _sql(conn, template: str) -> str:
    """Fill numbered placeholders in the connection's dialect ($1 or ?1)."""
    mark = "$" if conn.capabilities.dialect == "postgres" else "?"
    return template.format(*[f"{mark}{i}" for i in range(10)])


async def _apply(conn, acc_id: int, amount: int, asset: Asset) -> tuple[int, int, str]:
    sql = (
        "UPDATE ledger_account SET balance = balance + {1}, line_count = line_count + 1 "
        "WHERE id = {2} AND (allow_negative OR balance + {1} >= 0) "
        "RETURNING balance, line_count, last_hash"
    )
    rows = await conn.execute_query_dict(_sql(conn, sql), [amount, acc_id])
    if not rows:
        raise ServiceError(
            ErrorCode.INSUFFICIENT_POINTS if asset == Asset.CARBON_POINT else ErrorCode.CONFLICT,
            f"Not enough {asset.value.lower().replace('_', ' ')} for this.",
        )
    row = rows[0]
    return int(row["balance"]), int(row["line_count"]), row["last_hash"]


async def balances(player_id: str) -> dict[Asset, int]:
    rows = await LedgerAccount.filter(owner=player_owner(player_id)).values("asset", "balance")
    found = {Asset(r["asset"]): int(r["balance"]) for r in rows}
    return {asset: found.get(asset, 0) for asset in Asset}


async def player_lines(player_id: str, limit: int, before_id: int | None) -> list[LedgerLine]:
    """A player's ledger lines, newest first, with their transaction loaded."""
    query = LedgerLine.filter(account__owner=player_owner(player_id))
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return await query.order_by("-id").limit(limit).select_related("transaction")
