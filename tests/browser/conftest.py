"""Browser tests: the real server, driven by headless Chromium through Playwright.

Fixtures (any test under tests/browser/ may use them; tests are `async def`):

- `live_server` (session): a real `carbon-planet serve` process on a free loopback port,
  run in a temporary folder with its own SQLite database (migrated and demo-seeded, as
  `make run` does) and in-process fakeredis, on the embedded defaults (no `CARBON_*`,
  `DATABASE_URL` or `REDIS_URL` from the environment). A `LiveServer`: `url` (the base URL,
  `http://127.0.0.1:<port>`), `directory`, `log` (its log file) and `login_code(phone)`,
  the code the development SMS provider last logged for a phone (demo players:
  `+8613800000001`…, see the README). All tests of a run share this one server and its
  database: create what a test needs rather than expect an untouched demo.
- `browser` (session): Playwright's Chromium, headless, launched from Debian's
  `/usr/bin/chromium` (apt package `chromium`; set `BROWSER_TESTS_CHROMIUM` to use another
  binary). If it is missing, every browser test fails (it does not skip): CI installs it.
- `page` (per test): a new page in a fresh browser context (no cookies or storage from
  other tests). Every request it makes to anything but the live server is aborted, so a
  page that needs the internet breaks visibly, and the test fails when it is done.
- `page_log` (per test): what `page` saw: `outside` (the requests aborted above),
  `errors` (uncaught page errors), `console_errors`, `csp_violations` (each blocked by the
  page's Content-Security-Policy: directive and blocked URI). Assert on it as needed.

Screenshots go to `SCREENSHOTS` (var/screenshots/, not committed).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, Route, WebSocketRoute, async_playwright

from tests.test_server_process import COMMAND, clean_env, free_port

CHROMIUM = os.environ.get("BROWSER_TESTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LIVE_PARTNER, LIVE_PARTNER_SECRET = "metro-sz", "live-server-partner-secret-0123456789abcdef"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@dataclass
class LiveServer:
    url: str
    directory: Path
    log: Path
    process: subprocess.Popen

    def login_code(self, phone: str) -> str:
        """The login code last written to the log for `phone` (development SMS provider)."""
        for line in reversed(self.log.read_text().splitlines()):
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("phone") == phone and "login_code" in record:
                    return record["login_code"]
        raise AssertionError(f"no login code for {phone} in {self.log}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("live-server")
    env = clean_env(CARBON_PARTNERS=json.dumps([{"id": LIVE_PARTNER, "name": "深圳地铁",
                                                  "secrets": [LIVE_PARTNER_SECRET]}]))
    for step in (["migrate"], ["seed-demo"]):
        done = subprocess.run([COMMAND, *step], cwd=directory, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, f"carbon-planet {step[0]} failed:\n{done.stderr}"
    port = free_port()
    log = directory / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([COMMAND, "serve", "--port", str(port)], cwd=directory,
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", directory, log, process)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("the live server did not start:\n" + log.read_text())
        time.sleep(0.2)
    yield server
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: the browser tests need it "
                    "(Debian/Ubuntu: apt-get install chromium; or set BROWSER_TESTS_CHROMIUM "
                    "to a Chromium binary).", pytrace=False)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                    args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class PageLog:
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


_REPORT_CSP = """document.addEventListener("securitypolicyviolation", (e) =>
  console.warn("csp-violation " + e.effectiveDirective + " " + e.blockedURI));"""


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
async def page(browser: Browser, live_server: LiveServer, page_log: PageLog) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    origin = live_server.url + "/"
    socket_origin = live_server.url.replace("http://", "ws://", 1) + "/"

    async def only_the_live_server(route: Route, request: Request) -> None:
        if request.url.startswith(origin):
            await route.continue_()
        else:
            page_log.outside.append(request.url)
            await route.abort("blockedbyclient")

    async def no_outside_socket(socket: WebSocketRoute) -> None:
        page_log.outside.append(socket.url)
        await socket.close()

    await context.route("**/*", only_the_live_server)
    await context.route_web_socket(lambda url: not url.startswith(socket_origin), no_outside_socket)
    await context.add_init_script(_REPORT_CSP)
    opened = await context.new_page()

    def on_console(message) -> None:
        if message.text.startswith("csp-violation "):
            page_log.csp_violations.append(message.text.removeprefix("csp-violation "))
        elif message.type == "error":
            page_log.console_errors.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: page_log.errors.append(str(error)))
    yield opened
    await context.close()
    assert not page_log.outside, f"the page asked for something outside the app: {page_log.outside}"
