"""The carbon-inclusive market: selling and retiring certified grams over GraphQL, serials
in order and never twice, certificates anyone can check, revenue and the shop's share in
the ledger, and 200 concurrent sales that never oversell."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from app.accounts.models import Player
from app.certification.models import CertifiedBatch
from app.errors import ErrorCode, ServiceError
from app.ledger.models import LedgerAccount
from app.ledger.service import Asset, Entry, post_many_in_transaction, transfer
from app.ledger.verify import verify_ledger
from app.market import service as market
from app.market.models import Buyer, BuyerKind, MarketAllocation, MarketSale, SaleMode
from tests.partner_client import CST, send, trip

COMMAND = str(Path(sys.executable).parent / "carbon-planet")
CLOSED = datetime(2026, 11, 1, 2, tzinfo=UTC)

CREATE_BUYER = """mutation($name: String!, $kind: BuyerKind!, $contact: String, $key: String!) {
  createBuyer(name: $name, kind: $kind, contact: $contact, idempotencyKey: $key) {
    buyer { id name kind contact } errors { code message field } } }"""
CERTIFICATE_FIELDS = """number mode buyerId buyerName buyerKind grams
  priceFenPerTonne totalFen shopSharePercent shopFundFen note createdAt digest periods
  methodologies { methodologyId version }
  ranges { batchCode period methodologyId methodologyVersion firstSerial lastSerial grams }"""
SELL = """mutation($buyerId: ID!, $grams: Long!, $price: Int!, $key: String!, $note: String) {
  sellCertifiedGrams(buyerId: $buyerId, grams: $grams, priceFenPerTonne: $price,
                     idempotencyKey: $key, note: $note) {
    certificate { FIELDS } errors { code message field } } }""".replace("FIELDS", CERTIFICATE_FIELDS)
RETIRE = SELL.replace("sellCertifiedGrams", "retireCertifiedGrams")
INVENTORY = """{ marketInventory { certifiedGrams adjustedGrams soldGrams retiredGrams
  availableGrams revenueFen shopFundFen shopSharePercent } }"""
LOOKUP = "query($number: String!) { certificate(number: $number) { FIELDS } }".replace(
    "FIELDS", CERTIFICATE_FIELDS)
LIST = """query($buyerId: ID) { certificates(buyerId: $buyerId, first: 50) {
  edges { node { number grams } } } }"""


@pytest.fixture
async def app(make_app):
    """Records months old are accepted (a partner's backlog), so a past month has some."""
    return await make_app(activity_max_age_days=400)


async def operator(gql, phone: str = "+8613800138191") -> str:
    session = await gql.login(phone)
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "operator"])
    return session["accessToken"]


async def certify(code: str, grams: int, *, period: str = "2026-10", methodology: str = "travel",
                  version: int = 1, closed_at: datetime = CLOSED, first_serial: int = 1,
                  kind: str = "sealed") -> CertifiedBatch:
    """A certified batch and its grams issued to the inventory, as a close does it."""
    async with in_transaction():
        batch = await CertifiedBatch.create(
            code=code, period=period, methodology_id=methodology, methodology_version=version,
            kind=kind, serial_prefix=code.split("-S")[0], first_serial=first_serial,
            last_serial=first_serial + grams - 1, grams=grams, activity_count=1,
            participants=1, manifest={}, content_hash="0" * 64, closed_at=closed_at,
            closed_by="test")
        await post_many_in_transaction([Entry(
            "certification.seal", f"certification:{code}",
            transfer("system:certification", "inventory:certified", Asset.CERTIFIED_GRAMS, grams),
            reference=code)])
    return batch


async def adjust(code: str, grams: int, prefix: str) -> None:
    """An adjustment batch taking `grams` back out of the inventory."""
    async with in_transaction():
        await CertifiedBatch.create(
            code=code, period="2026-10", methodology_id="travel", methodology_version=1,
            kind="adjustment", serial_prefix=prefix, first_serial=1, last_serial=0,
            grams=-grams, activity_count=1, participants=1, manifest={},
            content_hash="0" * 64, closed_at=CLOSED + timedelta(days=40), closed_by="test")
        await post_many_in_transaction([Entry(
            "certification.adjustment", f"certification:{code}",
            transfer("inventory:certified", "system:certification", Asset.CERTIFIED_GRAMS, grams),
            reference=code)])


async def new_buyer(gql, token: str, name: str = "深圳绿色会展有限公司",
                    kind: str = "COMPANY") -> str:
    answer = await gql(CREATE_BUYER, {"name": name, "kind": kind, "contact": "esg@example.cn",
                                      "key": f"buyer:{name}"}, token=token)
    assert answer.get("data"), answer
    result = answer["data"]["createBuyer"]
    assert result["errors"] == [], result
    return result["buyer"]["id"]


async def sell(gql, token: str, buyer_id: str, grams: int, price: int = 4000,
               key: str | None = None, retire: bool = False, note: str | None = None) -> dict:
    result = await gql(RETIRE if retire else SELL,
                       {"buyerId": buyer_id, "grams": grams, "price": price,
                        "key": key or str(uuid.uuid4()), "note": note}, token=token)
    return result["data"]["retireCertifiedGrams" if retire else "sellCertifiedGrams"]


def recomputed_digest(c: dict) -> str:
    """The certificate's digest from its public fields, as docs/operators/market.md says."""
    created = datetime.fromisoformat(c["createdAt"]).astimezone(UTC)
    body = {"number": c["number"], "mode": c["mode"], "buyer": c["buyerName"],
            "buyer_kind": c["buyerKind"], "grams": c["grams"],
            "price_fen_per_tonne": c["priceFenPerTonne"], "total_fen": c["totalFen"],
            "ranges": [{"batch": r["batchCode"], "first": r["firstSerial"],
                        "last": r["lastSerial"], "grams": r["grams"]} for r in c["ranges"]],
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def balance(owner: str, asset: Asset) -> int:
    account = await LedgerAccount.get_or_none(owner=owner, asset=asset.value)
    return int(account.balance) if account else 0


async def test_serials_are_taken_in_order_across_batches_and_anyone_can_check_a_certificate(gql):
    token = await operator(gql)
    await certify("SZ-2026-10-TRAVEL-V1", 600)
    await certify("SZ-2026-10-TRAVEL-V1-S1", 1_000, first_serial=601,
                  closed_at=CLOSED + timedelta(days=3))
    await certify("SZ-2026-10-PV-V2", 500, methodology="rooftop-pv", version=2,
                  closed_at=CLOSED + timedelta(days=5))
    buyer = await new_buyer(gql, token)

    first = await sell(gql, token, buyer, 400)
    assert first["errors"] == [], first
    cert = first["certificate"]
    assert cert["number"] == "CPC-00000001" and cert["mode"] == "SALE"
    assert [(r["firstSerial"], r["lastSerial"], r["grams"]) for r in cert["ranges"]] == [
        ("SZ-2026-10-TRAVEL-V1-000000001", "SZ-2026-10-TRAVEL-V1-000000400", 400)]

    second = (await sell(gql, token, buyer, 1_500, retire=True, price=0,
                         note="2026 深圳马拉松碳中和"))["certificate"]
    assert second["number"] == "CPC-00000002" and second["mode"] == "RETIREMENT"
    assert [(r["batchCode"], r["firstSerial"], r["lastSerial"], r["grams"])
            for r in second["ranges"]] == [
        ("SZ-2026-10-TRAVEL-V1", "SZ-2026-10-TRAVEL-V1-000000401",
         "SZ-2026-10-TRAVEL-V1-000000600", 200),
        ("SZ-2026-10-TRAVEL-V1-S1", "SZ-2026-10-TRAVEL-V1-000000601",
         "SZ-2026-10-TRAVEL-V1-000001600", 1_000),
        ("SZ-2026-10-PV-V2", "SZ-2026-10-PV-V2-000000001", "SZ-2026-10-PV-V2-000000300", 300)]
    assert second["methodologies"] == [{"methodologyId": "rooftop-pv", "version": 2},
                                       {"methodologyId": "travel", "version": 1}]
    assert second["periods"] == ["2026-10"] and second["note"] == "2026 深圳马拉松碳中和"
    assert second["totalFen"] == 0 and second["buyerName"] == "深圳绿色会展有限公司"

    # the public lookup: no login, the same certificate; a number that does not exist: null
    public = (await gql(LOOKUP, {"number": "cpc-00000002"}))["data"]["certificate"]
    assert public == second
    assert recomputed_digest(public) == public["digest"]  # anyone can check it
    assert (await gql(LOOKUP, {"number": "CPC-99999999"}))["data"]["certificate"] is None
    listed = (await gql(LIST, {"buyerId": buyer}, token=token))["data"]["certificates"]["edges"]
    assert [e["node"]["number"] for e in listed] == ["CPC-00000002", "CPC-00000001"]

    inventory = (await gql(INVENTORY, token=token))["data"]["marketInventory"]
    assert inventory == {"certifiedGrams": 2_100, "adjustedGrams": 0, "soldGrams": 400,
                         "retiredGrams": 1_500, "availableGrams": 200, "revenueFen": 2,
                         "shopFundFen": 0, "shopSharePercent": 30}
    # the grams moved in the ledger: sold ones to the buyer, retired ones to the sale's account
    assert await balance(f"buyer:{buyer}", Asset.CERTIFIED_GRAMS) == 400
    sale = await MarketSale.get(number="CPC-00000002")
    assert await balance(f"retired:{sale.id}", Asset.CERTIFIED_GRAMS) == 1_500
    assert await balance("inventory:certified", Asset.CERTIFIED_GRAMS) == 200


async def test_refusals_are_typed_translated_and_change_nothing(gql):
    token = await operator(gql)
    await certify("SZ-2026-10-TRAVEL-V1", 1_000)
    buyer = await new_buyer(gql, token)
    assert (await sell(gql, token, buyer, 700))["errors"] == []

    more = await sell(gql, token, buyer, 301)
    assert more["certificate"] is None
    assert more["errors"] == [{"code": "OUT_OF_STOCK", "field": "grams",
                               "message": "Only 300 certified grams are available."}]
    for grams in (0, -5):
        refused = (await sell(gql, token, buyer, grams))["errors"]
        assert [(e["code"], e["field"]) for e in refused] == [("INVALID_INPUT", "grams")]
    for price in (-1, 0, 100_000_001):  # a sale is not free; a retirement may be
        refused = (await sell(gql, token, buyer, 10, price=price))["errors"]
        assert [(e["code"], e["field"]) for e in refused] == [
            ("INVALID_INPUT", "priceFenPerTonne")], price
    assert (await sell(gql, token, buyer, 10, price=0, retire=True))["errors"] == []
    for unknown in (str(uuid.uuid4()), "not-a-buyer"):
        refused = (await sell(gql, token, unknown, 10))["errors"]
        assert [(e["code"], e["field"], e["message"]) for e in refused] == [
            ("NOT_FOUND", "buyerId", "No such buyer.")]
    bad = (await gql(CREATE_BUYER, {"name": "  ", "kind": "EVENT", "key": "k"},
                     token=token))["data"]["createBuyer"]
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("INVALID_INPUT", "name")]

    # in Chinese, how much is available is still said
    response = await gql.http.post("/graphql", headers={
        "Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"}, json={
        "query": SELL, "variables": {"buyerId": buyer, "grams": 5_000, "price": 4000,
                                     "key": "zh"}})
    [error] = response.json()["data"]["sellCertifiedGrams"]["errors"]
    assert error["code"] == "OUT_OF_STOCK" and "290" in error["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]), error

    assert await MarketSale.all().count() == 2
    assert await MarketAllocation.all().count() == 2
    assert await balance("inventory:certified", Asset.CERTIFIED_GRAMS) == 290

    # players and anonymous callers cannot sell; anyone can look a certificate up
    player = (await gql.login("+8613800138192"))["accessToken"]
    denied = await gql(SELL, {"buyerId": buyer, "grams": 1, "price": 1, "key": "p"}, token=player)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await gql(INVENTORY)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_adjustments_lower_what_can_be_sold(gql):
    token = await operator(gql)
    await certify("SZ-2026-10-TRAVEL-V1", 1_000)
    await adjust("SZ-2026-10-TRAVEL-V1-A1", 250, "SZ-2026-10-TRAVEL-V1")
    buyer = await new_buyer(gql, token)
    refused = await sell(gql, token, buyer, 751)
    assert refused["errors"][0]["message"] == "Only 750 certified grams are available."
    assert (await sell(gql, token, buyer, 750))["errors"] == []
    inventory = (await gql(INVENTORY, token=token))["data"]["marketInventory"]
    assert (inventory["certifiedGrams"], inventory["adjustedGrams"], inventory["soldGrams"],
            inventory["availableGrams"]) == (1_000, 250, 750, 0)


async def test_a_retry_returns_the_same_certificate_and_books_once(gql):
    token = await operator(gql)
    await certify("SZ-2026-10-TRAVEL-V1", 10_000)
    buyer = await new_buyer(gql, token)
    first = await sell(gql, token, buyer, 1_234, key="invoice-2026-117")
    again = await sell(gql, token, buyer, 1_234, key="invoice-2026-117")
    assert again == first and first["errors"] == []
    # a concurrent duplicate too
    both = await asyncio.gather(*[sell(gql, token, buyer, 99, key="invoice-2026-118")
                                  for _ in range(5)])
    assert len({b["certificate"]["number"] for b in both}) == 1
    other = await sell(gql, token, buyer, 1_235, key="invoice-2026-117")
    assert [(e["code"], e["field"]) for e in other["errors"]] == [("CONFLICT", "idempotencyKey")]
    assert await MarketSale.all().count() == 2
    assert await balance(f"buyer:{buyer}", Asset.CERTIFIED_GRAMS) == 1_234 + 99
    # and a buyer created twice with one key is one buyer
    assert await new_buyer(gql, token) == buyer
    assert await Buyer.all().count() == 1


async def test_revenue_and_the_shops_share_are_booked_exactly(gql):
    token = await operator(gql)
    await certify("SZ-2026-10-TRAVEL-V1", 5_000_000)
    buyer = await new_buyer(gql, token)
    # 123,456 g at ¥40/t: 493.824 fen -> 494 (half up); the shop's 30%: 148.2 -> 148 (down)
    cert = (await sell(gql, token, buyer, 123_456, price=4_000))["certificate"]
    assert (cert["totalFen"], cert["shopSharePercent"], cert["shopFundFen"]) == (494, 30, 148)
    # 1,500,000 g at 333 fen/t: 499.5 fen -> 500; 30%: 150
    cert = (await sell(gql, token, buyer, 1_500_000, price=333, retire=True))["certificate"]
    assert (cert["totalFen"], cert["shopFundFen"]) == (500, 150)
    assert market.revenue_fen(1, 499_999) == 0 and market.revenue_fen(1, 500_000) == 1
    assert market.shop_fund_fen(999, 30) == 299

    assert await balance("system:market-sales", Asset.CNY_FEN) == -994
    assert await balance("market:revenue", Asset.CNY_FEN) == 994 - 298
    assert await balance("market:shop-fund", Asset.CNY_FEN) == 298
    inventory = (await gql(INVENTORY, token=token))["data"]["marketInventory"]
    assert (inventory["revenueFen"], inventory["shopFundFen"]) == (994, 298)
    report = await verify_ledger()
    assert report.ok, report


async def test_200_concurrent_sales_never_sell_a_serial_twice_nor_more_than_certified(app):
    """Against 1,000,000 certified grams in three batches, 200 sales at once whose sizes sum
    to about 1.5 million: the serials sold are disjoint and are exactly the first ones of the
    stream, and what was refused could not have fitted."""
    await certify("SZ-2026-09-TRAVEL-V1", 300_000, period="2026-09",
                  closed_at=CLOSED - timedelta(days=30))
    await certify("SZ-2026-10-TRAVEL-V1", 450_000)
    await certify("SZ-2026-10-PV-V1", 250_000, methodology="rooftop-pv",
                  closed_at=CLOSED + timedelta(hours=1))
    buyers = [await Buyer.create(name=f"buyer {i}", kind=BuyerKind.COMPANY.value,
                                 idempotency_key=f"b{i}", created_by="test") for i in range(4)]
    rng = random.Random(16)
    sizes = [rng.randint(1, 15_000) for _ in range(200)]
    assert sum(sizes) > 1_000_000

    async def one(i: int, grams: int) -> tuple[int, market.Certificate | ServiceError]:
        try:
            return grams, await market.sell(
                "operator", SaleMode.SALE if i % 3 else SaleMode.RETIREMENT,
                str(buyers[i % 4].id), grams, 4_000, f"concurrent-{i}",
                datetime.now(UTC), 30)
        except ServiceError as exc:
            return grams, exc

    outcomes = await asyncio.gather(*[one(i, g) for i, g in enumerate(sizes)])
    sold = [c for _, c in outcomes if isinstance(c, market.Certificate)]
    refused = [(g, e) for g, e in outcomes if isinstance(e, ServiceError)]
    assert all(e.code == ErrorCode.OUT_OF_STOCK for _, e in refused)
    assert refused and sold
    total = sum(c.sale.grams for c in sold)
    assert total <= 1_000_000
    available = await balance("inventory:certified", Asset.CERTIFIED_GRAMS)
    assert available == 1_000_000 - total
    # a refused sale was refused because it did not fit, and what is left fits none of them
    assert all(g > available for g, _ in refused)

    # each certificate's ranges add up to its grams; all ranges together are disjoint and
    # cover exactly the first `total` serials of the stream (batches oldest first)
    order = {"SZ-2026-09-TRAVEL-V1": 0, "SZ-2026-10-TRAVEL-V1": 300_000,
             "SZ-2026-10-PV-V1": 750_000}
    spans = []
    for c in sold:
        assert sum(r.grams for r in c.ranges) == c.sale.grams
        spans += [(order[r.batch_code] + r.first, order[r.batch_code] + r.last) for r in c.ranges]
    spans.sort()
    assert spans[0][0] == 1 and spans[-1][1] == total
    for (_, last), (first, _) in zip(spans, spans[1:], strict=False):
        assert first == last + 1  # no gap, no overlap
    numbers = sorted(c.sale.number for c in sold)
    assert numbers == [f"CPC-{n:08d}" for n in range(1, len(sold) + 1)]
    assert await MarketAllocation.all().count() == len(spans)


async def test_the_database_refuses_an_overlapping_allocation(gql):
    token = await operator(gql)
    batch = await certify("SZ-2026-10-TRAVEL-V1", 1_000)
    buyer = await new_buyer(gql, token)
    assert (await sell(gql, token, buyer, 500))["errors"] == []
    sale = await MarketSale.get(number="CPC-00000001")
    from tortoise.exceptions import IntegrityError, OperationalError
    for first, last in ((100, 600), (500, 500), (2, 3)):
        try:
            await MarketAllocation.create(sale=sale, batch=batch, position=9,
                                          first_serial=first, last_serial=last,
                                          grams=last - first + 1)
        except (IntegrityError, OperationalError):
            continue
        raise AssertionError(f"serials {first}..{last} were allocated twice")


async def test_cli_adds_a_buyer_retires_and_shows_the_inventory(gql, settings):
    """`carbon-planet market add-buyer`, `retire`, `sell` and `inventory`."""
    await certify("SZ-2026-10-TRAVEL-V1", 2_000)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "CARBON_LANGUAGE": "en"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([COMMAND, "market", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    added = run("add-buyer", "--name", "Qingdao Expo", "--kind", "EVENT", "--key", "expo")
    assert added.returncode == 0, added.stderr
    buyer_id = added.stdout.split()[0]
    assert (await Buyer.get(id=buyer_id)).name == "Qingdao Expo"
    retired = run("retire", "--buyer", buyer_id, "--grams", "1500", "--price", "4000",
                  "--key", "expo-2026", "--note", "Expo 2026 carbon neutral")
    assert retired.returncode == 0, retired.stderr
    assert "CPC-00000001" in retired.stdout
    assert "SZ-2026-10-TRAVEL-V1-000000001 .. SZ-2026-10-TRAVEL-V1-000001500" in retired.stdout
    too_many = run("sell", "--buyer", buyer_id, "--grams", "501", "--price", "4000",
                   "--key", "more")
    assert too_many.returncode == 1 and "500" in too_many.stderr
    shown = run("inventory")
    assert shown.returncode == 0, shown.stderr
    assert "available" in shown.stdout and "1,500" in shown.stdout
    assert await balance("inventory:certified", Asset.CERTIFIED_GRAMS) == 500


CLOSE = """mutation($period: String!, $key: String!) {
  closeCertificationPeriod(period: $period, methodologyId: "cn-low-carbon-travel", version: 1,
                           idempotencyKey: $key) {
    batch { code grams firstSerial lastSerial } adjustment { code grams }
    errors { code message } } }"""
WITHDRAW = """mutation($id: ID!, $key: String!) {
  withdrawActivity(activityId: $id, reason: PARTNER_RECALL, idempotencyKey: $key) {
    errors { code message } } }"""


async def test_grams_sealed_by_closing_a_period_are_sold_with_its_serials(gql, client):
    """The whole path: partner trips accepted, the month closed, its grams sold; a trip
    withdrawn afterwards becomes an adjustment that lowers what can still be sold."""
    today = datetime.now(CST).date()
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month = (month - timedelta(days=1)).replace(day=1)  # two months back: closed, not current
    period = month.strftime("%Y-%m")
    alice = (await gql.login("+8613800138001"))["player"]["id"]
    records = [trip(f"m{i}", alice, start=datetime(month.year, month.month, 3 + i, 8, tzinfo=CST))
               for i in range(3)]
    results = (await send(client, records)).json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 3, results
    token = await operator(gql)
    closed = (await gql(CLOSE, {"period": period, "key": "close-1"},
                        token=token))["data"]["closeCertificationPeriod"]
    assert closed["errors"] == [], closed
    batch = closed["batch"]
    assert batch["grams"] > 10

    buyer = await new_buyer(gql, token)
    cert = (await sell(gql, token, buyer, 10))["certificate"]
    assert [(r["batchCode"], r["firstSerial"], r["lastSerial"]) for r in cert["ranges"]] == [
        (batch["code"], batch["firstSerial"], f"{batch['code']}-000000010")]
    assert cert["periods"] == [period]
    assert cert["methodologies"] == [{"methodologyId": "cn-low-carbon-travel", "version": 1}]
    rest = (await sell(gql, token, buyer, batch["grams"] - 10 + 1))["errors"]
    assert rest[0]["code"] == "OUT_OF_STOCK"

    # one trip withdrawn, the next close adjusts: what is left to sell shrinks by its grams
    withdrawn = await gql(WITHDRAW, {"id": results[0]["activityId"], "key": "w1"}, token=token)
    assert withdrawn["data"]["withdrawActivity"]["errors"] == [], withdrawn
    again = (await gql(CLOSE, {"period": period, "key": "close-2"},
                       token=token))["data"]["closeCertificationPeriod"]
    adjustment = again["adjustment"]
    assert adjustment is not None and adjustment["grams"] < 0
    inventory = (await gql(INVENTORY, token=token))["data"]["marketInventory"]
    assert inventory["adjustedGrams"] == -adjustment["grams"]
    assert inventory["availableGrams"] == batch["grams"] + adjustment["grams"] - 10
    assert (await sell(gql, token, buyer, inventory["availableGrams"]))["errors"] == []
    assert (await sell(gql, token, buyer, 1))["errors"][0]["code"] == "OUT_OF_STOCK"


async def test_the_console_market_page_sells_and_prints_a_certificate(app):
    """Operators sell from /console/market and see the certificate; the regulator reads the
    page without the forms and cannot sell."""
    import re

    import httpx

    from tests.test_console import console_login, csrf_of

    await certify("SZ-2026-10-TRAVEL-V1", 5_000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test",
                                 headers={"Accept-Language": "en"}) as c:
        await console_login(c, app, "+8613800138191", "operator")
        page = await c.get("/console/market")
        assert page.status_code == 200, page.text
        assert "5,000 g" in page.text and 'id="sale-form"' in page.text
        key = re.search(r'id="buyer-form">\s*<input type="hidden" name="csrf" value="[^"]+">\s*'
                        r'<input type="hidden" name="idempotency_key" value="([^"]+)"',
                        page.text).group(1)
        made = await c.post("/console/market/buyers", data={
            "csrf": csrf_of(page.text), "idempotency_key": key, "name": "Qingdao Expo",
            "kind": "EVENT", "contact": ""})
        assert made.status_code == 303, made.text
        page = await c.get("/console/market")
        buyer = re.search(r'<option value="([0-9a-f-]{36})"', page.text).group(1)
        sale_key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
        form = {"csrf": csrf_of(page.text), "idempotency_key": sale_key, "buyer": buyer,
                "mode": "RETIREMENT", "price": "4000", "note": "Expo 2026"}
        too_many = await c.post("/console/market/sales", data={**form, "grams": "6000"})
        assert too_many.status_code == 400
        assert "Only 5000 certified grams are available." in too_many.text
        not_a_number = await c.post("/console/market/sales", data={**form, "grams": "lots"})
        assert not_a_number.status_code == 400 and "A whole number of grams." in not_a_number.text
        sold = await c.post("/console/market/sales", data={**form, "grams": "1,200"})
        assert sold.status_code == 303 and sold.headers["location"].endswith("/CPC-00000001")
        shown = await c.get(sold.headers["location"])
        assert shown.status_code == 200
        assert "SZ-2026-10-TRAVEL-V1-000000001" in shown.text
        assert "SZ-2026-10-TRAVEL-V1-000001200" in shown.text and "Expo 2026" in shown.text
        assert (await c.get("/console/market/certificates/CPC-00000009")).status_code == 404

    async with httpx.AsyncClient(transport=transport, base_url="https://console.test",
                                 headers={"Accept-Language": "en"}) as c:
        await console_login(c, app, "+8613800138193", "regulator")
        page = await c.get("/console/market")
        assert page.status_code == 200 and "CPC-00000001" in page.text
        assert 'id="sale-form"' not in page.text and "3,800 g" in page.text
        refused = await c.post("/console/market/sales", data={"csrf": csrf_of(page.text)})
        assert refused.status_code == 403


async def test_a_city_s_totals_pass_32_bits(gql):
    """3,000 t certified and 2,500 t sold in one certificate: the grams and fen are Long,
    read and written as plain JSON numbers past Int's 2,147,483,647."""
    token = await operator(gql)
    await certify("SZ-2026-10-TRAVEL-V1", 3_000_000_000)
    buyer = await new_buyer(gql, token, "粤港澳大湾区航运集团")
    sold = await sell(gql, token, buyer, 2_500_000_000)
    assert sold["errors"] == [], sold
    certificate = sold["certificate"]
    assert (certificate["grams"], certificate["totalFen"]) == (2_500_000_000, 10_000_000)
    [whole] = certificate["ranges"]
    assert (whole["grams"], whole["lastSerial"]) == (2_500_000_000, "SZ-2026-10-TRAVEL-V1-2500000000")
    inventory = (await gql(INVENTORY, token=token))["data"]["marketInventory"]
    assert (inventory["certifiedGrams"], inventory["soldGrams"], inventory["availableGrams"]) == (
        3_000_000_000, 2_500_000_000, 500_000_000)
    assert await balance("inventory:certified", Asset.CERTIFIED_GRAMS) == 500_000_000

    for grams in (2**53, 1.5, "12", True):  # not a whole number a client reads exactly
        refused = await gql(SELL, {"buyerId": buyer, "grams": grams, "price": 4000, "key": "big"},
                            token=token)
        assert refused["errors"][0]["extensions"]["code"] == "INVALID_INPUT", refused
    assert await MarketSale.all().count() == 1
