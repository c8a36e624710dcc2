"""Relay connections over keyset pagination (cursor = opaque, base64 of the last key)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import strawberry

from app.errors import ServiceError, invalid
from app.i18n.messages import N_
from app.ledger.chain import EPOCH, micros
from schema.errors import client_error

Node = TypeVar("Node")
DEFAULT_PAGE, MAX_PAGE = 20, 100


@strawberry.type(description=(
    "Relay page info. Lists page forwards: pass `endCursor` as `after` while `hasNextPage`."))
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Items precede this page (only after a cursor: the first page has none).")
    start_cursor: str | None = strawberry.field(
        description="The first edge's cursor; null when the page is empty.")
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor; null when the page is empty.")


@strawberry.type
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo


def encode_cursor(*key: object) -> str:
    return base64.urlsafe_b64encode(":".join(["k", *map(str, key)]).encode()).decode()


def decode_cursor(cursor: str | None, *types: Callable[[str], Any]) -> tuple | None:
    """The key parts of a cursor, converted with `types` (default: one int)."""
    if cursor is None:
        return None
    types = types or (int,)
    try:
        kind, *parts = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind == "k" and len(parts) == len(types):
            return tuple(convert(part) for convert, part in zip(types, parts, strict=True))
    except (ValueError, UnicodeDecodeError):
        pass
    raise invalid("after", N_("Not a cursor from this list."))


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 < first <= MAX_PAGE:
        raise invalid("first", N_("first is between 1 and %(max)s.", max=MAX_PAGE))
    return first


def build_connection(
    rows: Sequence[Any], limit: int, to_node: Callable[[Any], Node], key_of: Callable[[Any], tuple],
    has_previous_page: bool = False,
) -> Connection[Node]:
    """A page from `limit + 1` fetched rows: the extra row only tells that more follow."""
    edges = [Edge(cursor=encode_cursor(*key_of(row)), node=to_node(row)) for row in rows[:limit]]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > limit, has_previous_page=has_previous_page,
                           start_cursor=edges[0].cursor if edges else None,
                           end_cursor=edges[-1].cursor if edges else None),
    )


Fetch = Callable[[int, tuple | None], Awaitable[Sequence[Any]]]


async def paginate(
    first: int | None, after: str | None, fetch: Fetch, to_node: Callable[[Any], Node],
    key_of: Callable[[Any], tuple],
    decode: Callable[[str | None], tuple | None] = decode_cursor,
) -> Connection[Node]:
    """One page of a list. `fetch(n, key)` reads up to n rows in the list's order after the
    row whose key is `key` (from the start when None).

    After a cursor, the list's first row (one more indexed read of one row) tells whether
    anything precedes the page: it does unless that row is the page's own first row. The
    cursor's row itself may have left a filtered list (an order that changed status)."""
    limit, key = page_args(first, after, decode)
    rows = await fetch(limit + 1, key)
    has_previous = False
    if key is not None:
        head = await fetch(1, None)
        has_previous = bool(head) and (not rows or key_of(head[0]) != key_of(rows[0]))
    return build_connection(rows, limit, to_node, key_of, has_previous_page=has_previous)


def newest_key(row: Any) -> tuple:
    """The cursor key of lists ordered newest first by (created_at, id)."""
    return (micros(row.created_at), row.id)


def _from_micros(value: str) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


def decode_newest(cursor: str | None) -> tuple | None:
    """The (created_at, id) key of a `newest_key` cursor."""
    return decode_cursor(cursor, _from_micros, uuid.UUID)


def page_args(first: int | None, after: str | None,
              decode: Callable[[str | None], tuple | None] = decode_cursor
              ) -> tuple[int, tuple | None]:
    """(page size, decoded cursor), or a GraphQL error naming the malformed argument."""
    try:
        return page_size(first), decode(after)
    except ServiceError as exc:
        raise client_error(exc) from None
