"""The regulator's report for a month or a year: the certified batches and their manifest
figures (adjustments shown), grams by scene and participants over time, the market's
sales, and a check of the totals against the ledger.

Only aggregates and pseudonyms: a player appears, if at all, as an HMAC of their id under
a key derived from the server's secret (stable from report to report, so a regulator can
follow one pseudonym over months, without a way back to the person). No phone, no
nickname, no player id is read.

Days are the city's local days (`Activity.local_date`), as for certification periods.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.functions import Count, Sum

from app.certification.models import CertifiedBatch
from app.certification.periods import PERIOD, month_bounds, serial
from app.certification.service import ADJUSTMENT_TYPE, INVENTORY, SEAL_TYPE
from app.credits.models import Activity
from app.database import dialect_sql
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.ledger.service import Asset
from app.market.models import MarketAllocation, MarketSale, SaleMode
from app.regulator.figures import grouped_totals

Progress = Callable[[int, int], None]  # (steps done, steps in all)
TOP = 10  # districts, partners and participants shown by name (all are in the CSV)
DIMENSIONS = ("scene", "methodology", "district", "partner")


@dataclass(frozen=True)
class ReportScope:
    """A month (`2026-11`, by day) or a year (`2026`, by month)."""

    label: str
    since: date
    until: date  # included
    periods: list[str]  # the certification periods (months) it covers
    bucket: str  # "day" | "month"

    def buckets(self) -> list[str]:
        """Every bucket of the scope, in order, with or without figures."""
        if self.bucket == "month":
            return list(self.periods)
        return [(self.since + timedelta(days=i)).isoformat()
                for i in range((self.until - self.since).days + 1)]


def scope_of(period: str | None = None, year: int | None = None) -> ReportScope:
    """The scope named by exactly one of `period` (YYYY-MM) and `year`."""
    if (period is None) == (year is None):
        raise ServiceError(ErrorCode.INVALID_INPUT,
                           N_("Give either a period (YYYY-MM) or a year, not both."), "period")
    if period is not None:
        found = PERIOD.match(period.strip())
        if not found:
            raise ServiceError(ErrorCode.INVALID_INPUT,
                               N_("A period is a month written YYYY-MM, such as 2026-11."),
                               "period")
        y, m = int(found.group(1)), int(found.group(2))
        if not 2000 <= y <= 2100:
            raise ServiceError(ErrorCode.INVALID_INPUT,
                               N_("The year must be from 2000 to 2100."), "period")
        since, until = _month(f"{y:04d}-{m:02d}")
        return ReportScope(f"{y:04d}-{m:02d}", since, until, [f"{y:04d}-{m:02d}"], "day")
    assert year is not None
    if not 2000 <= year <= 2100:
        raise ServiceError(ErrorCode.INVALID_INPUT,
                           N_("The year must be from 2000 to 2100."), "year")
    return ReportScope(str(year), date(year, 1, 1), date(year, 12, 31),
                       [f"{year:04d}-{m:02d}" for m in range(1, 13)], "month")


@dataclass(frozen=True)
class Totals:
    """Accepted activities of the scope (a withdrawn or refused one counts nothing)."""

    activities: int
    reduction_grams: int
    points: int
    participants: int


@dataclass(frozen=True)
class CertifiedTotals:
    batches: int
    grams: int  # serials issued: sealed and supplementary batches
    adjustment_grams: int  # withdrawn after certification (zero or negative)
    net_grams: int  # grams + adjustment_grams
    unrecovered_grams: int  # withdrawn after they were sold: the inventory could not take them back
    activities: int
    participants: int  # summed over batches: a player in two batches counts twice


@dataclass(frozen=True)
class Batch:
    code: str
    period: str
    kind: str  # sealed | supplementary | adjustment
    methodology_id: str
    methodology_version: int
    grams: int
    activity_count: int
    participants: int
    first_serial: str  # printed; empty when the batch issued no serial
    last_serial: str
    content_hash: str
    closed_at: datetime


@dataclass(frozen=True)
class BreakdownRow:
    """Certified figures of the scope's batches by one dimension of their manifests."""

    dimension: str  # scene | methodology | district | partner
    key: str
    activities: int
    grams: int  # in sealed and supplementary batches
    adjustment_grams: int  # in adjustment batches (zero or negative)


@dataclass(frozen=True)
class SeriesRow:
    """Accepted activities of one bucket (day or month) and scene."""

    bucket: str
    scene: str
    activities: int
    reduction_grams: int
    points: int
    participants: int


@dataclass(frozen=True)
class BucketRow:
    """All scenes of one bucket: participants are distinct players, not a sum of scenes."""

    bucket: str
    activities: int
    reduction_grams: int
    points: int
    participants: int


@dataclass(frozen=True)
class Participant:
    pseudonym: str
    activities: int
    reduction_grams: int
    points: int


@dataclass(frozen=True)
class Market:
    """Sales and retirements made in the scope (by sale time, the city's days), and how
    much of the scope's own certified grams has been sold or retired so far."""

    sold_grams: int
    retired_grams: int
    revenue_fen: int
    shop_share_fen: int
    certificates: int
    scope_grams_sold: int
    scope_grams_retired: int


@dataclass(frozen=True)
class LedgerCheck:
    """The report's totals against the ledger, read separately: the grams credited to
    players for the scope's accepted activities, and the CERTIFIED_GRAMS the scope's
    batches moved into the certified inventory."""

    credited_grams: int
    certified_grams: int

    def matches(self, totals: Totals, certified: CertifiedTotals) -> bool:
        return (self.credited_grams == totals.reduction_grams
                and self.certified_grams == certified.net_grams + certified.unrecovered_grams)


@dataclass
class RegulatorReport:
    scope: ReportScope
    totals: Totals
    certified: CertifiedTotals
    batches: list[Batch]
    breakdown: list[BreakdownRow]
    series: list[SeriesRow]
    buckets: list[BucketRow]
    top_participants: list[Participant]
    ledger: LedgerCheck
    market: Market
    generated_at: datetime
    pseudonym_key: bytes = field(repr=False, default=b"")

    @property
    def ledger_matches(self) -> bool:
        return self.ledger.matches(self.totals, self.certified)

    def top(self, dimension: str, limit: int = TOP) -> list[BreakdownRow]:
        rows = [r for r in self.breakdown if r.dimension == dimension]
        return sorted(rows, key=lambda r: (-(r.grams + r.adjustment_grams), r.key))[:limit]


def pseudonym_key(secret_key: str) -> bytes:
    """The report's own key, derived from the server's secret (not the secret itself)."""
    return hashlib.sha256(b"carbon-planet regulator report pseudonyms\x00"
                          + secret_key.encode()).digest()


def pseudonym(key: bytes, player_id: Any) -> str:
    """20 hex digits of HMAC-SHA256(key, player id): the same player, the same pseudonym."""
    return hmac.new(key, str(player_id).encode(), hashlib.sha256).hexdigest()[:20]


async def build_report(scope: ReportScope, secret_key: str, timezone: str, now: datetime,
                       progress: Progress | None = None) -> RegulatorReport:
    """The report of `scope`; `progress` hears after each month read (and once per stage)."""
    steps = len(scope.periods) + 3
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps)

    series: list[SeriesRow] = []
    buckets: list[BucketRow] = []
    for period in scope.periods:  # a month at a time: participants are distinct per bucket
        since, until = _month(period)
        if scope.bucket == "day":
            for r in await grouped_totals(since, until, "local_date", "kind"):
                series.append(SeriesRow(_iso(r["local_date"]), r["kind"], *_amounts(r)))
            for r in await grouped_totals(since, until, "local_date"):
                buckets.append(BucketRow(_iso(r["local_date"]), *_amounts(r)))
        else:
            for r in await grouped_totals(since, until, "kind"):
                series.append(SeriesRow(period, r["kind"], *_amounts(r)))
            for r in await grouped_totals(since, until):
                if r["activities"]:
                    buckets.append(BucketRow(period, *_amounts(r)))
        step()
    [whole] = await grouped_totals(scope.since, scope.until)
    totals = Totals(*_amounts(whole))
    key = pseudonym_key(secret_key)
    top = await participants(scope, key, limit=TOP)
    step()
    batches, breakdown, certified = await _certified(scope)
    step()
    ledger = LedgerCheck(await _ledger_credited_grams(scope), await _ledger_certified_grams(scope))
    market = await _market(scope, timezone)
    step()
    return RegulatorReport(scope, totals, certified, batches, breakdown, series, buckets,
                           top, ledger, market, now, key)


async def participants(scope: ReportScope, key: bytes,
                       limit: int | None = None) -> list[Participant]:
    """Each participant of the scope by pseudonym: the top `limit` by grams, or all (in
    pseudonym order, which says nothing about who they are)."""
    query = Activity.filter(
        status="accepted", local_date__gte=scope.since, local_date__lte=scope.until,
    ).annotate(activities=Count("id"), grams=Sum("reduction_grams"), total_points=Sum("points"),
               ).group_by("player_id")
    if limit is not None:
        query = query.order_by("-grams", "player_id").limit(limit)
    rows = await query.values("player_id", "activities", "grams", "total_points")
    found = [Participant(pseudonym(key, r["player_id"]), r["activities"], int(r["grams"] or 0),
                         int(r["total_points"] or 0)) for r in rows]
    return found if limit is not None else sorted(found, key=lambda p: p.pseudonym)


async def _certified(scope: ReportScope) -> tuple[list[Batch], list[BreakdownRow],
                                                  CertifiedTotals]:
    rows = await CertifiedBatch.filter(period__in=scope.periods).order_by(
        "period", "methodology_id", "methodology_version", "closed_at", "id")
    batches = [Batch(b.code, b.period, b.kind, b.methodology_id, b.methodology_version,
                     b.grams, b.activity_count, b.participants,
                     serial(b.serial_prefix, b.first_serial) if b.last_serial >= b.first_serial
                     and b.kind != "adjustment" else "",
                     serial(b.serial_prefix, b.last_serial) if b.last_serial >= b.first_serial
                     and b.kind != "adjustment" else "",
                     b.content_hash, b.closed_at) for b in rows]
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for b in rows:
        for dimension, key, activities, grams in manifest_rows(b):
            entry = sums[(dimension, key)]
            if b.kind == "adjustment":  # the withdrawn activities were counted when certified
                entry[2] += grams
            else:
                entry[0] += activities
                entry[1] += grams
    breakdown = [BreakdownRow(d, k, *v) for (d, k), v in
                 sorted(sums.items(), key=lambda item: (DIMENSIONS.index(item[0][0]), item[0][1]))]
    issued = sum(b.grams for b in rows if b.kind != "adjustment")
    adjusted = sum(b.grams for b in rows if b.kind == "adjustment")
    certified = CertifiedTotals(
        batches=len(rows), grams=issued, adjustment_grams=adjusted, net_grams=issued + adjusted,
        unrecovered_grams=sum(int((b.manifest or {}).get("unrecovered_grams", 0) or 0)
                              for b in rows if b.kind == "adjustment"),
        activities=sum(b.activity_count for b in rows if b.kind != "adjustment"),
        participants=sum(b.participants for b in rows if b.kind != "adjustment"))
    return batches, breakdown, certified


def manifest_rows(batch: CertifiedBatch) -> list[tuple[str, str, int, int]]:
    """(dimension, key, activities, grams) from a batch's manifest."""
    manifest = batch.manifest or {}
    found: list[tuple[str, str, int, int]] = []
    for dimension, names in (("scene", ("by_scene", "byScene", "scenes")),
                             ("methodology", ("by_methodology_version", "byMethodologyVersion",
                                              "methodology_versions")),
                             ("district", ("by_district", "byDistrict", "districts")),
                             ("partner", ("by_partner", "byPartner", "partners"))):
        part = next((manifest[n] for n in names if n in manifest), None)
        if dimension == "methodology" and part is None:
            part = {f"{batch.methodology_id} v{batch.methodology_version}":
                    {"activities": batch.activity_count, "grams": batch.grams}}
        for key, value in _entries(part):
            found.append((dimension, key, *value))
    return found


def _entries(part: Any) -> list[tuple[str, tuple[int, int]]]:
    """A manifest's {key: {activities|count, grams}} or [{key…, activities|count, grams}]."""
    if isinstance(part, dict):
        items = list(part.items())
    elif isinstance(part, list):
        items = [(str(next((v for k, v in e.items() if k not in ("count", "activities", "grams",
                                                                   "participants")), "")), e)
                 for e in part if isinstance(e, dict)]
    else:
        return []
    out = []
    for key, value in items:
        if isinstance(value, dict):
            count = int(value.get("activities", value.get("count", 0)) or 0)
            grams = int(value.get("grams", 0) or 0)
        else:
            count, grams = 0, int(value or 0)
        out.append((str(key) or "—", (count, grams)))
    return out


# From the ledger's side: a credit's transaction names its activity (`activity:<id>`), and
# the activity is found by its primary key (a join on the reference would scan).
LEDGER_CREDITED = """SELECT COALESCE(SUM(l.amount), 0) FROM ledger_line l
  JOIN ledger_transaction t ON t.id = l.transaction_id
  JOIN ledger_account a ON a.id = l.account_id
  JOIN activity v ON {activity_id} = SUBSTR(t.reference, 10)
  WHERE l.asset = 'CO2E_GRAMS' AND t.type = 'ACTIVITY_CREDIT' AND t.reference LIKE 'activity:%'
    AND a.owner LIKE 'player:%' AND v.status = 'accepted' AND v.local_date >= {{1}}
    AND v.local_date <= {{2}}"""


async def _ledger_credited_grams(scope: ReportScope) -> int:
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    sql = dialect_sql(conn, LEDGER_CREDITED.format(
        activity_id="v.id::text" if postgres else "v.id"))
    return await _scalar(conn, sql, [scope.since, scope.until])


LEDGER_CERTIFIED = """SELECT COALESCE(SUM(l.amount), 0) FROM ledger_line l
  JOIN ledger_transaction t ON t.id = l.transaction_id
  JOIN ledger_account a ON a.id = l.account_id
  JOIN certified_batch b ON b.code = t.reference
  WHERE t.type IN ({1}, {2}) AND l.asset = {3} AND a.owner = {4} AND b.period >= {5}
    AND b.period <= {6}"""


async def _ledger_certified_grams(scope: ReportScope) -> int:
    """CERTIFIED_GRAMS moved into (or, by adjustments, out of) the certified inventory by
    the scope's batches: their ledger transactions name the batch's code."""
    conn = connections.get("default")
    return await _scalar(conn, dialect_sql(conn, LEDGER_CERTIFIED), [
        SEAL_TYPE, ADJUSTMENT_TYPE, Asset.CERTIFIED_GRAMS.value, INVENTORY, scope.periods[0],
        scope.periods[-1]])


async def _scalar(conn: Any, sql: str, params: list[Any]) -> int:
    _, rows = await conn.execute_query(sql, params)
    return int(next(iter(dict(rows[0]).values())) or 0) if rows else 0


async def _market(scope: ReportScope, timezone: str) -> Market:
    zone = ZoneInfo(timezone)
    start = datetime.combine(scope.since, time(), zone)
    end = datetime.combine(scope.until + timedelta(days=1), time(), zone)
    by_mode: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in await MarketSale.filter(created_at__gte=start, created_at__lt=end).annotate(
            n=Count("id"), g=Sum("grams"), fen=Sum("total_fen"), shop=Sum("shop_fund_fen"),
    ).group_by("mode").values("mode", "n", "g", "fen", "shop"):
        by_mode[r["mode"]].update(n=r["n"], g=int(r["g"] or 0), fen=int(r["fen"] or 0),
                                  shop=int(r["shop"] or 0))
    taken = {r["sale__mode"]: int(r["g"] or 0) for r in await MarketAllocation.filter(
        batch__period__in=scope.periods).annotate(g=Sum("grams")).group_by(
        "sale__mode").values("sale__mode", "g")}
    modes = list(by_mode.values())
    return Market(
        sold_grams=by_mode[SaleMode.SALE.value]["g"],
        retired_grams=by_mode[SaleMode.RETIREMENT.value]["g"],
        revenue_fen=sum(m["fen"] for m in modes), shop_share_fen=sum(m["shop"] for m in modes),
        certificates=sum(m["n"] for m in modes),
        scope_grams_sold=taken.get(SaleMode.SALE.value, 0),
        scope_grams_retired=taken.get(SaleMode.RETIREMENT.value, 0))


def _month(period: str) -> tuple[date, date]:
    """A YYYY-MM period's first and last days."""
    since, end = month_bounds(int(period[:4]), int(period[5:7]))
    return since, end - timedelta(days=1)


def _amounts(row: dict) -> tuple[int, int, int, int]:
    """activities, grams, points, participants (a sum over no rows is NULL)."""
    return (row["activities"], int(row["grams"] or 0), int(row["total_points"] or 0),
            row["participants"])


def _iso(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]
