"""Request bodies and websocket messages bounded while they are read, on every route.

A request whose `Content-Length` is over its route's limit is refused at once, unread. A
body without one (chunked) is counted as it arrives and refused the moment it passes the
limit, so at most one limit's worth is ever held, before any authentication work (a
partner's signature is checked over the whole body, so it waits for the body). A websocket
message over the limit closes the socket with 1009 ("message too big"); the app sees a
disconnect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.i18n.messages import _

MESSAGE_TOO_BIG = 1009


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    refuse: Callable[[int], Response]  # the 413 response, given the limit


class _TooLarge(Exception):
    pass


def _message_size(message: Message, limit: int) -> int:
    text = message.get("text")
    if text is not None:  # characters are 1 to 4 bytes: encode only when it matters
        return len(text) if len(text) * 4 <= limit or len(text) > limit else len(text.encode())
    return len(message.get("bytes") or b"")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, routes: Mapping[str, BodyLimit], default: BodyLimit,
                 websocket_max_bytes: int) -> None:
        self.app = app
        self.routes = routes
        self.default = default
        self.websocket_max_bytes = websocket_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.routes.get(scope["path"], self.default)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit.max_bytes:
                await limit.refuse(limit.max_bytes)(scope, receive, send)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:  # pragma: no cover - every route reads its body before answering
                raise
            await limit.refuse(limit.max_bytes)(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.websocket_max_bytes
        closed = False

        async def bounded_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive" and _message_size(message, limit) > limit:
                closed = True
                await send({"type": "websocket.close", "code": MESSAGE_TOO_BIG,
                            "reason": _("message larger than %(max)s bytes", max=limit)})
                return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
            return message

        async def guarded_send(message: Message) -> None:
            if not closed:  # the app may still answer a socket this middleware has closed
                await send(message)

        await self.app(scope, bounded_receive, guarded_send)
