"""GraphiQL served whole by the app: the page loads only this app's assets, under a policy
that allows nothing remote (tests/browser/test_graphiql.py runs it in a real browser)."""

from __future__ import annotations

import re

import httpx

from schema.graphiql import ASSETS_PATH

JS_OR_CSS = ("text/javascript", "application/javascript", "text/css")


def referenced(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"', html)


async def test_the_page_references_only_assets_the_app_serves(client: httpx.AsyncClient):
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.search(r"https?://", html), re.search(r".{40}https?://.{40}", html)
    assets = [url for url in referenced(html) if not url.startswith("data:")]
    assert len(assets) == 6 and all(url.startswith(ASSETS_PATH + "/") for url in assets)
    for url in assets:
        served = await client.get(url)
        assert served.status_code == 200, url
        assert served.headers["content-type"].startswith(JS_OR_CSS), (url, served.headers)
        assert len(served.content) > 500 and served.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(f"{ASSETS_PATH}/nothing.js")).status_code == 404
    assert (await client.get(f"{ASSETS_PATH}/../__init__.py")).status_code == 404


async def test_the_policy_allows_this_origin_and_the_inline_bootstrap_only(client: httpx.AsyncClient):
    first = await client.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
    second = await client.get("/graphql", headers={"Accept": "*/*"})
    policy = dict(part.strip().split(" ", 1) for part in
                  first.headers["content-security-policy"].split(";"))
    nonce = re.search(r"'nonce-([A-Za-z0-9_-]{20,})'", policy["script-src"]).group(1)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"'self' 'nonce-{nonce}'"
    assert policy["style-src"] == f"'self' 'nonce-{nonce}'"
    assert policy["connect-src"] == "'self'"
    assert not any(re.search(r"https?:|\*|unsafe", value) for value in policy.values())
    inline = re.findall(r"<(script|style)( nonce=\"[^\"]*\")?>", first.text)
    assert inline == [("style", f' nonce="{nonce}"'), ("script", f' nonce="{nonce}"')]
    assert nonce not in second.text  # a new nonce each time
    assert first.headers["cache-control"] == "no-store"


async def test_queries_still_get_json_and_big_bodies_still_413(client: httpx.AsyncClient):
    query = await client.get("/graphql", params={"query": "{ methodologies { id } }"},
                             headers={"Accept": "text/html"})
    assert {"id": "cn-low-carbon-travel"} in query.json()["data"]["methodologies"]
    posted = await client.post(f"{ASSETS_PATH}/graphiql.min.js", content=b"x" * 20_000)
    assert posted.status_code == 413  # the asset route has the small default body limit


async def test_without_graphiql_there_is_no_page_and_no_assets(make_app):
    app = await make_app(graphiql=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        page = await c.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert (await c.get(f"{ASSETS_PATH}/graphiql.min.js")).status_code == 404
