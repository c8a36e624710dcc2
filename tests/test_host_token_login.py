"""Login with a host app's signed identity token (HS256 and RS256)."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from app.accounts.models import AuthSession, HostIdentity, Player
from tests.conftest import AUDIENCE, HS_ISSUER, HS_SECRET, RS_ISSUER

LOGIN = """
mutation LoginWithHostToken($token: String!) {
  loginWithHostToken(token: $token) {
    session { accessToken refreshToken expiresAt player { id nickname city } }
    errors { code message field }
  }
}"""


def hs_token(**overrides) -> str:
    claims = {"iss": HS_ISSUER, "aud": AUDIENCE, "sub": "user-42", "exp": int(time.time()) + 300}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, HS_SECRET, algorithm="HS256")


async def login(gql, token: str) -> dict:
    return (await gql(LOGIN, {"token": token}))["data"]["loginWithHostToken"]


async def test_hs256_first_login_creates_and_links_the_player(gql):
    payload = await login(gql, hs_token(nickname="小绿", city="shenzhen"))
    assert payload["errors"] == []
    player = payload["session"]["player"]
    assert player["nickname"] == "小绿" and player["city"] == "shenzhen"
    identity = await HostIdentity.get(issuer=HS_ISSUER, subject="user-42")
    assert str(identity.player_id) == player["id"]

    again = await login(gql, hs_token(nickname="changed"))
    assert again["session"]["player"]["id"] == player["id"]
    assert await Player.all().count() == 1
    assert await AuthSession.all().count() == 2


async def test_rs256_login(gql, rsa_key):
    token = jwt.encode(
        {"iss": RS_ISSUER, "sub": "openid-abc", "exp": int(time.time()) + 60},
        rsa_key,
        algorithm="RS256",
    )
    payload = await login(gql, token)
    assert payload["errors"] == []
    assert payload["session"]["player"]["nickname"].startswith("低碳玩家")
    me = await gql("{ me { id } }", token=payload["session"]["accessToken"])
    assert me["data"]["me"]["id"] == payload["session"]["player"]["id"]


async def test_same_subject_at_two_issuers_is_two_players(gql, rsa_key):
    a = await login(gql, hs_token(sub="same"))
    b = await login(
        gql,
        jwt.encode({"iss": RS_ISSUER, "sub": "same", "exp": int(time.time()) + 60}, rsa_key, "RS256"),
    )
    assert a["session"]["player"]["id"] != b["session"]["player"]["id"]


async def assert_refused(gql, token: str, code: str) -> None:
    payload = await login(gql, token)
    assert payload["session"] is None
    assert [e["code"] for e in payload["errors"]] == [code], payload
    assert payload["errors"][0]["field"] == "token"
    assert await Player.all().count() == 0
    assert await AuthSession.all().count() == 0


async def test_forged_signature_is_refused(gql):
    forged = jwt.encode(
        {"iss": HS_ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
        "not-the-shared-secret-at-all-000000000",
        algorithm="HS256",
    )
    await assert_refused(gql, forged, "UNAUTHENTICATED")


async def test_expired_token_is_refused(gql):
    await assert_refused(gql, hs_token(exp=int(time.time()) - 120), "UNAUTHENTICATED")


async def test_wrong_audience_is_refused(gql):
    await assert_refused(gql, hs_token(aud="another-app"), "UNAUTHENTICATED")


async def test_missing_subject_or_expiry_is_refused(gql):
    await assert_refused(gql, hs_token(sub=None), "UNAUTHENTICATED")
    await assert_refused(gql, hs_token(exp=None), "UNAUTHENTICATED")


async def test_untrusted_issuer_is_refused(gql):
    await assert_refused(gql, hs_token(iss="https://evil.example"), "UNAUTHENTICATED")


async def test_rs256_signed_by_another_key_is_refused(gql):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"iss": RS_ISSUER, "sub": "x", "exp": int(time.time()) + 60}, other, "RS256")
    await assert_refused(gql, token, "UNAUTHENTICATED")


async def test_algorithm_confusion_is_refused(gql):
    # An HS256 token for the RS256 issuer, "signed" with its public key, must not verify.
    token = jwt.encode(
        {"iss": RS_ISSUER, "sub": "x", "exp": int(time.time()) + 60},
        "some-secret-long-enough-for-hmac-0123456789",
        algorithm="HS256",
    )
    await assert_refused(gql, token, "UNAUTHENTICATED")
    unsigned = jwt.encode({"iss": HS_ISSUER, "aud": AUDIENCE, "sub": "x", "exp": 9999999999},
                          None, algorithm="none")
    await assert_refused(gql, unsigned, "UNAUTHENTICATED")


async def test_garbage_is_invalid_input(gql):
    await assert_refused(gql, "not-a-jwt", "INVALID_INPUT")
    await assert_refused(gql, "", "INVALID_INPUT")


async def test_concurrent_first_logins_create_one_player(gql):
    import asyncio

    token = hs_token(sub="racer")
    results = await asyncio.gather(*[login(gql, token) for _ in range(6)])
    ids = {r["session"]["player"]["id"] for r in results}
    assert len(ids) == 1 and all(r["errors"] == [] for r in results)
    assert await Player.all().count() == 1
    assert await HostIdentity.filter(subject="racer").count() == 1


async def test_concurrent_refresh_with_one_token_rotates_once(gql):
    import asyncio

    from tests.test_sessions import refresh

    session = await gql.login()
    results = await asyncio.gather(*[refresh(gql, session["refreshToken"]) for _ in range(4)])
    winners = [r for r in results if not r["errors"]]
    assert len(winners) <= 1
    assert all(r["errors"][0]["code"] == "UNAUTHENTICATED" for r in results if r["errors"])
    assert await AuthSession.filter(revoked_at__isnull=False).count() == 1
