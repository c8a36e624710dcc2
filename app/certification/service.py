"""Closing a certification period: sealing a month's accepted reductions of one methodology
version into a batch, one serial per gram, in a handful of set-based statements.

A close runs in one database transaction (on PostgreSQL under an advisory lock per serial
prefix, so two closes of one period take turns):

1. the batch row (sealed on the first close of the period, supplementary after it);
2. one `INSERT … SELECT` gives every accepted activity of the month not yet certified its
   serial range, from a running sum of grams in (occurred_at, id) order;
3. one `GROUP BY` makes the manifest, and the content hash is streamed over the batch's
   rows in serial order, in chunks (the encoding is in `HASH_ENCODING`);
4. one ledger transaction issues the grams to the certified inventory;
5. certified activities withdrawn since the last close become an adjustment batch.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from app.certification.models import CertifiedBatch
from app.certification.periods import Period, parse_period, serial_prefix
from app.clock import utcnow
from app.database import dialect_sql
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.ledger.service import Asset, Entry, post_many_in_transaction, transfer
from methodology import MethodologyRegistry

CERTIFICATION = "system:certification"  # where certified grams are issued from
INVENTORY = "inventory:certified"  # what the market sells from: never below zero
SEAL_TYPE = "certification.seal"
ADJUSTMENT_TYPE = "certification.adjustment"
HASH_CHUNK = 50_000
MAX_KEY_LENGTH = 180  # kept on the batch (200), the adjustment's with ":adjustment" added
HASH_ENCODING = ("sha256 over one line per certified activity, in serial order: "
                 "first_serial,last_serial,activity_id,player_id,scene,local_date,grams "
                 "and a newline (\\n), UTF-8; ids as lowercase hyphenated UUIDs, local_date "
                 "as YYYY-MM-DD, numbers in decimal")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CloseResult:
    """What a close call made or found: the sealed or supplementary batch it returns, the
    adjustment batch it made (if any), and whether anything was written."""

    batch: CertifiedBatch
    adjustment: CertifiedBatch | None
    created: bool


SELECT_CERTIFIABLE = """
INSERT INTO certified_activity (activity_id, batch_id, kind, grams, first_serial, last_serial,
                                player_id, scene, local_date, partner)
SELECT s.id, {1}, 'certified', s.g, {2} + s.cum - s.g, {2} + s.cum - 1, s.player_id, s.kind,
       s.local_date, s.source
FROM (SELECT a.id, a.player_id, a.reduction_grams AS g, a.kind, a.local_date, a.source,
             SUM(a.reduction_grams) OVER (ORDER BY a.occurred_at, a.id
                                          ROWS UNBOUNDED PRECEDING) AS cum
      FROM activity a
      WHERE a.methodology_id = {3} AND a.methodology_version = {4}
        AND a.local_date >= {5} AND a.local_date < {6}
        AND a.status = 'accepted' AND a.reduction_grams > 0
        AND NOT EXISTS (SELECT 1 FROM certified_activity c
                        WHERE c.activity_id = a.id AND c.kind = 'certified')) s
"""

SELECT_WITHDRAWN = """
INSERT INTO certified_activity (activity_id, batch_id, kind, grams, first_serial, last_serial,
                                player_id, scene, local_date, partner)
SELECT c.activity_id, {1}, 'withdrawn', -c.grams, c.first_serial, c.last_serial, c.player_id,
       c.scene, c.local_date, c.partner
FROM activity_withdrawal w
JOIN certified_activity c ON c.activity_id = w.activity_id AND c.kind = 'certified'
JOIN certified_batch b ON b.id = c.batch_id
WHERE b.methodology_id = {2} AND b.methodology_version = {3}
  AND NOT EXISTS (SELECT 1 FROM certified_activity x
                  WHERE x.activity_id = c.activity_id AND x.kind = 'withdrawn')
"""

# the hash's lines (HASH_ENCODING) made by the database, in serial order: {day} is the
# dialect's YYYY-MM-DD of local_date (a withdrawn row has its old serials)
HASH_LINES = """
SELECT c.first_serial, c.first_serial || ',' || c.last_serial || ',' || c.activity_id || ','
       || c.player_id || ',' || c.scene || ',' || {day} || ',' || c.grams AS line
FROM certified_activity c WHERE c.batch_id = {{1}}"""
HASH_CHUNK_SQL = HASH_LINES + " AND c.first_serial > {{2}} ORDER BY c.first_serial LIMIT {{3}}"

# the manifest's figures: by scene, partner and district at once (a handful of groups)
FIGURES = """
SELECT c.scene, c.partner, COALESCE(p.city, '') AS district, COUNT(*) AS n, SUM(c.grams) AS g
FROM certified_activity c LEFT JOIN player p ON p.id = c.player_id
WHERE c.batch_id = {1} GROUP BY c.scene, c.partner, COALESCE(p.city, '')"""
PARTICIPANTS = "SELECT COUNT(DISTINCT player_id) AS p FROM certified_activity WHERE batch_id = {1}"

WITHDRAWN_SOURCES = """
SELECT b.code AS code, COUNT(*) AS n, SUM(c.grams) AS g
FROM certified_activity w
JOIN certified_activity c ON c.activity_id = w.activity_id AND c.kind = 'certified'
JOIN certified_batch b ON b.id = c.batch_id
WHERE w.batch_id = {1} GROUP BY b.code ORDER BY b.code
"""


def _is_postgres(conn: Any) -> bool:
    return bool(conn.capabilities.dialect == "postgres")


def _day(conn: Any, day: date) -> Any:
    return day if _is_postgres(conn) else day.isoformat()


async def _rows(conn: Any, template: str, params: list[Any]) -> list[dict[str, Any]]:
    return list(await conn.execute_query_dict(dialect_sql(conn, template), params))


@dataclass
class Scan:
    """A batch's hash and figures."""

    digest: str
    activities: int
    grams: int
    participants: int
    by_scene: dict[str, list[int]]
    by_district: dict[str, list[int]]
    by_partner: dict[str, list[int]]


async def _hash(conn: Any, batch_id: int, progress: Progress | None) -> str:
    """SHA-256 of the batch's lines, read in serial order: on PostgreSQL through a cursor, on
    SQLite in chunks of HASH_CHUNK rows (keyset on first_serial)."""
    digest = hashlib.sha256()
    done = 0

    def add(lines: Sequence[Any]) -> None:
        nonlocal done
        if lines:
            digest.update(("\n".join(r[1] for r in lines) + "\n").encode())
        done += len(lines)
        if progress:
            progress(f"hashed {done:,} activities")

    if _is_postgres(conn):
        sql = dialect_sql(conn, HASH_LINES.format(day="to_char(c.local_date, 'YYYY-MM-DD')"))
        async with conn.acquire_connection() as raw:  # the transaction's asyncpg connection
            cursor = await raw.cursor(sql + " ORDER BY c.first_serial", batch_id)
            while rows := await cursor.fetch(HASH_CHUNK):
                add(rows)
        return digest.hexdigest()
    sql = dialect_sql(conn, HASH_CHUNK_SQL.format(day="c.local_date"))
    after = 0
    while True:
        rows = (await conn.execute_query(sql, [batch_id, after, HASH_CHUNK]))[1]
        add(rows)
        if len(rows) < HASH_CHUNK:
            return digest.hexdigest()
        after = int(rows[-1][0])


async def scan(conn: Any, batch_id: int, progress: Progress | None = None) -> Scan:
    """The batch's hash, then its figures (one GROUP BY, one COUNT DISTINCT)."""
    digest = await _hash(conn, batch_id, progress)
    parts: dict[str, dict[str, list[int]]] = {
        k: defaultdict(lambda: [0, 0]) for k in ("scene", "district", "partner")}
    for g in await _rows(conn, FIGURES, [batch_id]):
        for key in parts:
            entry = parts[key][str(g[key])]
            entry[0] += int(g["n"])
            entry[1] += int(g["g"])
    participants = int((await _rows(conn, PARTICIPANTS, [batch_id]))[0]["p"])
    return Scan(digest, sum(n for n, _ in parts["scene"].values()),
                sum(g for _, g in parts["scene"].values()), participants,
                parts["scene"], parts["district"], parts["partner"])


def _figures(part: dict[str, list[int]]) -> dict[str, dict[str, int]]:
    return {key: {"activities": n, "grams": g} for key, (n, g) in sorted(part.items())}


def _manifest(batch: CertifiedBatch, found: Scan) -> dict[str, Any]:
    return {
        "code": batch.code, "period": batch.period, "kind": batch.kind,
        "methodology": {"id": batch.methodology_id, "version": batch.methodology_version},
        "activities": found.activities, "grams": found.grams,
        "participants": found.participants,
        "by_scene": _figures(found.by_scene),
        "by_methodology_version": {
            f"{batch.methodology_id} v{batch.methodology_version}":
                {"activities": found.activities, "grams": found.grams}},
        "by_district": _figures(found.by_district),
        "by_partner": _figures(found.by_partner),
        "content_hash": found.digest, "hash_encoding": HASH_ENCODING,
    }


def _fill(batch: CertifiedBatch, found: Scan) -> None:
    batch.grams = found.grams
    batch.activity_count = found.activities
    batch.participants = found.participants
    batch.content_hash = found.digest
    batch.manifest = _manifest(batch, found)


async def _lock(conn: Any, prefix: str) -> None:
    """Closes of one period and methodology version take turns (PostgreSQL; SQLite writes
    one transaction at a time anyway). The lock ends with the transaction, and so does the
    memory given to its sorts (a million rows sorted in memory, not on disk)."""
    if _is_postgres(conn):
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)",
                                 [zlib.crc32(f"certification:{prefix}".encode())])
        await conn.execute_query("SET LOCAL work_mem = '256MB'")


async def _inventory(conn: Any) -> int:
    lock = " FOR UPDATE" if _is_postgres(conn) else ""
    rows = await _rows(conn, "SELECT balance FROM ledger_account WHERE owner = {1} AND asset = {2}"
                       + lock, [INVENTORY, Asset.CERTIFIED_GRAMS.value])
    return int(rows[0]["balance"]) if rows else 0


async def _new_batch(conn: Any, code: str, kind: str, period: Period, methodology_id: str,
                     version: int, prefix: str, next_serial: int, closed_by: str,
                     key: str | None) -> CertifiedBatch:
    return await CertifiedBatch.create(
        using_db=conn, code=code, period=period.text, methodology_id=methodology_id,
        methodology_version=version, kind=kind, serial_prefix=prefix, first_serial=next_serial,
        last_serial=next_serial - 1, grams=0, activity_count=0, participants=0, manifest={},
        content_hash=hashlib.sha256(b"").hexdigest(), closed_at=utcnow(), closed_by=closed_by,
        idempotency_key=key)


async def _seal(conn: Any, batch: CertifiedBatch, period: Period,
                progress: Progress | None) -> None:
    """Give the period's uncertified activities their serials in `batch`, then its figures,
    manifest and hash, and issue its grams to the inventory."""
    if progress:
        progress("allocating serials")
    await conn.execute_query(dialect_sql(conn, SELECT_CERTIFIABLE), [
        batch.id, batch.first_serial, batch.methodology_id, batch.methodology_version,
        _day(conn, period.start), _day(conn, period.end)])
    if progress:
        progress("serials allocated; hashing")
    _fill(batch, await scan(conn, batch.id, progress))
    batch.last_serial = batch.first_serial + batch.grams - 1
    await batch.save(using_db=conn)
    if batch.grams:
        await post_many_in_transaction([Entry(
            SEAL_TYPE, f"certification:{batch.code}",
            transfer(CERTIFICATION, INVENTORY, Asset.CERTIFIED_GRAMS, batch.grams),
            reference=batch.code)])


async def _adjust(conn: Any, batch: CertifiedBatch) -> bool:
    """Withdrawn certified activities not yet adjusted go into `batch` (kind adjustment);
    False (and nothing kept) when there are none. Closes of other months of the methodology
    version take turns here, so a withdrawal is adjusted once."""
    await _lock(conn, f"adjustments:{batch.methodology_id}:{batch.methodology_version}")
    await conn.execute_query(dialect_sql(conn, SELECT_WITHDRAWN),
                             [batch.id, batch.methodology_id, batch.methodology_version])
    found = await scan(conn, batch.id)
    if not found.activities:
        await batch.delete(using_db=conn)
        return False
    withdrawn = -found.grams
    held = await _inventory(conn)
    recovered = min(withdrawn, max(held, 0))
    _fill(batch, found)
    manifest = batch.manifest
    manifest["withdrawn_from"] = {r["code"]: {"activities": int(r["n"]), "grams": int(r["g"])}
                                  for r in await _rows(conn, WITHDRAWN_SOURCES, [batch.id])}
    manifest["recovered_grams"] = recovered
    manifest["unrecovered_grams"] = withdrawn - recovered
    batch.manifest = manifest
    await batch.save(using_db=conn)
    if recovered:
        await post_many_in_transaction([Entry(
            ADJUSTMENT_TYPE, f"certification:{batch.code}",
            transfer(INVENTORY, CERTIFICATION, Asset.CERTIFIED_GRAMS, recovered),
            reference=batch.code)])
    return True


async def _by_key(key: str, period: str, methodology_id: str, version: int) -> CloseResult | None:
    found = await CertifiedBatch.get_or_none(idempotency_key=key)
    if found is None:
        return None
    if (found.period, found.methodology_id, found.methodology_version) != (
            period, methodology_id, version):
        raise ServiceError(ErrorCode.CONFLICT, N_(
            "This idempotency key was used to close another period or methodology."),
            "idempotencyKey")
    adjustment = None
    if found.kind == "adjustment":  # the call made only an adjustment: it returns the last batch
        adjustment = found
        found = await CertifiedBatch.filter(
            serial_prefix=found.serial_prefix, kind__in=["sealed", "supplementary"]
        ).order_by("-id").first() or found
    else:
        adjustment = await CertifiedBatch.get_or_none(idempotency_key=f"{key}:adjustment")
    return CloseResult(found, adjustment, created=False)


async def close_period(period_text: str, methodology_id: str, version: int, closed_by: str,
                       idempotency_key: str, *, timezone: str, serial_city: str,
                       methodologies: MethodologyRegistry,
                       progress: Progress | None = None) -> CloseResult:
    """Seal the month's accepted activities of a methodology version not yet certified.

    The first close of a period makes its sealed batch (even an empty one: the month is
    closed); a later close makes a supplementary batch of what arrived since, or, when
    nothing did, returns the period's last batch unchanged. The same idempotency key again
    returns what its first call returned."""
    if not 0 < len(idempotency_key.strip()) <= MAX_KEY_LENGTH:
        raise ServiceError(ErrorCode.INVALID_INPUT, N_(
            "An idempotency key is 1 to %(max)s characters.", max=MAX_KEY_LENGTH),
            "idempotencyKey")
    period = parse_period(period_text, utcnow(), timezone)
    if methodologies.get(methodology_id, version) is None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_(
            "There is no methodology %(id)s version %(version)s.", id=methodology_id,
            version=version), "methodologyId")
    prefix = serial_prefix(serial_city, period.text, methodology_id, version)
    key = idempotency_key.strip()
    if (found := await _by_key(key, period.text, methodology_id, version)) is not None:
        return found
    async with in_transaction() as conn:
        await _lock(conn, prefix)
        if (found := await _by_key(key, period.text, methodology_id, version)) is not None:
            return found
        earlier = await CertifiedBatch.filter(serial_prefix=prefix).using_db(conn).order_by("id")
        issued = [b for b in earlier if b.kind != "adjustment"]
        next_serial = max((b.last_serial for b in earlier), default=0) + 1
        kind = "supplementary" if issued else "sealed"
        code = prefix if not issued else f"{prefix}-S{len(issued)}"
        batch = await _new_batch(conn, code, kind, period, methodology_id, version, prefix,
                                 next_serial, closed_by, key)
        await _seal(conn, batch, period, progress)
        if batch.activity_count == 0 and issued:  # nothing arrived since: no empty batch
            await batch.delete(using_db=conn)
            batch = issued[-1]
            created = False
        else:
            created = True
        adjustments = sum(1 for b in earlier if b.kind == "adjustment")
        adjustment: CertifiedBatch | None = await _new_batch(
            conn, f"{prefix}-A{adjustments + 1}", "adjustment", period, methodology_id,
            version, prefix, next_serial + max(batch.grams, 0) if created else next_serial,
            closed_by, key if not created else f"{key}:adjustment")
        assert adjustment is not None
        if not await _adjust(conn, adjustment):
            adjustment = None
    return CloseResult(batch, adjustment, created or adjustment is not None)


async def batches(period: str | None = None, methodology_id: str | None = None,
                  limit: int = 200) -> list[CertifiedBatch]:
    """Batches, oldest first (a period's, or a methodology's, when given)."""
    query = CertifiedBatch.all()
    if period:
        query = query.filter(period=period.strip())
    if methodology_id:
        query = query.filter(methodology_id=methodology_id)
    return list(await query.order_by("period", "methodology_id", "methodology_version", "id")
                .limit(limit))
