"""Messages people read, in the reader's language, from gettext catalogues read with Babel.

A message's id is its English text, with named placeholders (`%(price)s`), so the code
reads as it did and a placeholder can move in a translation:

    _("Not enough points: the item costs %(price)s, you have %(balance)s.",
      price=price, balance=balance)

- `_(msgid, **params)` renders now, in `current_language()`: for text built where it is
  sent (a GraphQL error raised by a resolver, an HTTP response).
- `N_(msgid, **params)` keeps the message and its parameters, and renders when turned
  into text (`str()`), in the language current then. Services raise `ServiceError` with
  it: the error may be raised anywhere (a transaction, a retry), and is rendered where it
  becomes a `UserError` or a `GraphQLError`, in the request's language.

The catalogues, `locales/<zh_CN|en>/LC_MESSAGES/messages.po`, are read once at import
(`babel.messages.pofile.read_po`; no compile step). A msgid missing from a catalogue
falls back to the English msgid; `tests/test_i18n.py` fails when a msgid of the source has
no Chinese translation. `python -m app.i18n.catalogue` adds new msgids to both files.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from app.i18n import SUPPORTED_LANGUAGES, current_language

log = logging.getLogger("carbon_planet.i18n")

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
CATALOGUE_LOCALES = {"zh-CN": "zh_CN", "en": "en"}  # language -> the catalogue's folder
# Babel extraction keywords: in both, the first argument is the msgid.
KEYWORDS: dict[str, None] = {"_": None, "N_": None}


def catalogue_path(language: str) -> Path:
    return LOCALES_DIR / CATALOGUE_LOCALES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(language: str) -> Catalog:
    with catalogue_path(language).open("rb") as file:
        return read_po(file, locale=CATALOGUE_LOCALES[language], domain=DOMAIN)


def _translations(catalogue: Catalog) -> dict[str, str]:
    """msgid -> msgstr for each translated message (an empty or fuzzy msgstr is left out:
    the English msgid is shown instead)."""
    return {message.id: message.string for message in catalogue
            if message.id and isinstance(message.id, str) and isinstance(message.string, str)
            and message.string and not message.fuzzy}


_TRANSLATIONS: dict[str, dict[str, str]] = {
    language: _translations(read_catalogue(language)) for language in SUPPORTED_LANGUAGES}


def translate(msgid: str, params: Mapping[str, Any] | None = None,
              language: str | None = None) -> str:
    """`msgid` in `language` (default: the reader's), its placeholders filled from `params`."""
    language = language or current_language()
    text = _TRANSLATIONS.get(language, {}).get(msgid, msgid)
    if not params:
        return text
    values = {name: value.render(language) if isinstance(value, LazyMessage) else value
              for name, value in params.items()}
    try:
        return text % values
    except (KeyError, ValueError, TypeError):
        # a translation whose placeholders do not match (the i18n test refuses them): the
        # English text rather than a failed request
        log.warning("message %r does not format in %s", msgid, language)
        try:
            return msgid % values
        except (KeyError, ValueError, TypeError):
            return msgid


class LazyMessage:
    """A message with its parameters, rendered when turned into text (`str()`)."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, params: Mapping[str, Any]) -> None:
        self.msgid = msgid
        self.params = dict(params)

    def render(self, language: str | None = None) -> str:
        return translate(self.msgid, self.params, language)

    def with_params(self, **params: Any) -> LazyMessage:
        """The same message with more (or other) parameters."""
        return LazyMessage(self.msgid, {**self.params, **params})

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        params = "".join(f", {name}={value!r}" for name, value in self.params.items())
        return f"N_({self.msgid!r}{params})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LazyMessage) and self.msgid == other.msgid
                and self.params == other.params)

    __hash__ = None  # type: ignore[assignment]


class MessageList(LazyMessage):
    """Several messages read as one (every problem of a rules file), each rendered in the
    language current when the list is."""

    __slots__ = ("messages", "separator")

    def __init__(self, messages: list[LazyMessage], separator: str = "; ") -> None:
        super().__init__("", {})
        self.messages, self.separator = list(messages), separator

    def render(self, language: str | None = None) -> str:
        return self.separator.join(message.render(language) for message in self.messages)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessageList) and self.messages == other.messages


Text = str | LazyMessage  # what an error may carry: text already rendered, or a message


def _(msgid: str, /, **params: Any) -> str:
    """`msgid` in the reader's language, now."""
    return translate(msgid, params)


def N_(msgid: str, /, **params: Any) -> LazyMessage:  # gettext's name for it
    """`msgid` kept with its parameters, rendered later in the language current then."""
    return LazyMessage(msgid, params)
