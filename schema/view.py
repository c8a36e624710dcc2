"""The strawberry ASGI view: our context, JSON errors for refused HTTP requests, and the
websocket handler that re-checks the caller.

Document limits, error codes and the text check live in the schema (`schema.limits`,
`schema.inputs`, `CarbonSchema`), so they hold on every transport; body and message sizes
are bounded by `app.body_limits` before anything here reads them. Persisted queries
(`schema.persisted_queries`) are resolved here and in the websocket handler, before the
schema sees the document.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from app.i18n.messages import _
from schema import graphiql
from schema.context import Context
from schema.error_codes import refused_request_code
from schema.persisted_queries import PersistedQueries, PersistedQueryRefused
from schema.websocket import SessionCheckingTransportWSHandler


def refused_request(status: int, message: str, code: str = "BAD_REQUEST") -> JSONResponse:
    """An HTTP request refused before any operation ran, in the GraphQL response shape."""
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
    )


def body_too_large(limit: int) -> JSONResponse:
    return refused_request(413, _("The request body is larger than %(max)s bytes.", max=limit),
                           "REQUEST_TOO_LARGE")


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SessionCheckingTransportWSHandler

    def __init__(self, schema: Any, *, graphiql: bool, session_check_seconds: float = 10.0,
                 persisted_queries: PersistedQueries | None = None) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.session_check_seconds = session_check_seconds
        self.persisted_queries = persisted_queries

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """A GET naming its document by hash (no `query`) is an operation, not the IDE."""
        return "extensions" not in request.query_params \
            and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page, whose scripts this app serves (strawberry's loads a CDN's)."""
        return graphiql.page(request.url.path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = refused_request(exc.status_code, exc.reason, refused_request_code(exc))
        except PersistedQueryRefused as exc:
            refusal = exc.refusal
            response = refused_request(refusal.status, refusal.message, refusal.code)
        await response(scope, receive, send)

    async def execute_operation(self, request: Request, request_adapter: Any,
                                request_data: Any, context: Context, root_value: Any,
                                sub_response: Response) -> Any:
        """The persisted query's document in place of the request's query (or its refusal),
        and Cache-Control on a GET that named its document by hash. Batches are refused
        before this (batching is off)."""
        persisted = self.persisted_queries
        if persisted is None or not isinstance(request_data, GraphQLRequestData):
            return await super().execute_operation(request, request_adapter, request_data,
                                                   context, root_value, sub_response)
        resolved = await persisted.resolve(request_data.query, request_data.extensions,
                                           context.services.redis)
        if resolved.refusal is not None:
            if resolved.refusal.status != 200:
                raise PersistedQueryRefused(resolved.refusal)
            return ExecutionResult(data=None, errors=[resolved.refusal.error()])
        request_data = dataclasses.replace(request_data, query=resolved.query)
        result = await super().execute_operation(request, request_adapter, request_data,
                                                 context, root_value, sub_response)
        if request_adapter.method == "GET" and resolved.hash is not None:
            sub_response.headers["Cache-Control"] = persisted.cache_control(
                resolved, request_data.operation_name, request.headers.get("authorization"),
                ok=isinstance(result, ExecutionResult) and not result.errors)
            sub_response.headers["Vary"] = "Accept-Language, Cookie, Authorization"
        return result

    def decode_json(self, data: str | bytes) -> object:
        """The body (or GET `variables`), refused with a 400 unless it is a JSON object or
        array: a bare number, string or null, bytes that are not UTF-8 and JSON nested
        deeper than Python's parser goes are all the client's mistake."""
        try:
            value = json.loads(data)
        except RecursionError:
            raise HTTPException(400, _("The request body is nested too deeply.")) from None
        except UnicodeDecodeError:
            raise HTTPException(400, _("The request body is not UTF-8 text.")) from None
        except ValueError:
            raise HTTPException(400, _("The request body is not valid JSON.")) from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, _("The request body must be a JSON object "
                                       '({"query": …, "variables": …}).'))
        return value

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
