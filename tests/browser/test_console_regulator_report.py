"""The regulator's report in a real browser: the page's charts, a CSV downloaded through
the page, and the printable document as print media and as a PDF from headless Chromium."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime, timedelta, timezone

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, LiveServer
from tests.browser.console import console_login
from tests.test_server_process import COMMAND, clean_env

# A regulator of its own (the demo's is another test's: a second code within a minute
# would be refused), made one with the CLI after its first login.
REGULATOR = "+8613800000193"
CST = timezone(timedelta(hours=8))


async def test_the_regulator_reads_and_prints_the_report(page: Page, live_server: LiveServer):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await console_login(page, live_server, REGULATOR)
    granted = subprocess.run([COMMAND, "grant-role", REGULATOR, "regulator"],
                             cwd=live_server.directory, env=clean_env(), capture_output=True,
                             text=True, timeout=60, check=False)
    assert granted.returncode == 0, granted.stderr
    yesterday = datetime.now(CST).date() - timedelta(days=1)  # the demo's trips
    period = f"{yesterday.year:04d}-{yesterday.month:02d}"
    await page.goto(f"{live_server.url}/console/report?period={period}")
    await expect(page.locator("#report-scope")).to_have_text(period)
    await expect(page.locator("#report-grams-chart")).to_be_visible()
    await expect(page.locator("#report-participants-chart")).to_be_visible()
    await expect(page.locator("#ledger-matches")).to_contain_text("是")
    await page.screenshot(path=SCREENSHOTS / "console-regulator-report.png", full_page=True)
    assert "+86" not in await page.content()  # no phone, no personal data

    async with page.expect_download() as waiting:
        await page.click("#csv-summary")
    download = await waiting.value
    raw = (await download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = {r["metric"]: r["value"] for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    assert int(rows["reduction_grams"]) > 0
    assert rows["reduction_grams"] == rows["ledger_credited_grams"]
    assert rows["ledger_matches"] == "true"

    await page.goto(f"{live_server.url}/console/report.html?period={period}")
    await page.emulate_media(media="print")
    await expect(page.locator("#report-title")).to_be_visible()
    await expect(page.locator("#report-summary")).to_be_visible()
    await expect(page.locator("#report-series")).to_be_visible()
    box = await page.locator("#report-grams-chart").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    pdf = await page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert "+86" not in await page.content()
