"""The regulator's console pages: programme figures over time as charts, a table, and
the CSV, from `programmeFigures` (aggregates only: no player appears)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from app.console.charts import Series, bar_chart, line_chart
from app.console.text import gettext as _
from app.console.web import Page, console_page
from app.regulator import report_pages

FIGURES = """query($since: Date!, $until: Date!) { programmeFigures(since: $since, until: $until) {
  since until days { date participants activities reductionGrams points }
  scenes { date scene methodologyId methodologyVersion participants activities reductionGrams points }
  csv } }"""


@console_page("regulator", "operator")
async def figures(page: Page) -> Response:
    since, until = page.period(30)
    result = await page.api(FIGURES, {"since": since, "until": until})
    found = (result.data or {}).get("programmeFigures")
    charts = _charts(found) if found else {}
    return page.render("figures/figures.html", since=since, until=until, figures=found,
                       errors=[e["message"] for e in result.errors], **charts)


@console_page("regulator", "operator")
async def figures_csv(page: Page) -> Response:
    since, until = page.period(30)
    result = await page.api(FIGURES, {"since": since, "until": until})
    found = (result.data or {}).get("programmeFigures")
    if not found:
        return Response("\n".join(e["message"] for e in result.errors), status_code=400,
                        media_type="text/plain; charset=utf-8")
    return page.finish(Response(
        found["csv"], media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="programme-figures-{since}-{until}.csv"'}))


def _charts(found: dict) -> dict[str, Any]:  # template values
    days = [d["date"] for d in found["days"]]
    people = line_chart(
        days, [Series(_("participants"), [d["participants"] for d in found["days"]]),
               Series(_("activities"), [d["activities"] for d in found["days"]], True, 1)],
        title=_("Participants and activities by day"), y_label=_("count"),
        element_id="participants-chart") if days else ""
    grams: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in found["scenes"]:
        label = f"{row['scene']} ({row['methodologyId']} v{row['methodologyVersion']})"
        grams[label][row["date"]] += row["reductionGrams"]
    by_scene = bar_chart(
        days, [Series(label, [per_day.get(d, 0) for d in days], colour_index=i)
               for i, (label, per_day) in enumerate(sorted(grams.items()))],
        title=_("Carbon reduction by scene and methodology version (grams)"),
        y_label=_("grams"), element_id="grams-chart") if days else ""
    return {"people_chart": people, "grams_chart": by_scene}


routes = [
    Route("/figures", figures, name="figures"),
    Route("/figures.csv", figures_csv),
    *report_pages.routes,
]
