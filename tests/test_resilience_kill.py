"""The server process SIGKILLed in the middle of partner ingestion and of a flash sale, then
started again: nothing acknowledged is lost, nothing is credited or charged twice, and
`ledger verify` passes. Clients retry exactly as partners and apps do: anything without an
answer is sent again, unchanged (same record ids, same idempotency keys).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from app.accounts.models import Player
from app.credits.models import Activity, PartnerRecord
from app.ledger.models import LedgerTransaction
from app.ledger.service import Asset, balances
from app.ledger.verify import verify_ledger
from app.shop.models import Order, ShopItem
from tests.partner_client import CST, send, trip
from tests.resilience_support import (
    COMMAND,
    ROOT,
    ServerProcess,
    gql_post,
    new_players,
    wait_until,
)
from tests.test_shop import CREATE, REDEEM

BOARD = "{ leaderboard(scope: GLOBAL, period: ALL_TIME, first: 100) { entries { score player { id } } } }"


@pytest.fixture
async def server(app, settings, tmp_path):
    """A server process on the emptied test database (the `app` fixture empties it)."""
    process = ServerProcess(settings, tmp_path)
    yield process
    process.stop()


def grams_for(meters: int) -> int:
    return 46700 * meters // 1_000_000  # metro: 46.7 g saved per person-km, rounded down


async def board_scores(http: httpx.AsyncClient, token: str) -> dict[str, int]:
    result = (await gql_post(http, BOARD, token=token)).json()
    assert "errors" not in result, result
    return {e["player"]["id"]: e["score"] for e in result["data"]["leaderboard"]["entries"]}


async def test_sigkill_mid_ingestion_then_retry_credits_every_record_exactly_once(server, settings):
    players = await new_players(settings, 80, "ingest-")
    start = datetime.now(CST) - timedelta(hours=3)
    batches: list[list[dict]] = []
    expected_grams: Counter = Counter()
    expected_points: Counter = Counter()
    n = 0
    for b in range(20):  # 10, 14, …, 86 records: the small batches finish first
        batch = []
        for _ in range(10 + 4 * b):
            pid = players[n % len(players)][0]
            meters = 2000 + 150 * (n % 7)  # a player's day stays far below the metro cap
            batch.append(trip(f"kill-{n:04d}", pid, meters=meters, minutes=12,
                              start=start + timedelta(seconds=n)))
            expected_grams[pid] += grams_for(meters)
            expected_points[pid] += grams_for(meters) // 8
            n += 1
        batches.append(batch)
    total = n

    acknowledged: dict[int, list[dict]] = {}
    await server.start()
    async with httpx.AsyncClient(base_url=server.base, timeout=120,
                                 limits=httpx.Limits(max_connections=30)) as http:
        async def deliver(b: int) -> None:
            response = await send(http, batches[b])
            assert response.status_code == 200, response.text
            acknowledged[b] = response.json()["results"]

        tasks = [asyncio.create_task(deliver(b)) for b in range(len(batches))]

        async def some_acknowledged() -> bool:
            return len(acknowledged) >= 4 or all(t.done() for t in tasks)
        await wait_until(some_acknowledged, "the first batches to be acknowledged")
        server.kill()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    lost = [b for b, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert all(isinstance(outcomes[b], httpx.TransportError) for b in lost), outcomes
    assert sorted(lost) == sorted(set(range(len(batches))) - set(acknowledged))
    assert 4 <= len(acknowledged) < len(batches), "the kill did not land mid-ingestion"
    committed = await PartnerRecord.all().count()
    acked_records = sum(len(batches[b]) for b in acknowledged)
    # a batch commits whole, so records may be committed whose batch never got its answer
    # (the kill between commit and response): the case the retry must not double
    assert acked_records <= committed < total
    for b, results in acknowledged.items():
        assert [r["id"] for r in results] == [r["id"] for r in batches[b]]
        assert {r["status"] for r in results} == {"accepted"}, results

    # Restart; the partner sends every batch again (unanswered ones must be retried, and
    # answered ones resent must be harmless).
    await server.start()
    async with httpx.AsyncClient(base_url=server.base, timeout=120,
                                 limits=httpx.Limits(max_connections=30)) as http:
        responses = await asyncio.gather(*(send(http, batch) for batch in batches))
        assert [r.status_code for r in responses] == [200] * len(batches)
        final = {r["id"]: r for response in responses for r in response.json()["results"]}
        scores = await board_scores(http, players[0][1])
    assert len(final) == total

    # Every acknowledged record's outcome is unchanged: now a duplicate of the same activity.
    for results in acknowledged.values():
        for first in results:
            assert final[first["id"]] == {"id": first["id"], "status": "duplicate",
                                          "activityId": first["activityId"]}
    statuses = Counter(r["status"] for r in final.values())
    assert statuses["accepted"] == total - committed and statuses["duplicate"] == committed

    # Exactly once, counted in the database.
    rows = await PartnerRecord.all().values("record_id", "status", "activity_id")
    assert len(rows) == total and {r["status"] for r in rows} == {"accepted"}
    assert {r["record_id"]: str(r["activity_id"]) for r in rows} == {
        rid: r["activityId"] for rid, r in final.items()}
    assert await Activity.all().count() == total
    references = await LedgerTransaction.filter(type="ACTIVITY_CREDIT").values_list(
        "reference", flat=True)
    assert len(references) == total
    assert sorted(references) == sorted(f"activity:{r['activity_id']}" for r in rows)
    for pid, _ in players:
        held = await balances(pid)
        assert held[Asset.CO2E_GRAMS] == expected_grams[pid], pid
        assert held[Asset.CARBON_POINT] == expected_points[pid], pid
    report = await verify_ledger()
    assert report.ok, report.problems

    # Leaderboards are derived from the ledger. An embedded Redis died with the process and
    # the restarted server derived its boards afresh; a Redis server outlives the process,
    # and a credit committed just before the kill never reached it, so the operator's
    # `leaderboard rebuild` is what brings it back in line.
    if settings.redis_url:
        done = subprocess.run([COMMAND, "leaderboard", "rebuild"], cwd=ROOT, timeout=120,
                              env={**os.environ, "DATABASE_URL": settings.database_url,
                                   "REDIS_URL": settings.redis_url},
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
            scores = await board_scores(http, players[0][1])
    assert scores == dict(expected_grams)


async def test_sigkill_mid_flash_sale_then_retry_with_the_same_keys(server, settings):
    stock, price, crowd_size = 40, 100, 120
    [(_, operator)] = await new_players(settings, 1, "sale-op-")
    await Player.filter(nickname="sale-op-0").update(roles=["player", "operator"])
    crowd = await new_players(settings, crowd_size, "sale-", points_each=150)
    keys = {pid: f"flash-{pid}" for pid, _ in crowd}

    await server.start()
    async with httpx.AsyncClient(base_url=server.base, timeout=120,
                                 limits=httpx.Limits(max_connections=40)) as http:
        made = (await gql_post(http, CREATE, {"key": "flash-item", "input": {
            "kind": "PHYSICAL_GIFT", "title": "帆布袋", "titleEn": "Canvas bag",
            "pricePoints": price, "stock": stock}}, token=operator)).json()
        assert made["data"]["createShopItem"]["errors"] == [], made
        item_id = made["data"]["createShopItem"]["item"]["id"]
        answered: dict[str, dict] = {}

        async def buy(pid: str, token: str) -> None:
            response = await gql_post(http, REDEEM, {"itemId": item_id, "quantity": 1,
                                                     "idempotencyKey": keys[pid]}, token=token)
            assert response.status_code == 200, response.text
            answered[pid] = response.json()["data"]["redeem"]

        tasks = [asyncio.create_task(buy(pid, token)) for pid, token in crowd]

        async def some_sold() -> bool:
            return sum(not r["errors"] for r in answered.values()) >= 5 or all(t.done() for t in tasks)
        await wait_until(some_sold, "the first orders to be answered")
        server.kill()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(e, httpx.TransportError) for e in errors), errors
    acknowledged = {pid: r["order"]["id"] for pid, r in answered.items() if r["errors"] == []}
    refused = {pid: r["errors"][0]["code"] for pid, r in answered.items() if r["errors"]}
    assert set(refused.values()) <= {"OUT_OF_STOCK"}, refused
    assert 5 <= len(acknowledged) and len(answered) < crowd_size, "the kill did not land mid-sale"

    # Restart; every client retries with its own key (the answered ones too).
    await server.start()
    async with httpx.AsyncClient(base_url=server.base, timeout=120,
                                 limits=httpx.Limits(max_connections=40)) as http:
        retried = await asyncio.gather(*(
            gql_post(http, REDEEM, {"itemId": item_id, "quantity": 1,
                                    "idempotencyKey": keys[pid]}, token=token)
            for pid, token in crowd))
    final = {}
    for (pid, _), response in zip(crowd, retried, strict=True):
        assert response.status_code == 200, response.text
        final[pid] = response.json()["data"]["redeem"]
    codes = Counter("OK" if r["errors"] == [] else r["errors"][0]["code"] for r in final.values())
    assert codes == Counter({"OK": stock, "OUT_OF_STOCK": crowd_size - stock}), codes
    for pid, order_id in acknowledged.items():  # every acknowledged order kept, same id
        assert final[pid]["order"]["id"] == order_id

    orders = await Order.filter(item_id=item_id).values("id", "player_id", "idempotency_key")
    assert len(orders) == min(stock, crowd_size)
    assert len({(str(o["player_id"]), o["idempotency_key"]) for o in orders}) == len(orders)
    assert all(o["idempotency_key"] == keys[str(o["player_id"])] for o in orders)
    buyers = {str(o["player_id"]): str(o["id"]) for o in orders}
    assert buyers == {pid: r["order"]["id"] for pid, r in final.items() if r["errors"] == []}
    item = await ShopItem.get(id=item_id)
    assert (item.remaining, item.sold) == (0, stock)
    for pid, _ in crowd:  # charged exactly once per order, never below zero
        assert (await balances(pid))[Asset.CARBON_POINT] == (50 if pid in buyers else 150), pid
    charges = await LedgerTransaction.filter(type="REDEEM").values_list("reference", flat=True)
    assert sorted(charges) == sorted(f"order:{oid}" for oid in buyers.values())
    report = await verify_ledger()
    assert report.ok, report.problems
