"""Access tokens (short-lived JWTs) and rotating refresh tokens grouped in sessions.

A refresh token works once. Presenting a spent one means it was copied, so the
whole session (its family of tokens) is revoked. Access tokens name their
session, and a revoked session stops its access tokens at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from tortoise.transactions import in_transaction

from app.accounts.models import AuthSession, Player, RefreshToken
from app.auth.hashing import keyed_hash, new_refresh_token
from app.auth.roles import Principal, parse_roles
from app.clock import utcnow
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_, Text
from app.settings import Settings

ISSUER = "carbon-planet"
CLOSED = "account_closed"  # the revoke reason of the sessions of a closed account


class AuthenticationError(Exception):
    """The caller's credentials are missing, malformed, expired or revoked: `str()` of it
    is the reason in the reader's language."""

    def __init__(self, message: Text) -> None:
        super().__init__(message)
        self.text = message


@dataclass(frozen=True)
class IssuedSession:
    access_token: str
    refresh_token: str
    expires_at: datetime
    player: Player


def _refused(message: Text) -> ServiceError:
    return ServiceError(ErrorCode.UNAUTHENTICATED, message, "refreshToken")


class Sessions:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _refresh_hash(self, token: str) -> str:
        return keyed_hash(self.settings.secret_key, "refresh-token", token)

    def _access_token(self, player_id: str, session_id: str) -> tuple[str, datetime]:
        now = utcnow()
        expires_at = now + timedelta(seconds=self.settings.access_token_ttl_seconds)
        claims = {
            "iss": ISSUER,
            "typ": "access",
            "sub": player_id,
            "sid": session_id,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        return jwt.encode(claims, self.settings.secret_key, algorithm="HS256"), expires_at

    async def _new_refresh_token(self, session: AuthSession) -> str:
        raw = new_refresh_token()
        await RefreshToken.create(
            session=session,
            token_hash=self._refresh_hash(raw),
            expires_at=utcnow() + timedelta(seconds=self.settings.refresh_token_ttl_seconds),
        )
        return raw

    async def start(self, player: Player, method: str) -> IssuedSession:
        if player.closed_at is not None:  # a closing raced this login: its identity is gone
            raise ServiceError(ErrorCode.UNAUTHENTICATED, N_("This account was closed."))
        async with in_transaction():
            session = await AuthSession.create(player=player, method=method)
            refresh = await self._new_refresh_token(session)
        access, expires_at = self._access_token(str(player.id), str(session.id))
        return IssuedSession(access, refresh, expires_at, player)

    async def refresh(self, raw: str) -> IssuedSession:
        if not raw or len(raw) > 200:
            raise _refused(N_("The refresh token is empty or malformed."))
        token = await RefreshToken.filter(token_hash=self._refresh_hash(raw)).select_related(
            "session__player"
        ).first()
        if token is None:
            raise _refused(N_("Unknown refresh token."))
        session = token.session
        if session.revoke_reason == CLOSED or session.player.closed_at is not None:
            raise _refused(N_("This account was closed."))
        if session.revoked_at is not None:
            raise _refused(N_("This session has ended; log in again."))
        if token.expires_at <= utcnow():
            raise _refused(N_("The refresh token has expired; log in again."))
        rotated = None
        if token.used_at is None:
            async with in_transaction():
                if await RefreshToken.filter(id=token.id, used_at=None).update(used_at=utcnow()):
                    rotated = await self._new_refresh_token(session)
        if rotated is None:
            await self.revoke(str(session.id), "refresh_token_reused")
            raise _refused(N_("This refresh token was already used; the session is revoked."))
        access, expires_at = self._access_token(str(session.player_id), str(session.id))
        return IssuedSession(access, rotated, expires_at, session.player)

    async def revoke(self, session_id: str, reason: str) -> None:
        await AuthSession.filter(id=session_id, revoked_at=None).update(
            revoked_at=utcnow(), revoke_reason=reason
        )

    def access_token_expiry(self, access_token: str) -> float | None:
        """When an access token expires (unix seconds), read without checking it: for a
        token that `authenticate` has accepted already."""
        try:
            claims = jwt.decode(access_token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return None
        expiry = claims.get("exp")
        return float(expiry) if isinstance(expiry, int | float) else None

    async def authenticate(self, access_token: str) -> tuple[Principal, Player]:
        try:
            claims = jwt.decode(
                access_token,
                self.settings.secret_key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "sid", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError(N_("The access token has expired; refresh it.")) from None
        except jwt.InvalidTokenError:
            raise AuthenticationError(N_("The access token is not valid.")) from None
        if claims.get("typ") != "access":
            raise AuthenticationError(N_("The access token is not valid."))
        session = await AuthSession.filter(
            id=claims["sid"], player_id=claims["sub"], revoked_at=None
        ).select_related("player").first()
        if session is None or session.player.closed_at is not None:
            if await AuthSession.filter(id=claims["sid"], revoke_reason=CLOSED).exists():
                raise AuthenticationError(N_("This account was closed."))
            raise AuthenticationError(N_("This session has ended; log in again."))
        player = session.player
        return Principal(str(player.id), str(session.id), parse_roles(player.roles)), player
