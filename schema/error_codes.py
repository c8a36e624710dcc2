"""Each refused operation's `extensions.code`, from where its error came from rather than
from graphql-core's English wording.

- parsing: `parse_operation` reads the document itself, so it knows a token limit or a
  nesting too deep (QUERY_TOO_COMPLEX) from a syntax error (GRAPHQL_PARSE_FAILED);
- validation: every error `validate()` returns is GRAPHQL_VALIDATION_FAILED, except
  graphql-core's own budget running out (`ValidationAbortedError`: QUERY_TOO_COMPLEX) and
  rules of ours that give their code (the depth and alias limits);
- execution set-up (`CodedExecutor`): variables whose values their types refuse are
  INVALID_INPUT (or the code our scalar gave the refusal); an operation name that selects
  no operation is GRAPHQL_VALIDATION_FAILED (over HTTP strawberry's view refuses it first:
  `refused_request_code`);
- while running: errors we raise carry their code; one without is BAD_REQUEST.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import graphql
from graphql import GraphQLError, GraphQLSyntaxError, Lexer, Source, Token, TokenKind
from graphql.language.parser import Parser
from graphql.validation.validate import ValidationAbortedError
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
TOO_COMPLEX = "QUERY_TOO_COMPLEX"
INVALID_INPUT = "INVALID_INPUT"
BAD_REQUEST = "BAD_REQUEST"

# strawberry's refusals of a request naming no operation it can run
_OPERATION_NOT_RUNNABLE = (CannotGetOperationTypeError, InvalidOperationTypeError,
                           MissingQueryError)


def code_of(error: GraphQLError) -> str | None:
    return (error.extensions or {}).get("code")


def with_code(error: GraphQLError, code: str) -> GraphQLError:
    """`error`, given `code` unless it carries one already."""
    if code_of(error) is None:
        error.extensions = {**(error.extensions or {}), "code": code}
    return error


def too_complex(message: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": TOO_COMPLEX})


def _tokens_read(start: Token, limit: int) -> int:
    """Tokens the lexer has read after `start` (counting stops past `limit`)."""
    count, token = 0, start.next
    while token is not None and token.kind is not TokenKind.EOF and count <= limit:
        count += 1
        token = token.next
    return count


def parse_operation(query: str, max_tokens: int, *, too_many_tokens: Callable[[], str],
                    too_deep: Callable[[], str]) -> graphql.DocumentNode:
    """The document, or a coded GraphQLError: QUERY_TOO_COMPLEX (worded by `too_many_tokens()`
    or `too_deep()`) when the lexer went past `max_tokens` or the nesting past what the
    parser reads, else graphql-core's syntax error as GRAPHQL_PARSE_FAILED."""
    lexer = Lexer(Source(query))
    start = lexer.token
    parser = Parser(lexer.source, max_tokens=max_tokens, lexer=lexer)
    try:
        try:
            return parser.parse_document()
        except RecursionError:
            pass  # raised below, outside this handler: the recursion's frames are let go
        raise too_complex(too_deep())
    except GraphQLSyntaxError as error:
        if _tokens_read(start, max_tokens) > max_tokens:
            raise too_complex(too_many_tokens()) from None
        raise with_code(error, PARSE_FAILED) from None


def validation_error(error: GraphQLError) -> GraphQLError:
    """An error `validate()` returned, with its code."""
    return with_code(error, TOO_COMPLEX if isinstance(error, ValidationAbortedError)
                     else VALIDATION_FAILED)


class CodedExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor; the errors that stop it before it runs carry a code."""

    @classmethod
    def build(cls, schema: graphql.GraphQLSchema, document: graphql.DocumentNode,
              root_value: Any = None, context_value: Any = None,
              raw_variable_values: dict[str, Any] | None = None,
              operation_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        built = super().build(schema, document, root_value, context_value,
                              raw_variable_values, operation_name, *args, **kwargs)
        if isinstance(built, list):
            if graphql.get_operation_ast(document, operation_name) is None:
                code = VALIDATION_FAILED  # no operation, or none by that name
            else:
                code = INVALID_INPUT  # the operation's variables
            for error in built:
                given = error.original_error  # a refusal of ours keeps its code
                with_code(error, (code_of(given) if isinstance(given, GraphQLError) else None)
                          or code)
        return built


def refused_request_code(exc: BaseException) -> str:
    """The code of an HTTP request strawberry's view refuses, from what it refused: an
    operation name that selects no operation is the document's fault, as over a websocket."""
    if isinstance(exc.__cause__, CannotGetOperationTypeError):
        return VALIDATION_FAILED
    return BAD_REQUEST


def fallback_code(error: GraphQLError) -> str:
    """The code of an error that reached the response without one, from its type."""
    if isinstance(error, GraphQLSyntaxError):
        return PARSE_FAILED
    if isinstance(error, ValidationAbortedError):
        return TOO_COMPLEX
    if isinstance(error.original_error, _OPERATION_NOT_RUNNABLE):
        return VALIDATION_FAILED
    return BAD_REQUEST
