"""The strawberry ASGI view: builds our context and checks websocket credentials on connect.

It also refuses request bodies over `CARBON_GRAPHQL_MAX_BODY_BYTES` (HTTP 413, before any
parsing) and gives every GraphQL error an `extensions.code`: errors raised on purpose carry
their own; parse, validation and query-limit errors get one here.
"""

from __future__ import annotations

import functools

from typing import Any

import graphql
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from schema.context import Context

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_FIELDS = 5000


def expanded_field_count(document: graphql.DocumentNode, limit: int) -> int:
    """Fields an operation selects once every fragment spread is expanded (stops past `limit`).

    Fragments that spread fragments multiply: 8 fragments of 10 spreads each select 10^8
    fields in ~130 tokens. Each fragment's size is computed once, so this costs one pass.
    """
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, graphql.FragmentDefinitionNode)}
    sizes: dict[str, int] = {}

    def size(selection_set: graphql.SelectionSetNode | None, inside: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, graphql.FieldNode):
                total += 1 + size(selection.selection_set, inside)
            elif isinstance(selection, graphql.InlineFragmentNode):
                total += size(selection.selection_set, inside)
            elif isinstance(selection, graphql.FragmentSpreadNode):
                name = selection.name.value
                if name not in sizes:
                    if name in inside or name not in fragments:
                        continue  # a cycle or an unknown fragment: validation refuses it
                    sizes[name] = size(fragments[name].selection_set, inside | {name})
                total += sizes[name]
            if total > limit:
                break
        return total

    operations = [d for d in document.definitions
                  if isinstance(d, graphql.OperationDefinitionNode)]
    return max((size(op.selection_set, frozenset()) for op in operations), default=0)


def too_complex(query: str | None, max_tokens: int, max_fields: int) -> GraphQLError | None:
    """`_too_complex`, remembered for the short documents clients send again and again
    (a long one is checked every time, so the cache cannot be used to hold memory)."""
    if query is not None and len(query) <= 20_000:
        return _too_complex_cached(query, max_tokens, max_fields)
    return _too_complex(query, max_tokens, max_fields)


def _too_complex(query: str | None, max_tokens: int, max_fields: int) -> GraphQLError | None:
    """A refusal when the query selects more than `max_fields` fields after expansion.

    It runs before strawberry's depth and alias limiters, which walk every expanded
    fragment (10^7 spreads take minutes). Syntax errors are left to the normal path.
    """
    if not query:
        return None
    try:
        document = graphql.parse(query, max_tokens=max_tokens)
        count = expanded_field_count(document, max_fields)
    except GraphQLError:
        return None
    except RecursionError:
        count = max_fields + 1
    if count <= max_fields:
        return None
    return GraphQLError(
        f"The operation selects more than {max_fields} fields once fragments are expanded.",
        extensions={"code": "QUERY_TOO_COMPLEX"},
    )


_too_complex_cached = functools.lru_cache(maxsize=1024)(_too_complex)


def error_code(error: GraphQLError) -> str:
    """The code of an error that was not raised with one: what stopped the operation."""
    message = error.message
    if (
        "tokens. Parsing aborted" in message
        or "nested too deeply" in message
        or "exceeds maximum operation depth" in message
        or "aliases found. Allowed" in message
        or "Validation aborted" in message  # graphql-core's budget for overlapping fields
    ):
        return "QUERY_TOO_COMPLEX"
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None:  # refused before running: unknown field, bad argument or variable
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_REQUEST"  # raised while running, without a code


def body_too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{
            "message": f"The request body is larger than {limit} bytes.",
            "extensions": {"code": "REQUEST_TOO_LARGE"},
        }]},
        status_code=413,
    )


class GraphQLView(GraphQL):
    def __init__(
        self, schema: Any, *, graphiql: bool, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_tokens: int = 3000, max_fields: int = DEFAULT_MAX_FIELDS,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.max_body_bytes = max_body_bytes
        self.max_tokens = max_tokens
        self.max_fields = max_fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await body_too_large(limit)(scope, receive, send)
                return
        # Read the body here, at most `limit` bytes of it, whatever Content-Length says
        # (chunked uploads have none), then hand it to strawberry.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await body_too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await super().__call__(scope, replay, send)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        request_data = kwargs.get("request_data")
        refusal = too_complex(getattr(request_data, "query", None), self.max_tokens,
                              self.max_fields)
        if refusal is not None:
            return ExecutionResult(data=None, errors=[refusal])
        return await super().execute_single(*args, **kwargs)

    async def process_result(self, request: Request, result: Any) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if not isinstance(response, dict):
            return response
        errors = getattr(result, "errors", None) or []
        for error, formatted in zip(errors, response.get("errors") or [], strict=False):
            extensions = formatted.get("extensions") or {}
            if "code" not in extensions:
                formatted["extensions"] = {**extensions, "code": error_code(error)}
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            services=request.app.state.services,
        )

    async def on_ws_connect(self, context: Context) -> Any:
        """Refuse a websocket whose connection_init carries credentials that do not verify."""
        if context.connection_params and "authorization" in context.connection_params:
            if await context.optional_principal() is None:
                raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        return UNSET
