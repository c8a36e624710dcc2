"""Steps the console's browser tests share: logging in through the console's form, and
calling the live server's GraphQL API as a client would."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import LiveServer


async def console_login(page: Page, server: LiveServer, phone: str) -> None:
    await page.goto(f"{server.url}/console/login")
    await page.fill("#phone", phone)
    await page.click("#send-code")
    await expect(page.locator("#code")).to_be_visible()
    await page.fill("#code", server.login_code(phone))
    await page.click("#login")
    await expect(page.locator("header .who")).to_be_visible()


async def console_logout(page: Page) -> None:
    await page.click("header form button")
    await expect(page.locator("#send-code")).to_be_visible()


class Api:
    """GraphQL over HTTP against the live server, as the mobile app calls it."""

    def __init__(self, server: LiveServer, language: str = "zh-CN") -> None:
        self.server = server
        self.language = language
        self.token: str | None = None

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        headers = {"Accept-Language": self.language}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = httpx.post(f"{self.server.url}/graphql", headers=headers, timeout=30,
                              json={"query": query, "variables": variables or {}})
        assert response.status_code == 200, response.text
        return response.json()

    def login(self, phone: str) -> Api:
        sent = self("mutation($p: String!) { requestLoginCode(phone: $p) { errors { message } } }",
                    {"p": phone})
        assert sent["data"]["requestLoginCode"]["errors"] == [], sent
        done = self("""mutation($p: String!, $c: String!) { loginWithCode(phone: $p, code: $c) {
            session { accessToken } errors { message } } }""",
                    {"p": phone, "c": self.server.login_code(phone)})
        self.token = done["data"]["loginWithCode"]["session"]["accessToken"]
        return self
