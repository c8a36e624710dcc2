"""No N+1: a list query makes as many SQL statements for 20 items as for 2.

Each test builds a list of 2 items, counts the statements one GraphQL request makes, grows
the list to 20 and counts again; the per-item fields read through the DataLoaders of
`schema.loaders`, so the counts are equal. The answers are checked item by item, so a
loader that gave one item another's values would fail too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.requests import Request
from tortoise import connections

from app.accounts.models import Player
from app.clock import utcnow
from app.console.api import ConsoleApi
from app.credits.models import Activity, PartnerRecord
from app.ledger.models import LedgerAccount
from app.ledger.service import Asset, credit, merchant_owner, post
from app.merchants.models import Merchant, MerchantPayment, Settlement
from app.payouts.models import Payout
from app.planet.models import Friendship, Planet
from app.shop.models import Order, ShopItem
from tests.test_websocket import connect

COUNTED = ("execute_query", "execute_query_dict", "execute_insert", "execute_many",
           "execute_script")


@dataclass
class StatementLog:
    """The SQL statements sent on the database connection while `counting` is on."""

    statements: list[str] = field(default_factory=list)
    counting: bool = False


@pytest.fixture
def sql_log(app, monkeypatch) -> Iterator[StatementLog]:
    """Counts statements on the active connection's client class (SQLite or asyncpg)."""
    log = StatementLog()
    client_class = type(connections.get("default"))
    for name in COUNTED:
        original = getattr(client_class, name)

        def counted(self, query: str, *args: Any, _original=original, **kwargs: Any) -> Any:
            if log.counting:
                log.statements.append(query)
            return _original(self, query, *args, **kwargs)

        monkeypatch.setattr(client_class, name, counted)
    yield log


async def statements(gql, sql_log: StatementLog, query: str, token: str,
                     variables: dict | None = None) -> tuple[int, dict]:
    """How many statements one request of `query` makes, and its data."""
    sql_log.statements.clear()
    sql_log.counting = True
    try:
        result = await gql(query, variables, token=token)
    finally:
        sql_log.counting = False
    assert "errors" not in result, result
    return len(sql_log.statements), result["data"]


async def operator(gql) -> tuple[str, str]:
    session = await gql.login("+8613800138091")
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "operator"])
    return session["accessToken"], session["player"]["id"]


def nodes(connection: dict) -> list[dict]:
    return [edge["node"] for edge in connection["edges"]]


async def add_players(count: int, start: int) -> list[Player]:
    return [await Player.create(nickname=f"p{start + i}", city="shenzhen", roles=["player"])
            for i in range(count)]


MERCHANTS = """{ merchants(first: 50) { edges { node {
  id name balancePoints
  payments(first: 2) { edges { node { points merchant { id } } } pageInfo { hasNextPage } }
  settlements(first: 1) { period points }
} } } }"""


async def add_merchants(count: int, start: int) -> None:
    for i in range(start, start + count):
        merchant = await Merchant.create(name=f"m{i}")
        await LedgerAccount.create(owner=merchant_owner(str(merchant.id)),
                                   asset=Asset.CARBON_POINT.value, balance=100 + i)
        for n in range(3):
            await MerchantPayment.create(merchant=merchant, player_id=uuid.uuid4(),
                                         points=i * 10 + n, idempotency_key=f"pay:{i}:{n}")
        for month in (1, 2):
            start_at = datetime(2025, month, 1, tzinfo=UTC)
            await Settlement.create(
                merchant=merchant, period=f"2025-0{month}", period_start=start_at,
                period_end=start_at + timedelta(days=28), payments=1, points=month * 1000 + i,
                cash_fen=i, points_per_yuan=100, status="PAID", statement="")


async def test_merchants_with_balances_payments_and_settlements(gql, sql_log):
    token, _ = await operator(gql)
    await add_merchants(2, 0)
    few, _ = await statements(gql, sql_log, MERCHANTS, token)
    await add_merchants(18, 2)
    many, data = await statements(gql, sql_log, MERCHANTS, token)
    assert many == few
    merchants = nodes(data["merchants"])
    assert len(merchants) == 20
    for merchant in merchants:
        i = int(merchant["name"][1:])
        assert merchant["balancePoints"] == 100 + i
        payments = nodes(merchant["payments"])
        assert [p["points"] for p in payments] == [i * 10 + 2, i * 10 + 1]  # newest first
        assert {p["merchant"]["id"] for p in payments} == {merchant["id"]}
        assert merchant["payments"]["pageInfo"]["hasNextPage"] is True
        assert merchant["settlements"] == [{"period": "2025-02", "points": 2000 + i}]


FRIENDS = """{ me { nickname friends {
  nickname roles
  balances { carbonPoints growth }
  planet { level growth activeTheme { id } }
  ledger(first: 2) { edges { node { amount asset type } } pageInfo { hasNextPage } }
  activities(first: 1) { edges { node { kind steps } } }
  orders(first: 1) { edges { node { quantity item { title } } } }
  friends { nickname }
} } }"""


async def add_friends(me: str, item: ShopItem, count: int, start: int) -> None:
    """Players `me` follows, each with points, a planet, an activity, an order and a friend."""
    for i, friend in enumerate(await add_players(count, start), start):
        await Friendship.create(player_id=me, friend=friend)
        await Friendship.create(player=friend, friend_id=me)
        await post("test-credit", f"test-credit:{friend.id}",
                   credit(str(friend.id), {Asset.CARBON_POINT: 10 + i, Asset.GROWTH: i}))
        await Planet.create(player=friend, state={"growth": i, "level": 1 + i % 3},
                            active_theme="green-energy" if i % 2 else None)
        await Activity.create(player=friend, kind="walk", source="test", occurred_at=utcnow(),
                              local_date=utcnow().date(), steps=1000 + i, status="accepted")
        await Order.create(player_id=friend.id, item=item, quantity=1 + i, points_spent=1,
                           status="CONFIRMED", idempotency_key=f"order:{i}")


async def test_a_players_friends_with_their_own_fields(gql, sql_log):
    token, me = await operator(gql)  # an operator may see other players' private fields
    item = await ShopItem.create(kind="PHYSICAL_GIFT", title="杯子", title_en="Cup", price_points=1)
    await add_friends(me, item, 2, 0)
    few, _ = await statements(gql, sql_log, FRIENDS, token)
    await add_friends(me, item, 18, 2)
    many, data = await statements(gql, sql_log, FRIENDS, token)
    assert many == few
    friends = data["me"]["friends"]
    assert len(friends) == 20
    for friend in friends:
        i = int(friend["nickname"][1:])
        assert friend["roles"] == ["PLAYER"]
        assert friend["balances"] == {"carbonPoints": 10 + i, "growth": i}
        assert friend["planet"]["level"] == 1 + i % 3
        assert friend["planet"]["growth"] == i
        assert friend["planet"]["activeTheme"] == ({"id": "green-energy"} if i % 2 else None)
        lines = nodes(friend["ledger"])
        assert sorted(line["amount"] for line in lines) == (sorted([10 + i, i]) if i else [10])
        assert friend["ledger"]["pageInfo"]["hasNextPage"] is False
        assert nodes(friend["activities"]) == [{"kind": "walk", "steps": 1000 + i}]
        assert nodes(friend["orders"]) == [{"quantity": 1 + i, "item": {"title": "杯子"}}]
        assert friend["friends"] == [{"nickname": data["me"]["nickname"]}]


SHOP = """{
  allShopItems(first: 50) { edges { node { id title remaining sold } } }
  shopItems(first: 50) { edges { node { id title } } }
  shopOrders(first: 50) { edges { node { playerId quantity item { title } } } }
}"""


async def add_items_and_orders(player: Player, count: int, start: int) -> ShopItem:
    item = None
    for i in range(start, start + count):
        item = await ShopItem.create(kind="PHYSICAL_GIFT", title=f"item{i}", title_en=f"item{i}",
                                     price_points=10, remaining=100 - i, sold=i)
        await Order.create(player_id=player.id, item=item, quantity=1, points_spent=10,
                           status="CONFIRMED", idempotency_key=f"order:{i}")
    assert item is not None
    return item


async def test_shop_items_and_orders(gql, sql_log):
    token, me = await operator(gql)
    player = await Player.get(id=me)
    await add_items_and_orders(player, 2, 0)
    few, _ = await statements(gql, sql_log, SHOP, token)
    await add_items_and_orders(player, 18, 2)
    many, data = await statements(gql, sql_log, SHOP, token)
    assert many == few
    items = nodes(data["allShopItems"])
    assert len(items) == 20 and len(nodes(data["shopItems"])) == 20
    assert all(it["remaining"] == 100 - int(it["title"][4:]) for it in items)
    orders = nodes(data["shopOrders"])
    assert len(orders) == 20 and {o["playerId"] for o in orders} == {me}


OPERATOR_LISTS = """{
  payouts(first: 50) { edges { node { id amountFen status } } }
  partnerRecords(first: 50) { edges { node { recordId status } } }
}"""


async def add_payouts_and_records(count: int, start: int) -> None:
    for i in range(start, start + count):
        await Payout.create(id=f"order:{i}", purpose="order", reference=str(i),
                            recipient=f"player:{i}", amount_fen=100 + i,
                            next_attempt_at=utcnow())
        await PartnerRecord.create(partner_id="metro-sz", record_id=f"r{i}", payload={},
                                   status="accepted")


async def test_payouts_and_partner_records(gql, sql_log):
    token, _ = await operator(gql)
    await add_payouts_and_records(2, 0)
    few, _ = await statements(gql, sql_log, OPERATOR_LISTS, token)
    await add_payouts_and_records(18, 2)
    many, data = await statements(gql, sql_log, OPERATOR_LISTS, token)
    assert many == few
    assert len(nodes(data["payouts"])) == 20 and len(nodes(data["partnerRecords"])) == 20


LEADERBOARD = """{ leaderboard(scope: GLOBAL, period: ALL_TIME, first: 50) {
  entries { rank score player { nickname } } me { rank } } }"""


async def test_leaderboard_players(gql, sql_log, app):
    token, _ = await operator(gql)
    boards = app.state.services.leaderboards

    async def add(count: int, start: int) -> None:
        for i, player in enumerate(await add_players(count, start), start):
            await boards.record(str(player.id), player.city, 1000 + i, utcnow())

    await add(2, 0)
    few, _ = await statements(gql, sql_log, LEADERBOARD, token)
    await add(18, 2)
    many, data = await statements(gql, sql_log, LEADERBOARD, token)
    assert many == few
    entries = data["leaderboard"]["entries"]
    assert [e["player"]["nickname"] for e in entries] == [f"p{i}" for i in range(19, -1, -1)]
    assert [e["score"] for e in entries] == [1000 + i for i in range(19, -1, -1)]


async def websocket_query(ws, op_id: str, query: str) -> dict:
    await ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query}})
    message = await ws.receive_json()
    assert message["type"] == "next" and "errors" not in message["payload"], message
    assert (await ws.receive_json()) == {"id": op_id, "type": "complete"}
    return message["payload"]["data"]


async def test_websocket_operations_batch_too(gql, sql_log, app):
    token, _ = await operator(gql)
    await add_merchants(2, 0)
    async with connect(app) as ws:
        await ws.send_json({"type": "connection_init",
                            "payload": {"authorization": f"Bearer {token}"}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        counts = []
        for op_id, more in (("1", 0), ("2", 18)):
            await add_merchants(more, 2)
            sql_log.statements.clear()
            sql_log.counting = True
            data = await websocket_query(ws, op_id, MERCHANTS)
            sql_log.counting = False
            counts.append(len(sql_log.statements))
    assert counts[0] == counts[1]
    assert sorted(m["balancePoints"] for m in nodes(data["merchants"])) == \
        [100 + i for i in range(20)]


async def test_console_runner_batches_too(gql, sql_log, app):
    token, _ = await operator(gql)
    request = Request({"type": "http", "app": app, "method": "GET", "path": "/console",
                       "headers": [], "query_string": b""})
    api = ConsoleApi(request, token)

    async def count() -> tuple[int, dict]:
        sql_log.statements.clear()
        sql_log.counting = True
        result = await api(MERCHANTS)
        sql_log.counting = False
        assert result.errors == [] and result.data is not None
        return len(sql_log.statements), result.data

    await add_merchants(2, 0)
    few, _ = await count()
    await add_merchants(18, 2)
    many, data = await count()
    assert many == few
    assert sorted(m["balancePoints"] for m in nodes(data["merchants"])) == \
        [100 + i for i in range(20)]
