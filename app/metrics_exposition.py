"""Serving the Prometheus metrics: `/metrics` on the app or on a port of its own, an
optional bearer token, and several worker processes summed into one answer.

With several workers (`carbon-planet serve --workers N`, N > 1) each worker writes its
figures to files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, which
the library chooses when it is imported, so the variable is set before the workers start)
and a scrape, whichever worker or process answers it, reads every worker's files.
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import ThreadingWSGIServer, WSGIRequestHandler, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.requests import Request
from starlette.responses import Response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger("carbon_planet.metrics")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir() -> str:
    """Before the workers start: PROMETHEUS_MULTIPROC_DIR as the operator set it (its
    metric files from an earlier run removed, or they would be added to this run's), or a
    new temporary directory removed when this process exits."""
    given = multiprocess_dir()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return given
    made = tempfile.mkdtemp(prefix="carbon-planet-metrics-")
    atexit.register(shutil.rmtree, made, ignore_errors=True)
    os.environ[MULTIPROC_ENV] = made
    return made


def worker_exited(pid: int | None) -> None:
    """After a worker process ended: its live gauges (modes live*) stop counting."""
    if pid is not None and multiprocess_dir():
        mark_process_dead(pid)


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: this process's metrics, or every worker's in multiprocess mode."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return registry


def token_accepted(expected: str | None, authorization: str | None) -> bool:
    if not expected:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                expected.encode())


def unauthorised() -> Response:
    return Response("a bearer token is required\n", status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                    media_type="text/plain")


def metrics_endpoint_for(token: str | None) -> Callable[[Request], Any]:
    """`GET /metrics` on the app, refusing a request without `token` when one is set."""

    async def metrics_endpoint(request: Request) -> Response:
        if not token_accepted(token, request.headers.get("authorization")):
            return unauthorised()
        return Response(generate_latest(scrape_registry()), media_type=CONTENT_TYPE_LATEST)

    return metrics_endpoint


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged (one every few seconds)."""


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_metrics_server(host: str, port: int, token: str | None) -> MetricsServer:
    """Metrics on a port of their own, in a thread of this process (the supervisor when
    there are several workers: it reads their files and serves no API requests)."""
    registry = scrape_registry()
    metrics = make_wsgi_app(registry)

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not token_accepted(token, environ.get("HTTP_AUTHORIZATION")):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                ("WWW-Authenticate", 'Bearer realm="metrics"')])
            return [b"a bearer token is required\n"]
        return metrics(environ, start_response)

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = make_server(host, port, app, Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%d/metrics", host, server.server_address[1])
    return MetricsServer(server, thread)
