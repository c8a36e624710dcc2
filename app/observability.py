"""JSON logs carrying a request id and ISO 8601 times, and the request-id/metrics (and,
when tracing is on, request span) ASGI middleware. `/metrics` is in app.metrics_exposition."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram
from pythonjsonlogger.json import JsonFormatter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.i18n.messages import _

if TYPE_CHECKING:
    from app.tracing import Tracing

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUESTS = Counter(
    "carbon_http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
LATENCY = Histogram(
    "carbon_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
GRAPHQL_ERRORS = Counter(
    "carbon_graphql_unexpected_errors_total", "Unexpected errors masked for clients"
)

access_log = logging.getLogger("carbon_planet.access")
log = logging.getLogger("carbon_planet.server")


_base_record_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    """Stamp every log record with the current request id, whichever handler formats it."""
    record = _base_record_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


logging.setLogRecordFactory(_record_with_request_id)


class DropColorMessage(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI duplicate of the message
        return True


def iso_time(record: logging.LogRecord) -> str:
    """The record's time in ISO 8601 with its zone, to the millisecond:
    2026-12-01T03:15:07.123+00:00."""
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class IsoJsonFormatter(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_time(record)


class IsoFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_time(record)


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """One handler on the root logger, writing JSON lines (or text) to stderr; uvicorn's
    loggers and Python's warnings (the `py.warnings` logger) go through it too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(DropColorMessage())
    if json:
        handler.setFormatter(
            IsoJsonFormatter(
                "{asctime}{levelname}{name}{message}{request_id}",
                style="{",
                rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            IsoFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.captureWarnings(True)


class RequestContextMiddleware:
    """Gives each request an id (from `X-Request-ID` or new), times it, logs and counts it."""

    def __init__(self, app: ASGIApp, routes: frozenset[str] = frozenset(),
                 tracing: Tracing | None = None) -> None:
        self.app = app
        self.routes = routes  # metric labels stay bounded: unknown paths count as "other"
        self.tracing = tracing

    def route(self, scope: Scope) -> str:
        path = scope.get("path", "")
        return path if path in self.routes else "other"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.tracing is None:
            await self.handle(scope, receive, send, None)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        with self.tracing.request_span(scope.get("method", "WS"), self.route(scope),
                                       headers) as span:
            await self.handle(scope, receive, send, span)

    async def handle(self, scope: Scope, receive: Receive, send: Send, span: Any) -> None:
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode()[:64]
        request_id = incoming if incoming.isprintable() and incoming else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # An error no handler caught (e.g. the database connection dropped during a
            # partner batch): log it with the request id and answer a JSON 500 quoting it,
            # as GraphQL's INTERNAL_ERROR does, instead of a bare page without the id.
            if scope["type"] != "http" or responded:
                raise
            log.exception("unhandled error in %s %s", scope["method"], scope.get("path", ""))
            message = _("Internal error; quote request id %(id)s when reporting it.", id=request_id)
            await JSONResponse({"error": message, "requestId": request_id}, status_code=500)(
                scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope.get("path", "")
            route = self.route(scope)
            if span is not None and self.tracing is not None and scope["type"] == "http":
                self.tracing.request_ended(span, status)
            if scope["type"] == "http":
                REQUESTS.labels(scope["method"], route, str(status)).inc()
                LATENCY.labels(scope["method"], route).observe(elapsed)
            access_log.info(
                "%s %s %s",
                scope.get("method", "WS"),
                path,
                status,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 2), "path": path},
            )
            request_id_var.reset(token)

