"""`UserError` and `ErrorCode` as the client contract spells them."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from app.errors import ErrorCode as ErrorCodeEnum
from app.errors import ServiceError
from schema.operation_metrics import note_user_error

strawberry.enum(ErrorCodeEnum, name="ErrorCode")  # marks the class itself (the alias below)
ErrorCode = ErrorCodeEnum


@strawberry.type
class UserError:
    code: ErrorCode
    message: str = strawberry.field(description=(
        "For people, in the reader's language (Accept-Language, or the carbon_lang cookie; "
        "Chinese by default). Clients act on `code`."))
    field: str | None = None

    def __post_init__(self) -> None:
        note_user_error(self.code)  # counted with the operation that refused


def user_errors(exc: ServiceError) -> list[UserError]:
    """The service's refusal as the payload's errors, its message in the reader's language."""
    return [UserError(code=exc.code, message=exc.message, field=exc.field)]


def client_error(exc: ServiceError) -> GraphQLError:
    """A malformed query argument (bad cursor, page size) as a GraphQL error with its code."""
    return GraphQLError(exc.message, extensions={"code": exc.code.value, "field": exc.field})
