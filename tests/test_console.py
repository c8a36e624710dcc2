"""The console over HTTP (no browser): login, cookies and CSRF, roles, the rules editor's
round trips, the regulator's CSV. The browser walk-throughs are in tests/browser/."""

from __future__ import annotations

import re

import httpx
import pytest

from app.accounts.models import Player
from app.rulesets.models import RuleProposal, RuleSet
from game.rules import RULES_FILE

SHIPPED = RULES_FILE.read_text(encoding="utf-8")


@pytest.fixture
async def browser_like(app):
    """A client over https, as a browser is (console cookies are Secure)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test",
                                 headers={"Accept-Language": "en"}) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(
        r'<meta name="csrf" content="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def console_login(c: httpx.AsyncClient, app, phone: str, *roles: str) -> str:
    player, _ = await Player.get_or_create(phone=phone, defaults={"nickname": phone[-4:]})
    if roles:
        await Player.filter(id=player.id).update(roles=["player", *roles])
    page = await c.get("/console/login")
    csrf = csrf_of(page.text)
    sent = await c.post("/console/login", data={"csrf": csrf, "phone": phone, "step": "phone"})
    assert sent.status_code == 200 and 'name="code"' in sent.text, sent.text
    code = app.state.services.sms.latest_code(phone)
    done = await c.post("/console/login", data={"csrf": csrf, "phone": phone, "step": "code",
                                                "code": code})
    assert done.status_code == 303, done.text
    return str(player.id)


async def test_login_sets_secure_cookies_and_a_player_sees_nothing(browser_like, app):
    c = browser_like
    assert (await c.get("/console/rules")).headers["location"] == "/console/login"
    await console_login(c, app, "+8613800138401")
    cookies = [v for k, v in (await c.get("/console/login")).headers.multi_items()
               if k == "set-cookie"]
    page = await c.get("/console/")
    assert page.status_code == 403 and 'id="forbidden"' in page.text
    assert "/console/rules" not in page.text
    assert (await c.get("/console/rules")).status_code == 403
    assert all("secure" in v.lower() and "httponly" in v.lower() for v in cookies)


async def test_a_wrong_code_shows_at_its_field_in_the_readers_language(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://c.test") as c:
        csrf = csrf_of((await c.get("/console/login")).text)
        await c.post("/console/login", data={"csrf": csrf, "phone": "+8613800138402",
                                             "step": "phone"})
        wrong = await c.post("/console/login", data={"csrf": csrf, "phone": "+8613800138402",
                                                     "step": "code", "code": "000000"})
        assert wrong.status_code == 400
        message = re.search(r'data-field="code">([^<]+)<', wrong.text).group(1)
        assert re.search(r"[\u4e00-\u9fff]", message), message  # Chinese by default


async def test_a_post_without_the_csrf_token_changes_nothing(browser_like, app):
    c = browser_like
    await console_login(c, app, "+8613800138403", "designer")
    content = SHIPPED.replace('name = "阳光之城"', 'name = "伪造城"')
    forged = await c.post("/console/rules/propose", data={"content": content, "note": "x"})
    assert forged.status_code == 403
    wrong = await c.post("/console/rules/propose",
                         data={"content": content, "note": "x", "csrf": "guess"})
    assert wrong.status_code == 403
    assert await RuleProposal.all().count() == 0
    page = await c.get("/console/rules/edit")
    ok = await c.post("/console/rules/propose",
                      data={"content": content, "note": "rename", "csrf": csrf_of(page.text)})
    assert ok.status_code == 303 and await RuleProposal.all().count() == 1


async def test_the_editor_round_trip_places_problems_at_fields(browser_like, app):
    c = browser_like
    await console_login(c, app, "+8613800138404", "designer")
    csrf = csrf_of((await c.get("/console/rules/edit")).text)
    headers = {"X-CSRF-Token": csrf}
    bad = await c.post("/console/rules/draft", headers=headers, json={
        "content": SHIPPED, "values": {"themes.0.requirements.0.at_least": "-5",
                                       "levels.2": "50"}})
    problems = bad.json()["problems"]["fields"]
    assert set(problems) == {"themes.0.requirements.0.at_least", "levels.2"}, problems
    assert "at_least = -5" in bad.json()["content"]
    fixed = await c.post("/console/rules/draft", headers=headers, json={
        "content": bad.json()["content"],
        "values": {"themes.0.requirements.0.at_least": "5", "levels.2": "250"}})
    assert fixed.json()["problems"] == {"fields": {}, "general": []}
    added = await c.post("/console/rules/draft", headers=headers, json={
        "content": fixed.json()["content"], "action": "add:themes.0.requirements"})
    assert 'name="themes.0.requirements.1.type"' in added.json()["form"]
    for crafted in ("add:eggs.0.condition", "add:themes.0.name", "type:levels.0=streak",
                    "remove:nowhere.9", "add:", "type:themes.0.requirements.0=rocket"):
        answer = await c.post("/console/rules/draft", headers=headers,
                              json={"content": SHIPPED, "action": crafted})
        assert answer.status_code == 200, crafted
        assert answer.json()["problems"] == {"fields": {}, "general": []}, crafted  # unchanged
    not_toml = await c.post("/console/rules/draft", headers=headers,
                            json={"content": "levels = [", "values": {}})
    assert not_toml.json()["problems"]["general"]
    assert (await c.post("/console/rules/draft", json={"content": SHIPPED})).status_code == 403
    assert await RuleSet.all().count() == 0


async def test_the_regulator_downloads_the_csv(browser_like, app):
    c = browser_like
    await console_login(c, app, "+8613800138405", "regulator")
    page = await c.get("/console/figures")
    assert page.status_code == 200 and 'id="csv"' in page.text
    csv = await c.get("/console/figures.csv?since=2026-01-01&until=2026-01-31")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert csv.text.splitlines()[0].startswith("date,")
    assert (await c.get("/console/rules")).status_code == 403  # not a designer
