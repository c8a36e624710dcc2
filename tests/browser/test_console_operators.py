"""The operators' console in a real browser: an item created in the shop's form is on sale to
players over GraphQL, and a partner record the service refused shows in the partners'
refusals chart under its reason (one login: a phone gets one code a minute)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import httpx
from playwright.async_api import Page, expect

from app.credits.signatures import sign
from tests.browser.conftest import LIVE_PARTNER, LIVE_PARTNER_SECRET, SCREENSHOTS, LiveServer
from tests.browser.console import Api, console_login

OPERATOR, PLAYER = "+8613800000091", "+8613800000002"
ITEMS = "{ shopItems(first: 50) { edges { node { id title pricePoints remaining } } } }"
CST = timezone(timedelta(hours=8))


def send_trip(server: LiveServer, record_id: str, subject: str, meters: int, minutes: int) -> dict:
    """One metro trip pushed to the live server, signed as the partner's system signs it."""
    start = datetime.now(CST) - timedelta(hours=2)
    body = json.dumps({"records": [{
        "id": record_id, "subject": subject, "kind": "metro", "startedAt": start.isoformat(),
        "endedAt": (start + timedelta(minutes=minutes)).isoformat(),
        "distanceMeters": meters}]}).encode()
    stamp = str(int(time.time()))
    response = httpx.post(f"{server.url}/partner/v1/activities", content=body, timeout=30,
                          headers={"Content-Type": "application/json", "X-Partner-Id": LIVE_PARTNER,
                                   "X-Timestamp": stamp,
                                   "X-Signature": sign(LIVE_PARTNER_SECRET, stamp, body)})
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


async def test_an_operator_adds_an_item_and_reads_the_refusals(page: Page,
                                                              live_server: LiveServer):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    player = Api(live_server).login(PLAYER)
    before = {e["node"]["title"] for e in player(ITEMS)["data"]["shopItems"]["edges"]}
    assert "竹制餐具套装" not in before

    await console_login(page, live_server, OPERATOR)
    await page.goto(f"{live_server.url}/console/shop/items/new")
    await page.select_option("#kind", "PHYSICAL_GIFT")
    await page.fill("#pricePoints", "0")
    await page.fill("#stock", "40")
    await page.fill("#title", "竹制餐具套装")
    await page.fill("#titleEn", "Bamboo cutlery set")
    await page.click("#save-item")
    price_error = page.locator("#pricePoints.invalid")  # the API's refusal, at its field
    await expect(price_error).to_be_visible()
    await page.fill("#pricePoints", "150")
    await page.click("#save-item")
    await expect(page.locator("#notice")).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "console-operator-item.png", full_page=True)

    on_sale = [e["node"] for e in player(ITEMS)["data"]["shopItems"]["edges"]]
    created = [item for item in on_sale if item["title"] == "竹制餐具套装"]
    assert [(i["pricePoints"], i["remaining"]) for i in created] == [(150, 40)]  # only once

    await page.goto(f"{live_server.url}/console/shop")
    await expect(page.get_by_text("竹制餐具套装")).to_be_visible()

    rider = Api(live_server).login("+8613800000003")
    rider_id = rider("{ me { id } }")["data"]["me"]["id"]
    assert send_trip(live_server, "live-ok-1", rider_id, 12850, 31)["status"] == "accepted"
    refused = send_trip(live_server, "live-fast-1", rider_id, 60000, 10)
    assert (refused["status"], refused["reason"]) == ("rejected", "IMPLAUSIBLE_SPEED")
    today = datetime.now(CST).date().isoformat()

    await page.goto(f"{live_server.url}/console/partners?partner={LIVE_PARTNER}")
    chart = page.locator("#refusals-chart")
    await expect(chart).to_be_visible()
    await expect(chart.locator(f"#series-IMPLAUSIBLE_SPEED-{today}")).to_have_count(1)
    reasons = await chart.locator('[id^="series-"]').evaluate_all(
        "bars => [...new Set(bars.map(b => b.id.split('-')[1]))]")
    assert reasons == ["IMPLAUSIBLE_SPEED"]  # the accepted trip is no refusal
    await page.screenshot(path=SCREENSHOTS / "console-operator-partners.png", full_page=True)
