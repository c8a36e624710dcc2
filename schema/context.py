"""Per-request GraphQL context: services, and the caller resolved once from the bearer token."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from app.accounts.models import Player
from app.auth.roles import Principal
from app.auth.sessions import AuthenticationError
from app.i18n.messages import N_, Text
from app.services import Services
from schema.loaders import Loaders


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def unauthenticated(message: Text) -> GraphQLError:
    return GraphQLError(str(message), extensions={"code": "UNAUTHENTICATED"})


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    services: Services
    connection_params: dict[str, Any] | None = None
    authorization: str | None = None  # the console's session, which rides in a cookie
    # fresh for every operation (for_operation too): they batch, see schema.loaders
    loaders: Loaders = field(default_factory=Loaders, init=False)
    _caller: tuple[Principal, Player] | None = field(default=None, init=False)
    _auth_error: Text | None = field(default=None, init=False)
    _resolving: asyncio.Future | None = field(default=None, init=False)

    def for_operation(self) -> Context:
        """The same connection, with the caller not yet checked: an operation's own context."""
        return dataclasses.replace(self)

    def bearer_token(self) -> str | None:
        """The access token this request or socket presents (None without one)."""
        return bearer_token(self._authorization()) or None

    def _authorization(self) -> str | None:
        if self.authorization is not None:
            return self.authorization
        if isinstance(self.request, WebSocket):
            params = self.connection_params or {}
            value = params.get("authorization") or params.get("Authorization")
            return value if isinstance(value, str) else None
        return self.request.headers.get("authorization")

    async def _resolve(self) -> None:
        """Check the token once per request, even when several fields ask at the same time."""
        if self._resolving is None:
            self._resolving = asyncio.ensure_future(self._authenticate())
        await self._resolving

    async def _authenticate(self) -> None:
        token = bearer_token(self._authorization())
        if token is None:
            self._auth_error = N_("Log in first: send Authorization: Bearer <accessToken>.")
        elif not token:
            self._auth_error = N_("The Authorization header must be 'Bearer <accessToken>'.")
        else:
            try:
                self._caller = await self.services.sessions.authenticate(token)
            except AuthenticationError as exc:
                self._auth_error = exc.text  # rendered when raised, in the reader's language

    async def principal(self) -> Principal:
        """The caller, or a GraphQL UNAUTHENTICATED error."""
        await self._resolve()
        if self._caller is None:
            raise unauthenticated(self._auth_error or N_("Log in first."))
        return self._caller[0]

    async def player(self) -> Player:
        await self.principal()
        assert self._caller is not None
        return self._caller[1]

    async def optional_principal(self) -> Principal | None:
        await self._resolve()
        return self._caller[0] if self._caller else None
