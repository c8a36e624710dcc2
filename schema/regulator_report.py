"""The regulator's report (`regulatorReport`): the types, built from app.regulator.report's
records, and its CSV tables."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

import strawberry
from strawberry.types import Info

from app.clock import utcnow
from app.errors import ServiceError
from app.regulator import report as service
from app.regulator.report_output import ReportTable as ReportTableEnum
from app.regulator.report_output import table_csv
from schema.errors import client_error
from schema.scalars import Long

strawberry.enum(ReportTableEnum, name="ReportTable",
                description="A table of the regulator's report, as CSV.")
ReportTable = ReportTableEnum


@strawberry.type
class ReportScope:
    label: str = strawberry.field(description="2026-11 (a month) or 2026 (a year).")
    since: date
    until: date
    periods: list[str] = strawberry.field(description="The certification periods covered.")
    bucket: str = strawberry.field(description="day (a month's report) or month (a year's).")


@strawberry.type
class ReportTotals:
    activities: int
    reduction_grams: Long
    points: Long
    participants: int


@strawberry.type
class CertifiedTotals:
    batches: int
    grams: Long = strawberry.field(description="Grams of sealed and supplementary batches "
                                              "(one serial each).")
    adjustment_grams: Long = strawberry.field(description="Adjustment batches' grams (zero or "
                                                         "negative): withdrawn after "
                                                         "certification.")
    net_grams: Long
    unrecovered_grams: Long = strawberry.field(description="Withdrawn after they were sold: "
                                                          "the inventory could not take them "
                                                          "back.")
    activities: int
    participants: int = strawberry.field(description="Summed over batches.")


@strawberry.type
class CertifiedBatchFigures:
    code: str
    period: str
    kind: str
    methodology_id: str
    methodology_version: int
    grams: Long
    activity_count: int
    participants: int
    first_serial: str = strawberry.field(description="Printed; empty when none was issued.")
    last_serial: str
    content_hash: str
    closed_at: datetime


@strawberry.type
class ReportBreakdownRow:
    dimension: str = strawberry.field(description="scene, methodology, district or partner.")
    key: str
    activities: int
    grams: Long
    adjustment_grams: Long


@strawberry.type
class ReportSeriesRow:
    bucket: str = strawberry.field(description="A day (YYYY-MM-DD) or a month (YYYY-MM).")
    scene: str
    activities: int
    reduction_grams: Long
    points: Long
    participants: int


@strawberry.type
class ReportBucket:
    bucket: str
    activities: int
    reduction_grams: Long
    points: Long
    participants: int = strawberry.field(description="Distinct players in the bucket.")


@strawberry.type
class ReportParticipant:
    pseudonym: str = strawberry.field(description="HMAC of the player's id under a server "
                                                  "key: stable, not reversible.")
    activities: int
    reduction_grams: Long
    points: Long


@strawberry.type
class ReportLedgerCheck:
    credited_grams: Long = strawberry.field(description="CO2E_GRAMS the ledger credited to "
                                                       "players for the accepted activities.")
    certified_grams: Long = strawberry.field(description="CERTIFIED_GRAMS the batches moved "
                                                        "into the certified inventory.")


@strawberry.type
class ReportMarket:
    sold_grams: Long
    retired_grams: Long
    revenue_fen: Long
    shop_share_fen: Long
    certificates: int
    scope_grams_sold: Long = strawberry.field(description="Of the scope's certified grams: "
                                                         "sold so far (any time).")
    scope_grams_retired: Long


@strawberry.type
class RegulatorReport:
    scope: ReportScope
    totals: ReportTotals
    certified: CertifiedTotals
    batches: list[CertifiedBatchFigures]
    breakdown: list[ReportBreakdownRow] = strawberry.field(
        description="Certified figures by scene, methodology version, district and partner, "
                    "summed over the batches' manifests.")
    series: list[ReportSeriesRow] = strawberry.field(
        description="Accepted activities by bucket and scene.")
    buckets: list[ReportBucket]
    top_participants: list[ReportParticipant]
    ledger: ReportLedgerCheck
    ledger_matches: bool = strawberry.field(
        description="The totals equal the ledger's (credited and certified grams).")
    market: ReportMarket = strawberry.field(description="Sales and retirements made in the "
                                                        "scope (by sale time).")
    generated_at: datetime
    report: strawberry.Private[service.RegulatorReport]

    @strawberry.field(description="One table as CSV (UTF-8, no BOM; columns in the "
                                  "regulator's docs).")
    async def csv(self, table: ReportTable) -> str:
        participants = (await service.participants(self.report.scope, self.report.pseudonym_key)
                        if table is ReportTable.PARTICIPANTS else None)
        return table_csv(self.report, table, participants)


async def regulator_report(info: Info, period: str | None, year: int | None) -> RegulatorReport:
    try:
        scope = service.scope_of(period, year)
        settings = info.context.services.settings
        found = await service.build_report(scope, settings.secret_key,
                                           settings.default_timezone, utcnow())
    except ServiceError as exc:
        raise client_error(exc) from None
    return RegulatorReport(
        scope=ReportScope(**asdict(found.scope)), totals=ReportTotals(**asdict(found.totals)),
        certified=CertifiedTotals(**asdict(found.certified)),
        batches=[CertifiedBatchFigures(**asdict(b)) for b in found.batches],
        breakdown=[ReportBreakdownRow(**asdict(r)) for r in found.breakdown],
        series=[ReportSeriesRow(**asdict(r)) for r in found.series],
        buckets=[ReportBucket(**asdict(b)) for b in found.buckets],
        top_participants=[ReportParticipant(**asdict(p)) for p in found.top_participants],
        ledger=ReportLedgerCheck(**asdict(found.ledger)), ledger_matches=found.ledger_matches,
        market=ReportMarket(**asdict(found.market)),
        generated_at=found.generated_at, report=found)
