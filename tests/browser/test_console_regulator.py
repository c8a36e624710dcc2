"""The regulator in a real browser: the figures' charts, and the CSV downloaded through the
page, whose totals equal the ledger's credits (read from the live server's database)."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import date, timedelta

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, LiveServer
from tests.browser.console import console_login

REGULATOR = "+8613800000093"
CREDITED = """SELECT l.asset, SUM(l.amount) FROM ledger_line l
  JOIN ledger_transaction t ON t.id = l.transaction_id
  JOIN ledger_account a ON a.id = l.account_id
  WHERE t.type = 'ACTIVITY_CREDIT' AND a.owner LIKE 'player:%' GROUP BY l.asset"""


def ledger_credits(server: LiveServer) -> dict[str, int]:
    with sqlite3.connect(server.directory / "var" / "carbon-planet.sqlite3") as db:
        return dict(db.execute(CREDITED).fetchall())


async def test_the_regulator_downloads_figures_that_add_up_to_the_ledger(
        page: Page, live_server: LiveServer):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await console_login(page, live_server, REGULATOR)
    since = (date.today() - timedelta(days=10)).isoformat()
    until = (date.today() + timedelta(days=1)).isoformat()
    await page.goto(f"{live_server.url}/console/figures?since={since}&until={until}")
    await expect(page.locator("#grams-chart")).to_be_visible()
    await expect(page.locator("#participants-chart")).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "console-regulator-figures.png", full_page=True)
    assert "+86" not in await page.content()  # no phone, no personal data

    async with page.expect_download() as waiting:
        await page.click("#csv")
    download = await waiting.value
    rows = list(csv.DictReader(io.StringIO((await download.path()).read_text(encoding="utf-8"))))
    totals = [r for r in rows if r["scene"] == "*"]
    ledger = ledger_credits(live_server)
    assert ledger["CO2E_GRAMS"] > 0  # the demo's trips yesterday
    assert sum(int(r["reduction_grams"]) for r in totals) == ledger["CO2E_GRAMS"]
    assert sum(int(r["points"]) for r in totals) == ledger["CARBON_POINT"]
    assert sum(int(r["reduction_grams"]) for r in rows if r["scene"] != "*") == ledger["CO2E_GRAMS"]

    await page.goto(f"{live_server.url}/console/rules")
    await expect(page.locator("#forbidden")).to_be_visible()  # read-only: no designer pages
