"""The operators' partner pages: the records partners sent, by the city's local day,
accepted against refused, and the refusals by reason, as charts and a table, with the
latest refused records. From `partnerRecordDays` and `partnerRecords`."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from app.console.charts import Series, bar_chart
from app.console.text import gettext as _
from app.console.web import Page, console_page

DAYS = """query($since: Date!, $until: Date!, $partner: String) {
  partnerRecordDays(since: $since, until: $until, partnerId: $partner) {
    date partnerId status reason records }
  partnerRecords(partnerId: $partner, status: "rejected", first: 20) {
    edges { node { id partnerId recordId receivedAt reason message payload } } } }"""


def _days(since: str, until: str) -> list[str]:
    first, last = date.fromisoformat(since), date.fromisoformat(until)
    return [(first + timedelta(days=n)).isoformat() for n in range(max((last - first).days + 1, 0))]


def summarise(rows: list[dict], days: list[str]) -> dict[str, Any]:
    """Per day: accepted, refused and refused by reason; the reasons, most frequent first."""
    accepted: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        if row["status"] == "accepted":
            accepted[row["date"]] += row["records"]
        else:
            refused[row["date"]] += row["records"]
            by_reason[row["reason"] or "UNKNOWN"][row["date"]] += row["records"]
    reasons = sorted(by_reason, key=lambda r: (-sum(by_reason[r].values()), r))
    table = [{"date": d, "accepted": accepted[d], "refused": refused[d],
              "reasons": {r: by_reason[r][d] for r in reasons}} for d in days]
    return {"accepted": accepted, "refused": refused, "by_reason": by_reason,
            "reasons": reasons, "table": table}


def _charts(summary: dict[str, Any], days: list[str]) -> dict[str, Any]:  # template values
    if not days:
        return {"records_chart": "", "refusals_chart": ""}
    records = bar_chart(
        days, [Series(_("accepted"), [summary["accepted"][d] for d in days]),
               Series(_("refused"), [summary["refused"][d] for d in days], colour_index=6)],
        title=_("Partner records by day: accepted and refused"), y_label=_("records"),
        element_id="records-chart")
    # each reason is a series named by its code, so the chart marks it (series-<REASON>-<day>)
    refusals = bar_chart(
        days, [Series(reason, [summary["by_reason"][reason][d] for d in days], colour_index=i)
               for i, reason in enumerate(summary["reasons"])],
        title=_("Refused records by reason, by day"), y_label=_("records"),
        element_id="refusals-chart") if summary["reasons"] else ""
    return {"records_chart": records, "refusals_chart": refusals}


@console_page("operator")
async def partners(page: Page) -> Response:
    since, until = page.period(14)
    partner = page.request.query_params.get("partner") or None
    result = await page.api(DAYS, {"since": since, "until": until, "partner": partner})
    data = result.data or {}
    rows = data.get("partnerRecordDays")
    days = _days(since, until) if rows is not None else []
    summary = summarise(rows or [], days)
    latest = [e["node"] for e in (data.get("partnerRecords") or {}).get("edges", [])]
    partner_ids = sorted({r["partnerId"] for r in rows or []} | ({partner} if partner else set()))
    return page.render("partners/partners.html", since=since, until=until, partner=partner,
                       partner_ids=partner_ids, summary=summary, latest=latest,
                       found=rows is not None, general=[e["message"] for e in result.errors],
                       **_charts(summary, days))


routes = [
    Route("/partners", partners, name="partners"),
]
