"""Optional OpenTelemetry tracing, sent over OTLP/HTTP: a span per HTTP request and per
GraphQL operation (with its parsing, validation and resolvers), off unless configured.

On when `CARBON_OTLP_ENDPOINT` or the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL:
spans go to `<it>/v1/traces`) or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL) is
set. The SDK and exporter are the `tracing` extra (`pip install 'carbon-planet[tracing]'`)
and are imported only then: without them installed the server runs untraced, and refuses
to start if tracing is configured anyway. A request's `traceparent` header continues the
caller's trace.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
SERVICE_NAME = "carbon-planet"


class TracingUnavailable(RuntimeError):
    """Tracing is configured but the `tracing` extra is not installed."""


def tracing_configured(settings: Settings) -> bool:
    return bool(settings.otlp_endpoint or os.environ.get(TRACES_ENDPOINT_ENV))


def otlp_exporter(settings: Settings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if settings.otlp_endpoint:
        return OTLPSpanExporter(endpoint=settings.otlp_endpoint.rstrip("/") + "/v1/traces")
    return OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and its headers


@dataclass
class Tracing:
    provider: TracerProvider
    tracer: Tracer

    @contextlib.contextmanager
    def request_span(self, method: str, route: str, headers: dict[str, str]) -> Iterator[Span]:
        """The span of one HTTP request (or websocket), current while the app runs it, so
        the GraphQL operation's span is its child."""
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind

        with self.tracer.start_as_current_span(
            f"{method} {route}", context=propagate.extract(headers), kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route},
        ) as span:
            yield span

    @staticmethod
    def request_ended(span: Span, status: int) -> None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))

    def shutdown(self) -> None:
        """Send what is still buffered."""
        self.provider.shutdown()


def start_tracing(settings: Settings, exporter: SpanExporter | None = None) -> Tracing | None:
    """Tracing for this app, or None when it is not configured (and no exporter given)."""
    if exporter is None and not tracing_configured(settings):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(
            "tracing is configured (an OTLP endpoint is set) but OpenTelemetry is not "
            "installed: pip install 'carbon-planet[tracing]'") from exc
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, name the service instead
    attributes: dict[str, Any] = {} if os.environ.get("OTEL_SERVICE_NAME") else {
        "service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter or otlp_exporter(settings)))
    return Tracing(provider, provider.get_tracer("carbon_planet"))
