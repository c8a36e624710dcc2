"""GraphiQL in a real browser, with no internet: the page, its scripts and the query all
come from the app (every other request is aborted by the `page` fixture)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, LiveServer, PageLog

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"


def editor_value(selector: str) -> str:
    return f"document.querySelector({selector!r}).CodeMirror.getValue()"


async def test_graphiql_runs_a_query_typed_into_its_editor_offline(
        page: Page, page_log: PageLog, live_server: LiveServer):
    response = await page.goto(f"{live_server.url}/graphql")
    assert response is not None and response.ok
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    editor = page.locator(QUERY_EDITOR)
    await expect(editor).to_be_visible(timeout=15_000)

    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.type("{ methodologies { id kinds } }")
    typed = await page.evaluate(editor_value(QUERY_EDITOR))
    assert " ".join(typed.split()) == "{ methodologies { id kinds } }", typed

    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    result = page.locator(".graphiql-response")
    await expect(result).to_contain_text('"cn-low-carbon-travel"', timeout=15_000)
    await expect(result).to_contain_text('"metro"')
    assert '"errors"' not in await result.inner_text()

    # the schema came through introspection: the docs and the explorer plugin show it
    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    await expect(page.locator(".graphiql-explorer-root")).to_contain_text("methodologies")
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    await expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Root Types")

    # the policy lets the page reach its own websocket (subscriptions), nothing else
    ack = await page.evaluate("""(url) => new Promise((resolve) => {
        const socket = new WebSocket(url, "graphql-transport-ws");
        socket.onopen = () => socket.send(JSON.stringify({type: "connection_init"}));
        socket.onmessage = (event) => { resolve(JSON.parse(event.data).type); socket.close(); };
        socket.onerror = () => resolve("error");
    })""", live_server.url.replace("http://", "ws://") + "/graphql")
    assert ack == "connection_ack"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "graphiql.png", full_page=True)
    assert page_log.outside == []
    assert page_log.errors == [] and page_log.console_errors == []
    assert page_log.csp_violations == []
