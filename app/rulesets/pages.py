"""The designers' console pages: the rules as forms beside the raw file, validation at
each field while typing, the simulator's draft-against-live chart, the impact forecast,
proposals and approvals, version history, diffs and rollback. Everything goes through
the GraphQL API (`page.api`)."""

from __future__ import annotations

import difflib
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.console.charts import Series, line_chart
from app.console.forms import city_time
from app.console.text import gettext as _
from app.console.web import Page, console_page, field_errors
from game import document

VERSIONS = """{ ruleVersions(first: 100) { version checksum author approvedBy note createdAt
  effectiveFrom active } ruleProposals(first: 50) { id status note proposedBy proposedAt
  decidedBy decidedAt decisionNote publishedVersion effectiveFrom } }"""
CONTENT = "query($v: Int!) { rulesContent(version: $v) }"
CHECK = "query($c: String!) { rulesProblems(content: $c) { message field } }"
IMPACT = """mutation($c: String!) { publishRules(content: $c, note: "impact", dryRun: true) {
  dryRun { themeId newlyUnlocked } errors { code message field } } }"""
SIMULATE = """query($c: String!, $p: Int!, $d: Int!) { simulateRules(content: $c, players: $p, days: $d) {
  players days liveVersion themes { themeId name draft live draftMedianDays liveMedianDays }
  levels { level liveGrowth draftGrowth } } }"""
PROPOSE = """mutation($c: String!, $n: String!, $at: DateTime, $k: String) {
  proposeRules(content: $c, note: $n, effectiveFrom: $at, idempotencyKey: $k) {
  proposal { id } dryRun { themeId newlyUnlocked } errors { code message field } } }"""
APPROVE = """mutation($id: ID!, $n: String!) { approveRuleProposal(id: $id, note: $n) {
  version { version } errors { code message field } } }"""
REJECT = """mutation($id: ID!, $n: String!) { rejectRuleProposal(id: $id, note: $n) {
  proposal { id } errors { code message field } } }"""
ROLLBACK = """mutation($v: Int!, $n: String!) { rollbackRules(toVersion: $v, note: $n) {
  version { version } errors { code message field } } }"""
DIFF = "query($a: Int!, $b: Int!) { rulesDiff(fromVersion: $a, toVersion: $b) { changes } }"


async def _versions(page: Page) -> tuple[list[dict], list[dict]]:
    result = await page.api(VERSIONS)
    data = result.data or {}
    return data.get("ruleVersions") or [], data.get("ruleProposals") or []


async def _content(page: Page, version: int) -> str | None:
    return ((await page.api(CONTENT, {"v": version})).data or {}).get("rulesContent")


@console_page("designer")
async def overview(page: Page) -> Response:
    versions, proposals = await _versions(page)
    live = next((v for v in versions if v["active"]), None)
    return page.render("rules/overview.html", versions=versions, proposals=proposals, live=live,
                       notice=page.request.query_params.get("notice"))


def _editor_values(content: str) -> dict[str, Any]:
    """What the form shows for `content`, or only the raw file when it is not TOML."""
    try:
        data = document.parse(content)
    except document.DocumentError as exc:
        return {"data": None, "kinds": {}, "parse_error": str(exc)}
    return {"data": data, "kinds": {f.path: f.kind for f in document.fields(data)},
            "parse_error": None}


@console_page("designer")
async def editor(page: Page) -> Response:
    versions, _proposals = await _versions(page)
    live = next((v["version"] for v in versions if v["active"]), 0)
    start = page.request.query_params.get("from", str(live))
    content = await _content(page, int(start)) if start.isdigit() else None
    if content is None:
        content = await _content(page, live) or ""
    return page.render("rules/editor.html", content=content, live_version=live,
                       types=list(document.REQUIREMENT_TYPES), labels=LABELS,
                       **_editor_values(content))


async def _problems(page: Page, content: str, paths: set[str]) -> dict[str, Any]:
    """Validation problems placed at their fields (the API's `rulesProblems`)."""
    result = await page.api(CHECK, {"c": content})
    at_fields: dict[str, list[str]] = {}
    general = [e["message"] for e in result.errors]
    for problem in (result.data or {}).get("rulesProblems") or []:
        path, message = document.field_of(problem["message"], paths)
        if path:
            at_fields.setdefault(path, []).append(message)
        else:
            general.append(message)
    return {"fields": at_fields, "general": general}


@console_page("designer")
async def draft(page: Page) -> Response:
    """The editor's script sends the raw file, and form values or an action; it gets the
    file, the form and the problems back."""
    body = page.json
    content = body.get("content")
    values = body.get("values") or {}
    action = body.get("action")
    if not isinstance(content, str) or not isinstance(values, dict):
        return JSONResponse({"error": "content and values"}, status_code=400)
    try:
        data = document.parse(content)
    except document.DocumentError as exc:
        return JSONResponse({"content": content, "form": None,
                             "problems": {"fields": {}, "general": [str(exc)]}})
    if values or action:
        data = document.with_values(data, {str(k): v for k, v in values.items()})
        if isinstance(action, str) and action:
            data = document.apply(data, action)
        content = document.dump(data)
    editor_values = _editor_values(content)
    form = page.fragment("rules/form.html", types=list(document.REQUIREMENT_TYPES),
                         labels=LABELS, **editor_values)
    paths = set(editor_values["kinds"])
    return JSONResponse({"content": content, "form": form,
                         "problems": await _problems(page, content, paths)})


@console_page("designer")
async def impact(page: Page) -> Response:
    content = page.json.get("content")
    result = await page.api(IMPACT, {"c": content if isinstance(content, str) else ""})
    errors, general = field_errors(result, "publishRules")
    forecast = ((result.data or {}).get("publishRules") or {}).get("dryRun") or []
    affected = [f for f in forecast if f["newlyUnlocked"]]
    return JSONResponse({"html": page.fragment(
        "rules/impact.html", affected=affected, errors=errors, general=general)})


@console_page("designer")
async def simulate(page: Page) -> Response:
    content = page.json.get("content")
    players, days = page.json.get("players", 1000), page.json.get("days", 60)
    result = await page.api(SIMULATE, {"c": content if isinstance(content, str) else "",
                                       "p": players if isinstance(players, int) else 1000,
                                       "d": days if isinstance(days, int) else 60})
    run = (result.data or {}).get("simulateRules")
    if not run:
        messages = [e["message"] for e in result.errors]
        return JSONResponse({"html": page.fragment("rules/simulation.html", run=None,
                                                   messages=messages)})
    series = []
    for i, theme in enumerate(run["themes"]):
        if theme["live"]:
            series.append(Series(f"{theme['name']} · {_('live')}", theme["live"], True, i))
        series.append(Series(f"{theme['name']} · {_('draft')}", theme["draft"], False, i))
    chart = line_chart(list(range(1, run["days"] + 1)), series,
                       title=_("Players who unlocked each theme, by day"),
                       y_label=_("share of players"), percent=True, element_id="simulation-chart")
    rows = [_difference(theme, run["days"]) for theme in run["themes"]]
    return JSONResponse({"html": page.fragment("rules/simulation.html", run=run, chart=chart,
                                               rows=rows, messages=[])})


def _difference(theme: dict, days: int) -> dict[str, Any]:
    live_end = theme["live"][-1] if theme["live"] else None
    return {"name": theme["name"], "id": theme["themeId"], "live": live_end,
            "draft": theme["draft"][-1] if theme["draft"] else 0.0,
            "live_median": theme["liveMedianDays"], "draft_median": theme["draftMedianDays"],
            "changed": live_end is None or abs(theme["draft"][-1] - live_end) >= 0.0005
            or theme["liveMedianDays"] != theme["draftMedianDays"]}


@console_page("designer")
async def propose(page: Page) -> Response:
    content, note = page.text("content"), page.text("note")
    at = page.text("effective_from")
    variables = {"c": content, "n": note, "k": page.text("idempotency_key") or None,
                 "at": city_time(at, page.zone)}
    result = await page.api(PROPOSE, variables)
    errors, general = field_errors(result, "proposeRules")
    if errors or general:
        versions, _proposals = await _versions(page)
        live = next((v["version"] for v in versions if v["active"]), 0)
        return page.render("rules/editor.html", status_code=400, content=content,
                           live_version=live, types=list(document.REQUIREMENT_TYPES),
                           labels=LABELS, propose_errors=errors, propose_general=general,
                           note=note, **_editor_values(content))
    assert result.data is not None  # no errors: the API answered with data
    proposal = result.data["proposeRules"]["proposal"]["id"]
    return page.redirect(f"/console/rules?notice=proposed-{proposal}")


async def _decide(page: Page, query: str, payload: str, variables: dict) -> Response:
    result = await page.api(query, variables)
    errors, general = field_errors(result, payload)
    if errors or general:
        versions, proposals = await _versions(page)
        live = next((v for v in versions if v["active"]), None)
        return page.render("rules/overview.html", status_code=400, versions=versions,
                           proposals=proposals, live=live,
                           decision_errors=[m for ms in errors.values() for m in ms] + general)
    return page.redirect(f"/console/rules?notice={payload}")


@console_page("designer")
async def approve(page: Page) -> Response:
    return await _decide(page, APPROVE, "approveRuleProposal",
                         {"id": page.request.path_params["id"], "n": page.text("note")})


@console_page("designer")
async def reject(page: Page) -> Response:
    return await _decide(page, REJECT, "rejectRuleProposal",
                         {"id": page.request.path_params["id"], "n": page.text("note")})


@console_page("designer")
async def rollback(page: Page) -> Response:
    version = page.text("to_version")
    return await _decide(page, ROLLBACK, "rollbackRules",
                         {"v": int(version) if version.isdigit() else -1,
                          "n": page.text("note")})


@console_page("designer")
async def version(page: Page) -> Response:
    number = page.request.path_params["number"]
    content = await _content(page, number)
    if content is None:
        return page.render("console/forbidden.html", status_code=404,
                           reason=_("There is no rules version %(v)s.", v=number))
    return page.render("rules/version.html", number=number, content=content)


@console_page("designer")
async def diff(page: Page) -> Response:
    params = page.request.query_params
    a, b = params.get("from", "0"), params.get("to", "0")
    if not (a.isdigit() and b.isdigit()):
        return page.redirect("/console/rules")
    result = await page.api(DIFF, {"a": int(a), "b": int(b)})
    changes = ((result.data or {}).get("rulesDiff") or {}).get("changes")
    old, new = await _content(page, int(a)), await _content(page, int(b))
    lines = list(difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(),
                                      f"v{a}", f"v{b}", lineterm="", n=2))
    return page.render("rules/diff.html", a=a, b=b, changes=changes,
                       errors=[e["message"] for e in result.errors], lines=lines)


LABELS = {
    "levels": "Levels (growth at which each starts)", "themes": "Themes", "eggs": "Easter eggs",
    "quiz": "Daily quiz", "questions": "Questions", "choices": "Choices",
    "requirements": "Requirements", "condition": "Condition",
    "id": "Id", "name": "Name (Chinese)", "name_en": "Name (English)",
    "description": "Description (Chinese)", "description_en": "Description (English)",
    "question": "Question (Chinese)", "question_en": "Question (English)",
    "explanation": "Explanation (Chinese)", "explanation_en": "Explanation (English)",
    "text": "Text (Chinese)", "text_en": "Text (English)", "answer": "Answer (a choice id)",
    "art": "Art", "order": "Order", "type": "Type", "at_least": "At least", "kind": "Activity kind",
    "days": "Days", "theme": "Theme", "start": "Start", "end": "End",
    "unit": "Unit (kg, g, kWh, Wh, m3, L, item, action, ticket, meal)",
    "reward_growth": "Reward (growth)", "correct_growth": "Growth per correct answer",
}

routes = [
    Route("/rules", overview, name="rules"),
    Route("/rules/edit", editor, name="rules-edit"),
    Route("/rules/draft", draft, methods=["POST"]),
    Route("/rules/impact", impact, methods=["POST"]),
    Route("/rules/simulate", simulate, methods=["POST"]),
    Route("/rules/propose", propose, methods=["POST"]),
    Route("/rules/proposals/{id:int}/approve", approve, methods=["POST"]),
    Route("/rules/proposals/{id:int}/reject", reject, methods=["POST"]),
    Route("/rules/rollback", rollback, methods=["POST"]),
    Route("/rules/versions/{number:int}", version),
    Route("/rules/diff", diff),
]
