"""graphql-transport-ws with the caller checked for as long as the socket lives.

- Each operation authenticates again (`CarbonSchema.stream` gives it a fresh context): a
  session logged out or revoked, an access token expired or a role removed counts from the
  next operation on.
- A socket that logged in is watched: every `CARBON_WS_SESSION_CHECK_SECONDS`, and at the
  access token's expiry, the session is checked again; once it has ended (logout, revoked,
  expired) the server closes the socket with code 4403 and the reason, ending every live
  subscription on it. The client reconnects with a fresh access token.
- An operation refused before it runs (syntax, validation, limits) is answered with an
  `error` message carrying `extensions.code`, as for any other refusal; the socket stays
  open (strawberry would close it with 4400 and the parser's message as the reason).
- A `subscribe` payload's `extensions.persistedQuery` names its document by hash, as over
  HTTP (`schema.persisted_queries`); in allow-list mode other documents are refused with
  an `error` message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from app.auth.sessions import AuthenticationError
from schema.context import Context

log = logging.getLogger("carbon_planet.websocket")

SESSION_ENDED = 4403
MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


def close_reason(message: str) -> str:
    return message.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class SessionCheckingTransportWSHandler(BaseGraphQLTransportWSHandler[Context, Any]):
    watcher: asyncio.Task | None = None

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        return None

    async def handle_subscribe(self, message: Any) -> None:
        persisted = getattr(self.view, "persisted_queries", None)
        payload = message.get("payload")
        if persisted is None or not self.connection_acknowledged or not isinstance(payload, dict):
            await super().handle_subscribe(message)  # strawberry refuses what it must
            return
        resolved = await persisted.resolve(payload.get("query"), payload.get("extensions"),
                                           self.context.services.redis)
        if resolved.refusal is not None:
            await self.send_message({"id": message["id"], "type": "error",
                                     "payload": [resolved.refusal.error().formatted]})
            return
        if resolved.query is not None:
            message = {**message, "payload": {**payload, "query": resolved.query}}
        await super().handle_subscribe(message)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        token = self.context.bearer_token()
        if self.connection_acknowledged and token and self.watcher is None:
            self.watcher = asyncio.create_task(self.watch_session(token))

    async def watch_session(self, token: str) -> None:
        sessions = self.context.services.sessions
        every = getattr(self.view, "session_check_seconds", 10.0)
        expires_at = sessions.access_token_expiry(token)
        while True:
            wait = every if expires_at is None else min(every, expires_at - time.time())
            await asyncio.sleep(max(wait, 0.0))
            try:
                await sessions.authenticate(token)
            except AuthenticationError as ended:
                await self.websocket.close(code=SESSION_ENDED, reason=close_reason(str(ended)))
                return
            except Exception as exc:  # noqa: BLE001 - the database is away: look again later
                log.warning("websocket session not checked: %s", exc)
                await asyncio.sleep(every)

    async def shutdown(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.watcher
        await super().shutdown()
