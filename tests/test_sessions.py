"""Access tokens, rotating refresh tokens, family revocation and logout."""

from __future__ import annotations

import time

import jwt

from app.accounts.models import AuthSession, RefreshToken
from tests.conftest import TEST_SECRET

REFRESH = """
mutation RefreshSession($refreshToken: String!) {
  refreshSession(refreshToken: $refreshToken) {
    session { accessToken refreshToken expiresAt }
    errors { code message field }
  }
}"""
LOGOUT = "mutation Logout { logout { ok errors { code message field } } }"
ME = "query Me { me { id nickname city avatarUrl createdAt } }"


async def refresh(gql, token: str) -> dict:
    return (await gql(REFRESH, {"refreshToken": token}))["data"]["refreshSession"]


def auth_error(result: dict) -> str:
    return result["errors"][0]["extensions"]["code"]


async def test_refresh_rotates_and_the_new_tokens_work(gql):
    session = await gql.login()
    rotated = await refresh(gql, session["refreshToken"])
    assert rotated["errors"] == []
    new = rotated["session"]
    assert new["refreshToken"] != session["refreshToken"]
    me = await gql(ME, token=new["accessToken"])
    assert me["data"]["me"]["id"] == session["player"]["id"]
    again = await refresh(gql, new["refreshToken"])
    assert again["errors"] == []


async def test_refresh_tokens_are_stored_hashed(gql):
    session = await gql.login()
    hashes = await RefreshToken.all().values_list("token_hash", flat=True)
    assert hashes and session["refreshToken"] not in hashes


async def test_reusing_a_spent_refresh_token_revokes_the_family(gql):
    session = await gql.login()
    rotated = (await refresh(gql, session["refreshToken"]))["session"]

    replay = await refresh(gql, session["refreshToken"])
    assert replay["session"] is None
    assert replay["errors"][0]["code"] == "UNAUTHENTICATED"
    assert replay["errors"][0]["field"] == "refreshToken"

    # The whole family is dead: the newer refresh token and the access tokens too.
    assert (await refresh(gql, rotated["refreshToken"]))["errors"][0]["code"] == "UNAUTHENTICATED"
    assert auth_error(await gql(ME, token=rotated["accessToken"])) == "UNAUTHENTICATED"
    revoked = await AuthSession.get(player_id=session["player"]["id"])
    assert revoked.revoke_reason == "refresh_token_reused"


async def test_reuse_does_not_touch_other_sessions(gql):
    phone_session = await gql.login("+8613800138001")
    from datetime import timedelta

    from app.accounts.models import LoginCode
    from app.clock import utcnow

    await LoginCode.all().update(sent_at=utcnow() - timedelta(seconds=61))
    other_device = await gql.login("+8613800138001")
    await refresh(gql, phone_session["refreshToken"])
    await refresh(gql, phone_session["refreshToken"])  # replay: revokes the first family only
    me = await gql(ME, token=other_device["accessToken"])
    assert me["data"]["me"]["id"] == other_device["player"]["id"]


async def test_unknown_and_malformed_refresh_tokens(gql):
    for bad in ["", "x" * 500, "no-such-token"]:
        payload = await refresh(gql, bad)
        assert payload["errors"][0]["code"] == "UNAUTHENTICATED", bad


async def test_expired_refresh_token(gql):
    from datetime import timedelta

    from app.clock import utcnow

    session = await gql.login()
    await RefreshToken.all().update(expires_at=utcnow() - timedelta(seconds=1))
    payload = await refresh(gql, session["refreshToken"])
    assert payload["errors"][0]["code"] == "UNAUTHENTICATED"
    assert await RefreshToken.filter(used_at__isnull=False).count() == 0


async def test_logout_revokes_access_and_refresh(gql):
    session = await gql.login()
    out = await gql(LOGOUT, token=session["accessToken"])
    assert out["data"]["logout"] == {"ok": True, "errors": []}
    assert auth_error(await gql(ME, token=session["accessToken"])) == "UNAUTHENTICATED"
    assert (await refresh(gql, session["refreshToken"]))["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_missing_bad_and_expired_access_tokens(gql):
    session = await gql.login()
    assert auth_error(await gql(ME)) == "UNAUTHENTICATED"
    assert auth_error(await gql(LOGOUT)) == "UNAUTHENTICATED"
    assert auth_error(await gql(ME, token="garbage")) == "UNAUTHENTICATED"
    claims = jwt.decode(session["accessToken"], TEST_SECRET, algorithms=["HS256"])
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, TEST_SECRET, "HS256")
    result = await gql(ME, token=expired)
    assert auth_error(result) == "UNAUTHENTICATED" and "expired" in result["errors"][0]["message"]
    forged = jwt.encode({**claims, "exp": int(time.time()) + 600}, "another-secret-0123456789abcdefghijk", "HS256")
    assert auth_error(await gql(ME, token=forged)) == "UNAUTHENTICATED"
    assert await AuthSession.filter(revoked_at__isnull=False).count() == 0


async def test_non_bearer_authorization_header(gql, client):
    response = await client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": "Basic abc"}
    )
    body = response.json()
    assert body["data"]["me"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_several_fields_needing_login_in_one_request(gql):
    """Root fields resolve concurrently: each must see the same, once-checked caller."""
    session = await gql.login()
    query = "{ a: me { id } b: me { nickname } c: me { city } dailyQuiz { id } }"
    result = await gql(query, token=session["accessToken"])
    assert "errors" not in result, result
    assert result["data"]["a"]["id"] == session["player"]["id"]
