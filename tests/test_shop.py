"""The points shop over GraphQL: catalogue, redemption, refusals, coupon codes, cancel, concurrency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from graphql import parse, print_ast

from app.accounts.models import Player
from app.clock import utcnow
from app.ledger.models import LedgerLine
from app.ledger.service import Asset, balances, credit, post
from app.ledger.verify import verify_ledger
from app.payouts.models import Payout
from app.shop.models import AuditEntry, CouponCode, Order

CONTRACT = (Path(__file__).parent / "contract" / "shop.graphql").read_text()


def operation(name: str) -> str:
    """One operation of the contract file, unchanged."""
    [found] = [d for d in parse(CONTRACT).definitions
               if getattr(d, "name", None) and d.name.value == name]
    return print_ast(found)


REDEEM, SHOP_ITEMS, MY_ORDERS = operation("Redeem"), operation("ShopItems"), operation("MyOrders")
CREATE = """mutation($input: ShopItemInput!, $key: String!) {
  createShopItem(input: $input, idempotencyKey: $key) {
    item { id kind title titleEn pricePoints remaining perPlayerLimit limitPeriod cities usesCodes }
    errors { code message field } } }"""
UPDATE = """mutation($id: ID!, $input: ShopItemInput!) {
  updateShopItem(itemId: $id, input: $input) { item { id pricePoints active } errors { code field } } }"""
STOCK = """mutation($id: ID!, $delta: Int!) {
  adjustShopItemStock(itemId: $id, delta: $delta) { item { remaining } errors { code field } } }"""
IMPORT = """mutation($id: ID!, $codes: [String!]!) {
  importCouponCodes(itemId: $id, codes: $codes) { imported duplicates item { remaining }
    errors { code field } } }"""
CANCEL = """mutation($id: ID!) {
  cancelOrder(orderId: $id, reason: "customer asked") { order { id status pointsSpent }
    errors { code message field } } }"""
AUDIT = """query($id: String) { auditLog(targetId: $id) { edges { node { action actorId before after } } } }"""


async def staff(gql, phone: str, role: str = "operator") -> dict:
    session = await gql.login(phone)
    await Player.filter(id=session["player"]["id"]).update(roles=["player", role])
    return session


async def funded_player(gql, phone: str, points: int, city: str | None = None) -> dict:
    session = await gql.login(phone)
    player_id = session["player"]["id"]
    if city:
        await Player.filter(id=player_id).update(city=city)
    if points:
        await post("TEST_CREDIT", f"fund:{player_id}:{uuid.uuid4()}",
                   credit(player_id, {Asset.CARBON_POINT: points}))
    return session


async def create_item(gql, token: str, **fields) -> dict:
    data = {"kind": "COUPON", "title": "地铁优惠券", "titleEn": "Metro coupon", "pricePoints": 100,
            **fields}
    result = await gql(CREATE, {"input": data, "key": str(uuid.uuid4())}, token=token)
    payload = result["data"]["createShopItem"]
    assert payload["errors"] == [], payload
    return payload["item"]


async def redeem(gql, token: str, item_id: str, quantity: int = 1, key: str | None = None) -> dict:
    result = await gql(REDEEM, {"itemId": item_id, "quantity": quantity,
                                "idempotencyKey": key or str(uuid.uuid4())}, token=token)
    return result["data"]["redeem"]


async def points(player_id: str) -> int:
    return (await balances(player_id))[Asset.CARBON_POINT]


async def remaining(gql, item_id: str) -> int | None:
    items = (await gql(SHOP_ITEMS, {"first": 100}))["data"]["shopItems"]["edges"]
    return next(e["node"]["remaining"] for e in items if e["node"]["id"] == item_id)


async def test_operators_manage_the_catalogue_and_every_change_is_audited(gql):
    op = await staff(gql, "+8613800138001")
    player = await funded_player(gql, "+8613800138002", 0, city="shenzhen")
    data = {"kind": "PHYSICAL_GIFT", "title": "帆布袋", "titleEn": "Canvas bag", "pricePoints": 300}
    refused = await gql(CREATE, {"input": data, "key": "k1"}, token=player["accessToken"])
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await gql(CREATE, {"input": {**data, "pricePoints": 0}, "key": "k1"}, token=op["accessToken"])
    assert bad["data"]["createShopItem"]["errors"] == [
        {"code": "INVALID_INPUT", "message": "pricePoints is between 1 and 10000000.",
         "field": "pricePoints"}]
    bad_city = await gql(CREATE, {"input": {**data, "cities": ["atlantis"]}, "key": "k1"},
                         token=op["accessToken"])
    assert bad_city["data"]["createShopItem"]["errors"][0]["field"] == "cities"

    made = await gql(CREATE, {"input": {**data, "stock": 5}, "key": "k1"}, token=op["accessToken"])
    again = await gql(CREATE, {"input": {**data, "stock": 5}, "key": "k1"}, token=op["accessToken"])
    item = made["data"]["createShopItem"]["item"]
    assert again["data"]["createShopItem"]["item"]["id"] == item["id"]  # idempotent
    assert item["remaining"] == 5 and item["limitPeriod"] == "TOTAL"
    beijing = await create_item(gql, op["accessToken"], title="京券", titleEn="Beijing only",
                                cities=["beijing"])

    anonymous = {e["node"]["id"] for e in (await gql(SHOP_ITEMS, {}))["data"]["shopItems"]["edges"]}
    assert {item["id"], beijing["id"]} <= anonymous
    mine = await gql(SHOP_ITEMS, {}, token=player["accessToken"])
    seen = {e["node"]["id"] for e in mine["data"]["shopItems"]["edges"]}
    assert item["id"] in seen and beijing["id"] not in seen  # another city's item is hidden

    updated = await gql(UPDATE, {"id": item["id"], "input": {"pricePoints": 250}},
                        token=op["accessToken"])
    assert updated["data"]["updateShopItem"]["item"]["pricePoints"] == 250
    topped = await gql(STOCK, {"id": item["id"], "delta": 10}, token=op["accessToken"])
    assert topped["data"]["adjustShopItemStock"]["item"]["remaining"] == 15
    too_much = await gql(STOCK, {"id": item["id"], "delta": -16}, token=op["accessToken"])
    assert too_much["data"]["adjustShopItemStock"]["errors"][0]["code"] == "OUT_OF_STOCK"
    withdrawn = await gql(UPDATE, {"id": item["id"], "input": {"active": False}},
                          token=op["accessToken"])
    assert withdrawn["data"]["updateShopItem"]["item"]["active"] is False
    listed = {e["node"]["id"] for e in (await gql(SHOP_ITEMS, {}))["data"]["shopItems"]["edges"]}
    assert item["id"] not in listed

    log = await gql(AUDIT, {"id": item["id"]}, token=op["accessToken"])
    entries = [e["node"] for e in log["data"]["auditLog"]["edges"]]
    assert [e["action"] for e in entries] == [
        "shop.item.update", "shop.item.stock", "shop.item.update", "shop.item.create"]
    assert all(e["actorId"] == op["player"]["id"] for e in entries)
    assert '"price_points": 300' in entries[2]["before"] and '"price_points": 250' in entries[2]["after"]
    assert (await gql(AUDIT, {}, token=player["accessToken"]))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_redeem_debits_points_takes_stock_and_a_retry_never_charges_twice(gql):
    op = await staff(gql, "+8613800138003")
    player = await funded_player(gql, "+8613800138004", 1000)
    token, player_id = player["accessToken"], player["player"]["id"]
    item = await create_item(gql, op["accessToken"], kind="TRANSIT_RIDE", stock=10, pricePoints=120)

    first = await redeem(gql, token, item["id"], 2, key="order-1")
    assert first["errors"] == []
    order = first["order"]
    assert order["status"] == "CONFIRMED" and order["pointsSpent"] == 240 and order["quantity"] == 2
    assert order["item"] == {"id": item["id"]}
    assert await points(player_id) == 760 and await remaining(gql, item["id"]) == 8

    retry = await redeem(gql, token, item["id"], 2, key="order-1")
    assert retry["order"]["id"] == order["id"]
    assert await points(player_id) == 760 and await remaining(gql, item["id"]) == 8
    other = await redeem(gql, token, item["id"], 3, key="order-1")
    assert other["errors"][0]["code"] == "CONFLICT" and await points(player_id) == 760

    orders = await gql(MY_ORDERS, {"first": 10}, token=token)
    nodes = [e["node"] for e in orders["data"]["me"]["orders"]["edges"]]
    assert [(n["id"], n["pointsSpent"], n["item"]["title"]) for n in nodes] == [
        (order["id"], 240, "地铁优惠券")]
    assert (await verify_ledger()).ok


async def test_every_refusal_is_typed_and_changes_nothing(gql):
    op = (await staff(gql, "+8613800138005"))["accessToken"]
    player = await funded_player(gql, "+8613800138006", 500, city="shenzhen")
    token, player_id = player["accessToken"], player["player"]["id"]
    now = utcnow()
    cheap = await create_item(gql, op, stock=3, pricePoints=100, perPlayerLimit=2,
                              limitPeriod="DAY")
    dear = await create_item(gql, op, stock=3, pricePoints=600)
    later = await create_item(gql, op, pricePoints=10,
                              availableFrom=(now + timedelta(days=1)).isoformat())
    over = await create_item(gql, op, pricePoints=10,
                             availableFrom=(now - timedelta(days=2)).isoformat(),
                             availableUntil=(now - timedelta(days=1)).isoformat())
    elsewhere = await create_item(gql, op, pricePoints=10, cities=["beijing"])

    async def refused(item_id: str, quantity: int, code: str, field: str) -> None:
        orders_before = await Order.all().count()
        result = await redeem(gql, token, item_id, quantity)
        assert result["order"] is None
        assert [(e["code"], e["field"]) for e in result["errors"]] == [(code, field)], result
        assert await Order.all().count() == orders_before

    assert (await redeem(gql, token, cheap["id"], 2))["errors"] == []  # the day's limit, used up
    await refused(cheap["id"], 1, "LIMIT_REACHED", "quantity")
    await refused(cheap["id"], 3, "LIMIT_REACHED", "quantity")
    await refused(dear["id"], 1, "INSUFFICIENT_POINTS", None)
    await refused(later["id"], 1, "NOT_AVAILABLE", "itemId")
    await refused(over["id"], 1, "NOT_AVAILABLE", "itemId")
    await refused(elsewhere["id"], 1, "NOT_AVAILABLE", "itemId")
    await refused(str(uuid.uuid4()), 1, "NOT_FOUND", "itemId")
    await refused("not-an-id", 1, "NOT_FOUND", "itemId")
    await refused(cheap["id"], 0, "INVALID_INPUT", "quantity")
    rich = await funded_player(gql, "+8613800138007", 5000)
    assert (await redeem(gql, rich["accessToken"], dear["id"], 3))["errors"] == []
    result = await redeem(gql, rich["accessToken"], dear["id"], 1)
    assert [e["code"] for e in result["errors"]] == ["OUT_OF_STOCK"]
    assert await points(player_id) == 300 and await points(rich["player"]["id"]) == 3200
    assert await remaining(gql, dear["id"]) == 0 and await remaining(gql, cheap["id"]) == 1
    assert (await verify_ledger()).ok


async def test_coupon_codes_each_go_to_exactly_one_order(gql):
    op = (await staff(gql, "+8613800138008"))["accessToken"]
    item = await create_item(gql, op, usesCodes=True, pricePoints=10)
    assert item["remaining"] == 0 and item["usesCodes"] is True
    imported = await gql(IMPORT, {"id": item["id"], "codes": ["A1", "A2", "A3", "A2"]}, token=op)
    assert imported["data"]["importCouponCodes"] == {
        "imported": 3, "duplicates": ["A2"], "item": {"remaining": 3}, "errors": []}
    again = await gql(IMPORT, {"id": item["id"], "codes": ["A3", "A4", "A5"]}, token=op)
    assert again["data"]["importCouponCodes"]["imported"] == 2
    assert again["data"]["importCouponCodes"]["duplicates"] == ["A3"]
    stock = await gql(STOCK, {"id": item["id"], "delta": 5}, token=op)
    assert stock["data"]["adjustShopItemStock"]["errors"][0]["field"] == "delta"

    players = [await funded_player(gql, f"+86139001390{i:02d}", 100) for i in range(8)]
    results = await asyncio.gather(*[redeem(gql, p["accessToken"], item["id"]) for p in players])
    won = [r["order"] for r in results if r["order"]]
    assert len(won) == 5
    assert sorted(r["errors"][0]["code"] for r in results if not r["order"]) == ["OUT_OF_STOCK"] * 3
    codes = [o["couponCode"] for o in won]
    assert sorted(codes) == ["A1", "A2", "A3", "A4", "A5"]
    assigned = await CouponCode.filter(order_id__isnull=False).values_list("order_id", flat=True)
    assert sorted(map(str, assigned)) == sorted(o["id"] for o in won)


async def test_cancel_refunds_with_a_compensating_transaction(gql):
    op = await staff(gql, "+8613800138009")
    player = await funded_player(gql, "+8613800138010", 1000)
    token, player_id = player["accessToken"], player["player"]["id"]
    item = await create_item(gql, op["accessToken"], kind="DONATION", stock=4, pricePoints=400,
                             perPlayerLimit=1)
    order = (await redeem(gql, token, item["id"]))["order"]
    assert (await redeem(gql, token, item["id"]))["errors"][0]["code"] == "LIMIT_REACHED"
    lines_before = await LedgerLine.all().count()

    assert (await gql(CANCEL, {"id": order["id"]}, token=token))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    cancelled = await gql(CANCEL, {"id": order["id"]}, token=op["accessToken"])
    assert cancelled["data"]["cancelOrder"]["order"]["status"] == "CANCELLED"
    twice = await gql(CANCEL, {"id": order["id"]}, token=op["accessToken"])
    assert twice["data"]["cancelOrder"]["order"]["status"] == "CANCELLED"
    assert await points(player_id) == 1000 and await remaining(gql, item["id"]) == 4
    assert await LedgerLine.all().count() == lines_before + 2  # added, nothing edited or removed
    assert await AuditEntry.filter(action="shop.order.cancel", target_id=order["id"]).count() == 1
    assert (await redeem(gql, token, item["id"]))["errors"] == []  # the limit came back too
    assert (await verify_ledger()).ok


async def test_a_red_packet_order_waits_for_its_payout_in_the_outbox(gql):
    op = await staff(gql, "+8613800138011")
    player = await funded_player(gql, "+8613800138012", 1000)
    item = await create_item(gql, op["accessToken"], kind="CASH_RED_PACKET", pricePoints=200,
                             cashFen=188, stock=5)
    order = (await redeem(gql, player["accessToken"], item["id"], 2))["order"]
    assert order["status"] == "PENDING_PAYOUT"
    payout = await Payout.get(id=f"order:{order['id']}")
    assert (payout.amount_fen, payout.recipient, payout.status) == (
        376, f"player:{player['player']['id']}", "PENDING")
    cancel = await gql(CANCEL, {"id": order["id"]}, token=op["accessToken"])
    assert cancel["data"]["cancelOrder"]["errors"][0]["code"] == "CONFLICT"


# ---------------------------------------------------------------- concurrency (the flash sale)


async def players_with_points(app, count: int, points_each: int) -> list[tuple[str, str]]:
    """(player id, access token) for `count` new players, each credited `points_each`."""
    sessions = app.state.services.sessions
    players = [Player(nickname=f"p{i}") for i in range(count)]
    await Player.bulk_create(players)
    out = []
    for p in await Player.filter(nickname__in=[p.nickname for p in players]):
        await post("TEST_CREDIT", f"fund:{p.id}", credit(str(p.id), {Asset.CARBON_POINT: points_each}))
        out.append((str(p.id), (await sessions.start(p, "test")).access_token))
    return out


async def test_flash_sale_500_players_50_in_stock(gql, app):
    op = (await staff(gql, "+8613800138013"))["accessToken"]
    item = await create_item(gql, op, kind="PHYSICAL_GIFT", stock=50, pricePoints=100)
    crowd = await players_with_points(app, 500, 150)
    results = await asyncio.gather(*[redeem(gql, token, item["id"]) for _, token in crowd])
    codes = [r["errors"][0]["code"] if r["errors"] else "OK" for r in results]
    assert codes.count("OK") == 50 and codes.count("OUT_OF_STOCK") == 450
    assert await Order.filter(item_id=item["id"]).count() == 50
    assert await remaining(gql, item["id"]) == 0
    spent = [await points(pid) for pid, _ in crowd]
    assert sorted(set(spent)) == [50, 150] and spent.count(50) == 50
    report = await verify_ledger()
    assert report.ok, report.problems


async def test_one_player_100_concurrent_redemptions_with_points_for_10(gql, app):
    op = (await staff(gql, "+8613800138014"))["accessToken"]
    item = await create_item(gql, op, stock=1000, pricePoints=30)
    [(player_id, token)] = await players_with_points(app, 1, 300)
    results = await asyncio.gather(*[redeem(gql, token, item["id"]) for _ in range(100)])
    codes = [r["errors"][0]["code"] if r["errors"] else "OK" for r in results]
    assert codes.count("OK") == 10 and codes.count("INSUFFICIENT_POINTS") == 90
    assert await points(player_id) == 0 and await remaining(gql, item["id"]) == 990
    assert (await verify_ledger()).ok


async def test_one_idempotency_key_sent_20_times_at_once_makes_one_order(gql, app):
    op = (await staff(gql, "+8613800138015"))["accessToken"]
    item = await create_item(gql, op, stock=100, pricePoints=10)
    [(player_id, token)] = await players_with_points(app, 1, 1000)
    results = await asyncio.gather(*[redeem(gql, token, item["id"], 3, key="tap-tap-tap")
                                     for _ in range(20)])
    assert all(r["errors"] == [] for r in results), results
    assert len({r["order"]["id"] for r in results}) == 1
    assert await Order.filter(player_id=player_id).count() == 1
    assert await points(player_id) == 970 and await remaining(gql, item["id"]) == 97
