"""The custom scalars.

`DateTime` as the client contract has it: ISO 8601 with its UTC offset. A time without a
zone could be any city's: it is refused (INVALID_INPUT), whether it comes as a literal in
the document or in a variable, before any resolver runs.

`Long`: the city's totals (grams, points, fen), which pass Int's 2^31 − 1 (2,147 t of
grams) within months at a million players.
"""

from __future__ import annotations

from datetime import datetime
from typing import NewType

import strawberry
from graphql import GraphQLError

from app.i18n.messages import _
from schema.error_codes import INVALID_INPUT


def _refused(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": INVALID_INPUT})


def parse_aware_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise _refused(_("A date and time is written as ISO 8601 text, such as "
                         "2026-03-01T08:00:00+08:00."))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _refused(_("%(value)s is not an ISO 8601 date and time, such as "
                         "2026-03-01T08:00:00+08:00.", value=value[:40])) from None
    if parsed.utcoffset() is None:
        raise _refused(_("%(value)s has no UTC offset: add one, such as +08:00 or Z.",
                         value=value[:40]))
    return parsed


AWARE_DATETIME = strawberry.scalar(
    name="DateTime",
    description=("A date and time in ISO 8601 with its UTC offset, such as "
                 "2026-03-01T08:00:00+08:00 or 2026-03-01T00:00:00Z. Sent without an offset, "
                 "it is refused with INVALID_INPUT."),
    serialize=datetime.isoformat,
    parse_value=parse_aware_datetime,
)


LONG_MAX = 2**53 - 1  # the largest whole number a JavaScript client reads exactly


def parse_long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -LONG_MAX <= value <= LONG_MAX:
        raise _refused(_("A whole number from -%(max)s to %(max)s is expected.", max=LONG_MAX))
    return value


Long = NewType("Long", int)  # the annotation; LONG is its GraphQL scalar (schema's scalar_overrides)
LONG = strawberry.scalar(
    name="Long",
    description=("A whole number that may pass GraphQL's 32-bit Int, up to 2^53 − 1 either "
                 "way: a city's grams, points and fen. Sent as a JSON number."),
    serialize=int,
    parse_value=parse_long,
)
