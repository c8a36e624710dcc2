"""The GraphQL operation's spans, when tracing is on (`app.tracing`): strawberry's
OpenTelemetry extension, without what may identify a person in a span.

Strawberry's extension records the whole document and every resolver's arguments; a
document or its arguments may carry a phone number or a login code, so this one records
the operation's name and type and, per resolver, the field and its path only."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from graphql import get_operation_ast
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from strawberry.extensions import LifecycleStep, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension


def no_arguments(_args: dict[str, Any], _info: Any) -> dict[str, Any]:
    return {}


class OperationSpans(OpenTelemetryExtension):
    def on_operation(self) -> Generator[None, None, None]:
        span = self._tracer.start_span("GraphQL operation", kind=SpanKind.SERVER)
        span.set_attribute("component", "graphql")
        self._span_holder[LifecycleStep.OPERATION] = span
        try:
            yield
        finally:
            context = self.execution_context
            document = context.graphql_document
            operation = get_operation_ast(document, context.operation_name) if document else None
            if operation is not None:
                kind = operation.operation.value
                span.set_attribute("graphql.operation.type", kind)
                if operation.name:
                    span.set_attribute("graphql.operation.name", operation.name.value)
                span.update_name(f"{kind} {operation.name.value}" if operation.name else kind)
            errors = getattr(context.result, "errors", None) or []
            codes = sorted({str((e.extensions or {}).get("code")) for e in errors})
            if codes:
                span.set_attribute("graphql.error.codes", codes)
            span.end()


def operation_spans(provider: trace.TracerProvider) -> Callable[[], SchemaExtension]:
    """A factory for the schema's extensions: a fresh extension per operation."""

    def make() -> SchemaExtension:
        return OperationSpans(tracer_provider=provider, arg_filter=no_arguments)

    return make
