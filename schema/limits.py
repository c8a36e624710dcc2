"""Every limit on an operation's document, applied by the schema whatever the transport.

HTTP POST, GET and websocket `subscribe` messages all reach `Schema.execute` or
`Schema.stream`, so the limits live in one schema extension rather than in a view:

- tokens (`CARBON_GRAPHQL_MAX_TOKENS`): the parser stops past the limit;
- fields once fragments are expanded (`CARBON_GRAPHQL_MAX_FIELDS`), counted before the
  depth and alias limiters walk the document (they expand every spread: 10^7 spreads take
  minutes);
- depth and aliases (`CARBON_GRAPHQL_MAX_DEPTH`, `CARBON_GRAPHQL_MAX_ALIASES`), as
  validation rules beside graphql-core's own;
- one operation per request: a document with several operations must name the one to run;
- text: every string argument, literal or variable, passes `schema.inputs`.

Parsing, the field count and validation are remembered together for short documents
(clients send the same few again and again), per reader's language: the limits' errors
are ours, worded in it (`app.i18n.messages`). graphql-core's own messages (syntax,
validation) stay as it words them, except its parser's limits. Every error gets its code
where it arises (`schema.error_codes`). The size of the request itself (HTTP body,
websocket frame) is bounded before any of this, by `app.body_limits`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import graphql
from graphql import ASTValidationRule, GraphQLError, ValidationContext, specified_rules
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from app.i18n import current_language
from app.i18n.messages import _
from schema.error_codes import VALIDATION_FAILED, parse_operation, too_complex, validation_error
from schema.inputs import DocumentStrings, document_strings, operation_text_problem

CACHED_QUERY_CHARS = 20_000  # longer documents are checked every time: no cache to fill


@dataclass(frozen=True)
class DocumentLimitSettings:
    max_tokens: int
    max_fields: int
    max_depth: int
    max_aliases: int


@dataclass(frozen=True)
class PreparedDocument:
    """A query text parsed and checked: its document (None if it does not parse), the
    errors that refuse it (empty when it may run) and, for a valid one, its strings."""

    document: graphql.DocumentNode | None
    errors: tuple[GraphQLError, ...]
    strings: DocumentStrings | None = None


class _RewordingContext:
    """A validation context whose every reported error reads one message of ours."""

    def __init__(self, context: ValidationContext, message: Callable[[], str]) -> None:
        self._context = context
        self._message = message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(too_complex(self._message(), error.nodes))


def reworded(rule: type[ASTValidationRule],
             message: Callable[[], str]) -> type[ASTValidationRule]:
    """`rule` (strawberry's depth or alias limiter, which does its work when built), its
    errors worded by `message()` in the reader's language, with code QUERY_TOO_COMPLEX."""

    class Reworded(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            rule(_RewordingContext(context, message))  # type: ignore[arg-type]

    Reworded.__name__ = f"Reworded{rule.__name__}"
    return Reworded


def expanded_field_count(document: graphql.DocumentNode, limit: int) -> int:
    """Fields an operation selects once every fragment spread is expanded (stops past `limit`).

    Fragments that spread fragments multiply: 8 fragments of 10 spreads each select 10^8
    fields in ~130 tokens. Each fragment's size is computed once, so this costs one pass.
    """
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, graphql.FragmentDefinitionNode)}
    sizes: dict[str, int] = {}

    def size(selection_set: graphql.SelectionSetNode | None, inside: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, graphql.FieldNode):
                total += 1 + size(selection.selection_set, inside)
            elif isinstance(selection, graphql.InlineFragmentNode):
                total += size(selection.selection_set, inside)
            elif isinstance(selection, graphql.FragmentSpreadNode):
                name = selection.name.value
                if name not in sizes:
                    if name in inside or name not in fragments:
                        continue  # a cycle or an unknown fragment: validation refuses it
                    sizes[name] = size(fragments[name].selection_set, inside | {name})
                total += sizes[name]
            if total > limit:
                break
        return total

    operations = [d for d in document.definitions
                  if isinstance(d, graphql.OperationDefinitionNode)]
    return max((size(op.selection_set, frozenset()) for op in operations), default=0)


class DocumentChecker:
    """Parses and checks query texts against one schema and one set of limits."""

    def __init__(self, schema: graphql.GraphQLSchema, limits: DocumentLimitSettings) -> None:
        self.schema = schema
        self.limits = limits
        self.rules = (
            *specified_rules,
            *(reworded(rule, lambda: _("The operation exceeds the maximum depth of %(max)s.",
                                       max=limits.max_depth))
              for rule in QueryDepthLimiter(max_depth=limits.max_depth).validation_rules),
            *(reworded(rule, lambda: _("The operation uses more than %(max)s aliases.",
                                       max=limits.max_aliases))
              for rule in MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules),
        )
        self._cached = functools.lru_cache(maxsize=1024)(self._prepare)

    def prepare(self, query: str) -> PreparedDocument:
        if len(query) <= CACHED_QUERY_CHARS:
            return self._cached(query, current_language())
        return self._prepare(query)

    def _prepare(self, query: str, language: str | None = None) -> PreparedDocument:
        """`language` keys the cache: the errors are worded in the reader's language."""
        try:
            document = parse_operation(
                query, self.limits.max_tokens,
                too_many_tokens=lambda: _("The operation has more than %(max)s tokens.",
                                          max=self.limits.max_tokens),
                too_deep=lambda: _("The operation is nested too deeply to be read."))
        except GraphQLError as error:
            return PreparedDocument(None, (error,))
        try:
            count = expanded_field_count(document, self.limits.max_fields)
        except RecursionError:
            count = self.limits.max_fields + 1
        if count > self.limits.max_fields:
            return PreparedDocument(document, (too_complex(_(
                "The operation selects more than %(max)s fields once fragments are expanded.",
                max=self.limits.max_fields)),))
        errors = tuple(validation_error(error)
                       for error in validate_document(self.schema, document, self.rules))
        return PreparedDocument(document, errors,
                                None if errors else document_strings(document))


def several_operations_unnamed(document: graphql.DocumentNode,
                               operation_name: str | None) -> GraphQLError | None:
    """graphql-core (through strawberry) would run the first of several operations when no
    operationName is sent; the GraphQL spec says to refuse the request."""
    if operation_name is not None:
        return None
    count = sum(isinstance(d, graphql.OperationDefinitionNode) for d in document.definitions)
    if count <= 1:
        return None
    return GraphQLError(
        _("The document has %(count)s operations: send operationName to choose one.",
          count=count),
        extensions={"code": VALIDATION_FAILED})


class DocumentLimits(SchemaExtension):
    """Parse (with the token limit), count, validate: once per distinct short document."""

    def __init__(self, checker: DocumentChecker) -> None:
        self.checker = checker
        self.prepared: PreparedDocument | None = None

    def on_operation(self) -> Iterator[None]:
        # a document that fails to parse is parsed again by strawberry, which then reports
        # the syntax error its own way: with the same token limit
        self.execution_context.parse_options["max_tokens"] = self.checker.limits.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and context.graphql_document is None:
            self.prepared = self.checker.prepare(context.query)
            context.graphql_document = self.prepared.document
        yield
        if self.prepared is not None and self.prepared.document is None:
            # strawberry parsed the text again and reports its own error: it reads as ours
            [ours] = self.prepared.errors
            for error in context.pre_execution_errors or ():
                error.message, error.extensions = ours.message, dict(ours.extensions or {})

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if self.prepared is not None and document is not None and document is self.prepared.document:
            errors = list(self.prepared.errors)
            if not errors and self.prepared.strings is not None:
                refused = several_operations_unnamed(document,
                                                     context._provided_operation_name) \
                    or operation_text_problem(self.prepared.strings, context.variables)
                errors = [refused] if refused else []
            context.pre_execution_errors = errors  # validation has run: strawberry skips it
        yield
