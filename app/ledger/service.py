"""Posting transactions to the ledger, reading balances.

A transaction is written whole or not at all, in one database transaction:
the transaction row (its unique idempotency key makes a retry a no-op), one
conditional `UPDATE … RETURNING` per account, and the hash-chained lines. The
conditional update is what keeps player balances from going below zero under
concurrent writers: the database refuses, not a read-then-write in Python.
Accounts are updated in id order so that concurrent transactions cannot deadlock.
"""

from __future__ import annotations

import asyncio
import random
import uuid
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.database import dialect_sql, insert_rows, update_rows
from app.database_pages import first_rows_per_owner
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_, LazyMessage
from app.ledger.chain import line_hash
from app.ledger.models import LedgerAccount, LedgerLine, LedgerTransaction
from app.transparency import queue as log_queue


class Asset(StrEnum):
    CARBON_POINT = "CARBON_POINT"
    GROWTH = "GROWTH"
    ENERGY = "ENERGY"
    CO2E_GRAMS = "CO2E_GRAMS"
    CERTIFIED_GRAMS = "CERTIFIED_GRAMS"  # certified inventory (inventory:certified), not a player's
    CNY_FEN = "CNY_FEN"  # money in fen: the market's revenue (market:revenue, market:shop-fund)


LINE_COLUMNS = {"transaction_id": "uuid", "account_id": "bigint", "seq": "bigint", "asset": "text",
                "amount": "bigint", "balance_after": "bigint", "created_at": "timestamptz",
                "hash": "text"}
HEAD_COLUMNS = {"balance": "bigint", "line_count": "bigint", "last_hash": "text"}
TRANSACTION_COLUMNS = {"id": "uuid", "type": "text", "idempotency_key": "text", "reference": "text",
                       "created_at": "timestamptz"}
ISSUANCE_SHARDS = 16  # issuance is spread over shards so credits do not queue on one row


def _short_of(asset: Asset, needed: int, available: int) -> LazyMessage:
    if asset == Asset.CARBON_POINT:
        return N_("Not enough points: %(needed)s needed, %(available)s available.",
                  needed=needed, available=available)
    if asset == Asset.ENERGY:
        return N_("Not enough energy: %(needed)s needed, %(available)s available.",
                  needed=needed, available=available)
    return N_("Not enough %(asset)s: %(needed)s needed, %(available)s available.",
              asset=asset.value, needed=needed, available=available)


def player_owner(player_id: str) -> str:
    return f"player:{player_id}"


def merchant_owner(merchant_id: str) -> str:
    return f"merchant:{merchant_id}"


def sharded_owner(name: str, key: str) -> str:
    """A system account spread over shards (like issuance) so busy writers do not queue on one row."""
    return f"system:{name}:{zlib.crc32(str(key).encode()) % ISSUANCE_SHARDS:02d}"


def transfer(from_owner: str, to_owner: str, asset: Asset, amount: int) -> list[Posting]:
    """Postings that move `amount` of `asset` from one owner to another."""
    if amount <= 0:
        raise ValueError("a transfer moves a positive amount")
    return [Posting(from_owner, asset, -amount), Posting(to_owner, asset, amount)]


ISSUANCE = "system:issuance"  # in a posting: one of the shards, chosen when posted


def issuance_shard(number: int) -> str:
    return f"{ISSUANCE}:{number % ISSUANCE_SHARDS:02d}"


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
    """Postings that issue `amounts` to a player (zero amounts are left out), against
    issuance: the shard is chosen when they are posted (see `post_many_in_transaction`)."""
    postings = []
    for asset, amount in amounts.items():
        if amount:
            postings.append(Posting(player_owner(player_id), asset, amount))
            postings.append(Posting(ISSUANCE, asset, -amount))
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


async def _lock_accounts(conn, keys: list[tuple[str, Asset]]
                         ) -> dict[tuple[str, Asset], tuple[int, int, int, str, bool]]:
    """(id, balance, line count, last hash, may go negative) per (owner, asset), the rows
    locked in id order (`FOR UPDATE` on PostgreSQL; SQLite runs one writing transaction at
    a time). Missing accounts are created first with one multi-row INSERT … ON CONFLICT,
    safe under races; usually they all exist and this is one statement."""
    keys = sorted(set(keys))
    lock = " FOR UPDATE" if conn.capabilities.dialect == "postgres" else ""

    async def select() -> dict[tuple[str, Asset], tuple[int, int, int, str, bool]]:
        columns = "a.id, a.owner, a.asset, a.balance, a.line_count, a.last_hash, a.allow_negative"
        if lock:  # one statement text for any number of accounts (see app.database.insert_rows)
            rows = await conn.execute_query_dict(
                f"SELECT {columns} FROM ledger_account a JOIN unnest($1::text[], $2::text[]) "
                "AS k(owner, asset) ON a.owner = k.owner AND a.asset = k.asset "
                "ORDER BY a.id FOR UPDATE OF a",
                [[owner for owner, _ in keys], [asset.value for _, asset in keys]])
        else:
            # a VALUES list joined, not an OR per account: SQLite refuses an expression tree
            # deeper than 1,000 terms (a batch of a few hundred records)
            values = ", ".join("(?, ?)" for _ in keys)
            rows = await conn.execute_query_dict(
                f"WITH k(owner, asset) AS (VALUES {values}) SELECT {columns} "
                "FROM ledger_account a JOIN k ON a.owner = k.owner AND a.asset = k.asset "
                "ORDER BY a.id",
                [v for owner, asset in keys for v in (owner, asset.value)])
        return {(r["owner"], Asset(r["asset"])): (int(r["id"]), int(r["balance"]),
                                                  int(r["line_count"]), r["last_hash"],
                                                  bool(r["allow_negative"])) for r in rows}

    found = await select()
    missing = [k for k in keys if k not in found]
    if missing:  # sorted, so concurrent creators take the unique index in one order
        values = ", ".join(f"({{{3 * i + 1}}}, {{{3 * i + 2}}}, 0, {{{3 * i + 3}}}, 0, '')"
                           for i in range(len(missing)))
        await conn.execute_query(
            dialect_sql(conn, "INSERT INTO ledger_account (owner, asset, balance, allow_negative, "
                       f"line_count, last_hash) VALUES {values} ON CONFLICT (owner, asset) "
                       "DO NOTHING", len(missing) * 3),
            [v for owner, asset in missing for v in (owner, asset.value, owner.startswith("system:"))])
        found = await select()
    return found


DEADLOCK_ATTEMPTS = 5


async def post(
    type: str, idempotency_key: str, postings: list[Posting], reference: str | None = None
) -> PostResult:
    """Write a balanced transaction once; the same key again returns the first one."""
    _check_balanced(postings)
    existing = await LedgerTransaction.get_or_none(idempotency_key=idempotency_key)
    if existing is not None:
        return PostResult(existing, created=False)
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            async with in_transaction():
                tx = await post_in_transaction(type, idempotency_key, postings, reference)
            return PostResult(tx, created=True)
        except IntegrityError:
            existing = await LedgerTransaction.get_or_none(idempotency_key=idempotency_key)
            if existing is None:
                raise
            return PostResult(existing, created=False)
        except asyncpg.TransactionRollbackError:
            # PostgreSQL rolled this transaction back whole as a deadlock victim, which
            # concurrent posts can be while they first create the same accounts
            # (`_lock_accounts` inserts a missing account after locking the others):
            # nothing was written, so it is tried again, as PostgreSQL advises
            if attempt == DEADLOCK_ATTEMPTS:
                raise
            await asyncio.sleep(random.uniform(0, 0.01 * attempt))
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Entry:
    """One ledger transaction to post: its type, idempotency key, postings, reference."""

    type: str
    idempotency_key: str
    postings: list[Posting]
    reference: str | None = None


async def post_in_transaction(
    type: str, idempotency_key: str, postings: list[Posting], reference: str | None = None
) -> LedgerTransaction:
    """Post inside the caller's database transaction (which a duplicate key aborts)."""
    return (await post_many_in_transaction([Entry(type, idempotency_key, postings, reference)]))[0]


async def post_many_in_transaction(entries: list[Entry]) -> list[LedgerTransaction]:
    """Post several transactions, in order, inside the caller's database transaction.

    Five statements whatever the number of transactions and accounts: the transaction
    rows, the accounts read and locked in id order, one UPDATE of all their balances,
    chain heads and line counts, the lines, and the transactions queued for the
    transparency log (app.transparency.queue; none when the log is off). The balance check happens under that
    lock, so a player balance can never go below zero, however many writers race.

    Issuance postings all go to one shard, picked at random for the call: a batch of a
    hundred players' credits locks one shard's accounts, not every shard, so concurrent
    batches (and single credits) rarely wait for each other there."""
    if not entries:
        return []
    for entry in entries:
        _check_balanced(entry.postings)
    conn = connections.get("default")
    now = utcnow()  # built as rows, not through Model.__init__: a third less CPU per batch
    txs = [LedgerTransaction._init_from_db(id=uuid.uuid4(), type=e.type, idempotency_key=e.idempotency_key,
                                           reference=e.reference, created_at=now) for e in entries]
    await insert_rows(conn, "ledger_transaction", TRANSACTION_COLUMNS,  # a duplicate key aborts
                      [(str(tx.id), tx.type, tx.idempotency_key, tx.reference, now) for tx in txs])
    shard = issuance_shard(random.randrange(ISSUANCE_SHARDS))
    entries = [Entry(e.type, e.idempotency_key,
                     [Posting(shard, p.asset, p.amount) if p.owner == ISSUANCE else p for p in e.postings],
                     e.reference) for e in entries]
    accounts = await _lock_accounts(conn, [(p.owner, p.asset) for e in entries for p in e.postings])
    heads: dict[int, tuple[int, int, str, bool]] = {}
    lines = []
    for entry, tx in zip(entries, txs, strict=True):
        per_account: dict[int, int] = defaultdict(int)
        asset_of: dict[int, Asset] = {}
        for p in entry.postings:
            acc_id, balance, count, last_hash, may_go_negative = accounts[(p.owner, p.asset)]
            per_account[acc_id] += p.amount
            asset_of[acc_id] = p.asset
            heads.setdefault(acc_id, (balance, count, last_hash, may_go_negative))
        now = tx.created_at  # lines carry their transaction's time (leaderboards replay it)
        for acc_id in sorted(per_account):
            amount, asset = per_account[acc_id], asset_of[acc_id]
            balance, seq, prev, allow_negative = heads[acc_id]
            balance, seq = balance + amount, seq + 1
            if balance < 0 and not allow_negative:
                raise ServiceError(
                    ErrorCode.INSUFFICIENT_POINTS if asset == Asset.CARBON_POINT else ErrorCode.CONFLICT,
                    _short_of(asset, needed=-amount, available=balance - amount),
                )
            digest = line_hash(prev, acc_id, seq, str(tx.id), asset, amount, balance, now)
            heads[acc_id] = (balance, seq, digest, allow_negative)
            lines.append((str(tx.id), acc_id, seq, asset.value, amount, balance, now, digest))
    await update_rows(conn, "ledger_account", "id", HEAD_COLUMNS,
                      [(acc_id, b, s, h) for acc_id, (b, s, h, _) in sorted(heads.items())])
    await insert_rows(conn, "ledger_line", LINE_COLUMNS, lines)  # rows, not models: less CPU
    # queued last, under the account locks: the queue's order is the lines' order per account
    await log_queue.enqueue(conn, [str(tx.id) for tx in txs])
    return txs


async def balances(player_id: str) -> dict[Asset, int]:
    return (await balances_of_players([player_id]))[player_id]


async def balances_of_players(player_ids: Sequence[str]) -> dict[str, dict[Asset, int]]:
    """Every asset's balance of each player (0 where no account exists yet), in one query."""
    owners = {player_owner(p): p for p in player_ids}
    rows = await LedgerAccount.filter(owner__in=list(owners)).values("owner", "asset", "balance")
    found: dict[str, dict[Asset, int]] = {p: {asset: 0 for asset in Asset} for p in player_ids}
    for r in rows:
        found[owners[r["owner"]]][Asset(r["asset"])] = int(r["balance"])
    return found


async def player_lines(player_ids: Sequence[str], limit: int,
                       before_id: int | None) -> dict[str, list[LedgerLine]]:
    """Up to `limit` ledger lines of each player, newest first, with their transaction
    loaded; all players' in two queries."""
    owners = {player_owner(p): p for p in player_ids}
    query = LedgerLine.filter(account__owner__in=list(owners))
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    lines = await first_rows_per_owner(query, len(owners), '"ledger_line__account"."owner"',
                                       ["-id"], limit, ("transaction", "account"))
    found: dict[str, list[LedgerLine]] = {p: [] for p in player_ids}
    for line in lines:
        found[owners[line.account.owner]].append(line)
    return found
