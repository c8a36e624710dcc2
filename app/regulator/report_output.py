"""The regulator's report as files: CSV tables (documented in docs/regulator/report.md)
and one printable HTML document with its charts drawn as inline SVG, labels in Chinese
first and English second. The CLI writes them, GraphQL returns them, the console serves
them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from app.console.charts import Series, bar_chart, line_chart
from app.i18n.messages import N_, LazyMessage
from app.regulator.report import Participant, RegulatorReport

BOM = "\ufeff"  # written before a CSV file, so a spreadsheet reads it as UTF-8 (Chinese)


class ReportTable(Enum):
    SUMMARY = "summary"
    BATCHES = "batches"
    BREAKDOWN = "breakdown"
    SERIES = "series"
    PARTICIPANTS = "participants"


COLUMNS: dict[ReportTable, list[str]] = {
    ReportTable.SUMMARY: ["metric", "label_zh", "label_en", "value"],
    ReportTable.BATCHES: ["code", "period", "kind", "methodology_id", "methodology_version",
                          "grams", "activity_count", "participants", "first_serial",
                          "last_serial", "content_hash", "closed_at"],
    ReportTable.BREAKDOWN: ["dimension", "key", "activities", "grams", "adjustment_grams",
                            "net_grams"],
    ReportTable.SERIES: ["bucket", "scene", "activities", "reduction_grams", "points",
                         "participants"],
    ReportTable.PARTICIPANTS: ["pseudonym", "activities", "reduction_grams", "points"],
}

# What people read, Chinese first (`both`): the summary's metrics and the report's headings.
LABELS: dict[str, LazyMessage] = {
    "scope": N_("Report period"),
    "since": N_("From"),
    "until": N_("To"),
    "generated_at": N_("Generated at (UTC)"),
    "activities": N_("Activities"),
    "reduction_grams": N_("Reduction (g CO2e)"),
    "points": N_("Carbon points"),
    "participants": N_("Participants"),
    "certified_batches": N_("Certified batches"),
    "certified_grams": N_("Certified grams (serials issued)"),
    "adjustment_grams": N_("Adjustments (g, withdrawn after certification)"),
    "certified_net_grams": N_("Certified grams after adjustments"),
    "unrecovered_grams": N_("Withdrawn after sale (g, not taken back from the inventory)"),
    "certified_activities": N_("Certified activities"),
    "ledger_credited_grams": N_("Ledger: grams credited to players"),
    "ledger_certified_grams": N_("Ledger: grams into the certified inventory"),
    "ledger_matches": N_("Totals equal the ledger"),
    "market_sold_grams": N_("Market: grams sold"),
    "market_retired_grams": N_("Market: grams retired"),
    "market_revenue_fen": N_("Market: revenue (fen)"),
    "market_shop_share_fen": N_("Market: share funding the points shop (fen)"),
    "market_certificates": N_("Market: certificates"),
    "market_scope_grams_sold": N_("Market: this period's certified grams sold so far"),
    "market_scope_grams_retired": N_("Market: this period's certified grams retired so far"),
    "title": N_("Carbon-inclusive reductions: the regulator's report"),
    "batches": N_("Certified batches"),
    "by_scene": N_("Certified by scene"),
    "by_methodology": N_("Certified by methodology version"),
    "by_district": N_("Top districts"),
    "by_partner": N_("Certified by data partner"),
    "grams_chart": N_("Reduction by scene over time (g CO2e)"),
    "participants_chart": N_("Participants over time"),
    "districts_chart": N_("Top districts by certified grams"),
    "top_participants": N_("Top participants (pseudonymous)"),
    "series": N_("Reduction by scene and period"),
    "market": N_("Market"),
    "ledger": N_("Ledger check"),
    "code": N_("Batch"),
    "kind": N_("Kind"),
    "methodology": N_("Methodology"),
    "grams": N_("Grams"),
    "serials": N_("Serials"),
    "content_hash": N_("Content hash"),
    "key": N_("Name"),
    "net_grams": N_("Net grams"),
    "bucket": N_("Period"),
    "scene": N_("Scene"),
    "pseudonym": N_("Pseudonym"),
    "printable": N_("Printable report (HTML)"),
    "yes": N_("yes"),
    "no": N_("no"),
    "none": N_("None yet."),
    "privacy": N_("Aggregates and pseudonyms only: no phone number, nickname or player id "
                  "appears. A pseudonym is an HMAC of the player's id under the server's key."),
    "local_days": N_("Days are the city's local days, as for certification periods."),
    "preliminary": N_("No batch of this period is certified yet: the figures are "
                      "preliminary."),
}


def both(name: str) -> str:
    """A label in Chinese, then English."""
    label = LABELS[name]
    chinese, english = label.render("zh-CN"), label.render("en")
    return chinese if chinese == english else f"{chinese} {english}"


def _rows_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def summary_rows(report: RegulatorReport) -> list[tuple[str, Any]]:
    t, c, lg = report.totals, report.certified, report.ledger
    rows: list[tuple[str, Any]] = [
        ("scope", report.scope.label), ("since", report.scope.since.isoformat()),
        ("until", report.scope.until.isoformat()),
        ("generated_at", report.generated_at.replace(microsecond=0).isoformat()),
        ("activities", t.activities), ("reduction_grams", t.reduction_grams),
        ("points", t.points), ("participants", t.participants),
        ("certified_batches", c.batches), ("certified_grams", c.grams),
        ("adjustment_grams", c.adjustment_grams), ("certified_net_grams", c.net_grams),
        ("unrecovered_grams", c.unrecovered_grams),
        ("certified_activities", c.activities),
        ("ledger_credited_grams", lg.credited_grams),
        ("ledger_certified_grams", lg.certified_grams),
        ("ledger_matches", "true" if report.ledger_matches else "false"),
    ]
    m = report.market
    rows += [("market_sold_grams", m.sold_grams), ("market_retired_grams", m.retired_grams),
             ("market_revenue_fen", m.revenue_fen), ("market_shop_share_fen", m.shop_share_fen),
             ("market_certificates", m.certificates),
             ("market_scope_grams_sold", m.scope_grams_sold),
             ("market_scope_grams_retired", m.scope_grams_retired)]
    return rows


def table_csv(report: RegulatorReport, table: ReportTable,
              participants: list[Participant] | None = None) -> str:
    """One table as CSV text (no BOM: add `BOM` when writing a file). The participants
    table needs the full list (`report.participants`), read separately: it can be long."""
    columns = COLUMNS[table]
    if table is ReportTable.SUMMARY:
        rows: Iterable[Sequence[Any]] = [
            (name, LABELS[name].render("zh-CN"), LABELS[name].render("en"), value)
            for name, value in summary_rows(report)]
    elif table is ReportTable.BATCHES:
        rows = [(b.code, b.period, b.kind, b.methodology_id, b.methodology_version, b.grams,
                 b.activity_count, b.participants, b.first_serial, b.last_serial,
                 b.content_hash, b.closed_at.isoformat()) for b in report.batches]
    elif table is ReportTable.BREAKDOWN:
        rows = [(r.dimension, r.key, r.activities, r.grams, r.adjustment_grams,
                 r.grams + r.adjustment_grams) for r in report.breakdown]
    elif table is ReportTable.SERIES:
        totals = {b.bucket: b for b in report.buckets}
        rows = []
        for bucket in report.scope.buckets():
            for s in (s for s in report.series if s.bucket == bucket):
                rows.append((bucket, s.scene, s.activities, s.reduction_grams, s.points,
                             s.participants))
            if bucket in totals:
                b = totals[bucket]
                rows.append((bucket, "*", b.activities, b.reduction_grams, b.points,
                             b.participants))
    else:
        rows = [(p.pseudonym, p.activities, p.reduction_grams, p.points)
                for p in participants or []]
    return _rows_csv(columns, rows)


def charts(report: RegulatorReport) -> dict[str, str]:
    """The report's charts as inline SVG (empty when there is nothing to draw)."""
    buckets = report.scope.buckets()
    short = [b[5:] if report.scope.bucket == "day" else b for b in buckets]  # 11-03, 2026-11
    found: dict[str, str] = {"grams_chart": "", "participants_chart": "", "districts_chart": ""}
    if report.series:
        grams: dict[str, dict[str, int]] = {}
        for s in report.series:
            grams.setdefault(s.scene, {})[s.bucket] = s.reduction_grams
        found["grams_chart"] = bar_chart(
            short, [Series(scene, [per.get(b, 0) for b in buckets], colour_index=i)
                    for i, (scene, per) in enumerate(sorted(grams.items()))],
            title=both("grams_chart"), y_label="g CO2e", element_id="report-grams-chart")
        people = {b.bucket: b for b in report.buckets}
        found["participants_chart"] = line_chart(
            short, [Series(both("participants"),
                           [people[b].participants if b in people else 0 for b in buckets]),
                    Series(both("activities"),
                           [people[b].activities if b in people else 0 for b in buckets],
                           True, 1)],
            title=both("participants_chart"), y_label="", element_id="report-participants-chart")
    districts = report.top("district")
    if districts:
        found["districts_chart"] = bar_chart(
            [r.key for r in districts],
            [Series(both("grams"), [r.grams + r.adjustment_grams for r in districts])],
            title=both("districts_chart"), y_label="g CO2e",
            element_id="report-districts-chart")
    return found


_env = Environment(loader=PackageLoader("app.regulator", "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
_env.globals["both"] = both


def report_html(report: RegulatorReport) -> str:
    """The printable report: one self-contained HTML document (no script, no outside file)."""
    return _env.get_template("report/print.html").render(
        report=report, summary=summary_rows(report), charts=charts(report))
