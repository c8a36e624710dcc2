"""Relay connections over keyset pagination (cursor = opaque, base64 of the last key)."""

from __future__ import annotations

import base64
from typing import Generic, TypeVar

import strawberry

from app.errors import invalid

Node = TypeVar("Node")
DEFAULT_PAGE, MAX_PAGE = 20, 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "k":
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise invalid("after", "Not a cursor from this list.")


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 < first <= MAX_PAGE:
        raise invalid("first", f"first is between 1 and {MAX_PAGE}.")
    return first
