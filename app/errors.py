"""Typed errors shared by services and the API.

Services raise `ServiceError`; mutations turn it into a payload `UserError`
(Shopify's `userErrors` convention), so bad input never surfaces as a stack trace.

Its message is an `N_(...)` message (`app.i18n.messages`): kept with its parameters
where it is raised, rendered in the reader's language where it reaches the API.
"""

from __future__ import annotations

from enum import StrEnum

from app.i18n.messages import Text


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_CODE = "INVALID_CODE"
    CODE_EXPIRED = "CODE_EXPIRED"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    LIMIT_REACHED = "LIMIT_REACHED"
    NOT_AVAILABLE = "NOT_AVAILABLE"
    LOCKED = "LOCKED"
    CONFLICT = "CONFLICT"


class ServiceError(Exception):
    """A request the service refuses, with a code a client can act on."""

    def __init__(
        self,
        code: ErrorCode,
        message: Text,
        field: str | None = None,
        *,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.text = message
        self.field = field
        self.retry_after_seconds = retry_after_seconds

    @property
    def message(self) -> str:
        """The message in the reader's language (the language current now)."""
        return str(self.text)


def invalid(field: str, message: Text) -> ServiceError:
    return ServiceError(ErrorCode.INVALID_INPUT, message, field)
