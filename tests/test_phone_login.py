"""Phone login with one-time codes, over GraphQL."""

from __future__ import annotations

from datetime import timedelta

from app.accounts.models import AuthSession, LoginCode, Player
from app.clock import utcnow
from tests.conftest import LOGIN_WITH_CODE, REQUEST_CODE

PHONE = "+8613912345678"


async def test_first_login_creates_player_and_returns_a_session(gql):
    sent = await gql(REQUEST_CODE, {"phone": "139 1234 5678"})
    assert sent["data"]["requestLoginCode"] == {"retryAfterSeconds": 60, "errors": []}
    code = gql.sent_code(PHONE)

    result = await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": code})
    payload = result["data"]["loginWithCode"]
    assert payload["errors"] == []
    session = payload["session"]
    assert session["accessToken"] and session["refreshToken"]
    assert session["expiresAt"].endswith("+00:00")
    player = await Player.get(phone=PHONE)
    assert session["player"] == {"id": str(player.id), "nickname": "低碳玩家5678"}

    me = await gql("{ me { id nickname city avatarUrl createdAt } }", token=session["accessToken"])
    assert me["data"]["me"]["id"] == str(player.id)


async def test_second_login_finds_the_same_player(gql):
    first = await gql.login(PHONE)
    await LoginCode.filter(phone=PHONE).update(sent_at=utcnow() - timedelta(seconds=61))
    second = await gql.login(PHONE)
    assert first["player"]["id"] == second["player"]["id"]
    assert await Player.filter(phone=PHONE).count() == 1
    assert await AuthSession.filter(player_id=first["player"]["id"]).count() == 2


async def test_code_is_stored_hashed(gql):
    await gql(REQUEST_CODE, {"phone": PHONE})
    code = gql.sent_code(PHONE)
    row = await LoginCode.get(phone=PHONE)
    assert code not in row.code_hash and len(row.code_hash) == 64


async def test_malformed_phone_is_invalid_input_and_sends_nothing(gql):
    for bad in ["", "12345", "not a phone", "+86 010 1234 5678", "1" * 40]:
        result = await gql(REQUEST_CODE, {"phone": bad})
        payload = result["data"]["requestLoginCode"]
        assert [e["code"] for e in payload["errors"]] == ["INVALID_INPUT"], bad
        assert payload["errors"][0]["field"] == "phone"
    assert await LoginCode.all().count() == 0


async def test_second_request_within_a_minute_is_rate_limited(gql):
    await gql(REQUEST_CODE, {"phone": PHONE})
    first_code = gql.sent_code(PHONE)
    again = (await gql(REQUEST_CODE, {"phone": PHONE}))["data"]["requestLoginCode"]
    assert again["errors"][0]["code"] == "RATE_LIMITED"
    assert 1 <= again["retryAfterSeconds"] <= 60
    assert gql.sent_code(PHONE) == first_code  # nothing new was sent

    await LoginCode.filter(phone=PHONE).update(sent_at=utcnow() - timedelta(seconds=61))
    later = (await gql(REQUEST_CODE, {"phone": PHONE}))["data"]["requestLoginCode"]
    assert later["errors"] == []


async def test_wrong_code_is_refused_and_changes_nothing_but_the_try_count(gql):
    await gql(REQUEST_CODE, {"phone": PHONE})
    code = gql.sent_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    result = (await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": wrong}))["data"]["loginWithCode"]
    assert result["session"] is None
    assert result["errors"][0]["code"] == "INVALID_CODE"
    assert result["errors"][0]["field"] == "code"
    assert await Player.filter(phone=PHONE).count() == 0
    assert await AuthSession.all().count() == 0
    assert (await LoginCode.get(phone=PHONE)).attempts == 1


async def test_malformed_code_is_invalid_input(gql):
    await gql(REQUEST_CODE, {"phone": PHONE})
    for bad in ["", "12345", "abcdef", "1234567"]:
        result = (await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": bad}))["data"]
        assert result["loginWithCode"]["errors"][0]["code"] == "INVALID_INPUT", bad
    assert (await LoginCode.get(phone=PHONE)).attempts == 0


async def test_code_without_request_is_invalid(gql):
    result = (await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": "123456"}))["data"]
    assert result["loginWithCode"]["errors"][0]["code"] == "INVALID_CODE"


async def test_five_wrong_tries_lock_the_code_even_the_right_one(gql):
    await gql(REQUEST_CODE, {"phone": PHONE})
    code = gql.sent_code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    codes = []
    for _ in range(5):
        result = await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": wrong})
        codes.append(result["data"]["loginWithCode"]["errors"][0]["code"])
    assert codes == ["INVALID_CODE"] * 5
    locked = await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": code})
    assert locked["data"]["loginWithCode"]["errors"][0]["code"] == "LOCKED"
    assert await AuthSession.all().count() == 0


async def test_expired_code_is_refused(gql):
    await gql(REQUEST_CODE, {"phone": PHONE})
    code = gql.sent_code(PHONE)
    row = await LoginCode.get(phone=PHONE)
    assert timedelta(seconds=299) < row.expires_at - row.sent_at <= timedelta(seconds=300)
    await LoginCode.filter(phone=PHONE).update(expires_at=utcnow() - timedelta(seconds=1))
    result = await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": code})
    assert result["data"]["loginWithCode"]["errors"][0]["code"] == "CODE_EXPIRED"
    assert await Player.filter(phone=PHONE).count() == 0


async def test_a_code_works_once(gql):
    await gql(REQUEST_CODE, {"phone": PHONE})
    code = gql.sent_code(PHONE)
    ok = await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": code})
    assert ok["data"]["loginWithCode"]["errors"] == []
    again = await gql(LOGIN_WITH_CODE, {"phone": PHONE, "code": code})
    assert again["data"]["loginWithCode"]["errors"][0]["code"] == "INVALID_CODE"
    assert await AuthSession.all().count() == 1


async def test_concurrent_requests_send_one_code(gql):
    import asyncio

    results = await asyncio.gather(*[gql(REQUEST_CODE, {"phone": PHONE}) for _ in range(8)])
    outcomes = sorted(
        (r["data"]["requestLoginCode"]["errors"] or [{"code": "OK"}])[0]["code"] for r in results
    )
    assert outcomes == ["OK"] + ["RATE_LIMITED"] * 7
