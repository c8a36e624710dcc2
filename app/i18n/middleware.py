"""ASGI middleware that chooses the reader's language for each request and websocket."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.i18n import DEFAULT_LANGUAGE, negotiate, set_language

LANGUAGE_COOKIE = "carbon_lang"  # the console's language switch: beats Accept-Language


class LanguageMiddleware:
    def __init__(self, app: ASGIApp, default: str = DEFAULT_LANGUAGE) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            set_language(self.default)
            header = cookie = None
            for name, value in scope.get("headers", ()):
                if name == b"accept-language":
                    header = value.decode("latin-1")
                elif name == b"cookie":
                    cookie = value.decode("latin-1")
            chosen = _cookie_language(cookie)
            set_language(chosen or negotiate(header, self.default))
        await self.app(scope, receive, send)


def _cookie_language(cookie: str | None) -> str | None:
    if not cookie:
        return None
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == LANGUAGE_COOKIE and value in ("zh-CN", "en"):
            return value
    return None
