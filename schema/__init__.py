"""The GraphQL schema: types and thin resolvers, one module per domain."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from app.i18n.messages import _
from app.observability import GRAPHQL_ERRORS, request_id_var
from app.settings import Settings
from schema.accounts import AccountMutation, AccountQuery
from schema.activities import CreditsMutation, CreditsQuery
from schema.certification import CertificationMutation, CertificationQuery
from schema.context import Context
from schema.error_codes import CodedExecutor, fallback_code, with_code
from schema.limits import DocumentChecker, DocumentLimits, DocumentLimitSettings
from schema.market import MarketMutation, MarketQuery
from schema.merchants import MerchantMutation, MerchantQuery
from schema.operation_metrics import OperationMetrics
from schema.partner_links import PartnerLinksMutation
from schema.payouts import PayoutQuery
from schema.planet import PlanetMutation, PlanetQuery, PlanetSubscription
from schema.privacy import PrivacyMutation
from schema.regulator import RegulatorQuery
from schema.rules import RulesMutation, RulesQuery
from schema.scalars import AWARE_DATETIME, LONG, Long
from schema.shop import ShopMutation, ShopQuery
from schema.transparency import TransparencyQuery

log = logging.getLogger("carbon_planet.graphql")

Query = merge_types("Query", (AccountQuery, CreditsQuery, PlanetQuery, RulesQuery, ShopQuery,
                              MerchantQuery, PayoutQuery, RegulatorQuery, MarketQuery,
                              CertificationQuery, TransparencyQuery))
Mutation = merge_types("Mutation", (AccountMutation, CreditsMutation, PlanetMutation, RulesMutation,
                                    ShopMutation, MerchantMutation, PartnerLinksMutation,
                                    PrivacyMutation,
                                    CertificationMutation, MarketMutation))
Subscription = merge_types("Subscription", (PlanetSubscription,))


# The client's mistakes that strawberry reports as exceptions of its own (over a websocket:
# no operation by the name sent, no query at all).
CLIENT_ERRORS = (GraphQLError, CannotGetOperationTypeError, InvalidOperationTypeError,
                 MissingQueryError)


def is_unexpected(error: GraphQLError) -> bool:
    """Errors we raise on purpose are GraphQLErrors; anything else is a bug to hide."""
    return error.original_error is not None and not isinstance(error.original_error, CLIENT_ERRORS)


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = request_id_var.get()
        return GraphQLError(
            _("Internal error; quote request id %(id)s when reporting it.", id=request_id),
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_ERROR", "requestId": request_id},
        )


class CarbonSchema(strawberry.Schema):
    """Codes on every error and a fresh caller per operation, on every transport."""

    limits: DocumentLimitSettings | None = None  # set by build_schema (persisted queries)

    async def stream(self, query: str | None, variable_values: Any = None,
                     context_value: Any = None, *args: Any, **kwargs: Any) -> Any:
        # A websocket runs all its operations with one connection context: each operation
        # checks the session and reads the roles again (a logout, an expiry or a role
        # removed takes effect on the next operation).
        if isinstance(context_value, Context):
            context_value = context_value.for_operation()
        return await super().stream(query, variable_values, context_value, *args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if not is_unexpected(error):  # most got their code where they arose
                with_code(error, fallback_code(error))
            if is_unexpected(error):
                GRAPHQL_ERRORS.inc()
                log.error(
                    "unexpected error in %s", error.path, exc_info=error.original_error
                )
            else:
                log.info("graphql error: %s", error.message)


def build_schema(settings: Settings,
                 tracing: Callable[[], SchemaExtension] | None = None) -> strawberry.Schema:
    """The schema; `tracing`, when given, makes each operation's spans (schema.tracing)."""
    limits = DocumentLimitSettings(
        max_tokens=settings.graphql_max_tokens, max_fields=settings.graphql_max_fields,
        max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases)
    checker: DocumentChecker | None = None

    def document_limits() -> DocumentLimits:
        assert checker is not None  # set below, before the schema runs an operation
        return DocumentLimits(checker)

    schema = CarbonSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=CodedExecutor,
        scalar_overrides={datetime: AWARE_DATETIME, Long: LONG},
        extensions=[  # factories: each operation gets fresh extension instances
            OperationMetrics,  # first: it finishes last, and counts the errors clients get
            *([tracing] if tracing else []),
            document_limits,
            MaskUnexpectedErrors,
        ],
    )
    checker = DocumentChecker(schema._schema, limits)
    schema.limits = limits
    return schema
