"""Per-operation GraphQL metrics: how many operations of each name and type ran, how
long they took, and the error codes they answered with (GraphQL errors' `extensions.code`
and the codes of payload `UserError`s).

Operation names are labels, and a label's every value is a time series kept for ever, so
a name counts only when it comes from the document (the operation that ran), is at most
64 characters (a GraphQL name's charset is fixed by the grammar), and is among the first
`MAX_OPERATION_NAMES` names this process has seen; everything else is grouped as
"unnamed" (no name in the document), "unknown" (no operation ran: a parse or validation
failure, or an operationName the document lacks) or "other" (a name past the limit).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextvars import ContextVar

from graphql import OperationDefinitionNode, get_operation_ast
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension

MAX_OPERATION_NAMES = 300
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")

OPERATIONS = Histogram(
    "carbon_graphql_operation_duration_seconds",
    "GraphQL operations by name and type, and how long each took (a subscription: for as "
    "long as it was open)",
    ["operation", "type"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OPERATION_ERRORS = Counter(
    "carbon_graphql_operation_errors_total",
    "Errors GraphQL operations answered with, by code (source: graphql for the response's "
    "errors, payload for a mutation's UserErrors)",
    ["operation", "code", "source"],
)

_names_seen: set[str] = set()
_payload_codes: ContextVar[list[str] | None] = ContextVar("payload_error_codes", default=None)


def note_user_error(code: object) -> None:
    """A payload UserError was made: counted with the operation that made it."""
    codes = _payload_codes.get()
    if codes is not None:
        codes.append(str(getattr(code, "value", code)))


def bounded_name(name: str | None) -> str:
    if not name:
        return "unnamed"
    if not NAME.fullmatch(name):
        return "other"
    if name not in _names_seen:
        if len(_names_seen) >= MAX_OPERATION_NAMES:
            return "other"
        _names_seen.add(name)
    return name


def bounded_code(code: object) -> str:
    return code if isinstance(code, str) and CODE.fullmatch(code) else "OTHER"


class OperationMetrics(SchemaExtension):
    """Listed first among the schema's extensions, so it finishes last and counts the
    errors as clients receive them (codes added, unexpected errors masked)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        codes: list[str] = []
        token = _payload_codes.set(codes)
        try:
            yield
        finally:
            _payload_codes.reset(token)
            self._record(time.perf_counter() - started, codes)

    def _operation(self) -> OperationDefinitionNode | None:
        """The operation the document ran, as the document names it (None: no document,
        or an operationName the document does not have)."""
        document = self.execution_context.graphql_document
        if document is None:
            return None
        return get_operation_ast(document, self.execution_context.operation_name)

    def _record(self, elapsed: float, payload_codes: list[str]) -> None:
        operation = self._operation()
        if operation is None:
            name, kind = "unknown", "unknown"
        else:
            name = bounded_name(operation.name.value if operation.name else None)
            kind = operation.operation.value
        OPERATIONS.labels(name, kind).observe(elapsed)
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or []:
            code = (error.extensions or {}).get("code")
            OPERATION_ERRORS.labels(name, bounded_code(code), "graphql").inc()
        for code in payload_codes:
            OPERATION_ERRORS.labels(name, bounded_code(code), "payload").inc()
