"""Every page the app serves works with no internet (and from mainland China): the
console's pages and GraphiQL load scripts, stylesheets, images and frames from this app
only, and the stylesheets they load import nothing from elsewhere. The browser tests
block outside requests for the pages they drive; this reads every page, driven or not."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
from starlette.routing import Mount, Route

from tests.test_console import console_login

BASE = "https://console.test"
LOADED = re.compile(r'<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)="([^"]*)"',
                    re.IGNORECASE)
OUTSIDE_IN_CSS = re.compile(r'(?:@import|url\()\s*["\']?(?:https?:)?//', re.IGNORECASE)


def loaded(page_url: str, html: str) -> list[str]:
    """What the page's elements load, as absolute URLs (a data: icon is not loaded)."""
    return [urljoin(page_url, url) for url in LOADED.findall(html) if not url.startswith("data:")]


def get_paths(routes, prefix: str = "") -> list[str]:
    """The app's GET routes, paths with parameters included as templates."""
    paths = []
    for route in routes:
        if isinstance(route, Mount):
            paths += get_paths(route.routes or [], prefix + route.path)
        elif isinstance(route, Route) and "GET" in (route.methods or ()):
            paths.append(prefix + route.path)
    return paths


async def test_no_page_loads_anything_from_another_origin(make_app):
    app = await make_app(graphiql=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE,
                                 headers={"Accept-Language": "zh-CN"}) as c:
        admin = await console_login(c, app, "+8613800138777", "admin")
        paths = [p.replace("{id}", admin) for p in get_paths(app.routes)
                 if "{" not in p.replace("{id}", "")]
        pages, assets = {}, set()
        for path in paths:
            response = await c.get(path, headers={"Accept": "text/html"})
            if response.headers.get("content-type", "").startswith("text/html"):
                pages[path] = response.text
                assets.update(loaded(BASE + path, response.text))
        # the console's pages, the printable report, a player's page and GraphiQL
        assert {"/console/", "/console/report.html", f"/console/players/{admin}",
                "/graphql"} <= set(pages), sorted(pages)
        assert "graphiql" in pages["/graphql"].lower()
        for path, html in pages.items():
            outside = [url for url in loaded(BASE + path, html)
                       if urlsplit(url).netloc != urlsplit(BASE).netloc]
            assert not outside, (path, outside)
            assert not OUTSIDE_IN_CSS.findall(html), (path, OUTSIDE_IN_CSS.findall(html))
        scripts = {a for a in assets if urlsplit(a).path.endswith(".js")}
        styles = {a for a in assets if urlsplit(a).path.endswith(".css")}
        assert len(scripts) >= 5 and len(styles) >= 3, sorted(assets)  # console's and GraphiQL's
        for asset in sorted(scripts | styles):
            response = await c.get(asset)
            assert response.status_code == 200, asset
            if asset in styles:
                assert not OUTSIDE_IN_CSS.findall(response.text), asset
