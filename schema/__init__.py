"""The GraphQL schema: types and thin resolvers, one module per domain."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from app.observability import GRAPHQL_ERRORS, request_id_var
from app.settings import Settings
from schema.accounts import AccountMutation, AccountQuery
from schema.activities import CreditsMutation, CreditsQuery
from schema.merchants import MerchantMutation, MerchantQuery
from schema.planet import PlanetMutation, PlanetQuery, PlanetSubscription
from schema.rules import RulesMutation, RulesQuery
from schema.shop import ShopMutation, ShopQuery

log = logging.getLogger("carbon_planet.graphql")

Query = merge_types("Query", (AccountQuery, CreditsQuery, PlanetQuery, RulesQuery, ShopQuery,
                              MerchantQuery))
Mutation = merge_types("Mutation", (AccountMutation, CreditsMutation, PlanetMutation, RulesMutation,
                                    ShopMutation, MerchantMutation))
Subscription = merge_types("Subscription", (PlanetSubscription,))


def is_unexpected(error: GraphQLError) -> bool:
    """Errors we raise on purpose are GraphQLErrors; anything else is a bug to hide."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = request_id_var.get()
        return GraphQLError(
            f"Internal error; quote request id {request_id} when reporting it.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_ERROR", "requestId": request_id},
        )


class CarbonSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_unexpected(error):
                GRAPHQL_ERRORS.inc()
                log.error(
                    "unexpected error in %s", error.path, exc_info=error.original_error
                )
            else:
                log.info("graphql error: %s", error.message)


def build_schema(settings: Settings) -> strawberry.Schema:
    # The limiters' rule classes are made once, so every request validates with the same
    # rules and ValidationCache (keyed by document and rules) can hit: clients send the
    # same few documents again and again, parsed and validated once each.
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    return CarbonSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[  # factories: each request gets fresh extension instances
            lambda: AddValidationRules(limit_rules),
            lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            MaskUnexpectedErrors,
        ],
    )
