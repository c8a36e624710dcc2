"""The strawberry ASGI view: builds our context and checks websocket credentials on connect."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from schema.context import Context


class GraphQLView(GraphQL):
    def __init__(self, schema: Any, *, graphiql: bool) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )

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
