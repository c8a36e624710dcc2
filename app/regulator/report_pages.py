"""The console's report page: a month's or a year's report from `regulatorReport`, its
charts, tables, and the CSV and printable HTML downloads (the same documents the CLI
writes, made from what GraphQL answered)."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from typing import Any

from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.console.web import Page, console_page
from app.regulator import report as records
from app.regulator.report_output import BOM, ReportTable, both, charts, report_html, summary_rows

REPORT = """query($period: String, $year: Int) { regulatorReport(period: $period, year: $year) {
  scope { label since until periods bucket }
  totals { activities reductionGrams points participants }
  certified { batches grams adjustmentGrams netGrams unrecoveredGrams activities participants }
  batches { code period kind methodologyId methodologyVersion grams activityCount participants
            firstSerial lastSerial contentHash closedAt }
  breakdown { dimension key activities grams adjustmentGrams }
  series { bucket scene activities reductionGrams points participants }
  buckets { bucket activities reductionGrams points participants }
  topParticipants { pseudonym activities reductionGrams points }
  ledger { creditedGrams certifiedGrams }
  market { soldGrams retiredGrams revenueFen shopShareFen certificates scopeGramsSold
           scopeGramsRetired }
  generatedAt } }"""
CSV = """query($period: String, $year: Int, $table: ReportTable!) {
  regulatorReport(period: $period, year: $year) { scope { label } csv(table: $table) } }"""


def _scope(page: Page) -> dict[str, Any]:
    """The `period` or `year` asked for; by default the last month."""
    params = page.request.query_params
    if params.get("year", "").strip():
        try:
            return {"year": int(params["year"])}
        except ValueError:
            return {"period": params["year"]}  # refused by the API, in the reader's language
    if params.get("period", "").strip():
        return {"period": params["period"].strip()}
    today = date.today().replace(day=1)
    last = date.fromordinal(today.toordinal() - 1)
    return {"period": f"{last.year:04d}-{last.month:02d}"}


def _query(scope: dict[str, Any]) -> str:
    return "&".join(f"{k}={v}" for k, v in scope.items())


@console_page("regulator", "operator")
async def report_page(page: Page) -> Response:
    scope = _scope(page)
    result = await page.api(REPORT, scope)
    found = (result.data or {}).get("regulatorReport")
    report = from_graphql(records.RegulatorReport, found) if found else None
    return page.render("report/page.html", report=report, asked=scope, query=_query(scope),
                       tables=[t.value for t in ReportTable], both=both,
                       summary=summary_rows(report) if report else [],
                       charts=charts(report) if report else {},
                       errors=[e["message"] for e in result.errors])


@console_page("regulator", "operator")
async def report_csv(page: Page) -> Response:
    scope = _scope(page)
    try:
        table = ReportTable(page.request.query_params.get("table", "summary"))
    except ValueError:
        table = ReportTable.SUMMARY
    result = await page.api(CSV, {**scope, "table": table.name})
    found = (result.data or {}).get("regulatorReport")
    if not found:
        return _refused(page, result.errors)
    name = f"report-{found['scope']['label']}-{table.value}.csv"
    return page.finish(Response(
        BOM + found["csv"], media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'}))


@console_page("regulator", "operator")
async def report_printable(page: Page) -> Response:
    scope = _scope(page)
    result = await page.api(REPORT, scope)
    found = (result.data or {}).get("regulatorReport")
    if not found:
        return _refused(page, result.errors)
    return page.finish(HTMLResponse(report_html(from_graphql(records.RegulatorReport, found))))


def _refused(page: Page, errors: list[dict[str, Any]]) -> Response:
    return page.finish(Response("\n".join(e["message"] for e in errors), status_code=400,
                                media_type="text/plain; charset=utf-8"))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def from_graphql(cls: Any, data: Any) -> Any:
    """A report record (dataclass) from the API's JSON, whose fields are the record's
    fields in camelCase (the schema builds them from these records)."""
    if data is None:
        return None
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if _camel(f.name) in data:
            values[f.name] = _value(hints[f.name], data[_camel(f.name)])
    return cls(**values)


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(hint, types.UnionType):  # X | None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is list:
        [item] = typing.get_args(hint)
        return [_value(item, v) for v in value]
    if dataclasses.is_dataclass(hint):
        return from_graphql(hint, value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is date:
        return date.fromisoformat(value)
    return value


routes = [
    Route("/report", report_page, name="report"),
    Route("/report.csv", report_csv),
    Route("/report.html", report_printable),
]
