"""The Python floor for `me`: a bare Starlette endpoint doing the same token check and
database read as the GraphQL resolver, with no GraphQL in between."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tortoise.contrib.starlette import RegisterTortoise

from app import database
from app.auth.sessions import AuthenticationError, Sessions
from app.settings import get_settings

settings = get_settings()
sessions = Sessions(settings)


async def me(request: Request) -> JSONResponse:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    try:
        _, player = await sessions.authenticate(token)
    except AuthenticationError as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    return JSONResponse({"data": {"me": {"id": str(player.id), "nickname": player.nickname}}})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    async with RegisterTortoise(app, config=database.tortoise_config(settings)):
        yield


app = Starlette(routes=[Route("/me", me)], lifespan=lifespan)
