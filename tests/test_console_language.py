"""The console reads in the reader's language: every page the app serves to an admin,
in Chinese (the default) and in English, shows its own wording from the catalogues.
`test_i18n` fails on a template string without a Chinese translation; this reads the
pages themselves, so a string a template prints without `_()` shows up too when the
catalogue knows it."""

from __future__ import annotations

import html
import re

import httpx

from app.i18n.messages import read_catalogue, translate
from tests.test_console import console_login
from tests.test_pages_offline import BASE, get_paths

TEXT = re.compile(r">([^<>]+)<")  # text between tags (scripts' and styles' too)
CHINESE = re.compile("[\u4e00-\u9fff]")


def texts(page: str) -> set[str]:
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.DOTALL | re.IGNORECASE)
    return {html.unescape(t).strip() for t in TEXT.findall(page)} - {""}


async def console_pages(app, language: str, phone: str) -> dict[str, str]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE,
                                 headers={"Accept-Language": language}) as c:
        admin = await console_login(c, app, phone, "admin")
        routes = [p for p in get_paths(app.routes)
                  if p.startswith("/console") and "{" not in p.replace("{id}", "")]
        pages = {}  # by route ("{id}": the admin's own)
        for route in routes:
            response = await c.get(route.replace("{id}", admin), headers={"Accept": "text/html"})
            if response.headers.get("content-type", "").startswith("text/html"):
                pages[route] = response.text
        return pages


async def test_every_console_page_reads_in_chinese_and_in_english(app):
    catalogue = {m.id for m in read_catalogue("zh-CN") if isinstance(m.id, str) and m.id}
    # msgids whose Chinese differs from them: shown as is, they were not translated
    english = {m for m in catalogue if translate(m, language="zh-CN") != m and "%(" not in m}
    chinese = {translate(m, language="zh-CN") for m in english}
    zh = await console_pages(app, "zh-CN", "+8613800138791")
    en = await console_pages(app, "en", "+8613800138792")
    assert {"/console/", "/console/rules", "/console/shop", "/console/report"} <= set(zh), sorted(zh)
    assert set(zh) == set(en)
    for path, page in zh.items():
        shown = texts(page)
        assert not shown & english, (path, sorted(shown & english))
        assert any(CHINESE.search(t) for t in shown), path
    for path, page in en.items():
        assert not texts(page) & chinese, (path, sorted(texts(page) & chinese))
    # the home page's tiles, in each language
    for msgid in ("Game rules", "Shop", "Merchants", "Regulator's report"):
        assert translate(msgid, language="zh-CN") in texts(zh["/console/"])
        assert msgid in texts(en["/console/"])
