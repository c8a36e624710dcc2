"""Merchants: operator setup (audited), paying in points, settlement, a failed payout."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tortoise.transactions import in_transaction

from app.accounts.models import Player
from app.errors import ServiceError
from app.ledger.service import Asset, credit, post
from app.ledger.verify import verify_ledger
from app.merchants.models import MerchantPayment, Settlement
from app.merchants.settlement import SettlementPayouts, parse_period, settle
from app.payouts.models import Payout
from app.shop.models import AuditEntry

CST = ZoneInfo("Asia/Shanghai")
COMMAND = str(Path(sys.executable).parent / "carbon-planet")
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
IN_MARCH = datetime(2025, 3, 10, 9, tzinfo=CST)

CREATE = """mutation($name: String!, $city: String, $key: String!) {
  createMerchant(name: $name, city: $city, idempotencyKey: $key) {
    merchant { id name city active } errors { code message field } } }"""
ADD_STAFF = """mutation($merchantId: ID!, $playerId: ID!) {
  addMerchantStaff(merchantId: $merchantId, playerId: $playerId) {
    merchant { id } player { id } errors { code message field } } }"""
SET_ACTIVE = """mutation($merchantId: ID!, $active: Boolean!) {
  setMerchantActive(merchantId: $merchantId, active: $active) {
    merchant { active } errors { code } } }"""
PAY = """mutation PayMerchant($merchantId: ID!, $points: Int!, $idempotencyKey: String!) {
  payMerchant(merchantId: $merchantId, points: $points, idempotencyKey: $idempotencyKey) {
    payment { id points merchant { id name } createdAt }
    errors { code message field }
  }
}"""
POINTS = "{ me { balances { carbonPoints } } }"
MERCHANTS = """{ merchants(first: 10) {
  edges { node { id name balancePoints } } pageInfo { hasNextPage } } }"""
MY_MERCHANT = """{ myMerchant { id name balancePoints
  payments(first: 10) { edges { node { id points settled } } }
  settlements { period points cashFen status } } }"""


async def operator(gql) -> str:
    session = await gql.login("+8613800138091")
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "operator"])
    return session["accessToken"]


async def player_with_points(gql, phone: str, points: int) -> dict:
    session = await gql.login(phone)
    await post("test-credit", f"test-credit:{uuid.uuid4()}",
               credit(session["player"]["id"], {Asset.CARBON_POINT: points}))
    return session


async def new_merchant(gql, token: str, name: str = "绿叶咖啡", key: str | None = None) -> str:
    result = (await gql(CREATE, {"name": name, "city": "shenzhen", "key": key or name},
                        token=token))["data"]["createMerchant"]
    assert result["errors"] == [], result
    return result["merchant"]["id"]


async def pay(gql, session: dict, merchant_id: str, points: int, key: str) -> dict:
    result = await gql(PAY, {"merchantId": merchant_id, "points": points, "idempotencyKey": key},
                       token=session["accessToken"])
    return result["data"]["payMerchant"]


async def points_of(gql, session: dict) -> int:
    me = (await gql(POINTS, token=session["accessToken"]))["data"]["me"]
    return me["balances"]["carbonPoints"]


async def merchant_balance(gql, token: str, merchant_id: str) -> int:
    edges = (await gql(MERCHANTS, token=token))["data"]["merchants"]["edges"]
    return next(e["node"]["balancePoints"] for e in edges if e["node"]["id"] == merchant_id)


def refusal(result: dict) -> str:
    """The GraphQL error code of a refused request (UNAUTHENTICATED, FORBIDDEN)."""
    return result["errors"][0]["extensions"]["code"]


def statement_rows(text: str) -> dict[str, list[list[str]]]:
    rows: dict[str, list[list[str]]] = {}
    for row in csv.reader(io.StringIO(text)):
        rows.setdefault(row[0], []).append(row)
    return rows


async def test_operators_create_merchants_once_per_key_and_audited(gql):
    token = await operator(gql)
    merchant_id = await new_merchant(gql, token, key="create-1")
    again = (await gql(CREATE, {"name": "绿叶咖啡", "city": "shenzhen", "key": "create-1"},
                       token=token))["data"]["createMerchant"]
    assert again["errors"] == [] and again["merchant"]["id"] == merchant_id
    entries = await AuditEntry.filter(target_type="merchant", target_id=merchant_id)
    assert [e.action for e in entries] == ["merchant.create"]
    assert entries[0].after == {"name": "绿叶咖啡", "city": "shenzhen", "active": True}

    other = (await gql(CREATE, {"name": "别的店", "city": "shenzhen", "key": "create-1"},
                       token=token))["data"]["createMerchant"]
    assert other["merchant"] is None and other["errors"][0]["code"] == "CONFLICT"
    bad_city = (await gql(CREATE, {"name": "店", "city": "atlantis", "key": "create-2"},
                          token=token))["data"]["createMerchant"]
    assert bad_city["errors"][0]["field"] == "city"

    player = await gql.login()
    refused = await gql(CREATE, {"name": "偷偷开店", "key": "create-3"}, token=player["accessToken"])
    assert refusal(refused) == "FORBIDDEN"
    assert refusal(await gql(MERCHANTS, token=player["accessToken"])) == "FORBIDDEN"
    listed = (await gql(MERCHANTS, token=token))["data"]["merchants"]["edges"]
    names = [e["node"]["name"] for e in listed]
    assert names == ["绿叶咖啡"]


async def test_paying_a_merchant_moves_points_once(gql):
    token = await operator(gql)
    merchant_id = await new_merchant(gql, token)
    payer = await player_with_points(gql, "+8613800138001", 500)

    paid = await pay(gql, payer, merchant_id, 120, "till-1")
    assert paid["errors"] == []
    assert paid["payment"]["points"] == 120
    assert paid["payment"]["merchant"] == {"id": merchant_id, "name": "绿叶咖啡"}
    assert await points_of(gql, payer) == 380
    assert await merchant_balance(gql, token, merchant_id) == 120

    retry = await pay(gql, payer, merchant_id, 120, "till-1")
    assert retry["payment"]["id"] == paid["payment"]["id"]
    assert await points_of(gql, payer) == 380
    changed = await pay(gql, payer, merchant_id, 121, "till-1")
    assert changed["payment"] is None and changed["errors"][0]["code"] == "CONFLICT"

    too_much = await pay(gql, payer, merchant_id, 381, "till-2")
    assert too_much["errors"][0]["code"] == "INSUFFICIENT_POINTS"
    assert await MerchantPayment.all().count() == 1
    assert await points_of(gql, payer) == 380
    assert await merchant_balance(gql, token, merchant_id) == 120

    for points, key, field in [(0, "k", "points"), (-5, "k", "points"), (1_000_001, "k", "points"),
                               (5, "", "idempotencyKey"), (5, "x" * 201, "idempotencyKey")]:
        refused = await pay(gql, payer, merchant_id, points, key)
        error = refused["errors"][0]
        assert (error["code"], error["field"]) == ("INVALID_INPUT", field)
    unknown = await pay(gql, payer, str(uuid.uuid4()), 5, "till-3")
    assert unknown["errors"][0] == {"code": "NOT_FOUND", "message": "No such merchant.",
                                    "field": "merchantId"}

    closed = (await gql(SET_ACTIVE, {"merchantId": merchant_id, "active": False},
                        token=token))["data"]["setMerchantActive"]
    assert closed == {"merchant": {"active": False}, "errors": []}
    assert (await pay(gql, payer, merchant_id, 5, "till-4"))["errors"][0]["code"] == "NOT_AVAILABLE"
    replayed = await pay(gql, payer, merchant_id, 120, "till-1")  # a retry after it closed
    assert replayed["payment"]["id"] == paid["payment"]["id"]
    assert await AuditEntry.filter(target_id=merchant_id, action="merchant.deactivate").count() == 1

    anonymous = await gql(PAY, {"merchantId": merchant_id, "points": 5, "idempotencyKey": "x"})
    assert refusal(anonymous) == "UNAUTHENTICATED"


async def test_twenty_concurrent_payments_with_one_key_charge_once(gql):
    token = await operator(gql)
    merchant_id = await new_merchant(gql, token)
    payer = await player_with_points(gql, "+8613800138002", 1000)
    results = await asyncio.gather(*[pay(gql, payer, merchant_id, 50, "same-key")
                                     for _ in range(20)])
    assert all(r["errors"] == [] for r in results), results
    assert len({r["payment"]["id"] for r in results}) == 1
    assert await MerchantPayment.all().count() == 1
    assert await points_of(gql, payer) == 950
    assert await merchant_balance(gql, token, merchant_id) == 50


async def test_staff_see_their_own_merchant(gql):
    token = await operator(gql)
    merchant_id = await new_merchant(gql, token)
    cashier = await gql.login("+8613800138092")
    assert refusal(await gql(MY_MERCHANT, token=cashier["accessToken"])) == "FORBIDDEN"

    added = (await gql(ADD_STAFF, {"merchantId": merchant_id, "playerId": cashier["player"]["id"]},
                       token=token))["data"]["addMerchantStaff"]
    assert added["errors"] == [] and added["player"]["id"] == cashier["player"]["id"]
    assert "merchant" in (await Player.get(id=cashier["player"]["id"])).roles
    assert await AuditEntry.filter(target_id=merchant_id, action="merchant.add_staff").count() == 1
    other_id = await new_merchant(gql, token, name="另一家")
    twice = (await gql(ADD_STAFF, {"merchantId": other_id, "playerId": cashier["player"]["id"]},
                       token=token))["data"]["addMerchantStaff"]
    assert twice["errors"][0]["code"] == "CONFLICT"

    payer = await player_with_points(gql, "+8613800138003", 100)
    await pay(gql, payer, merchant_id, 30, "a")
    mine = (await gql(MY_MERCHANT, token=cashier["accessToken"]))["data"]["myMerchant"]
    assert mine["id"] == merchant_id and mine["balancePoints"] == 30
    assert [e["node"]["points"] for e in mine["payments"]["edges"]] == [30]
    assert mine["settlements"] == []
    # staff are not operators: the merchant list and other merchants' figures stay closed
    assert refusal(await gql(MERCHANTS, token=cashier["accessToken"])) == "FORBIDDEN"
    await post("test-credit", "test-credit:cashier", credit(cashier["player"]["id"],
                                                            {Asset.CARBON_POINT: 10}))
    peek = """mutation($m: ID!) { payMerchant(merchantId: $m, points: 1, idempotencyKey: "p") {
      payment { merchant { balancePoints } } } }"""
    assert refusal(await gql(peek, {"m": other_id}, token=cashier["accessToken"])) == "FORBIDDEN"


def run_settle(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    return subprocess.run([COMMAND, "merchants", "settle", *args], env=env, capture_output=True,
                          text=True, timeout=120)


async def test_settling_a_month_pays_once_and_writes_a_statement(gql, settings, tmp_path):
    token = await operator(gql)
    merchant_id = await new_merchant(gql, token)
    payer = await player_with_points(gql, "+8613800138004", 1000)
    first = (await pay(gql, payer, merchant_id, 120, "m1"))["payment"]["id"]
    second = (await pay(gql, payer, merchant_id, 180, "m2"))["payment"]["id"]
    await pay(gql, payer, merchant_id, 45, "later")  # this month: not in the settled period
    await MerchantPayment.filter(id__in=[first, second]).update(created_at=IN_MARCH)

    done = run_settle(settings, "--period", "2025-03", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"{merchant_id}  绿叶咖啡: settled 2 payments, 300 points -> ¥3.00" in done.stdout
    assert "2025-03: 1 merchant(s) settled, ¥3.00 to pay; 0 already settled" in done.stdout
    settlement = await Settlement.get(merchant_id=merchant_id, period="2025-03")
    payouts = await Payout.all()
    assert [(p.id, p.purpose, p.recipient, p.amount_fen) for p in payouts] == [
        (f"settlement:{settlement.id}", "settlement", f"merchant:{merchant_id}", 300)]
    assert await merchant_balance(gql, token, merchant_id) == 45

    statement = (tmp_path / "2025-03" / f"{merchant_id}.csv").read_text(encoding="utf-8")
    assert statement == settlement.statement
    rows = statement_rows(statement)
    assert sorted(r[1] for r in rows["payment"]) == sorted([first, second])
    assert rows["total"] == [["total", "2", "", "", "300"]]
    assert rows["cash_yuan"][0][4] == "3.00" and rows["rate_points_per_yuan"][0][4] == "100"
    assert rows["period"][0][2] == "2025-03-01T00:00:00+08:00"

    again = run_settle(settings, "--period", "2025-03", "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "already settled (PENDING_PAYOUT, ¥3.00)" in again.stdout
    assert await Payout.all().count() == 1
    assert await Settlement.all().count() == 1
    assert await merchant_balance(gql, token, merchant_id) == 45

    cashier = await gql.login("+8613800138093")
    await gql(ADD_STAFF, {"merchantId": merchant_id, "playerId": cashier["player"]["id"]},
              token=token)
    mine = (await gql(MY_MERCHANT, token=cashier["accessToken"]))["data"]["myMerchant"]
    assert mine["settlements"] == [{"period": "2025-03", "points": 300, "cashFen": 300,
                                    "status": "PENDING_PAYOUT"}]
    assert sorted(e["node"]["settled"] for e in mine["payments"]["edges"]) == [False, True, True]

    unfinished = run_settle(settings, "--period", datetime.now(CST).strftime("%Y-%m"))
    assert unfinished.returncode == 1 and "has not ended" in unfinished.stderr
    assert (await verify_ledger()).ok


async def test_a_failed_payout_returns_the_points_and_the_period_settles_again(gql, tmp_path):
    token = await operator(gql)
    merchant_id = await new_merchant(gql, token)
    payer = await player_with_points(gql, "+8613800138005", 1000)
    paid = (await pay(gql, payer, merchant_id, 250, "f1"))["payment"]["id"]
    await MerchantPayment.filter(id=paid).update(created_at=IN_MARCH)

    report = await settle("2025-03", NOW, 100, tmp_path)
    settlement = report.outcomes[0].settlement
    assert await merchant_balance(gql, token, merchant_id) == 0
    payout = await Payout.get(id=f"settlement:{settlement.id}")
    async with in_transaction():  # as the payout worker calls it
        await SettlementPayouts().failed(payout)
    await SettlementPayouts().failed(payout)  # told twice: handled once
    assert (await Settlement.get(id=settlement.id)).status == "FAILED"
    assert await merchant_balance(gql, token, merchant_id) == 250
    assert (await MerchantPayment.get(id=paid)).settlement_id is None

    again = await settle("2025-03", NOW, 100, tmp_path)
    assert [o.status for o in again.outcomes] == ["settled"]
    resettled = await Settlement.get(id=settlement.id)
    assert (resettled.status, resettled.points, resettled.cash_fen) == ("PENDING_PAYOUT", 250, 250)
    retry = await Payout.get(id=f"settlement:{settlement.id}:2")
    assert retry.amount_fen == 250 and await Payout.all().count() == 2
    assert await merchant_balance(gql, token, merchant_id) == 0
    assert (await MerchantPayment.get(id=paid)).settlement_id == settlement.id

    await SettlementPayouts().paid(retry)
    assert (await Settlement.get(id=settlement.id)).status == "PAID"
    third = await settle("2025-03", NOW, 100, tmp_path)
    assert [o.status for o in third.outcomes] == ["already settled"]
    assert await Payout.all().count() == 2
    assert (await verify_ledger()).ok


async def test_points_that_do_not_make_a_whole_fen_are_carried_forward(gql, tmp_path):
    token = await operator(gql)
    merchant_id = await new_merchant(gql, token)
    payer = await player_with_points(gql, "+8613800138006", 1000)
    march = (await pay(gql, payer, merchant_id, 100, "r1"))["payment"]["id"]
    april = (await pay(gql, payer, merchant_id, 5, "r2"))["payment"]["id"]
    await MerchantPayment.filter(id=march).update(created_at=IN_MARCH)
    await MerchantPayment.filter(id=april).update(created_at=datetime(2025, 4, 2, tzinfo=CST))

    # 150 points per yuan: 3 points make 2 fen, so 99 of 100 points convert
    first = (await settle("2025-03", NOW, 150, tmp_path)).outcomes[0].settlement
    assert (first.points, first.cash_fen) == (99, 66)
    assert await merchant_balance(gql, token, merchant_id) == 6  # 1 carried + April's 5
    second = (await settle("2025-04", NOW, 150, tmp_path)).outcomes[0].settlement
    assert (second.points, second.cash_fen) == (6, 4)
    rows = statement_rows(second.statement)
    assert rows["carried_in"][0][4] == "1" and rows["carried_forward"][0][4] == "0"
    assert await merchant_balance(gql, token, merchant_id) == 0
    assert sorted(p.amount_fen for p in await Payout.all()) == [4, 66]
    assert (await verify_ledger()).ok


def test_periods_are_local_months_days_and_iso_weeks():
    month = parse_period("2026-12", CST)
    assert (month.start, month.end) == (datetime(2026, 12, 1, tzinfo=CST),
                                        datetime(2027, 1, 1, tzinfo=CST))
    assert month.start.astimezone(UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    day = parse_period("2026-11-20", CST)
    assert (day.end - day.start).days == 1
    week = parse_period("2026-W47", CST)
    assert (week.start, week.end) == (datetime(2026, 11, 16, tzinfo=CST),
                                      datetime(2026, 11, 23, tzinfo=CST))
    for bad in ["2026-13", "2026-11-31", "2026-W54", "November", "2026-w47", ""]:
        with pytest.raises(ServiceError) as refused:
            parse_period(bad, CST)
        assert refused.value.field == "period"


async def test_two_settlement_runs_at_once_pay_once(gql, tmp_path):
    token = await operator(gql)
    merchant_id = await new_merchant(gql, token)
    payer = await player_with_points(gql, "+8613800138007", 1000)
    paid = (await pay(gql, payer, merchant_id, 70, "c1"))["payment"]["id"]
    await MerchantPayment.filter(id=paid).update(created_at=IN_MARCH)
    runs = await asyncio.gather(*[settle("2025-03", NOW, 100, tmp_path) for _ in range(2)])
    assert sorted(r.outcomes[0].status for r in runs) == ["already settled", "settled"]
    assert [p.amount_fen for p in await Payout.all()] == [70]
    assert await merchant_balance(gql, token, merchant_id) == 0
    assert (await verify_ledger()).ok
