"""The reader's language: chosen per request from `Accept-Language`, Chinese by default.

`LanguageMiddleware` sets it for each HTTP request and websocket connection; anything
that renders text for a person (API error messages, game content, console pages) asks
`current_language()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from babel import Locale, UnknownLocaleError

SUPPORTED_LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language of the request being served: one of SUPPORTED_LANGUAGES."""
    return _language.get()


@contextmanager
def language(tag: str) -> Iterator[None]:
    """Serve what runs inside in `tag` (one of SUPPORTED_LANGUAGES)."""
    token = _language.set(tag)
    try:
        yield
    finally:
        _language.reset(token)


def set_language(tag: str) -> None:
    _language.set(tag)


def _supported(tag: str) -> str | None:
    """The supported language a tag such as `zh`, `zh-Hans-CN`, `en-GB` or `*` means."""
    try:
        locale = Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if locale.language == "zh":
        return "zh-CN"
    if locale.language == "en":
        return "en"
    return None


def negotiate(accept_language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The best supported language for an `Accept-Language` header (RFC 9110 q-values)."""
    if not accept_language:
        return default
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language[:512].split(",")):
        tag, _, params = part.partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if not tag or not 0 < quality <= 1:
            continue
        choices.append((-quality, position, tag))
    for _, _, tag in sorted(choices):
        if tag == "*":
            return default
        supported = _supported(tag)
        if supported:
            return supported
    return default
