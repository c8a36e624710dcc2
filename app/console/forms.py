"""Turning console form fields into GraphQL variables, and the API's refusals back into
messages at those fields. The console checks nothing itself: text that is not what a
variable's type takes is sent as it was typed, so the API refuses it with its own words."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from app.console.api import ApiResult
from app.console.web import field_errors

# graphql-core: "Variable '$input' has invalid value at .pricePoints: Int cannot …",
# "Variable '$delta' has invalid value: Int cannot …"
_VARIABLE = re.compile(r"^Variable '\$(\w+)' (?:has|got) invalid value")
_AT = re.compile(r"^Variable '\$\w+' (?:has|got) invalid value.*? at '?\.?([\w.\[\]]+?)'?[:;]")


def integer(text: str) -> int | str | None:
    """A whole number, None when empty, or the text itself for the API to refuse."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def city_time(text: str, zone: str) -> str | None:
    """A datetime-local value, read in the city's zone, as ISO 8601 with its offset (None
    when empty; the text itself when it is no time, for the API to refuse)."""
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).isoformat()
    except ValueError:
        return text


def local_input(value: str | None, zone: str) -> str:
    """An API time as a datetime-local input's value in the city's zone."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def errors_at_fields(result: ApiResult, payload: str, fields: Iterable[str] = ()
                     ) -> tuple[dict[str, list[str]], list[str]]:
    """`field_errors`, with the API's refusals of a variable's value (a price that is no
    number) placed at the field they name too, when it is one of `fields`."""
    by_field, general = field_errors(result, payload)
    known, rest = set(fields), []
    for message in general:
        found, at = _VARIABLE.match(message), _AT.match(message)
        name = None
        if found:
            name = (at.group(1) if at else found.group(1)).split(".")[-1].split("[")[0]
        if name in known:
            by_field.setdefault(name, []).append(message)
        else:
            rest.append(message)
    return by_field, rest


def safe_next(url: str, fallback: str) -> str:
    """Where to go back to after a form: a console page only (never another site)."""
    if url.startswith("/console/") and not url.startswith("//") and "\\" not in url:
        return url
    return fallback
