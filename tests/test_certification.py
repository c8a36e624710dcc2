"""Certification periods over GraphQL and the CLI: a month's accepted grams sealed once with
serials, late records in a supplementary batch, withdrawals as adjustments that leave the
sealed batch as it was and take the player's points back with a reason."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from app.accounts.models import Player
from app.credits.signatures import sign
from app.ledger.models import LedgerAccount
from app.ledger.service import Asset, post, transfer
from tests.conftest import PARTNER_ID, PARTNER_SECRETS
from tests.partner_client import CST, send, trip

COMMAND = str(Path(sys.executable).parent / "carbon-planet")
TRAVEL = "cn-low-carbon-travel"

BATCH_FIELDS = """code period methodologyId methodologyVersion kind serialPrefix firstSerial
  lastSerial grams activityCount participants contentHash closedAt manifest"""
CLOSE = f"""mutation($period: String!, $m: String!, $v: Int!, $key: String!) {{
  closeCertificationPeriod(period: $period, methodologyId: $m, version: $v, idempotencyKey: $key) {{
    batch {{ {BATCH_FIELDS} }} adjustment {{ {BATCH_FIELDS} }} created
    errors {{ code message field }} }} }}"""
BATCHES = f"""query($period: String) {{ certifiedBatches(period: $period) {{ {BATCH_FIELDS} }} }}"""
WITHDRAW = """mutation($id: ID!, $reason: WithdrawalReason!, $key: String!, $note: String) {
  withdrawActivity(activityId: $id, reason: $reason, idempotencyKey: $key, note: $note) {
    certified activity { id status }
    withdrawal { reason reasonText note reversed { asset amount } owed { asset amount } }
    errors { code message field } } }"""
MINE = """{ me { balances { carbonPoints reductionGrams }
  certifiedReductions(first: 50) { edges { node { activityId kind grams firstSerial lastSerial
    batch { code kind } } } }
  activities(first: 50) { edges { node { id status reductionGrams
    withdrawal { reason reasonText reversed { asset amount } } } } }
  ledger(first: 50) { edges { node { type asset amount reference } } } } }"""


@pytest.fixture
async def app(make_app):
    """Records months old are accepted (a partner's backlog), so a past month has some."""
    return await make_app(activity_max_age_days=400)


def month_start(months_back: int) -> date:
    """The first day of the month `months_back` before the current one (city time)."""
    today = datetime.now(CST).date()
    year, month = today.year, today.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST)


async def staff(gql, phone: str = "+8613800138091", role: str = "operator") -> str:
    session = await gql.login(phone)
    await Player.filter(id=session["player"]["id"]).update(roles=["player", role])
    return session["accessToken"]


async def accepted(client, records: list[dict]) -> list[str]:
    results = (await send(client, records)).json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(records), results
    return [r["activityId"] for r in results]


async def close(gql, token: str, period: str, key: str, methodology: str = TRAVEL,
                version: int = 1) -> dict:
    found = await gql(CLOSE, {"period": period, "m": methodology, "v": version, "key": key},
                      token=token)
    return found["data"]["closeCertificationPeriod"]


def serial_number(printed: str) -> int:
    return int(printed.rsplit("-", 1)[1])


async def test_a_month_is_sealed_once_late_records_are_supplementary_withdrawals_adjust(
        gql, client):
    month, next_month = month_start(2), month_start(1)
    period, next_period = month.strftime("%Y-%m"), next_month.strftime("%Y-%m")
    last_day = next_month - timedelta(days=1)
    alice, bob = await gql.login("+8613800138001"), await gql.login("+8613800138002")
    a, b = alice["player"]["id"], bob["player"]["id"]
    in_month = await accepted(client, [
        trip("a1", a, start=at(month + timedelta(days=2), 8)),
        trip("a2", a, kind="bus", meters=6400, start=at(month + timedelta(days=3), 9)),
        trip("b1", b, start=at(month + timedelta(days=2), 7)),
        trip("b2", b, start=at(last_day, 23, 10), minutes=20),  # the month's last local day
    ])
    await accepted(client, [trip("b-next", b, start=at(next_month, 0, 30), minutes=20)])
    operator = await staff(gql)

    # refused: the current month, an unknown methodology version, a player
    current = datetime.now(CST).strftime("%Y-%m")
    refused = await close(gql, operator, current, "k-now")
    assert refused["errors"][0]["code"] == "INVALID_INPUT"
    assert refused["errors"][0]["field"] == "period"
    unknown = await close(gql, operator, period, "k-v9", version=9)
    assert unknown["errors"][0]["code"] == "NOT_FOUND"
    player = await gql(CLOSE, {"period": period, "m": TRAVEL, "v": 1, "key": "k-p"},
                       token=alice["accessToken"])
    assert player["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql(BATCHES, {"period": period}))["data"]["certifiedBatches"] == []

    # the close seals exactly the month's accepted grams
    mine = (await gql(MINE, token=alice["accessToken"]))["data"]["me"]
    theirs = (await gql(MINE, token=bob["accessToken"]))["data"]["me"]
    grams = {n["node"]["id"]: n["node"]["reductionGrams"]
             for me in (mine, theirs) for n in me["activities"]["edges"]}
    expected = sum(grams[i] for i in in_month)
    first = await close(gql, operator, period, "k-1")
    assert first["errors"] == [] and first["created"] is True and first["adjustment"] is None
    sealed = first["batch"]
    assert sealed["kind"] == "SEALED"
    assert sealed["code"] == sealed["serialPrefix"] == f"SZ-{period}-LOW-CARBON-TRAVEL-V1"
    assert sealed["grams"] == expected > 0
    assert (sealed["activityCount"], sealed["participants"]) == (4, 2)
    assert sealed["firstSerial"] == f"{sealed['serialPrefix']}-000000001"
    assert serial_number(sealed["lastSerial"]) - serial_number(sealed["firstSerial"]) + 1 == expected
    manifest = json.loads(sealed["manifest"])
    assert manifest["by_scene"]["bus"]["activities"] == 1
    assert sum(v["grams"] for v in manifest["by_scene"].values()) == expected
    assert manifest["by_partner"] == {f"partner:{PARTNER_ID}": {"activities": 4, "grams": expected}}
    assert manifest["content_hash"] == sealed["contentHash"]
    assert a not in sealed["manifest"] and b not in sealed["manifest"]

    # each player's serial ranges: disjoint, covering the batch, summing to its grams
    reductions = [e["node"] for me in (a, b) for e in (await gql(
        MINE, token=(alice if me == a else bob)["accessToken"]))["data"]["me"][
            "certifiedReductions"]["edges"]]
    assert {r["activityId"] for r in reductions} == set(in_month)
    ranges = sorted((serial_number(r["firstSerial"]), serial_number(r["lastSerial"]))
                    for r in reductions)
    assert ranges[0][0] == 1 and ranges[-1][1] == expected
    assert all(x[1] + 1 == y[0] for x, y in zip(ranges, ranges[1:], strict=False))
    assert sum(r["grams"] for r in reductions) == expected

    # the content hash is recomputable from the documented encoding
    rows = sorted(reductions, key=lambda r: serial_number(r["firstSerial"]))
    owner = {i: a for i in in_month[:2]} | {i: b for i in in_month[2:]}
    scene = dict(zip(in_month, ["metro", "bus", "metro", "metro"], strict=True))
    days = dict(zip(in_month, [month + timedelta(days=2), month + timedelta(days=3),
                               month + timedelta(days=2), last_day], strict=True))
    text = "".join(f"{serial_number(r['firstSerial'])},{serial_number(r['lastSerial'])},"
                   f"{r['activityId']},{owner[r['activityId']]},{scene[r['activityId']]},"
                   f"{days[r['activityId']].isoformat()},{r['grams']}\n" for r in rows)
    assert hashlib.sha256(text.encode()).hexdigest() == sealed["contentHash"]

    # closing again: the same batch, nothing new
    again = await close(gql, operator, period, "k-1")
    assert again["batch"] == sealed and again["created"] is False
    other_key = await close(gql, operator, period, "k-2")
    assert other_key["batch"] == sealed and other_key["created"] is False
    # another methodology's month is its own (empty) batch; travel is untouched
    recycling = await close(gql, operator, period, "k-r", methodology="cn-recycling")
    assert (recycling["batch"]["grams"], recycling["batch"]["firstSerial"]) == (0, None)

    # a late record of the month: a supplementary batch, serials continuing
    [late] = await accepted(client, [trip("a-late", a, start=at(month + timedelta(days=9), 8))])
    supplementary = (await close(gql, operator, period, "k-3"))["batch"]
    assert (supplementary["kind"], supplementary["code"]) == ("SUPPLEMENTARY",
                                                              f"{sealed['code']}-S1")
    assert serial_number(supplementary["firstSerial"]) == serial_number(sealed["lastSerial"]) + 1
    assert supplementary["activityCount"] == 1
    assert (serial_number(supplementary["lastSerial"]) - serial_number(supplementary["firstSerial"])
            + 1 == supplementary["grams"])

    # withdrawing a certified activity: points back with a reason, an adjustment next close
    before = (await gql(MINE, token=alice["accessToken"]))["data"]["me"]["balances"]
    withdrawn_id = in_month[0]
    refused = await gql(WITHDRAW, {"id": withdrawn_id, "reason": "FRAUD", "key": "w-1"},
                        token=alice["accessToken"])
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    done = (await gql(WITHDRAW, {"id": withdrawn_id, "reason": "PARTNER_RECALL", "key": "w-1",
                                 "note": "trip recalled"}, token=operator))["data"]["withdrawActivity"]
    assert done["errors"] == [] and done["certified"] is True
    assert done["activity"]["status"] == "WITHDRAWN"
    again = (await gql(WITHDRAW, {"id": withdrawn_id, "reason": "PARTNER_RECALL", "key": "w-1"},
                       token=operator))["data"]["withdrawActivity"]
    assert again["withdrawal"] == done["withdrawal"]
    me = (await gql(MINE, token=alice["accessToken"]))["data"]["me"]
    reversed_points = {r["asset"]: r["amount"] for r in done["withdrawal"]["reversed"]}
    assert me["balances"]["carbonPoints"] == before["carbonPoints"] - reversed_points["CARBON_POINT"]
    assert me["balances"]["reductionGrams"] == before["reductionGrams"] - grams[withdrawn_id]
    [shown] = [e["node"] for e in me["activities"]["edges"] if e["node"]["id"] == withdrawn_id]
    assert shown["status"] == "WITHDRAWN"
    assert shown["withdrawal"]["reason"] == "PARTNER_RECALL"
    assert "recalled" in shown["withdrawal"]["reasonText"]
    assert any(e["node"]["type"] == "activity.withdrawal"
               and e["node"]["reference"] == f"activity:{withdrawn_id}"
               for e in me["ledger"]["edges"])

    # the next close (next month) carries the adjustment; the sealed batch is as it was
    nxt = await close(gql, operator, next_period, "k-next")
    assert nxt["batch"]["kind"] == "SEALED" and nxt["batch"]["activityCount"] == 1
    adjustment = nxt["adjustment"]
    assert adjustment["kind"] == "ADJUSTMENT"
    assert adjustment["code"] == f"{nxt['batch']['code']}-A1"
    assert adjustment["grams"] == -grams[withdrawn_id]
    assert adjustment["firstSerial"] is None
    assert json.loads(adjustment["manifest"])["withdrawn_from"] == {
        sealed["code"]: {"activities": 1, "grams": grams[withdrawn_id]}}
    listed = {x["code"]: x for x in (await gql(BATCHES, {"period": period}))["data"][
        "certifiedBatches"]}
    assert listed[sealed["code"]] == sealed
    # not adjusted twice
    assert (await close(gql, operator, next_period, "k-next-2"))["adjustment"] is None
    kinds = {(e["node"]["activityId"], e["node"]["kind"]) for e in (await gql(
        MINE, token=alice["accessToken"]))["data"]["me"]["certifiedReductions"]["edges"]}
    assert (withdrawn_id, "WITHDRAWN") in kinds and (late, "CERTIFIED") in kinds


async def test_an_uncertified_withdrawn_activity_is_never_sealed_spent_points_are_owed(
        gql, client):
    month = month_start(3)
    alice = await gql.login("+8613800138001")
    a = alice["player"]["id"]
    kept, gone = await accepted(client, [trip("k1", a, start=at(month + timedelta(days=4), 8)),
                                         trip("g1", a, start=at(month + timedelta(days=5), 8))])
    operator = await staff(gql)
    # the player spent all points but one (moved to another account here)
    points = (await gql(MINE, token=alice["accessToken"]))["data"]["me"]["balances"][
        "carbonPoints"]
    await post("test.spend", "spend-1", transfer(f"player:{a}", "system:shop", Asset.CARBON_POINT,
                                                  points - 1))
    done = (await gql(WITHDRAW, {"id": gone, "reason": "DUPLICATE", "key": "w-g"},
                      token=operator))["data"]["withdrawActivity"]
    assert done["certified"] is False
    taken = {r["asset"]: r["amount"] for r in done["withdrawal"]["reversed"]}
    owed = {r["asset"]: r["amount"] for r in done["withdrawal"]["owed"]}
    assert taken["CARBON_POINT"] == 1 and owed["CARBON_POINT"] > 0
    assert (await gql(MINE, token=alice["accessToken"]))["data"]["me"]["balances"][
        "carbonPoints"] == 0
    batch = (await close(gql, operator, month.strftime("%Y-%m"), "k"))["batch"]
    assert batch["activityCount"] == 1
    reductions = (await gql(MINE, token=alice["accessToken"]))["data"]["me"][
        "certifiedReductions"]["edges"]
    assert [r["node"]["activityId"] for r in reductions] == [kept]
    rejected = (await gql(WITHDRAW, {"id": gone, "reason": "FRAUD", "key": "w-g2"},
                          token=operator))["data"]["withdrawActivity"]
    assert rejected["withdrawal"] == done["withdrawal"]  # withdrawn once
    long_key = (await gql(WITHDRAW, {"id": kept, "reason": "FRAUD", "key": "k" * 201},
                          token=operator))["data"]["withdrawActivity"]
    assert long_key["errors"][0]["field"] == "idempotencyKey"
    long_close = await close(gql, operator, month.strftime("%Y-%m"), "k" * 181)
    assert long_close["errors"][0]["code"] == "INVALID_INPUT"
    missing = (await gql(WITHDRAW, {"id": "not-an-id", "reason": "FRAUD", "key": "w-x"},
                         token=operator))["data"]["withdrawActivity"]
    assert missing["errors"][0]["code"] == "NOT_FOUND"


def run_cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    return subprocess.run([COMMAND, "certify", *args], env=env, capture_output=True, text=True,
                          timeout=120)


async def test_the_cli_closes_a_period_and_lists_it(gql, client, settings):
    month = month_start(2)
    period = month.strftime("%Y-%m")
    alice = await gql.login("+8613800138001")
    await accepted(client, [trip("c1", alice["player"]["id"], start=at(month + timedelta(days=1), 8))])
    refused = run_cli(settings, "close", "--period", datetime.now(CST).strftime("%Y-%m"),
                      "--methodology", "travel-v1", "--version", "1")
    assert refused.returncode == 1 and "not over" in refused.stderr
    closed = run_cli(settings, "close", "--period", period, "--methodology", "travel-v1",
                     "--version", "1", "--idempotency-key", "cli-1")
    assert closed.returncode == 0, closed.stderr
    code = f"SZ-{period}-LOW-CARBON-TRAVEL-V1"
    assert closed.stdout.startswith(f"{code}  sealed")
    assert "hashed 1 activities" in closed.stderr  # progress
    listed = run_cli(settings, "list", "--period", period, "--json")
    [batch] = json.loads(listed.stdout)
    assert (batch["code"], batch["activity_count"], batch["first_serial"]) == (code, 1, 1)
    assert batch["last_serial"] == batch["grams"] > 0
    # the same in GraphQL, and the inventory holds the grams
    [shown] = (await gql(BATCHES, {"period": period}))["data"]["certifiedBatches"]
    assert shown["contentHash"] == batch["content_hash"]
    inventory = await LedgerAccount.get(owner="inventory:certified", asset="CERTIFIED_GRAMS")
    assert inventory.balance == batch["grams"]


def signed(body: dict, partner: str = PARTNER_ID,
           secret: str = PARTNER_SECRETS[1]) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    return raw, {"Content-Type": "application/json", "X-Partner-Id": partner,
                 "X-Timestamp": stamp, "X-Signature": sign(secret, stamp, raw)}


async def test_a_partner_recalls_a_record_it_sent(gql, client):
    alice = await gql.login("+8613800138001")
    a = alice["player"]["id"]
    month = month_start(2)
    [activity] = await accepted(client, [trip("r1", a, start=at(month + timedelta(days=6), 8))])
    operator = await staff(gql)
    batch = (await close(gql, operator, month.strftime("%Y-%m"), "k"))["batch"]
    raw, headers = signed({"recordId": "r1", "reason": "FRAUD", "note": "shaken phone"})
    first = await client.post("/partner/v1/recalls", content=raw, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() | {"withdrawnAt": None} == {
        "recordId": "r1", "activityId": activity, "status": "withdrawn", "certified": True,
        "withdrawnAt": None}
    raw, headers = signed({"recordId": "r1"})
    again = await client.post("/partner/v1/recalls", content=raw, headers=headers)
    assert again.json()["status"] == "already_withdrawn"
    me = (await gql(MINE, token=alice["accessToken"]))["data"]["me"]
    [shown] = [e["node"] for e in me["activities"]["edges"] if e["node"]["id"] == activity]
    assert (shown["status"], shown["withdrawal"]["reason"]) == ("WITHDRAWN", "FRAUD")
    assert me["balances"]["carbonPoints"] == 0
    # the next close adjusts it; the sealed batch stays as it was
    nxt = await close(gql, operator, month_start(1).strftime("%Y-%m"), "k-next")
    assert nxt["adjustment"]["grams"] == -batch["grams"]
    [sealed] = [b for b in (await gql(BATCHES, {"period": month.strftime("%Y-%m")}))["data"][
        "certifiedBatches"] if b["kind"] == "SEALED"]
    assert sealed == batch
    # refused: an unknown record, a bad body, a bad signature
    for body, status in (({"recordId": "nope"}, 404), ({"recordId": ""}, 400),
                         ({"recordId": "r1", "reason": "WHIM"}, 400)):
        raw, headers = signed(body)
        assert (await client.post("/partner/v1/recalls", content=raw,
                                  headers=headers)).status_code == status
    raw, headers = signed({"recordId": "r1"})
    headers["X-Signature"] = "sha256=" + "0" * 64
    assert (await client.post("/partner/v1/recalls", content=raw, headers=headers)
            ).status_code == 401


async def test_concurrent_closes_of_a_month_seal_it_once(gql, client):
    alice = await gql.login("+8613800138001")
    month = month_start(2)
    await accepted(client, [trip(f"cc{i}", alice["player"]["id"], meters=2000,
                                 start=at(month + timedelta(days=i), 8)) for i in range(1, 6)])
    operator = await staff(gql)
    results = await asyncio.gather(*(close(gql, operator, month.strftime("%Y-%m"), f"cc-{i}")
                                     for i in range(4)))
    assert [r["errors"] for r in results] == [[]] * 4
    assert sum(r["created"] for r in results) == 1
    assert {r["batch"]["code"] for r in results} == {f"SZ-{month:%Y-%m}-LOW-CARBON-TRAVEL-V1"}
    [batch] = (await gql(BATCHES, {"period": month.strftime("%Y-%m")}))["data"]["certifiedBatches"]
    assert batch["activityCount"] == 5
    inventory = await LedgerAccount.get(owner="inventory:certified", asset="CERTIFIED_GRAMS")
    assert inventory.balance == batch["grams"]


async def test_a_withdrawn_trip_frees_its_share_of_the_days_cap(gql, client):
    alice = await gql.login("+8613800138031")
    a = alice["player"]["id"]
    day = datetime.now(CST).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    # 64.3 km of metro × 46.7 g = 3,002 g: the day's 3,000 g cap, reached by one trip
    [fraud] = await accepted(client, [trip("cap-1", a, meters=64300, minutes=60,
                                           start=day + timedelta(hours=7))])
    [capped] = (await send(client, [trip("cap-2", a, start=day + timedelta(hours=9))])).json()["results"]
    assert (capped["status"], capped["reason"]) == ("rejected", "DAILY_CAP_REACHED")
    operator = await staff(gql)
    withdrawn = (await gql(WITHDRAW, {"id": fraud, "reason": "FRAUD", "key": "cap-w"},
                           token=operator))["data"]["withdrawActivity"]
    assert withdrawn["errors"] == [] and withdrawn["activity"]["status"] == "WITHDRAWN"
    # the same day's next trip earns in full: 12.85 km × 46.7 g = 600 g, 75 points
    [later] = (await send(client, [trip("cap-3", a, start=day + timedelta(hours=18))])).json()["results"]
    assert (later["status"], later["reductionGrams"], later["points"]) == ("accepted", 600, 75)
    me = (await gql(MINE, token=alice["accessToken"]))["data"]["me"]
    assert (me["balances"]["reductionGrams"], me["balances"]["carbonPoints"]) == (600, 75)
