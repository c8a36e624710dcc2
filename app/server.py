"""The Starlette application: GraphQL, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from tortoise.contrib.starlette import RegisterTortoise

from app import database
from app.auth.sms import SmsProvider
from app.body_limits import BodyLimit, BodyLimitMiddleware
from app.business_metrics import keep_database_gauges_fresh
from app.certification.partner_recall import receive_recall
from app.console.routes import console_routes
from app.credits.partner_http import body_too_large as partner_body_too_large
from app.credits.partner_http import receive_activities
from app.i18n.middleware import LanguageMiddleware
from app.metrics_exposition import metrics_endpoint_for
from app.observability import RequestContextMiddleware, configure_logging
from app.partner_links.http import receive_link
from app.payout_handlers import register_payout_handlers
from app.payouts.worker import PayoutWorker
from app.services import Services
from app.settings import Settings, get_settings
from app.tracing import TracingUnavailable, start_tracing
from app.transparency import queue as log_queue
from app.transparency.http import log_routes
from app.transparency.sequencer import keep_log_sequenced
from schema import build_schema, graphiql
from schema.persisted_queries import PersistedQueries
from schema.query_manifest import ManifestError
from schema.view import GraphQLView
from schema.view import body_too_large as graphql_body_too_large

OTHER_ROUTES_MAX_BODY_BYTES = 16 * 1024  # health, readiness, metrics, console forms
CONSOLE_RULES_MAX_BODY_BYTES = 1024 * 1024  # the console's rules editor sends a whole file
CONSOLE_RULES_PATHS = ("/console/rules/draft", "/console/rules/impact", "/console/rules/simulate",
                       "/console/rules/propose")

log = logging.getLogger("carbon_planet.server")


class ConfigurationError(RuntimeError):
    """The configuration cannot run in this environment."""


def refuse_unsafe_production(settings: Settings) -> None:
    problems = settings.production_problems()
    if problems:
        raise ConfigurationError(
            "CARBON_ENV=production, but the server will not start:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        await database.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await services.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


def settle_garbage_collector() -> None:
    """Keep everything alive at startup (schema, ORM models, rules: ~130,000 objects) out
    of the garbage collector's full passes, which otherwise stop a worker for up to 86 ms
    (measured) every few hundred requests: the p99 of a home-screen request. Collection
    still runs for what requests allocate."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, sms: SmsProvider | None = None) -> Starlette:
    settings = settings or get_settings()
    refuse_unsafe_production(settings)
    try:
        tracing = start_tracing(settings)
    except TracingUnavailable as exc:
        raise ConfigurationError(str(exc)) from None
    spans = None
    if tracing is not None:
        from schema.tracing import operation_spans  # the tracing extra: imported only when on

        spans = operation_spans(tracing.provider)
    schema = build_schema(settings, tracing=spans)
    try:
        persisted_queries = PersistedQueries.from_settings(settings, schema)
    except ManifestError as exc:
        raise ConfigurationError(f"CARBON_PERSISTED_QUERY_MANIFEST: {exc}") from None
    graphql = GraphQLView(schema, graphiql=settings.graphiql,
                          session_check_seconds=settings.ws_session_check_seconds,
                          persisted_queries=persisted_queries)

    register_payout_handlers()  # before any payout worker runs, here or in a test

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=database.tortoise_config(settings)):
            app.state.services = Services.build(settings, sms)
            await app.state.services.rules_provider.refresh()
            if settings.uses_embedded_redis:  # in-process Redis starts empty: derive the boards
                app.state.services.game.boards_stale = True
                await app.state.services.game.refresh_if_stale()
            background = [
                asyncio.create_task(app.state.services.game.keep_boards_fresh()),
                asyncio.create_task(
                    app.state.services.rules_provider.keep_fresh(settings.rules_refresh_seconds)),
                asyncio.create_task(keep_database_gauges_fresh(settings.metrics_refresh_seconds)),
            ]
            log_queue.set_enabled(settings.transparency_log)
            if settings.transparency_log:
                background.append(asyncio.create_task(keep_log_sequenced(settings)))
            if settings.payout_worker:
                app.state.payout_worker = PayoutWorker(app.state.services.payouts, settings)
                background.append(asyncio.create_task(app.state.payout_worker.run_forever()))
            settle_garbage_collector()
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                await app.state.services.close()
                if tracing is not None:
                    tracing.shutdown()

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/partner/v1/activities", receive_activities, methods=["POST"]),
        Route("/partner/v1/links", receive_link, methods=["POST"]),
        Route("/partner/v1/recalls", receive_recall, methods=["POST"]),
        *log_routes(),
        *console_routes(),
    ]
    if settings.metrics_port is None:  # else served on that port (app.metrics_exposition)
        routes.append(Route("/metrics", metrics_endpoint_for(settings.metrics_token)))
    if settings.graphiql:  # the IDE's scripts, from an installed package: no CDN
        routes.append(Mount(graphiql.ASSETS_PATH, app=graphiql.assets(), name="graphiql"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    app.state.schema = schema  # the console runs its operations through it, in process
    app.state.tracing = tracing
    # inside the request context (the request id and metrics see a 413 as a response)
    app.add_middleware(
        BodyLimitMiddleware,
        routes={
            "/graphql": BodyLimit(settings.graphql_max_body_bytes, graphql_body_too_large),
            "/partner/v1/activities": BodyLimit(settings.partner_max_body_bytes,
                                                partner_body_too_large),
            **{path: BodyLimit(CONSOLE_RULES_MAX_BODY_BYTES, partner_body_too_large)
               for path in CONSOLE_RULES_PATHS},
        },
        default=BodyLimit(OTHER_ROUTES_MAX_BODY_BYTES, partner_body_too_large),
        websocket_max_bytes=settings.graphql_max_body_bytes,
    )
    app.add_middleware(LanguageMiddleware, default=settings.default_language)
    app.add_middleware(
        RequestContextMiddleware, tracing=tracing,
        routes=frozenset(r.path for r in routes if isinstance(r, Route | Mount | WebSocketRoute))
    )
    return app


def app_factory() -> Starlette:
    """Entry point for `uvicorn --factory app.server:app_factory`."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
