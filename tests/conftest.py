"""Test fixtures: one freshly migrated database per run, emptied before every test.

With nothing set the suite runs on a temporary SQLite file and in-process fakeredis.
With `DATABASE_URL=postgres://…` it creates (and afterwards drops) a fresh database
on that server; with `REDIS_URL` it uses that Redis database, flushed per test.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette

from app import database
from app.auth.sms import LogSmsProvider
from app.server import create_app
from app.settings import HostIssuer, PartnerConfig, Settings

HS_ISSUER = "https://superapp.example.cn"
HS_SECRET = "host-app-shared-secret-for-tests-0123456789"
RS_ISSUER = "https://miniprogram.example.cn"
AUDIENCE = "carbon-planet"
TEST_SECRET = "test-secret-key-0123456789abcdefghijklmnop"
PARTNER_ID = "metro-sz"
PARTNER_SECRETS = ["partner-secret-old-0123456789abcdefghij", "partner-secret-new-0123456789abcdefghij"]
# The test clients read English, so the suite's message assertions stay English; the API's
# default (no Accept-Language) is Chinese, which tests/test_i18n.py checks explicitly.
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


async def _fresh_postgres(base_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"carbon_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = base_url.replace("postgres://", "postgresql://", 1)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return base_url.rsplit("/", 1)[0] + "/" + name, drop


@pytest.fixture(scope="session")
async def settings(tmp_path_factory: pytest.TempPathFactory, rsa_key) -> AsyncIterator[Settings]:
    base_url = os.environ.get("DATABASE_URL", "")
    drop = None
    if base_url.startswith(("postgres://", "postgresql://")):
        url, drop = await _fresh_postgres(database.normalise_url(base_url))
    else:
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    test_settings = Settings(
        _env_file=None,
        env="test",
        database_url=url,
        redis_url=os.environ.get("REDIS_URL") or None,
        secret_key=TEST_SECRET,
        log_json=False,
        payout_worker=False,  # tests drive a PayoutWorker with their own clock and provider
        transparency_sequence_seconds=3600,  # tests sequence the log when they mean to
        transparency_log_key_file=str(tmp_path_factory.mktemp("log") / "signer.key"),
        partners=[PartnerConfig(id=PARTNER_ID, name="Shenzhen Metro", secrets=PARTNER_SECRETS)],
        host_issuers=[
            HostIssuer(issuer=HS_ISSUER, audience=AUDIENCE, hs256_secret=HS_SECRET),
            HostIssuer(issuer=RS_ISSUER, rs256_public_key=_public_pem(rsa_key)),
        ],
    )
    await database.migrate(test_settings)
    yield test_settings
    if drop is not None:
        await drop()


@pytest.fixture
async def make_app(settings: Settings) -> AsyncIterator[Callable[..., Awaitable[Starlette]]]:
    """Start an app (lifespan included) on the emptied test database; stopped after the test."""
    stack = []

    async def start(**overrides: Any) -> Starlette:
        application = create_app(settings.model_copy(update=overrides), sms=LogSmsProvider())
        lifespan = application.router.lifespan_context(application)
        await lifespan.__aenter__()
        stack.append(lifespan)
        if len(stack) == 1:
            await database.clear_all_tables()
            await application.state.services.redis.flushdb()
        return application

    yield start
    for lifespan in reversed(stack):
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def app(make_app) -> Starlette:
    return await make_app()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                 headers=ENGLISH) as c:
        yield c


class GraphQLClient:
    """Posts operations to /graphql the way the mobile app does."""

    def __init__(self, http: httpx.AsyncClient, app: Starlette) -> None:
        self.http = http
        self.app = app

    async def __call__(
        self, query: str, variables: dict | None = None, token: str | None = None
    ) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    def sent_code(self, phone: str) -> str:
        code = self.app.state.services.sms.latest_code(phone)
        assert code is not None, f"no code was sent to {phone}"
        return code

    async def login(self, phone: str = "+8613800138000") -> dict:
        """Log in by phone through the API; returns the session."""
        sent = await self(REQUEST_CODE, {"phone": phone})
        assert sent["data"]["requestLoginCode"]["errors"] == [], sent
        result = await self(LOGIN_WITH_CODE, {"phone": phone, "code": self.sent_code(phone)})
        assert result["data"]["loginWithCode"]["errors"] == [], result
        return result["data"]["loginWithCode"]["session"]


@pytest.fixture
def gql(client: httpx.AsyncClient, app: Starlette) -> GraphQLClient:
    return GraphQLClient(client, app)


REQUEST_CODE = """
mutation RequestLoginCode($phone: String!) {
  requestLoginCode(phone: $phone) { retryAfterSeconds errors { code message field } }
}"""

LOGIN_WITH_CODE = """
mutation LoginWithCode($phone: String!, $code: String!) {
  loginWithCode(phone: $phone, code: $code) {
    session { accessToken refreshToken expiresAt player { id nickname } }
    errors { code message field }
  }
}"""


def _sqlite_workers() -> set[threading.Thread]:
    """aiosqlite's connection threads alive now (each an open SQLite connection)."""
    return {t for t in threading.enumerate() if t.is_alive() and "_connection_worker_thread" in t.name}


@pytest.fixture(autouse=True)
def closes_its_sqlite_connections() -> Iterator[None]:
    """A test must close every SQLite connection it opens: aiosqlite's thread is not a
    daemon, so one left open keeps pytest from exiting after the last test."""
    before = _sqlite_workers()
    yield
    left = _sqlite_workers() - before
    for thread in left:
        thread.join(timeout=5)
    left = {t for t in left if t.is_alive()}
    assert not left, f"{len(left)} SQLite connection(s) left open ({', '.join(t.name for t in left)})"
