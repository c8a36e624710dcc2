"""The designers' console in a real browser: edit a requirement, see the problem at its
field, fix it, simulate against live, propose; a second designer approves; players see
it over GraphQL; roll back to version 1 and players see version 1 again."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import SCREENSHOTS, LiveServer
from tests.browser.console import Api, console_login

DESIGNER, REVIEWER = "+8613800000090", "+8613800000094"
ADMIN, PLAYER = "+8613800000099", "+8613800000001"
SUNSHINE_METRO = "themes.1.requirements.0.at_least"  # city-of-sunshine: take the metro N times
THEMES = "{ me { planet { themes { id name requirements { description } } } } }"


def sunshine(api: Api) -> dict:
    themes = api(THEMES)["data"]["me"]["planet"]["themes"]
    return next(t for t in themes if t["id"] == "city-of-sunshine")


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    return await context.new_page()


async def test_propose_approve_publish_and_roll_back(page: Page, browser: Browser,
                                                     live_server: LiveServer):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    player = Api(live_server).login(PLAYER)
    assert sunshine(player)["requirements"][0]["description"] == "乘坐地铁 3 次"

    await console_login(page, live_server, DESIGNER)
    await page.goto(f"{live_server.url}/console/rules/edit")
    field = page.locator(f'[name="{SUNSHINE_METRO}"]')
    await expect(field).to_have_value("3")
    await field.fill("0")
    problem = page.locator(f'.field-error[data-for="{SUNSHINE_METRO}"]')
    await expect(problem).to_be_visible()
    await expect(problem).to_contain_text("1")  # at least 1
    await expect(field).to_have_class("invalid")
    await page.screenshot(path=SCREENSHOTS / "console-rules-problem.png", full_page=False)

    await field.fill("2")
    await expect(problem).to_be_hidden()
    await expect(page.locator("body")).to_have_attribute("data-problems", "0")
    assert "at_least = 2" in await page.locator("#raw").input_value()

    await page.click("#simulate")
    chart = page.locator("#simulation-chart")
    await expect(chart).to_be_visible(timeout=60_000)
    series = await chart.locator('g[id^="series-"]').count()
    assert series >= 18  # nine themes, each drawn for the draft and for the live rules
    await expect(page.locator("#simulation-table tr[data-theme]")).to_have_count(9)
    await page.click("#impact")
    await expect(page.locator("#impact-none, #impact-list")).to_be_visible(timeout=30_000)
    await page.locator("#simulation").screenshot(path=SCREENSHOTS / "console-rules-simulation.png")

    await page.fill("#note", "地铁任务改为 2 次")
    await page.click("#propose")
    await expect(page.locator("#notice")).to_be_visible()
    pending = page.locator("#proposals tr[data-proposal]").first
    await expect(pending).to_contain_text("地铁任务改为 2 次")
    await expect(pending.locator("button.approve")).to_have_count(0)  # not one's own
    assert sunshine(player)["requirements"][0]["description"] == "乘坐地铁 3 次"

    reviewer = await new_page(browser)
    await console_login(reviewer, live_server, REVIEWER)
    await reviewer.goto(f"{live_server.url}/console/rules")
    await reviewer.locator("#proposals tr[data-proposal]").first.locator("button.approve").click()
    await expect(reviewer.locator('#versions tr[data-version="1"]')).to_contain_text("v1")
    await reviewer.screenshot(path=SCREENSHOTS / "console-rules-approved.png", full_page=True)
    assert sunshine(player)["requirements"][0]["description"] == "乘坐地铁 2 次"

    # a second version, proposed over the API by an admin and approved in the console
    admin = Api(live_server).login(ADMIN)
    v1 = admin("{ rulesContent(version: 1) }")["data"]["rulesContent"]
    renamed = v1.replace('name = "阳光之城"', 'name = "阳光新城"')
    proposed = admin("""mutation($c: String!) { proposeRules(content: $c, note: "rename") {
        proposal { id } errors { message } } }""", {"c": renamed})["data"]["proposeRules"]
    assert proposed["errors"] == []
    await reviewer.goto(f"{live_server.url}/console/rules")
    row = reviewer.locator(f'#proposals tr[data-proposal="{proposed["proposal"]["id"]}"]')
    await row.locator("button.approve").click()
    await expect(reviewer.locator('#versions tr[data-version="2"]')).to_contain_text("v2")
    assert sunshine(player)["name"] == "阳光新城"

    # version 1's content, any version's diff, and a rollback to it
    await reviewer.goto(f"{live_server.url}/console/rules/versions/1")
    await expect(reviewer.locator("#version-content")).to_contain_text("at_least = 2")
    await reviewer.goto(f"{live_server.url}/console/rules/diff?from=1&to=2")
    await expect(reviewer.locator("#changes")).to_contain_text("阳光新城")
    await reviewer.goto(f"{live_server.url}/console/rules")
    reviewer.on("dialog", lambda dialog: dialog.accept())
    await reviewer.locator('#versions tr[data-version="1"] form.rollback button').click()
    await expect(reviewer.locator('#versions tr[data-version="3"]')).to_contain_text("v3")
    await reviewer.screenshot(path=SCREENSHOTS / "console-rules-history.png", full_page=True)
    back = sunshine(player)
    assert back["name"] == "阳光之城" and back["requirements"][0]["description"] == "乘坐地铁 2 次"
    await reviewer.context.close()
