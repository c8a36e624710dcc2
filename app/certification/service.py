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
from collections.abc import Callable
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
                                player_id)
SELECT s.id, {1}, 'certified', s.g, {2} + s.cum - s.g, {2} + s.cum - 1, s.player_id
FROM (SELECT a.id, a.player_id, a.reduction_grams AS g,
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
                                player_id)
SELECT c.activity_id, {1}, 'withdrawn', -c.grams, c.first_serial, c.last_serial, c.player_id
FROM activity_withdrawal w
JOIN certified_activity c ON c.activity_id = w.activity_id AND c.kind = 'certified'
JOIN certified_batch b ON b.id = c.batch_id
WHERE b.methodology_id = {2} AND b.methodology_version = {3}
  AND NOT EXISTS (SELECT 1 FROM certified_activity x
                  WHERE x.activity_id = c.activity_id AND x.kind = 'withdrawn')
"""

TOTALS = """SELECT COUNT(*) AS n, COALESCE(SUM(grams), 0) AS g,
COUNT(DISTINCT player_id) AS p FROM certified_activity WHERE batch_id = {1}"""

MANIFEST_GROUPS = """
SELECT a.kind AS scene, a.source AS partner, COALESCE(p.city, '') AS district,
       COUNT(*) AS n, SUM(c.grams) AS g
FROM certified_activity c
JOIN activity a ON a.id = c.activity_id
JOIN player p ON p.id = c.player_id
WHERE c.batch_id = {1}
GROUP BY a.kind, a.source, COALESCE(p.city, '')
"""

HASH_ROWS = """
SELECT c.first_serial, c.last_serial, c.activity_id, c.player_id, a.kind, a.local_date, c.grams
FROM certified_activity c JOIN activity a ON a.id = c.activity_id
WHERE c.batch_id = {1} AND c.first_serial > {2}
ORDER BY c.first_serial LIMIT {3}
"""

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


async def content_hash(conn: Any, batch_id: int, progress: Progress | None = None) -> str:
    """The batch's SHA-256 (see HASH_ENCODING), read in chunks of HASH_CHUNK rows."""
    digest = hashlib.sha256()
    after = 0
    done = 0
    while True:
        rows = await conn.execute_query(dialect_sql(conn, HASH_ROWS),
                                        [batch_id, after, HASH_CHUNK])
        rows = rows[1]
        if not rows:
            break
        lines = []
        for r in rows:
            local = r[5]
            lines.append(f"{r[0]},{r[1]},{r[2]},{r[3]},{r[4]},"
                         f"{local if isinstance(local, str) else local.isoformat()},{r[6]}\n")
        digest.update("".join(lines).encode())
        after = int(rows[-1][0])
        done += len(rows)
        if progress:
            progress(f"hashed {done:,} activities")
        if len(rows) < HASH_CHUNK:
            break
    return digest.hexdigest()


def _dimension(groups: list[dict[str, Any]], key: str) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = defaultdict(lambda: {"activities": 0, "grams": 0})
    for g in groups:
        entry = found[str(g[key])]
        entry["activities"] += int(g["n"])
        entry["grams"] += int(g["g"])
    return dict(sorted(found.items()))


async def _manifest(conn: Any, batch: CertifiedBatch, totals: dict[str, Any],
                    digest: str) -> dict[str, Any]:
    groups = await _rows(conn, MANIFEST_GROUPS, [batch.id])
    return {
        "code": batch.code, "period": batch.period, "kind": batch.kind,
        "methodology": {"id": batch.methodology_id, "version": batch.methodology_version},
        "activities": int(totals["n"]), "grams": int(totals["g"]),
        "participants": int(totals["p"]),
        "by_scene": _dimension(groups, "scene"),
        "by_methodology_version": {
            f"{batch.methodology_id} v{batch.methodology_version}":
                {"activities": int(totals["n"]), "grams": int(totals["g"])}},
        "by_district": _dimension(groups, "district"),
        "by_partner": _dimension(groups, "partner"),
        "content_hash": digest, "hash_encoding": HASH_ENCODING,
    }


async def _lock(conn: Any, prefix: str) -> None:
    """Closes of one period and methodology version take turns (PostgreSQL; SQLite writes
    one transaction at a time anyway). The lock ends with the transaction."""
    if _is_postgres(conn):
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)",
                                 [zlib.crc32(f"certification:{prefix}".encode())])


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
    totals = (await _rows(conn, TOTALS, [batch.id]))[0]
    if progress:
        progress(f"sealed {int(totals['n']):,} activities, {int(totals['g']):,} g; hashing")
    digest = await content_hash(conn, batch.id, progress)
    batch.grams = int(totals["g"])
    batch.activity_count = int(totals["n"])
    batch.participants = int(totals["p"])
    batch.last_serial = batch.first_serial + batch.grams - 1
    batch.content_hash = digest
    batch.manifest = await _manifest(conn, batch, totals, digest)
    await batch.save(using_db=conn)
    if batch.grams:
        await post_many_in_transaction([Entry(
            SEAL_TYPE, f"certification:{batch.code}",
            transfer(CERTIFICATION, INVENTORY, Asset.CERTIFIED_GRAMS, batch.grams),
            reference=batch.code)])


async def _adjust(conn: Any, batch: CertifiedBatch) -> bool:
    """Withdrawn certified activities not yet adjusted go into `batch` (kind adjustment);
    False (and nothing kept) when there are none."""
    await conn.execute_query(dialect_sql(conn, SELECT_WITHDRAWN),
                             [batch.id, batch.methodology_id, batch.methodology_version])
    totals = (await _rows(conn, TOTALS, [batch.id]))[0]
    if not int(totals["n"]):
        await batch.delete(using_db=conn)
        return False
    digest = await content_hash(conn, batch.id)
    withdrawn = -int(totals["g"])
    held = await _inventory(conn)
    recovered = min(withdrawn, max(held, 0))
    batch.grams = int(totals["g"])
    batch.activity_count = int(totals["n"])
    batch.participants = int(totals["p"])
    batch.content_hash = digest
    manifest = await _manifest(conn, batch, totals, digest)
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
    if not idempotency_key.strip():
        raise ServiceError(ErrorCode.INVALID_INPUT, N_("An idempotency key is required."),
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
