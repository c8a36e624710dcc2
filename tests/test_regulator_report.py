"""The regulator's report over GraphQL, the CLI and the console's HTTP pages: totals that
equal the ledger's, CSV tables with the documented columns, a printable document, and no
personal data anywhere."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

from app.accounts.models import Player
from app.credits.models import Activity
from tests.partner_client import CST, send, trip, yesterday_at
from tests.test_console import browser_like, console_login  # noqa: F401  (fixture)

COMMAND = str(Path(sys.executable).parent / "carbon-planet")
# The documented columns (docs/regulator/report.md): a change here is a change there.
COLUMNS = {
    "summary": ["metric", "label_zh", "label_en", "value"],
    "batches": ["code", "period", "kind", "methodology_id", "methodology_version", "grams",
                "activity_count", "participants", "first_serial", "last_serial",
                "content_hash", "closed_at"],
    "breakdown": ["dimension", "key", "activities", "grams", "adjustment_grams", "net_grams"],
    "series": ["bucket", "scene", "activities", "reduction_grams", "points", "participants"],
    "participants": ["pseudonym", "activities", "reduction_grams", "points"],
}
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
  ledger { creditedGrams certifiedGrams } ledgerMatches
  market { soldGrams retiredGrams revenueFen shopShareFen certificates scopeGramsSold
           scopeGramsRetired }
  summary: csv(table: SUMMARY) batchesCsv: csv(table: BATCHES)
  breakdownCsv: csv(table: BREAKDOWN) seriesCsv: csv(table: SERIES)
  participantsCsv: csv(table: PARTICIPANTS) } }"""
BALANCE = "{ me { balances { reductionGrams carbonPoints } } }"
CLOSE = """mutation($period: String!, $key: String!) {
  closeCertificationPeriod(period: $period, methodologyId: "cn-low-carbon-travel", version: 1,
                           idempotencyKey: $key) {
    batch { code serialPrefix grams } adjustment { code grams } errors { code message } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawActivity(activityId: $id, reason: FRAUD,
  idempotencyKey: "withdraw-1") { certified errors { code message } } }"""
BUYER = """mutation { createBuyer(name: "绿色会展", kind: EVENT, idempotencyKey: "buyer-1") {
  buyer { id } errors { code message } } }"""
RETIRE = """mutation($buyer: ID!) { retireCertifiedGrams(buyerId: $buyer, grams: 1000,
  priceFenPerTonne: 40000, idempotencyKey: "sale-1") {
    certificate { grams totalFen shopFundFen } errors { code message } } }"""
PHONES = ("+8613800138501", "+8613800138502")
NICKNAMES = ("绿色小明", "Bicycle Betty")


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_ago(n: int) -> date:
    """The 10th of the month `n` months before this one (city time)."""
    today = datetime.now(CST).date()
    index = today.year * 12 + today.month - 1 - n
    return date(index // 12, index % 12 + 1, 10)


async def staff(gql, phone: str, role: str) -> str:
    session = await gql.login(phone)
    await Player.filter(id=session["player"]["id"]).update(roles=["player", role])
    return session["accessToken"]


async def regulator(gql) -> str:
    return await staff(gql, "+8613800138593", "regulator")


async def players(gql) -> list[dict]:
    """Two players with nicknames and districts, each a session."""
    found = []
    for phone, nickname, city in zip(PHONES, NICKNAMES, ("南山区", "福田区")):
        session = await gql.login(phone)
        await Player.filter(id=session["player"]["id"]).update(nickname=nickname, city=city)
        found.append(session)
    return found


async def credited_in(client, day: date, records: list[dict]) -> list[str]:
    """Send `records` (yesterday) and move their activities to `day`: a past month, which
    can be certified. The ledger's credits stay as they were."""
    results = (await send(client, records)).json()["results"]
    assert "accepted" in {r["status"] for r in results}, results
    ids = [a.id for a in await Activity.filter(
        status="accepted", local_date=yesterday_at(8).date()).order_by("occurred_at")]
    at = datetime(day.year, day.month, day.day, 8, tzinfo=CST)
    await Activity.filter(id__in=ids).update(local_date=day, occurred_at=at)
    return [str(i) for i in ids]


async def operator(gql) -> str:
    return await staff(gql, "+8613800138597", "operator")


async def certify(gql, operator: str, day: date, key: str) -> dict:
    """The operator closes the month of `day`: its sealed (or supplementary) batch."""
    closed = (await gql(CLOSE, {"period": month_of(day), "key": key}, token=operator))["data"][
        "closeCertificationPeriod"]
    assert closed["errors"] == [], closed
    return closed


async def ledger_grams(gql, sessions: list[dict]) -> tuple[int, int]:
    grams = points = 0
    for session in sessions:
        found = (await gql(BALANCE, token=session["accessToken"]))["data"]["me"]["balances"]
        grams += found["reductionGrams"]
        points += found["carbonPoints"]
    return grams, points


def table(text: str, name: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == COLUMNS[name], (name, reader.fieldnames)
    return list(reader)


def assert_nobody_named(text: str, sessions: list[dict]) -> None:
    for phone, nickname, session in zip(PHONES, NICKNAMES, sessions):
        assert phone not in text and phone[3:] not in text
        assert nickname not in text
        assert session["player"]["id"] not in text


async def test_a_months_report_equals_the_ledger_and_names_nobody(gql, client):
    alice, bob = await players(gql)
    day = months_ago(1)
    await credited_in(client, day, [
        trip("r-a1", alice["player"]["id"], start=yesterday_at(8)),
        trip("r-a2", alice["player"]["id"], kind="bus", meters=6400, start=yesterday_at(12)),
        trip("r-b1", bob["player"]["id"], start=yesterday_at(9)),
        trip("r-b2", bob["player"]["id"], meters=200_000, minutes=10, start=yesterday_at(18)),
    ])
    closed = await certify(gql, await operator(gql), day, "close-1")
    grams, points = await ledger_grams(gql, [alice, bob])
    assert grams > 0

    token = await regulator(gql)
    answer = await gql(REPORT, {"period": month_of(day)}, token=token)
    assert "errors" not in answer, answer
    report = answer["data"]["regulatorReport"]
    assert report["scope"]["bucket"] == "day" and report["scope"]["periods"] == [month_of(day)]
    assert report["totals"] == {"activities": 3, "reductionGrams": grams, "points": points,
                                "participants": 2}
    assert report["ledger"] == {"creditedGrams": grams, "certifiedGrams": grams}
    assert report["ledgerMatches"] is True
    assert report["certified"]["grams"] == report["certified"]["netGrams"] == grams
    [batch] = report["batches"]
    assert (batch["code"], batch["kind"], batch["grams"]) == (closed["batch"]["code"], "sealed",
                                                              grams)
    assert batch["firstSerial"] == f"{closed['batch']['serialPrefix']}-000000001"
    assert batch["lastSerial"] == f"{closed['batch']['serialPrefix']}-{grams:09d}"
    by = {(r["dimension"], r["key"]): r for r in report["breakdown"]}
    assert sum(r["grams"] for r in report["breakdown"] if r["dimension"] == "district") == grams
    assert by[("district", "南山区")]["activities"] == 2
    assert by[("scene", "bus")]["activities"] == 1 and by[("scene", "metro")]["activities"] == 2
    assert [k for d, k in by if d == "partner"] == ["partner:metro-sz"]
    assert sum(s["reductionGrams"] for s in report["series"]) == grams
    assert [(b["bucket"], b["participants"]) for b in report["buckets"]] == [
        (day.isoformat(), 2)]
    assert [p["activities"] for p in report["topParticipants"]] == [2, 1]
    assert all(re.fullmatch(r"[0-9a-f]{20}", p["pseudonym"])
               for p in report["topParticipants"])

    summary = {r["metric"]: r for r in table(report["summary"], "summary")}
    assert int(summary["reduction_grams"]["value"]) == grams
    assert int(summary["ledger_credited_grams"]["value"]) == grams
    assert summary["ledger_matches"]["value"] == "true"
    assert summary["participants"]["label_zh"] != summary["participants"]["label_en"]
    assert [r["code"] for r in table(report["batchesCsv"], "batches")] == [batch["code"]]
    breakdown = table(report["breakdownCsv"], "breakdown")
    assert sum(int(r["net_grams"]) for r in breakdown if r["dimension"] == "scene") == grams
    series = table(report["seriesCsv"], "series")
    assert sum(int(r["reduction_grams"]) for r in series if r["scene"] == "*") == grams
    assert sum(int(r["reduction_grams"]) for r in series if r["scene"] != "*") == grams
    everyone = table(report["participantsCsv"], "participants")
    assert sorted(int(r["reduction_grams"]) for r in everyone) == sorted(
        p["reductionGrams"] for p in report["topParticipants"])
    assert_nobody_named(str(answer), [alice, bob])

    year = (await gql(REPORT, {"year": day.year}, token=token))["data"]["regulatorReport"]
    assert year["scope"]["bucket"] == "month" and len(year["scope"]["periods"]) == 12
    assert year["totals"]["reductionGrams"] == grams and year["ledgerMatches"] is True
    assert [(b["bucket"], b["reductionGrams"]) for b in year["buckets"]] == [
        (month_of(day), grams)]


async def test_adjustments_and_sales_are_shown_and_still_equal_the_ledger(gql, client):
    alice, bob = await players(gql)
    early, late = months_ago(2), months_ago(1)
    first = await credited_in(client, early, [
        trip("s-a1", alice["player"]["id"], start=yesterday_at(8)),
        trip("s-b1", bob["player"]["id"], start=yesterday_at(9))])
    staff_token = await operator(gql)
    await certify(gql, staff_token, early, "close-early")
    withdrawn = await Activity.get(id=first[1])
    taken = (await gql(WITHDRAW, {"id": first[1]}, token=staff_token))["data"]["withdrawActivity"]
    assert taken["certified"] is True, taken
    await credited_in(client, late, [trip("s-a2", alice["player"]["id"], start=yesterday_at(10))])
    closed = await certify(gql, staff_token, late, "close-late")
    assert closed["adjustment"]["grams"] == -withdrawn.reduction_grams
    buyer = (await gql(BUYER, token=staff_token))["data"]["createBuyer"]["buyer"]
    sold = (await gql(RETIRE, {"buyer": buyer["id"]}, token=staff_token))["data"][
        "retireCertifiedGrams"]["certificate"]
    assert sold["grams"] == 1000 and sold["totalFen"] == 40  # ¥400 a tonne

    token = await regulator(gql)
    report = (await gql(REPORT, {"period": month_of(late)}, token=token))["data"][
        "regulatorReport"]
    kinds = {b["kind"]: b for b in report["batches"]}
    assert set(kinds) == {"sealed", "adjustment"}
    assert kinds["adjustment"]["grams"] == -withdrawn.reduction_grams
    assert kinds["adjustment"]["firstSerial"] == ""
    certified = report["certified"]
    assert certified["adjustmentGrams"] == -withdrawn.reduction_grams
    assert certified["netGrams"] == kinds["sealed"]["grams"] - withdrawn.reduction_grams
    assert report["ledger"]["certifiedGrams"] == certified["netGrams"]
    assert report["ledgerMatches"] is True
    scene = next(r for r in report["breakdown"] if (r["dimension"], r["key"]) == ("scene",
                                                                                   "metro"))
    assert scene["adjustmentGrams"] == -withdrawn.reduction_grams
    # the sale was made now: this month's report shows it, the earlier period's serials
    current = (await gql(REPORT, {"period": month_of(datetime.now(CST).date())},
                         token=token))["data"]["regulatorReport"]
    assert current["market"]["retiredGrams"] == 1000 and current["market"]["certificates"] == 1
    assert current["market"]["revenueFen"] == sold["totalFen"]
    assert current["market"]["shopShareFen"] == sold["shopFundFen"]
    before = (await gql(REPORT, {"period": month_of(early)}, token=token))["data"][
        "regulatorReport"]
    assert before["market"]["scopeGramsRetired"] == 1000  # serials are taken oldest first
    assert before["market"]["certificates"] == 0
    # the withdrawn activity left the activity figures and the ledger's credits alike
    assert before["totals"]["activities"] == 1 and before["ledgerMatches"] is True


async def test_the_report_refuses_a_bad_scope_and_anyone_but_staff(gql):
    token = await regulator(gql)
    cases = [({}, "period"), ({"period": "2026-11", "year": 2026}, "period"),
             ({"period": "2026-13"}, "period"), ({"period": "November"}, "period"),
             ({"year": 1999}, "year")]
    for variables, field in cases:
        answer = await gql(REPORT, variables, token=token)
        assert answer["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}
    player = await gql.login("+8613800138594")
    answer = await gql(REPORT, {"period": "2026-11"}, token=player["accessToken"])
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def run_report(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "COLUMNS": "100"}
    return subprocess.run([COMMAND, "report", *args], env=env, capture_output=True, text=True,
                          timeout=180)


async def test_the_cli_writes_csv_files_and_a_printable_report(gql, client, settings, tmp_path):
    alice, bob = await players(gql)
    day = months_ago(1)
    await credited_in(client, day, [trip("c-a1", alice["player"]["id"], start=yesterday_at(8)),
                                    trip("c-b1", bob["player"]["id"], start=yesterday_at(9))])
    await certify(gql, await operator(gql), day, "close-cli")
    grams, _ = await ledger_grams(gql, [alice, bob])

    done = run_report(settings, "--period", month_of(day), "--format", "csv", "--out",
                      str(tmp_path / "csv"))
    assert done.returncode == 0, done.stderr
    assert "totals equal the ledger" in done.stdout
    files = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert files == sorted(f"report-{month_of(day)}-{name}.csv" for name in COLUMNS)
    everything = ""
    for name in COLUMNS:
        raw = (tmp_path / "csv" / f"report-{month_of(day)}-{name}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read UTF-8 Chinese
        everything += raw.decode("utf-8-sig")
        rows = table(raw.decode("utf-8-sig"), name)
        if name == "summary":
            values = {r["metric"]: r["value"] for r in rows}
            assert int(values["reduction_grams"]) == grams
            assert int(values["certified_net_grams"]) == grams
            assert values["ledger_matches"] == "true"
            assert "参与人数" in {r["label_zh"] for r in rows} or all(r["label_zh"] for r in rows)
        if name == "participants":
            assert len(rows) == 2
    assert_nobody_named(everything, [alice, bob])

    done = run_report(settings, "--year", str(day.year), "--format", "html", "--out",
                      str(tmp_path / "html"))
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "html" / f"report-{day.year}.html").read_text(encoding="utf-8")
    assert "@media print" in html and 'id="report-grams-chart"' in html
    assert not re.search(r"<script|<link|<img|(src|href)=\"https?:", html)  # self-contained
    assert_nobody_named(html, [alice, bob])

    refused = run_report(settings, "--period", "2026-11", "--year", "2026", "--out",
                         str(tmp_path / "no"))
    assert refused.returncode == 2 and "not both" in refused.stderr


async def test_the_console_serves_the_report_its_csv_and_printable_document(
        gql, client, browser_like, app):  # noqa: F811
    alice, bob = await players(gql)
    day = months_ago(1)
    await credited_in(client, day, [trip("h-a1", alice["player"]["id"], start=yesterday_at(8))])
    await certify(gql, await operator(gql), day, "close-http")
    c = browser_like
    await console_login(c, app, "+8613800138595", "regulator")
    page = await c.get(f"/console/report?period={month_of(day)}")
    assert page.status_code == 200
    assert 'id="report-grams-chart"' in page.text and 'id="csv-summary"' in page.text
    assert 'id="ledger-matches"' in page.text
    summary = await c.get(f"/console/report.csv?period={month_of(day)}&table=summary")
    assert summary.headers["content-type"].startswith("text/csv")
    assert summary.content.startswith(b"\xef\xbb\xbf")
    rows = {r["metric"]: r["value"] for r in table(summary.content.decode("utf-8-sig"),
                                                    "summary")}
    assert rows["ledger_matches"] == "true" and int(rows["activities"]) == 1
    people = await c.get(f"/console/report.csv?period={month_of(day)}&table=participants")
    assert len(table(people.content.decode("utf-8-sig"), "participants")) == 1
    printable = await c.get(f"/console/report.html?year={day.year}")
    assert printable.status_code == 200 and "@media print" in printable.text
    assert 'id="report-participants-chart"' in printable.text
    for text in (page.text, summary.text, people.text, printable.text):
        assert_nobody_named(text, [alice, bob])
    bad = await c.get("/console/report.csv?period=2026-13")
    assert bad.status_code == 400 and "YYYY-MM" in bad.text

    await console_login(c, app, "+8613800138596", "designer")
    assert (await c.get(f"/console/report?period={month_of(day)}")).status_code == 403

