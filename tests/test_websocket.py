"""GraphQL over websockets (graphql-transport-ws) with the bearer token in connection_init."""

from __future__ import annotations

import contextlib

from httpx import AsyncClient
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from tests.conftest import ENGLISH

PROTOCOL = "graphql-transport-ws"


@contextlib.asynccontextmanager
async def connect(app):
    """The transport's task group must open and close in the test's own task."""
    async with AsyncClient(transport=ASGIWebSocketTransport(app), base_url="http://t",
                           headers=ENGLISH) as client:
        async with aconnect_ws("/graphql", client, subprotocols=[PROTOCOL]) as ws:
            yield ws


async def test_me_over_websocket(gql, app):
    session = await gql.login()
    async with connect(app) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"authorization": f"Bearer {session['accessToken']}"}}
        )
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ me { id } }"}})
        message = await ws.receive_json()
        assert message == {"id": "1", "type": "next",
                           "payload": {"data": {"me": {"id": session["player"]["id"]}}}}
        assert (await ws.receive_json()) == {"id": "1", "type": "complete"}


async def test_websocket_without_credentials_gets_unauthenticated(app):
    async with connect(app) as ws:
        await ws.send_json({"type": "connection_init"})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ me { id } }"}})
        message = await ws.receive_json()
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_websocket_with_bad_credentials_is_refused(app):
    closed_with = None
    async with connect(app) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": "Bearer forged"}})
        try:
            await ws.receive_json()
        except WebSocketDisconnect as exc:
            closed_with = exc.code
    assert closed_with == 4403
