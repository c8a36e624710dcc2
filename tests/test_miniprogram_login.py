"""WeChat and Alipay mini-program login through GraphQL, against a local stand-in of both
platforms served over HTTP (tests/miniprogram_stub.py)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.accounts.models import AuthSession, MiniProgramIdentity, Player
from app.settings import AlipayApp, WeChatApp
from tests.conftest import ENGLISH, GraphQLClient
from tests.miniprogram_stub import MiniProgramStub

CITY_APP, METRO_APP = "wx1111aaaa2222bbbb", "wx3333cccc4444dddd"
WECHAT_SECRETS = {CITY_APP: "city-app-secret-0123456789abcdef", METRO_APP: "metro-secret-0123456789"}
ALIPAY_APP = "2021000000000001"

WECHAT_LOGIN = """
mutation($appId: String!, $code: String!, $phoneCode: String) {
  loginWithWeChat(appId: $appId, code: $code, phoneCode: $phoneCode) {
    session { accessToken refreshToken expiresAt player { id nickname } }
    retryAfterSeconds
    errors { code message field }
  }
}"""

ALIPAY_LOGIN = """
mutation($appId: String!, $code: String!) {
  loginWithAlipay(appId: $appId, code: $code) {
    session { accessToken refreshToken player { id nickname } }
    errors { code message field }
  }
}"""


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="session")
async def platforms() -> AsyncIterator[tuple[MiniProgramStub, str]]:
    """The stand-in on 127.0.0.1 (an ephemeral port) for the whole run, and its URL."""
    stub = MiniProgramStub()
    server = uvicorn.Server(uvicorn.Config(stub.app, host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield stub, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
def alipay_keys(tmp_path_factory, platforms) -> tuple[rsa.RSAPrivateKey, Path, Path, Path]:
    """The Alipay app's key (the stand-in knows its public half), its PEM file, the PEM
    file of another key that Alipay does not know, and Alipay's public key's PEM file."""
    folder = tmp_path_factory.mktemp("alipay")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "app.pem").write_bytes(_pem(key))
    (folder / "other.pem").write_bytes(_pem(other))
    (folder / "alipay-public.pem").write_bytes(platforms[0].alipay_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, folder / "app.pem", folder / "other.pem", folder / "alipay-public.pem"


@pytest.fixture
def stub(platforms, alipay_keys) -> MiniProgramStub:
    stub, _ = platforms
    stub.reset()
    stub.wechat_secrets = dict(WECHAT_SECRETS)
    stub.alipay_public_keys = {ALIPAY_APP: alipay_keys[0].public_key()}
    return stub


def platform_settings(url: str, keys: tuple, *, app_key: int = 1, **overrides) -> dict:
    alipay_app = AlipayApp(app_id=ALIPAY_APP, private_key_path=str(keys[app_key]),
                           alipay_public_key_path=str(keys[3]))
    return {
        "wechat_base_url": url,
        "alipay_base_url": url,
        "wechat_apps": [WeChatApp(app_id=a, secret=s) for a, s in WECHAT_SECRETS.items()],
        "alipay_apps": [alipay_app],
        "miniprogram_timeout_seconds": 2.0,
        **overrides,
    }


@pytest.fixture
async def app(make_app, stub, platforms, alipay_keys):
    return await make_app(**platform_settings(platforms[1], alipay_keys))


async def client_of(application, headers=ENGLISH) -> GraphQLClient:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                             base_url="http://testserver", headers=headers)
    return GraphQLClient(http, application)


async def wechat(gql, app_id: str, code: str, phone_code: str | None = None) -> dict:
    result = await gql(WECHAT_LOGIN, {"appId": app_id, "code": code, "phoneCode": phone_code})
    return result["data"]["loginWithWeChat"]


async def alipay(gql, code: str) -> dict:
    return (await gql(ALIPAY_LOGIN, {"appId": ALIPAY_APP, "code": code}))["data"]["loginWithAlipay"]


async def counts() -> tuple[int, int, int]:
    return (await Player.all().count(), await MiniProgramIdentity.all().count(),
            await AuthSession.all().count())


def error_of(payload: dict) -> tuple[str, str | None]:
    assert payload["session"] is None, payload
    assert len(payload["errors"]) == 1, payload
    return payload["errors"][0]["code"], payload["errors"][0]["field"]


async def test_wechat_first_login_creates_a_player_whose_session_works(gql, stub, caplog):
    caplog.set_level(logging.DEBUG)
    payload = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-city-1", "u-1"))
    assert payload["errors"] == []
    player = payload["session"]["player"]
    assert player["nickname"].startswith("低碳玩家")
    me = await gql("{ me { id } }", token=payload["session"]["accessToken"])
    assert me["data"]["me"]["id"] == player["id"]
    identity = await MiniProgramIdentity.get(platform="wechat", app_id=CITY_APP, openid="o-city-1")
    assert (str(identity.player_id), identity.unionid) == (player["id"], "u-1")
    assert (await AuthSession.get(player_id=player["id"])).method == "wechat"

    again = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-city-1", "u-1"))
    assert again["session"]["player"]["id"] == player["id"]
    assert await counts() == (1, 1, 2)
    # the session_key and the AppSecret stay between the server and WeChat
    for secret in [*stub.session_keys, WECHAT_SECRETS[CITY_APP]]:
        assert secret not in str(payload) + str(again)
        assert secret not in caplog.text


async def test_same_unionid_in_another_app_is_the_same_player(gql, stub):
    first = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-city-7", "u-7"))
    second = await wechat(gql, METRO_APP, stub.wechat_code(METRO_APP, "o-metro-7", "u-7"))
    assert second["errors"] == []
    assert second["session"]["player"]["id"] == first["session"]["player"]["id"]
    openids = await MiniProgramIdentity.filter(unionid="u-7").order_by("id").values_list(
        "app_id", "openid")
    assert openids == [(CITY_APP, "o-city-7"), (METRO_APP, "o-metro-7")]
    other = await wechat(gql, METRO_APP, stub.wechat_code(METRO_APP, "o-metro-8", "u-8"))
    assert other["session"]["player"]["id"] != first["session"]["player"]["id"]
    assert (await counts())[:2] == (2, 3)


async def test_an_unknown_code_is_refused_and_creates_nothing(gql, stub):
    assert error_of(await wechat(gql, CITY_APP, "never-issued")) == ("INVALID_CODE", "code")
    # a code of another app is not this app's
    code = stub.wechat_code(METRO_APP, "o-x")
    payload = await wechat(gql, CITY_APP, code)
    assert error_of(payload) == ("INVALID_CODE", "code")
    assert "wx.login" in payload["errors"][0]["message"]
    assert await counts() == (0, 0, 0)


async def test_a_code_works_once(gql, stub):
    code = stub.wechat_code(CITY_APP, "o-once")
    assert (await wechat(gql, CITY_APP, code))["errors"] == []
    before = await counts()
    payload = await wechat(gql, CITY_APP, code)
    assert error_of(payload) == ("INVALID_CODE", "code")
    assert "already used" in payload["errors"][0]["message"]
    assert await counts() == before


async def test_input_refused_before_any_call(gql, stub):
    assert error_of(await wechat(gql, "wx-not-ours", stub.wechat_code(CITY_APP, "o"))) == (
        "INVALID_INPUT", "appId")
    assert error_of(await wechat(gql, CITY_APP, " ")) == ("INVALID_INPUT", "code")
    assert error_of(await wechat(gql, CITY_APP, "x" * 300)) == ("INVALID_INPUT", "code")
    assert error_of(await wechat(gql, CITY_APP, "码")) == ("INVALID_INPUT", "code")
    payload = (await gql(ALIPAY_LOGIN, {"appId": "nope", "code": "c"}))["data"]["loginWithAlipay"]
    assert error_of(payload) == ("INVALID_INPUT", "appId")
    assert stub.used == set() and await counts() == (0, 0, 0)


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("trouble", ["down", "garbage", "slow", "refused"])
async def test_platform_trouble_is_a_clear_error_and_creates_nothing(make_app, stub, platforms,
                                                                     alipay_keys, trouble):
    url = _closed_port_url() if trouble == "refused" else platforms[1]
    application = await make_app(**platform_settings(url, alipay_keys,
                                                     miniprogram_timeout_seconds=0.3))
    gql = await client_of(application)
    stub.down, stub.garbage = trouble == "down", trouble == "garbage"
    stub.delay = 1.0 if trouble == "slow" else 0.0
    payload = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-down", "u-down"))
    assert error_of(payload) == ("NOT_AVAILABLE", None)
    assert "WeChat did not answer" in payload["errors"][0]["message"]
    payload = await alipay(gql, stub.alipay_code(ALIPAY_APP, "alipay-open-1"))
    assert error_of(payload) == ("NOT_AVAILABLE", None)
    assert "Alipay did not answer" in payload["errors"][0]["message"]
    assert await counts() == (0, 0, 0)
    stub.delay = 0.0


async def test_wechat_refusing_the_servers_secret_is_not_available(make_app, stub, platforms,
                                                                   alipay_keys, caplog):
    application = await make_app(**platform_settings(platforms[1], alipay_keys, wechat_apps=[
        WeChatApp(app_id=CITY_APP, secret="a-wrong-secret")]))
    gql = await client_of(application)
    payload = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-1"))
    assert error_of(payload) == ("NOT_AVAILABLE", None)
    assert "40125" in caplog.text and "a-wrong-secret" not in caplog.text
    assert await counts() == (0, 0, 0)


async def test_refusals_read_in_chinese_by_default(stub, app):
    gql = await client_of(app, headers={})
    payload = await wechat(gql, CITY_APP, "never-issued")
    assert error_of(payload) == ("INVALID_CODE", "code")
    assert "wx.login" in payload["errors"][0]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in payload["errors"][0]["message"])


async def test_a_wechat_phone_number_logs_into_the_account_with_that_phone(gql, stub):
    by_sms = await gql.login("+8613800138000")
    phone_code = stub.phone_code(CITY_APP, "13800138000")
    payload = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-phone", "u-phone"),
                           phone_code)
    assert payload["errors"] == []
    assert payload["session"]["player"]["id"] == by_sms["player"]["id"]
    identity = await MiniProgramIdentity.get(openid="o-phone")
    assert str(identity.player_id) == by_sms["player"]["id"]
    assert (await counts())[:2] == (1, 1)
    # the access token was fetched once and is reused for the next number
    assert stub.token_requests == 1
    other = await wechat(gql, METRO_APP, stub.wechat_code(METRO_APP, "o-new"),
                         stub.phone_code(METRO_APP, "13900139000"))
    assert other["errors"] == []
    assert (await Player.get(id=other["session"]["player"]["id"])).phone == "+8613900139000"
    assert stub.token_requests == 2  # one per app
    again = await wechat(gql, METRO_APP, stub.wechat_code(METRO_APP, "o-new"),
                         stub.phone_code(METRO_APP, "13900139000"))
    assert again["session"]["player"]["id"] == other["session"]["player"]["id"]
    assert stub.token_requests == 2


async def test_a_phone_code_refused_or_owned_by_another_account_changes_nothing(gql, stub):
    await gql.login("+8613800138000")
    first = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-2", "u-2"))
    before = await counts()
    used = stub.phone_code(CITY_APP, "13700137000")
    assert (await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-3"), used))["errors"] == []
    before = await counts()
    payload = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-4"), used)
    assert error_of(payload) == ("INVALID_CODE", "phoneCode")
    assert error_of(await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-4"), "nope")) == (
        "INVALID_CODE", "phoneCode")
    assert await counts() == before
    # o-2's player has no phone; the number belongs to the SMS account
    taken = stub.phone_code(CITY_APP, "13800138000")
    payload = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-2", "u-2"), taken)
    assert error_of(payload) == ("CONFLICT", "phoneCode")
    assert (await Player.get(id=first["session"]["player"]["id"])).phone is None
    assert await counts() == before


async def test_alipay_login(gql, stub):
    payload = await alipay(gql, stub.alipay_code(ALIPAY_APP, "alipay-open-1"))
    assert payload["errors"] == []
    me = await gql("{ me { id } }", token=payload["session"]["accessToken"])
    assert me["data"]["me"]["id"] == payload["session"]["player"]["id"]
    identity = await MiniProgramIdentity.get(platform="alipay", app_id=ALIPAY_APP)
    assert identity.openid == "alipay-open-1" and identity.unionid is None
    again = await alipay(gql, stub.alipay_code(ALIPAY_APP, "alipay-open-1"))
    assert again["session"]["player"]["id"] == payload["session"]["player"]["id"]
    assert (await counts())[:2] == (1, 1)


async def test_alipay_bad_and_reused_codes_are_refused(gql, stub):
    assert error_of(await alipay(gql, "never-issued")) == ("INVALID_CODE", "code")
    code = stub.alipay_code(ALIPAY_APP, "alipay-open-2")
    assert (await alipay(gql, code))["errors"] == []
    before = await counts()
    payload = await alipay(gql, code)
    assert error_of(payload) == ("INVALID_CODE", "code")
    assert "my.getAuthCode" in payload["errors"][0]["message"]
    assert await counts() == before


async def test_alipay_refusing_the_signature_is_a_clear_error(make_app, stub, platforms,
                                                              alipay_keys, caplog):
    application = await make_app(**platform_settings(platforms[1], alipay_keys, app_key=2))
    gql = await client_of(application)
    payload = await alipay(gql, stub.alipay_code(ALIPAY_APP, "alipay-open-3"))
    assert error_of(payload) == ("NOT_AVAILABLE", None)
    assert "isv.invalid-signature" in caplog.text
    assert stub.used == set() and await counts() == (0, 0, 0)


async def test_an_alipay_answer_not_signed_by_alipay_is_refused(gql, stub, caplog):
    stub.forge = True
    payload = await alipay(gql, stub.alipay_code(ALIPAY_APP, "alipay-open-4"))
    assert error_of(payload) == ("NOT_AVAILABLE", None)
    assert "does not verify" in caplog.text
    assert await counts() == (0, 0, 0)


async def test_logins_per_network_are_limited(make_app, stub, platforms, alipay_keys):
    application = await make_app(**platform_settings(platforms[1], alipay_keys,
                                                     miniprogram_login_ip_limit=2))
    gql = await client_of(application)
    for _ in range(2):
        assert error_of(await wechat(gql, CITY_APP, "never-issued"))[0] == "INVALID_CODE"
    payload = await wechat(gql, CITY_APP, stub.wechat_code(CITY_APP, "o-limited"))
    assert error_of(payload)[0] == "RATE_LIMITED"
    assert payload["retryAfterSeconds"] > 0
    assert stub.used == set()


def test_production_wants_alipays_public_key(alipay_keys):
    from app.settings import Settings

    unverified = AlipayApp(app_id=ALIPAY_APP, private_key_path=str(alipay_keys[1]))
    problems = Settings(_env_file=None, env="production", alipay_apps=[unverified]).production_problems()
    assert any("alipay_public_key_path" in p for p in problems)
    verified = unverified.model_copy(update={"alipay_public_key_path": str(alipay_keys[3])})
    problems = Settings(_env_file=None, env="production", alipay_apps=[verified]).production_problems()
    assert not any("Alipay" in p for p in problems)


async def test_first_logins_from_two_apps_at_once_make_one_player(gql, stub):
    results = await asyncio.gather(*(
        wechat(gql, app_id, stub.wechat_code(app_id, f"o-{app_id}", "u-together"))
        for app_id in (CITY_APP, METRO_APP, CITY_APP)))
    assert [r["errors"] for r in results] == [[], [], []]
    assert len({r["session"]["player"]["id"] for r in results}) == 1
    assert (await counts())[:2] == (1, 2)
