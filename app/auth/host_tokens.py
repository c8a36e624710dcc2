"""Verification of identity tokens signed by trusted host apps (HS256 or RS256 JWTs)."""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_, Text
from app.settings import HostIssuer

MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class HostClaims:
    issuer: str
    subject: str
    nickname: str | None
    city: str | None


def _refused(message: Text) -> ServiceError:
    return ServiceError(ErrorCode.UNAUTHENTICATED, message, "token")


class HostTokenVerifier:
    def __init__(self, issuers: list[HostIssuer]) -> None:
        self.issuers = {i.issuer: i for i in issuers}

    def verify(self, token: str) -> HostClaims:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise invalid("token", N_("The token is empty or too long."))
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise invalid("token", N_("The token is not a JWT.")) from None
        issuer = self.issuers.get(str(unverified.get("iss", "")))
        if issuer is None:
            raise _refused(N_("The token's issuer is not trusted here."))
        algorithm = header.get("alg")
        if algorithm not in issuer.algorithms:
            raise _refused(N_("The issuer does not sign with %(algorithm)s.", algorithm=repr(algorithm)))
        key = issuer.hs256_secret if algorithm == "HS256" else issuer.rs256_public_key
        assert key is not None  # issuer.algorithms lists only the algorithms it has a key for
        required = ["exp", "iss", "sub"] + (["aud"] if issuer.audience else [])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=issuer.audience,
                issuer=issuer.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError:
            raise _refused(N_("The token has expired.")) from None
        except jwt.InvalidTokenError as exc:
            raise _refused(N_("The token does not verify: %(why)s.", why=str(exc))) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= 200:
            raise _refused(N_("The token's subject is missing or too long."))
        return HostClaims(
            issuer=issuer.issuer,
            subject=subject,
            nickname=_optional_str(claims.get("nickname"), 40),
            city=_optional_str(claims.get("city"), 40),
        )


def _optional_str(value: object, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None
