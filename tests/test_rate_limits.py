"""Rate limits: login codes per client IP, partner requests per partner (and bad signatures
per IP), the client address behind trusted proxies, and failing open when Redis is down.

Nothing here is timed: limits are set low per test and windows never have to run out.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app import ratelimit
from app.settings import Settings
from tests.conftest import ENGLISH, PARTNER_SECRETS, REQUEST_CODE, GraphQLClient
from tests.partner_client import send, trip

REQUEST_CODE_FULL = """
mutation($phone: String!) {
  requestLoginCode(phone: $phone) { retryAfterSeconds errors { code message field } }
}"""
LOGIN_FULL = """
mutation($phone: String!, $code: String!) {
  loginWithCode(phone: $phone, code: $code) { retryAfterSeconds session { accessToken }
    errors { code message field } }
}"""


def phone(i: int) -> str:
    return f"+86138001{i:05d}"


def http_from(app, ip: str, headers: dict | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver",
                             headers={**ENGLISH, **(headers or {})})


def dead_redis(retries: bool = False) -> Redis:
    """A client for a port nothing listens on: every command fails to connect.

    With `retries`, the client keeps redis-py's default retries with backoff (seconds in
    all); the limiter must still answer within its own timeout.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = {} if retries else {"retry": Retry(NoBackoff(), 0)}
    return Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, decode_responses=True,
                 **options)


@pytest.fixture
async def clients(make_app) -> AsyncIterator:
    opened: list[httpx.AsyncClient] = []

    async def start(ip: str, app=None, **overrides) -> tuple[GraphQLClient, httpx.AsyncClient]:
        app = app or await make_app(**overrides)
        http = http_from(app, ip)
        opened.append(http)
        return GraphQLClient(http, app), http

    yield start
    for http in opened:
        await http.aclose()


# ---------------------------------------------------------------- login codes per IP

async def test_login_codes_per_ip_then_rate_limited_other_ip_unaffected(clients):
    gql, _ = await clients("203.0.113.5", login_code_ip_limit=3)
    for i in range(3):
        result = await gql(REQUEST_CODE_FULL, {"phone": phone(i)})
        assert result["data"]["requestLoginCode"]["errors"] == []
    refused = (await gql(REQUEST_CODE_FULL, {"phone": phone(3)}))["data"]["requestLoginCode"]
    [error] = refused["errors"]
    assert error["code"] == "RATE_LIMITED" and error["field"] is None
    assert "network" in error["message"]
    assert 1 <= refused["retryAfterSeconds"] <= 60
    assert gql.app.state.services.sms.latest_code(phone(3)) is None  # nothing was sent

    other, _ = await clients("203.0.113.6", app=gql.app)
    ok = await other(REQUEST_CODE_FULL, {"phone": phone(3)})
    assert ok["data"]["requestLoginCode"]["errors"] == []


async def test_malformed_phones_count_too(clients):
    gql, _ = await clients("203.0.113.7", login_code_ip_limit=2)
    for _ in range(2):
        errors = (await gql(REQUEST_CODE_FULL, {"phone": "nope"}))["data"]["requestLoginCode"]["errors"]
        assert errors[0]["code"] == "INVALID_INPUT"
    errors = (await gql(REQUEST_CODE_FULL, {"phone": phone(1)}))["data"]["requestLoginCode"]["errors"]
    assert errors[0]["code"] == "RATE_LIMITED"


async def test_login_attempts_per_ip(clients):
    gql, _ = await clients("203.0.113.8", login_attempt_ip_limit=2)
    await gql(REQUEST_CODE, {"phone": phone(1)})
    for _ in range(2):
        wrong = (await gql(LOGIN_FULL, {"phone": phone(1), "code": "000000"}))["data"]["loginWithCode"]
        assert wrong["errors"][0]["code"] in ("INVALID_CODE", "LOCKED")
    right = {"phone": phone(1), "code": gql.sent_code(phone(1))}
    refused = (await gql(LOGIN_FULL, right))["data"]["loginWithCode"]
    assert refused["session"] is None and refused["errors"][0]["code"] == "RATE_LIMITED"
    assert 1 <= refused["retryAfterSeconds"] <= 60
    # The refusal is not a wrong try: from another address the right code still works.
    other, _ = await clients("203.0.113.9", app=gql.app)
    assert (await other(LOGIN_FULL, right))["data"]["loginWithCode"]["session"]["accessToken"]


async def test_many_logins_under_the_default_limit_pass(clients):
    gql, _ = await clients("203.0.113.10")
    for i in range(5):
        await gql.login(phone(20 + i))


# ---------------------------------------------------------------- client address

def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 1234), "headers": headers}


def test_client_ip_uses_the_peer_unless_it_is_a_trusted_proxy():
    assert ratelimit.client_ip(scope("198.51.100.1", "1.2.3.4")) == "198.51.100.1"
    proxies = ["10.0.0.0/8", "192.0.2.1"]
    assert ratelimit.client_ip(scope("198.51.100.1", "1.2.3.4"), proxies) == "198.51.100.1"
    assert ratelimit.client_ip(scope("10.1.2.3", "1.2.3.4"), proxies) == "1.2.3.4"
    # A client cannot spoof by sending its own X-Forwarded-For: the right-most untrusted
    # entry is the one the proxy appended.
    assert ratelimit.client_ip(scope("10.1.2.3", "6.6.6.6, 1.2.3.4, 192.0.2.1"), proxies) == "1.2.3.4"
    assert ratelimit.client_ip(scope("10.1.2.3"), proxies) == "10.1.2.3"
    assert ratelimit.client_ip({"type": "http", "headers": []}) == "unknown"


def test_trusted_proxies_must_be_addresses():
    with pytest.raises(ValueError):
        Settings(_env_file=None, trusted_proxies=["not-an-ip"])
    assert Settings(_env_file=None, trusted_proxies=["10.0.0.0/8", "::1"]).trusted_proxies


async def test_forwarded_clients_are_limited_separately(clients):
    app_gql, _ = await clients("10.0.0.2", login_code_ip_limit=1, trusted_proxies=["10.0.0.0/8"])
    app = app_gql.app
    for n, ip in enumerate(["198.51.100.20", "198.51.100.21"]):
        http = http_from(app, "10.0.0.2", headers={"X-Forwarded-For": ip})
        async with http:
            gql = GraphQLClient(http, app)
            ok = await gql(REQUEST_CODE_FULL, {"phone": phone(40 + n)})
            assert ok["data"]["requestLoginCode"]["errors"] == []
            again = await gql(REQUEST_CODE_FULL, {"phone": phone(50 + n)})
            assert again["data"]["requestLoginCode"]["errors"][0]["code"] == "RATE_LIMITED"


# ---------------------------------------------------------------- partners

async def test_partner_rate_limit_gives_429_with_retry_after(clients):
    gql, http = await clients("198.51.100.30", partner_rate_limit=3)
    player = await gql.login()
    for i in range(3):
        response = await send(http, [trip(f"rl-{i}", player["player"]["id"], meters=3000 + i)])
        assert response.status_code == 200, response.text
    refused = await send(http, [trip("rl-3", player["player"]["id"])])
    assert refused.status_code == 429
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert refused.json()["retryAfterSeconds"] == retry and "error" in refused.json()
    # The refused record was not taken: nothing was stored for it.
    from app.credits.models import PartnerRecord
    assert not await PartnerRecord.filter(record_id="rl-3").exists()


async def test_well_behaved_partner_load_passes(clients):
    gql, http = await clients("198.51.100.31", partner_rate_limit=60)
    player = await gql.login()
    pid = player["player"]["id"]
    responses = await asyncio.gather(*[
        send(http, [trip(f"ok-{i}", pid, meters=2000 + i)]) for i in range(30)])
    assert [r.status_code for r in responses] == [200] * 30


async def test_bad_signatures_per_ip_then_429_for_that_ip_only(clients):
    _, http = await clients("198.51.100.32", partner_auth_failure_ip_limit=2)
    for _ in range(2):
        assert (await send(http, [], secret="wrong-secret-" + "x" * 30)).status_code == 401
    blocked = await send(http, [], secret=PARTNER_SECRETS[0])  # even a good one, from there
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    _, other = await clients("198.51.100.33", app=http._transport.app)
    assert (await send(other, [])).status_code == 200


# ---------------------------------------------------------------- the counter itself

async def test_counter_counts_and_always_has_an_expiry(app):
    redis = app.state.services.redis
    decisions = [await ratelimit.hit(redis, "unit", "who", 2, window_seconds=30) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3]
    assert 1 <= decisions[2].retry_after_seconds <= 30
    assert 0 < await redis.pttl(ratelimit.key_for("unit", "who")) <= 30_000
    assert not (await ratelimit.peek(redis, "unit", "who", 2)).allowed
    assert (await ratelimit.peek(redis, "unit", "someone-else", 2)).allowed
    # A new window starts when the old one ends (here: the key is gone).
    await redis.delete(ratelimit.key_for("unit", "who"))
    assert (await ratelimit.hit(redis, "unit", "who", 2, window_seconds=30)).allowed
    assert (await ratelimit.hit(redis, "unit", "off", 0)).allowed  # 0: no limit


async def test_concurrent_hits_count_exactly(app):
    redis = app.state.services.redis
    decisions = await asyncio.gather(*[ratelimit.hit(redis, "unit", "burst", 5) for _ in range(20)])
    assert sum(d.allowed for d in decisions) == 5
    assert sorted(d.count for d in decisions) == list(range(1, 21))  # none failed open


# ---------------------------------------------------------------- Redis down: fail open

async def test_limiter_fails_open_when_redis_is_down(caplog):
    redis = dead_redis(retries=True)
    ratelimit._last_warning.clear()
    try:
        with caplog.at_level(logging.WARNING, logger="carbon_planet.ratelimit"):
            decisions = [await ratelimit.hit(redis, "down", "who", 1) for _ in range(3)]
            assert (await ratelimit.peek(redis, "down", "who", 1)).allowed
            # Past the pause, Redis is asked again (and still fails open).
            ratelimit._skip_until.clear()
            assert (await ratelimit.hit(redis, "down", "who", 1)).allowed
    finally:
        await redis.aclose()
        ratelimit._skip_until.pop(id(redis), None)
    assert all(d.allowed for d in decisions)
    warnings = [r for r in caplog.records if r.name == "carbon_planet.ratelimit"]
    assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()  # not a flood


async def test_login_and_partner_limits_fail_open_end_to_end(clients):
    gql, http = await clients("198.51.100.40", login_code_ip_limit=1, partner_rate_limit=1)
    player = await gql.login()  # uses the one allowed code request
    services = gql.app.state.services
    real, services.redis = services.redis, dead_redis()
    try:
        for i in range(3):  # over the limit, but Redis cannot say so: allowed
            result = await gql(REQUEST_CODE_FULL, {"phone": phone(60 + i)})
            assert result["data"]["requestLoginCode"]["errors"] == []
        for i in range(3):
            response = await send(http, [trip(f"down-{i}", player["player"]["id"], meters=2500 + i)])
            assert response.status_code == 200, response.text
        # The per-phone limit lives in the database and still holds.
        again = await gql(REQUEST_CODE_FULL, {"phone": phone(60)})
        assert again["data"]["requestLoginCode"]["errors"][0]["code"] == "RATE_LIMITED"
        assert again["data"]["requestLoginCode"]["errors"][0]["field"] == "phone"
    finally:
        await services.redis.aclose()
        ratelimit._skip_until.pop(id(services.redis), None)
        services.redis = real
