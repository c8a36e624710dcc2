"""The docs site works without internet: what Material's bundle would fetch from unpkg.com
(a ResizeObserver polyfill for older browsers, Mermaid for a diagram) comes from the site
itself, from a page at any depth, and no request leaves the site."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Request, Route

from tests.test_docs_build import site  # noqa: F401 - the built site, as a fixture
from tests.test_server_process import free_port


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture(scope="module")
def docs_url(site: Path) -> Iterator[str]:  # noqa: F811 - the fixture imported above
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_an_older_browser_gets_the_resize_observer_polyfill_from_the_site(
        browser: Browser, docs_url: str):
    context = await browser.new_context()
    outside: list[str] = []
    fetched: list[tuple[str, int]] = []

    async def only_the_site(route: Route, request: Request) -> None:
        if request.url.startswith(docs_url):
            await route.continue_()
        else:
            outside.append(request.url)
            await route.abort("blockedbyclient")

    await context.route("**/*", only_the_site)
    page = await context.new_page()

    async def finished(request: Request) -> None:
        response = await request.response()
        fetched.append((request.url, response.status if response else 0))

    page.on("requestfinished", finished)
    await page.add_init_script("delete window.ResizeObserver")  # as a browser before 2020
    try:
        for path in ("/", "/clients/credits/"):
            await page.goto(docs_url + path)
            await page.wait_for_function("typeof ResizeObserver !== 'undefined'", timeout=10_000)
        polyfill = f"{docs_url}/assets/vendor/resize-observer-polyfill-1.5.1.js"
        assert [status for url, status in fetched if url == polyfill] == [200, 200], fetched
        # the bundle's Mermaid loader points at the site's own copy, which is served
        bundle = await page.evaluate(
            "[...document.scripts].map(s => s.src).find(s => s.includes('/bundle.'))")
        mermaid = await page.request.get(f"{docs_url}/assets/vendor/mermaid-11.17.2.min.js")
        served = await (await page.request.get(bundle)).text()
        assert bundle and mermaid.ok and "unpkg" not in served
        assert not outside, outside
    finally:
        await context.close()
