"""Serving an ASGI app with several worker processes, each listening on its own
SO_REUSEPORT socket.

uvicorn's `--workers` binds one listening socket in the parent and every worker accepts
from it. Linux wakes the most recently idle worker first, so a burst of new keep-alive
connections (a proxy's connection pool, the benchmark's clients) can all land on one
worker while the others idle: measured on the home screen benchmark, 16 of 16 connections
on one of two workers, and throughput swinging between 250 and 460 requests/s from one
run to the next. With SO_REUSEPORT each worker listens on a socket of its own and the
kernel spreads new connections over them by address hash. uvicorn's supervisor still
starts, health-checks, restarts and stops the workers.

Several workers count their metrics in files (prometheus_client's multiprocess mode, see
app.metrics_exposition): the directory is prepared here before any worker starts, and a
worker that ended is marked dead so its live gauges stop counting.

    python -m app.serving bench.floors:app_factory --factory --port 8001 --workers 2
"""

from __future__ import annotations

import argparse
import socket

import uvicorn
from uvicorn.supervisors import multiprocess

from app.metrics_exposition import prepare_multiprocess_dir, start_metrics_server, worker_exited


def reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    # listening at once, not after the app's startup: a socket joins the kernel's
    # SO_REUSEPORT group when it listens, and connections made while this worker starts
    # would otherwise all go to the workers already listening, for as long as they live
    sock.listen(2048)
    return sock


class MetricsWorker(multiprocess.Process):
    """A uvicorn worker whose metrics files are marked dead once it has ended (the
    supervisor joins every worker it stops, restarts or finds dead)."""

    def join(self) -> None:
        super().join()
        worker_exited(self.pid)


class ReusePortWorker(MetricsWorker):
    """A uvicorn worker that binds its own socket, in its own process."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        super().target([reuse_port_socket(self.config.host, self.config.port)])


def run(app: str, *, host: str, port: int, workers: int, metrics_port: int | None = None,
        metrics_host: str | None = None, metrics_token: str | None = None, **options) -> None:
    """`uvicorn.run(app, …)`, with a socket per worker when there are several workers
    (and a fixed port: with port 0 each worker would get a port of its own), and the
    metrics on `metrics_port` when given, served by this process.

    uvicorn's own X-Forwarded-For handling is off: it would rewrite the client address
    for any loopback peer before the app sees it, and the app alone decides whom to
    believe (`CARBON_TRUSTED_PROXIES`, `app.ratelimit.client_ip`)."""
    options.setdefault("proxy_headers", False)
    if workers > 1:
        prepare_multiprocess_dir()  # before the workers import prometheus_client
    if metrics_port is not None:
        start_metrics_server(metrics_host or host, metrics_port, metrics_token)
    if workers <= 1 or port == 0 or not hasattr(socket, "SO_REUSEPORT"):
        if workers > 1:
            multiprocess.Process = MetricsWorker  # type: ignore[misc]  # uvicorn makes its workers by this name
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)
    # uvicorn's supervisor makes (and remakes) its workers through this module name
    multiprocess.Process = ReusePortWorker  # type: ignore[misc]
    try:
        multiprocess.Multiprocess(config, sockets=[]).run()
    except KeyboardInterrupt:  # pragma: no cover
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("app")
    parser.add_argument("--factory", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    opts = parser.parse_args()
    run(opts.app, host=opts.host, port=opts.port, workers=opts.workers, factory=opts.factory,
        access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
