"""PostgreSQL "restarts" under load: every answer is a success or a clean error, and once the
database is back the same server process serves again, with nothing credited twice.

CI's PostgreSQL is shared by concurrent test runs, so it is not restarted: what clients of a
restarting server see is simulated by terminating every backend of the test database
(`pg_terminate_backend`), round after round, while requests run. That drops pooled idle
connections, connections mid-query and connections mid-transaction (the commit of some
partner records may be cut: the partner's retry must then credit them once).

On SQLite there is no server whose connections could be cut. Its outage is the database
file being unavailable: another process holds an exclusive lock on it for longer than the
server's busy timeout (5 s), twice, so the server's queries wait and then fail with
"database is locked", exactly as they would if the file were busy with a backup or a
migration. The assertions are the same on both backends.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from datetime import datetime, timedelta

import asyncpg
import httpx

from app.credits.models import Activity, PartnerRecord
from app.ledger.models import LedgerTransaction
from app.ledger.service import Asset, balances
from app.ledger.verify import verify_ledger
from tests.conftest import ENGLISH, LOGIN_WITH_CODE, REQUEST_CODE
from tests.partner_client import CST, send, trip
from tests.resilience_support import ServerProcess, gql_post, new_players, wait_until

ME = "{ me { id balances { carbonPoints reductionGrams } } }"
TERMINATE = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE datname = current_database() AND pid <> pg_backend_pid()")


async def cut_postgres(settings) -> int:
    """Terminate every backend of the test database, 12 times; returns how many were cut."""
    killer = await asyncpg.connect(settings.database_url)
    terminated = 0
    try:
        for _ in range(12):
            terminated += await killer.fetchval(TERMINATE)
            await asyncio.sleep(0.25)
    finally:
        await killer.close()
    return terminated


async def lock_sqlite(settings) -> int:
    """Hold an exclusive lock on the database file past the busy timeout, twice."""
    held = sqlite3.connect(settings.database_url.removeprefix("sqlite://"), timeout=30,
                           isolation_level=None)
    try:
        for _ in range(2):
            held.execute("BEGIN EXCLUSIVE")
            await asyncio.sleep(6)
            held.execute("ROLLBACK")
            await asyncio.sleep(0.5)
    finally:
        held.close()
    return 2


def check_clean(kind: str, response: httpx.Response) -> str:
    """A success or a clean, typed error; returns a label for the tally."""
    text = response.text
    assert "Traceback" not in text and 'File "' not in text, text
    assert response.headers["content-type"].startswith("application/json"), (kind, response.status_code, text)
    body = response.json()
    if kind == "readyz":
        assert response.status_code in (200, 503), text
        assert body["checks"]["redis"] == "ok", body
        return f"readyz {response.status_code}"
    if kind == "partner":
        if response.status_code == 200:
            return "partner 200"
        assert response.status_code == 500, text
        assert body == {"error": f"Internal error; quote request id {body['requestId']} when "
                                 "reporting it.", "requestId": response.headers["x-request-id"]}
        return "partner 500"
    assert response.status_code == 200, text
    if "errors" not in body:
        return "graphql ok"
    for error in body["errors"]:
        assert error["extensions"]["code"] == "INTERNAL_ERROR", error
        assert error["extensions"]["requestId"] == response.headers["x-request-id"], error
        assert error["message"] == (
            f"Internal error; quote request id {error['extensions']['requestId']} when reporting it.")
    return "graphql INTERNAL_ERROR"


def code_from_log(text: str, phone: str) -> str | None:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("phone") == phone and "login_code" in record:
                return record["login_code"]
    return None


async def test_database_outage_under_load_fails_cleanly_and_recovers(app, settings, tmp_path):
    players = await new_players(settings, 8, "pg-")
    # the outage is the subject, not the partner's rate limit: a fast machine would meet it
    server = ServerProcess(settings, tmp_path, CARBON_PARTNER_RATE_LIMIT="0")
    await server.start()
    tally: Counter = Counter()
    sent: dict[str, dict] = {}  # record id -> record
    answered: dict[str, dict] = {}  # record id -> outcome acknowledged during the outage
    stop = asyncio.Event()
    start = datetime.now(CST) - timedelta(hours=2)

    async def load(w: int, http: httpx.AsyncClient) -> None:
        pid, token = players[w]
        k = 0
        while not stop.is_set():
            tally[check_clean("graphql", await gql_post(http, ME, token=token))] += 1
            record = trip(f"pg-{w}-{k}", pid, meters=1000 + 10 * (k % 50), minutes=10,
                          start=start - timedelta(days=k % 5, minutes=k))  # below the daily caps
            sent[record["id"]] = record
            response = await send(http, [record])
            tally[check_clean("partner", response)] += 1
            if response.status_code == 200:
                [outcome] = response.json()["results"]
                answered[record["id"]] = outcome
            if k % 3 == 0:
                tally[check_clean("readyz", await http.get("/readyz"))] += 1
            k += 1

    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=60, headers=ENGLISH) as http:
            workers = [asyncio.create_task(load(w, http)) for w in range(len(players))]
            await asyncio.sleep(0.5)  # the load is under way
            cut = lock_sqlite if settings.uses_embedded_database else cut_postgres
            cuts = await cut(settings)
            stop.set()
            await asyncio.gather(*workers)
            assert cuts > 0
            # the cuts hit requests: some failed (cleanly), and some still succeeded
            assert tally["graphql INTERNAL_ERROR"] + tally["partner 500"] + tally["readyz 503"] > 0, tally
            assert tally["graphql ok"] > 0 and tally["partner 200"] > 0, tally

            # The database is back: the same process serves again, without a restart.
            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200
            await wait_until(ready, "readyz to answer 200 again", seconds=30, every=0.2)
            phone = "+8613800138777"
            asked = (await gql_post(http, REQUEST_CODE, {"phone": phone})).json()
            assert asked["data"]["requestLoginCode"]["errors"] == [], asked

            async def logged_code() -> bool:
                return code_from_log(server.log_text(), phone) is not None
            await wait_until(logged_code, "the login code in the server log")
            login = (await gql_post(http, LOGIN_WITH_CODE, {
                "phone": phone, "code": code_from_log(server.log_text(), phone)})).json()
            assert login["data"]["loginWithCode"]["errors"] == [], login
            me = (await gql_post(http, ME, token=login["data"]["loginWithCode"]["session"][
                "accessToken"])).json()
            assert me["data"]["me"]["balances"] == {"carbonPoints": 0, "reductionGrams": 0}, me

            # The partner resends everything: what was cut mid-commit is credited once.
            final = (await send(http, list(sent.values()))).json()["results"]
        assert server.process.poll() is None and server.starts == 1
    finally:
        server.stop()

    outcomes = {r["id"]: r for r in final}
    assert len(outcomes) == len(sent)
    assert {r["status"] for r in outcomes.values()} <= {"accepted", "duplicate"}
    for rid, first in answered.items():
        assert first["status"] == "accepted", first
        assert outcomes[rid] == {"id": rid, "status": "duplicate", "activityId": first["activityId"]}
    rows = await PartnerRecord.all().values("record_id", "status", "activity_id")
    assert len(rows) == len(sent) and {r["status"] for r in rows} == {"accepted"}
    assert {r["record_id"]: str(r["activity_id"]) for r in rows} == {
        rid: r["activityId"] for rid, r in outcomes.items()}
    assert await Activity.all().count() == len(sent)
    references = await LedgerTransaction.filter(type="ACTIVITY_CREDIT").values_list(
        "reference", flat=True)
    assert sorted(references) == sorted(f"activity:{r['activity_id']}" for r in rows)
    grams: Counter = Counter()
    for record in sent.values():
        grams[record["subject"]] += 46700 * record["distanceMeters"] // 1_000_000
    for pid, _ in players:
        assert (await balances(pid))[Asset.CO2E_GRAMS] == grams[pid]
    report = await verify_ledger()
    assert report.ok, report.problems
