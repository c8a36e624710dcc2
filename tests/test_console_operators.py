"""The operators' console pages over HTTP (no browser): the shop, merchants and their
settlements, the payout queue, partners' records and players, each a client of the
GraphQL API run in process."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.accounts.models import Player
from app.credits.models import PartnerRecord
from app.ledger.service import Asset, balances, credit, post
from app.merchants.models import Merchant, MerchantPayment, Settlement
from app.merchants.settlement import settle
from app.payouts.models import Payout
from app.shop.models import CouponCode, Order, ShopItem
from tests.partner_client import send, trip
from tests.test_console import console_login, csrf_of

CST = ZoneInfo("Asia/Shanghai")
OPERATOR_PAGES = ["/console/shop", "/console/shop/items/new", "/console/shop/orders",
                  f"/console/shop/items/{uuid.uuid4()}", "/console/merchants",
                  f"/console/merchants/{uuid.uuid4()}", "/console/payouts",
                  "/console/payouts?status=FAILED", "/console/partners", "/console/players",
                  f"/console/players/{uuid.uuid4()}"]
PUBLIC_ITEMS = "{ shopItems(first: 20) { edges { node { id title pricePoints remaining } } } }"
REDEEM = """mutation($item: ID!, $key: String!) { redeem(itemId: $item, quantity: 1,
  idempotencyKey: $key) { order { id status } errors { code message } } }"""
PAY = """mutation($m: ID!, $p: Int!, $k: String!) { payMerchant(merchantId: $m, points: $p,
  idempotencyKey: $k) { payment { id } errors { code message } } }"""


@pytest.fixture
async def browser_like(app):
    """A client over https, as a browser is (console cookies are Secure)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test",
                                 headers={"Accept-Language": "en"}) as c:
        yield c


def field_messages(html: str, field: str) -> list[str]:
    return [unescape(m) for m in re.findall(rf'data-field="{field}">([^<]+)<', html)]


async def item_form(c, **values: str) -> dict[str, str]:
    """The new-item form's hidden fields, with `values` filled in."""
    page = await c.get("/console/shop/items/new")
    assert page.status_code == 200, page.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    return {"csrf": csrf_of(page.text), "idempotency_key": key, "kind": "PHYSICAL_GIFT",
            "title": "竹制餐具", "titleEn": "Bamboo cutlery", "pricePoints": "120",
            "stock": "50", "limitPeriod": "TOTAL", "active": "on", **values}


async def with_points(gql, phone: str, points: int) -> dict:
    session = await gql.login(phone)
    await post("test-credit", f"test-credit:{uuid.uuid4()}",
               credit(session["player"]["id"], {Asset.CARBON_POINT: points}))
    return session


async def test_an_operator_creates_an_item_and_players_see_it(browser_like, app, gql):
    c = browser_like
    await console_login(c, app, "+8613800138501", "operator")
    tomorrow = (datetime.now(CST) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    form = await item_form(c, availableUntil=tomorrow, perPlayerLimit="2", limitPeriod="DAY",
                           description="可重复使用", cities="shenzhen")
    created = await c.post("/console/shop/items/new", data=form)
    assert created.status_code == 303, created.text
    item_id = created.headers["location"].split("/")[-1].split("?")[0]
    again = await c.post("/console/shop/items/new", data=form)  # a double submit: one item
    assert again.headers["location"].split("/")[-1].split("?")[0] == item_id
    assert await ShopItem.all().count() == 1

    seen = (await gql(PUBLIC_ITEMS))["data"]["shopItems"]["edges"]
    assert [e["node"] for e in seen] == [{"id": item_id, "title": "竹制餐具", "pricePoints": 120,
                                          "remaining": 50}]
    stored = await ShopItem.get(id=item_id)
    assert (stored.per_player_limit, stored.limit_period, stored.cities) == (2, "DAY", ["shenzhen"])
    assert stored.available_until.astimezone(CST).strftime("%Y-%m-%dT%H:%M") == tomorrow

    page = await c.get(f"/console/shop/items/{item_id}")
    assert page.status_code == 200 and 'value="Bamboo cutlery"' in page.text
    assert f'value="{tomorrow}"' in page.text  # shown in city time, as it was typed
    csrf = csrf_of(page.text)
    edited = await c.post(f"/console/shop/items/{item_id}", data={
        "csrf": csrf, "title": "竹制餐具", "titleEn": "Bamboo cutlery set", "pricePoints": "150",
        "limitPeriod": "DAY", "cities": "shenzhen", "active": "on"})
    assert edited.status_code == 303, edited.text
    stocked = await c.post(f"/console/shop/items/{item_id}/stock",
                           data={"csrf": csrf, "delta": "-20", "note": "damaged"})
    assert stocked.status_code == 303, stocked.text
    stored = await ShopItem.get(id=item_id)
    assert (stored.title_en, stored.price_points, stored.remaining) == (
        "Bamboo cutlery set", 150, 30)
    too_many = await c.post(f"/console/shop/items/{item_id}/stock",
                            data={"csrf": csrf, "delta": "-31"})
    assert too_many.status_code == 400 and field_messages(too_many.text, "delta")
    assert (await ShopItem.get(id=item_id)).remaining == 30
    catalogue = await c.get("/console/shop")
    row = re.search(rf'data-item="{item_id}".*?</tr>', catalogue.text, re.DOTALL).group(0)
    assert "Bamboo cutlery set" in row and '<td class="num stock">30</td>' in row
    withdrawn = await c.post(f"/console/shop/items/{item_id}", data={
        "csrf": csrf, "title": "竹制餐具", "pricePoints": "150", "limitPeriod": "DAY"})
    assert withdrawn.status_code == 303
    assert (await gql(PUBLIC_ITEMS))["data"]["shopItems"]["edges"] == []
    assert "Bamboo cutlery set" in (await c.get("/console/shop")).text  # operators still see it
    stored = await ShopItem.get(id=item_id)  # an empty title kept its value
    assert (stored.active, stored.title_en, stored.description) == (False, "Bamboo cutlery set", "")


@pytest.mark.parametrize("price", ["0", "-5", "12.5", "lots"])
async def test_a_bad_price_shows_the_apis_error_at_the_price_field(browser_like, app, price):
    c = browser_like
    await console_login(c, app, "+8613800138502", "operator")
    form = await item_form(c, pricePoints=price)
    refused = await c.post("/console/shop/items/new", data=form)
    assert refused.status_code == 400
    [message] = field_messages(refused.text, "pricePoints")
    assert "pricePoints" in message or "Int" in message, message
    assert f'id="pricePoints" inputmode="numeric" value="{price}"' in refused.text
    assert 'value="Bamboo cutlery"' in refused.text  # the rest as typed
    assert await ShopItem.all().count() == 0


async def test_a_window_that_ends_before_it_starts_is_refused_at_its_field(browser_like, app):
    c = browser_like
    await console_login(c, app, "+8613800138503", "operator")
    form = await item_form(c, availableFrom="2030-01-02T10:00", availableUntil="2030-01-01T10:00")
    refused = await c.post("/console/shop/items/new", data=form)
    assert refused.status_code == 400 and field_messages(refused.text, "availableUntil")
    assert await ShopItem.all().count() == 0


async def test_coupon_codes_are_imported_one_a_line(browser_like, app, gql):
    c = browser_like
    await console_login(c, app, "+8613800138504", "operator")
    form = await item_form(c, kind="COUPON", title="地铁九折券", titleEn="Metro 10% off",
                           stock="", usesCodes="on")
    created = await c.post("/console/shop/items/new", data=form)
    assert created.status_code == 303, created.text
    item_id = created.headers["location"].split("/")[-1].split("?")[0]
    page = await c.get(f"/console/shop/items/{item_id}")
    assert 'id="codes-form"' in page.text and 'id="stock-form"' not in page.text
    csrf = csrf_of(page.text)
    imported = await c.post(f"/console/shop/items/{item_id}/codes",
                            data={"csrf": csrf, "codes": "SZ-001\r\nSZ-002\n\n  SZ-003 \nSZ-002\n"})
    assert imported.status_code == 200
    assert "3 codes imported" in imported.text and "SZ-002" in imported.text  # the repeat named
    assert sorted(await CouponCode.filter(item_id=item_id).values_list("code", flat=True)) == [
        "SZ-001", "SZ-002", "SZ-003"]
    again = await c.post(f"/console/shop/items/{item_id}/codes",
                         data={"csrf": csrf, "codes": "SZ-003\nSZ-004"})
    assert "1 codes imported" in again.text
    assert (await ShopItem.get(id=item_id)).remaining == 4

    too_long = await c.post(f"/console/shop/items/{item_id}/codes",
                            data={"csrf": csrf, "codes": "X" * 101})
    assert too_long.status_code == 400 and field_messages(too_long.text, "codes")
    empty = await c.post(f"/console/shop/items/{item_id}/codes", data={"csrf": csrf, "codes": ""})
    assert empty.status_code == 400 and field_messages(empty.text, "codes")
    assert await CouponCode.filter(item_id=item_id).count() == 4

    buyer = await with_points(gql, "+8613800138505", 500)
    redeemed = await gql(REDEEM, {"item": item_id, "key": "k1"}, token=buyer["accessToken"])
    assert redeemed["data"]["redeem"]["order"]["status"] == "CONFIRMED", redeemed


async def test_an_order_is_cancelled_and_refunded_with_a_reason(browser_like, app, gql):
    c = browser_like
    await console_login(c, app, "+8613800138506", "operator")
    created = await c.post("/console/shop/items/new", data=await item_form(c))
    item_id = created.headers["location"].split("/")[-1].split("?")[0]
    buyer = await with_points(gql, "+8613800138507", 500)
    order = (await gql(REDEEM, {"item": item_id, "key": "k1"},
                       token=buyer["accessToken"]))["data"]["redeem"]["order"]
    assert (await balances(buyer["player"]["id"]))[Asset.CARBON_POINT] == 380

    orders = await c.get("/console/shop/orders?status=CONFIRMED")
    assert f'data-order="{order["id"]}"' in orders.text
    csrf = csrf_of(orders.text)
    no_reason = await c.post(f"/console/shop/orders/{order['id']}/cancel",
                             data={"csrf": csrf, "reason": " ", "next": "/console/shop/orders"})
    assert no_reason.status_code == 400 and field_messages(no_reason.text, "reason")
    assert (await Order.get(id=order["id"])).status == "CONFIRMED"
    away = await c.post(f"/console/shop/orders/{order['id']}/cancel",
                        data={"csrf": csrf, "reason": "out of stock at the depot",
                              "next": "https://elsewhere.example/"})
    assert away.status_code == 303 and away.headers["location"].startswith("/console/shop/orders")
    assert (await Order.get(id=order["id"])).status == "CANCELLED"
    assert (await balances(buyer["player"]["id"]))[Asset.CARBON_POINT] == 500
    listed = await c.get("/console/shop/orders?status=CANCELLED")
    assert "out of stock at the depot" in listed.text


async def test_merchants_balances_settlements_and_statements(browser_like, app, gql, tmp_path):
    c = browser_like
    await console_login(c, app, "+8613800138508", "operator")
    page = await c.get("/console/merchants")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    empty = await c.post("/console/merchants", data={"csrf": csrf_of(page.text), "name": " ",
                                                     "idempotency_key": key})
    assert empty.status_code == 400 and field_messages(empty.text, "name")
    assert await Merchant.all().count() == 0
    created = await c.post("/console/merchants", data={
        "csrf": csrf_of(page.text), "name": "绿叶咖啡", "city": "shenzhen", "idempotency_key": key})
    assert created.status_code == 303, created.text
    merchant_id = created.headers["location"].split("/")[-1].split("?")[0]

    payer = await with_points(gql, "+8613800138509", 1000)
    paid = await gql(PAY, {"m": merchant_id, "p": 250, "k": "p1"}, token=payer["accessToken"])
    payment_id = paid["data"]["payMerchant"]["payment"]["id"]
    listed = await c.get("/console/merchants")
    row = re.search(rf'data-merchant="{merchant_id}".*?</tr>', listed.text, re.DOTALL).group(0)
    assert '<td class="num balance">250</td>' in row

    in_march = datetime(2025, 3, 10, 9, tzinfo=CST)
    await MerchantPayment.filter(id=payment_id).update(created_at=in_march)
    report = await settle("2025-03", datetime.now(UTC), 100, tmp_path)
    settlement = report.outcomes[0].settlement
    detail = await c.get(f"/console/merchants/{merchant_id}")
    assert f'data-settlement="{settlement.id}"' in detail.text and 'id="balance">0<' in detail.text
    statement = await c.get(f"/console/merchants/{merchant_id}/settlements/{settlement.id}.csv")
    assert statement.status_code == 200 and statement.text == settlement.statement
    assert statement.headers["content-type"].startswith("text/csv")
    queue = await c.get("/console/payouts")
    assert f'data-payout="settlement:{settlement.id}"' in queue.text

    csrf = csrf_of(detail.text)
    nobody = await c.post(f"/console/merchants/{merchant_id}/staff",
                          data={"csrf": csrf, "phone": "+8613800138599"})
    assert nobody.status_code == 400 and field_messages(nobody.text, "phone")
    cashier = await gql.login("+8613800138510")
    added = await c.post(f"/console/merchants/{merchant_id}/staff",
                         data={"csrf": csrf, "phone": "13800138510"})
    assert added.status_code == 303, added.text
    assert "merchant" in (await Player.get(id=cashier["player"]["id"])).roles
    out = await c.post(f"/console/merchants/{merchant_id}/active",
                       data={"csrf": csrf, "active": "false"})
    assert out.status_code == 303 and not (await Merchant.get(id=merchant_id)).active
    assert await Settlement.all().count() == 1


async def test_the_payout_queue_shows_retrying_and_failed_payouts_with_reasons(browser_like, app):
    c = browser_like
    await console_login(c, app, "+8613800138511", "operator")
    now = datetime.now(UTC)
    await Payout.create(id="order:waiting", purpose="order", reference="waiting",
                        recipient="player:x", amount_fen=500, next_attempt_at=now)
    await Payout.create(id="order:retrying", purpose="order", reference="retrying",
                        recipient="player:y", amount_fen=800, attempts=2,
                        last_error="provider timed out", next_attempt_at=now + timedelta(minutes=4))
    await Payout.create(id="settlement:failed", purpose="settlement", reference="failed",
                        recipient="merchant:z", amount_fen=12345, attempts=1, status="FAILED",
                        last_error="refused: account closed", finished_at=now,
                        next_attempt_at=now)
    pending = await c.get("/console/payouts")
    assert pending.status_code == 200
    rows = dict(re.findall(r'data-payout="([^"]+)"(.*?)</tr>', pending.text, re.DOTALL))
    assert set(rows) == {"order:waiting", "order:retrying"}
    assert "retrying" in rows["order:retrying"] and "provider timed out" in rows["order:retrying"]
    assert "retrying" not in rows["order:waiting"].replace('class="retrying"', "")
    failed = await c.get("/console/payouts?status=FAILED")
    rows = dict(re.findall(r'data-payout="([^"]+)"(.*?)</tr>', failed.text, re.DOTALL))
    assert set(rows) == {"settlement:failed"}
    assert "refused: account closed" in rows["settlement:failed"]
    assert "123.45" in rows["settlement:failed"]


async def test_a_refused_partner_record_shows_in_the_refusals_chart(browser_like, app, client, gql):
    c = browser_like
    rider = await gql.login("+8613800138512")
    rider_id = rider["player"]["id"]
    response = await send(client, [trip("ok-1", rider_id),
                                   trip("fast-1", rider_id, meters=60000, minutes=10)])
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "rejected"]
    assert response.json()["results"][1]["reason"] == "IMPLAUSIBLE_SPEED"
    received = (await PartnerRecord.get(record_id="fast-1")).received_at.astimezone(CST).date()

    await console_login(c, app, "+8613800138513", "operator")
    page = await c.get("/console/partners")
    assert page.status_code == 200
    chart = re.search(r'<svg id="refusals-chart".*?</svg>', page.text, re.DOTALL).group(0)
    assert f'id="series-IMPLAUSIBLE_SPEED-{received.isoformat()}"' in chart
    records = re.search(r'<svg id="records-chart".*?</svg>', page.text, re.DOTALL).group(0)
    assert f'-{received.isoformat()}"' in records
    day = re.search(rf'<tr data-day="{received.isoformat()}">(.*?)</tr>', page.text,
                    re.DOTALL).group(1)
    assert re.findall(r'<td class="num"[^>]*>(\d+)</td>', day) == ["1", "1", "1"]
    assert '<td class="mono">IMPLAUSIBLE_SPEED</td>' in page.text  # the latest refused records

    other_partner = await c.get("/console/partners?partner=bus-sz")
    assert "series-IMPLAUSIBLE_SPEED" not in other_partner.text
    too_long = await c.get("/console/partners?since=2020-01-01&until=2021-01-01")
    assert too_long.status_code == 200 and "At most 92 days" in too_long.text


async def test_partner_records_are_counted_by_the_citys_local_day(client, gql):
    rider = await gql.login("+8613800138522")
    rider_id = rider["player"]["id"]
    await send(client, [trip("late", rider_id), trip("early", rider_id, ago=timedelta(hours=3)),
                        trip("fast", rider_id, meters=60000, minutes=10)])
    # 23:59 and 00:01 in Shenzhen, a minute either side of its midnight
    await PartnerRecord.filter(record_id="late").update(
        received_at=datetime(2026, 1, 1, 15, 59, tzinfo=UTC))
    await PartnerRecord.filter(record_id__in=["early", "fast"]).update(
        received_at=datetime(2026, 1, 1, 16, 1, tzinfo=UTC))
    operator = await gql.login("+8613800138523")
    await Player.filter(id=operator["player"]["id"]).update(roles=["player", "operator"])
    query = """query($since: Date!, $until: Date!, $partner: String) {
      partnerRecordDays(since: $since, until: $until, partnerId: $partner) {
        date partnerId status reason records } }"""
    days = (await gql(query, {"since": "2026-01-01", "until": "2026-01-02"},
                      token=operator["accessToken"]))["data"]["partnerRecordDays"]
    assert days == [
        {"date": "2026-01-01", "partnerId": "metro-sz", "status": "accepted", "reason": None,
         "records": 1},
        {"date": "2026-01-02", "partnerId": "metro-sz", "status": "accepted", "reason": None,
         "records": 1},
        {"date": "2026-01-02", "partnerId": "metro-sz", "status": "rejected",
         "reason": "IMPLAUSIBLE_SPEED", "records": 1}]
    one_day = await gql(query, {"since": "2026-01-02", "until": "2026-01-02", "partner": "bus"},
                        token=operator["accessToken"])
    assert one_day["data"]["partnerRecordDays"] == []
    backwards = await gql(query, {"since": "2026-01-02", "until": "2026-01-01"},
                          token=operator["accessToken"])
    assert backwards["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "until"}
    # the calendar's first day: refused by its field, not an overflow
    for since, until, field in (("0001-01-01", "0001-01-02", "since"), ("2026-01-01", "9999-12-31", "until")):
        edge = await gql(query, {"since": since, "until": until}, token=operator["accessToken"])
        assert edge["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}, edge


async def test_a_player_is_found_by_phone_with_their_ledger_and_activities(browser_like, app,
                                                                         client, gql):
    c = browser_like
    rider = await gql.login("+8613800138514")
    rider_id = rider["player"]["id"]
    start = datetime.now(CST) - timedelta(hours=20)
    trips = [trip(f"t{n}", rider_id, start=start + timedelta(minutes=40 * n), meters=2000)
             for n in range(21)]
    trips.append(trip("t-short", rider_id, start=start + timedelta(minutes=40 * 21), meters=10))
    await send(client, trips)

    await console_login(c, app, "+8613800138515", "operator")
    form = await c.get("/console/players")
    csrf = csrf_of(form.text)
    found = await c.post("/console/players", data={"csrf": csrf, "phone": "138 0013 8514"})
    assert found.status_code == 303 and found.headers["location"] == f"/console/players/{rider_id}"
    page = await c.get(found.headers["location"])
    assert page.status_code == 200
    points = (await balances(rider_id))[Asset.CARBON_POINT]
    assert f'id="carbon-points">{points}<' in page.text and points > 0
    ledger = re.search(r'<table id="ledger">.*?</table>', page.text, re.DOTALL).group(0)
    assert "ACTIVITY_CREDIT" in ledger
    assert len(re.findall(r'data-activity="', page.text)) == 20
    older = re.search(r'id="activities-more" href="([^"]+)"', page.text).group(1)
    rest = await c.get(unescape(older))
    assert len(re.findall(r'data-activity="', rest.text)) == 2
    # the refused one, on either page, says why, as the player reads it
    rows = re.findall(r'<tr data-activity="[^"]+">.*?</tr>', page.text + rest.text, re.DOTALL)
    [short] = [row for row in rows if "refused" in row]
    assert "TOO_SHORT" in short and "The trip was too short to count." in short
    assert 'id="roles-form"' not in page.text and 'id="role-list"' in page.text

    nobody = await c.post("/console/players", data={"csrf": csrf, "phone": "+8613800138598"})
    assert nobody.status_code == 404 and field_messages(nobody.text, "phone")
    not_a_phone = await c.post("/console/players", data={"csrf": csrf, "phone": "12"})
    assert not_a_phone.status_code == 400 and field_messages(not_a_phone.text, "phone")


async def test_only_admins_set_roles(browser_like, app, gql):
    c = browser_like
    target = await gql.login("+8613800138516")
    target_id = target["player"]["id"]
    await console_login(c, app, "+8613800138517", "operator")
    page = await c.get(f"/console/players/{target_id}")
    refused = await c.post(f"/console/players/{target_id}/roles",
                           data={"csrf": csrf_of(page.text), "roles": "OPERATOR"})
    assert refused.status_code == 403
    assert (await Player.get(id=target_id)).roles == ["player"]

    await console_login(c, app, "+8613800138518", "admin")
    page = await c.get(f"/console/players/{target_id}")
    assert 'id="roles-form"' in page.text
    granted = await c.post(f"/console/players/{target_id}/roles",
                           data={"csrf": csrf_of(page.text), "roles": ["OPERATOR", "MERCHANT"]})
    assert granted.status_code == 303, granted.text
    assert sorted((await Player.get(id=target_id)).roles) == ["merchant", "operator", "player"]
    revoked = await c.post(f"/console/players/{target_id}/roles",
                           data={"csrf": csrf_of(page.text), "roles": ["MERCHANT"]})
    assert revoked.status_code == 303
    assert sorted((await Player.get(id=target_id)).roles) == ["merchant", "player"]


@pytest.mark.parametrize("roles", [(), ("designer",), ("regulator",), ("merchant",)])
async def test_only_operators_open_the_operator_pages(browser_like, app, roles):
    c = browser_like
    await console_login(c, app, "+8613800138519", *roles)
    for url in OPERATOR_PAGES:
        response = await c.get(url)
        assert response.status_code == 403, (url, response.status_code)
        assert 'id="forbidden"' in response.text
    home = await c.get("/console/")
    assert "/console/shop" not in home.text and "/console/payouts" not in home.text
    csrf = csrf_of((await c.get("/console/login")).text)
    for url in ("/console/shop/items/new", "/console/merchants", "/console/players"):
        assert (await c.post(url, data={"csrf": csrf, "name": "x"})).status_code == 403
    assert await ShopItem.all().count() == 0 and await Merchant.all().count() == 0


async def test_operators_see_their_pages_in_the_nav(browser_like, app):
    c = browser_like
    await console_login(c, app, "+8613800138520", "operator")
    home = await c.get("/console/")
    for url in ("/console/shop", "/console/merchants", "/console/payouts", "/console/partners",
                "/console/players"):
        assert f'href="{url}"' in home.text
        assert (await c.get(url)).status_code == 200, url


async def test_a_post_without_the_csrf_token_changes_nothing(browser_like, app):
    c = browser_like
    await console_login(c, app, "+8613800138521", "operator")
    form = await item_form(c)
    del form["csrf"]
    assert (await c.post("/console/shop/items/new", data=form)).status_code == 403
    assert (await c.post("/console/shop/items/new",
                         data={**form, "csrf": "guess"})).status_code == 403
    assert (await c.post("/console/merchants", data={"name": "伪造", "idempotency_key": "k"}
                         )).status_code == 403
    assert await ShopItem.all().count() == 0 and await Merchant.all().count() == 0
