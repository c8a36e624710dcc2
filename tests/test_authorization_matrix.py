"""Every root field, tried by every kind of caller: only the allowed ones get through.

The table below is the authorization policy, written out. The test reads the root fields
from the built schema and fails when a field is missing from the table, so a new query or
mutation cannot ship without someone deciding who may call it.

Each operation is built from the schema: required arguments get typed dummy values (a
random id, "x", 1, the first enum value …) and the selection is `__typename`, so the
resolver runs (or the permission check stops it) without needing real data. A caller who
is allowed may still get a payload error (INVALID_INPUT, NOT_FOUND …): authorization
passed. A caller who is not allowed must get UNAUTHENTICATED (anonymous) or FORBIDDEN
(logged in, wrong role) as a GraphQL error, and the resolver must not have run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import graphql
import pytest

from app.accounts.models import Player
from app.auth.roles import Role
from schema import build_schema

PUBLIC, AUTHENTICATED = "public", "authenticated"
OPERATOR, DESIGNER, MERCHANT, ADMIN = (
    frozenset({Role.OPERATOR}), frozenset({Role.DESIGNER}), frozenset({Role.MERCHANT}),
    frozenset({Role.ADMIN}))
REGULATOR_OR_OPERATOR = frozenset({Role.REGULATOR, Role.OPERATOR})

QUERIES: dict[str, Any] = {
    "me": AUTHENTICATED,
    "playerByPhone": OPERATOR,
    "player": OPERATOR,
    "methodologies": PUBLIC,
    "partnerRecords": OPERATOR,
    "partnerRecordDays": OPERATOR,
    "dailyQuiz": AUTHENTICATED,
    "leaderboard": AUTHENTICATED,
    "ruleVersions": DESIGNER,
    "rulesDiff": DESIGNER,
    "ruleProposals": DESIGNER,
    "rulesContent": DESIGNER,
    "rulesProblems": DESIGNER,
    "simulateRules": DESIGNER,
    "shopItems": PUBLIC,
    "allShopItems": OPERATOR,
    "shopItem": OPERATOR,
    "shopOrders": OPERATOR,
    "auditLog": OPERATOR,
    "merchants": OPERATOR,
    "merchant": OPERATOR,
    "payouts": OPERATOR,
    "myMerchant": MERCHANT,
    "programmeFigures": REGULATOR_OR_OPERATOR,
    "regulatorReport": REGULATOR_OR_OPERATOR,
    "marketInventory": REGULATOR_OR_OPERATOR,
    "certificates": REGULATOR_OR_OPERATOR,
    "certificate": PUBLIC,
    "buyers": OPERATOR,
    "certifiedBatches": PUBLIC,
    "ledgerProof": AUTHENTICATED,  # and only for the caller's own transactions (NOT_FOUND else)
}

MUTATIONS: dict[str, Any] = {
    "requestLoginCode": PUBLIC,
    "loginWithCode": PUBLIC,
    "loginWithHostToken": PUBLIC,
    "loginWithWeChat": PUBLIC,
    "loginWithAlipay": PUBLIC,
    "refreshSession": PUBLIC,
    "logout": AUTHENTICATED,
    "updateProfile": AUTHENTICATED,
    "setPlayerRoles": ADMIN,
    "syncSteps": AUTHENTICATED,
    "setActiveTheme": AUTHENTICATED,
    "answerQuiz": AUTHENTICATED,
    "addFriend": AUTHENTICATED,
    "removeFriend": AUTHENTICATED,
    "publishRules": DESIGNER,
    "rollbackRules": DESIGNER,
    "proposeRules": DESIGNER,
    "approveRuleProposal": DESIGNER,
    "rejectRuleProposal": DESIGNER,
    "redeem": AUTHENTICATED,
    "cancelOrder": OPERATOR,
    "createShopItem": OPERATOR,
    "updateShopItem": OPERATOR,
    "adjustShopItemStock": OPERATOR,
    "importCouponCodes": OPERATOR,
    "payMerchant": AUTHENTICATED,
    "createMerchant": OPERATOR,
    "setMerchantActive": OPERATOR,
    "addMerchantStaff": OPERATOR,
    "createPartnerLinkCode": AUTHENTICATED,
    "removePartnerLink": AUTHENTICATED,
    "decidePartnerLinkOffer": AUTHENTICATED,
    "createBuyer": OPERATOR,
    "sellCertifiedGrams": OPERATOR,
    "retireCertifiedGrams": OPERATOR,
    "exportMyData": AUTHENTICATED,
    "closeMyAccount": AUTHENTICATED,
    "closeCertificationPeriod": OPERATOR,
    "withdrawActivity": OPERATOR,
}

# Callers: None is anonymous; the others are accounts holding exactly these roles.
PRINCIPALS: dict[str, frozenset[Role] | None] = {
    "anonymous": None,
    "player": frozenset(),
    "designer": frozenset({Role.DESIGNER}),
    "operator": frozenset({Role.OPERATOR}),
    "merchant": frozenset({Role.MERCHANT}),
    "regulator": frozenset({Role.REGULATOR}),
    "admin": frozenset({Role.ADMIN}),
}
PHONES = {"player": "+8613800138101", "designer": "+8613800138102",
          "operator": "+8613800138103", "merchant": "+8613800138104",
          "regulator": "+8613800138106", "admin": "+8613800138105"}

# Arguments that need a specific dummy value (e.g. a valid-looking one that still changes
# nothing, or an enum that reaches the resolver).
OVERRIDES: dict[tuple[str, str], Any] = {
    ("syncSteps", "steps"): 0,
    ("adjustShopItemStock", "delta"): 1,
    ("importCouponCodes", "codes"): ["AUTHZ-TEST-CODE"],
    ("rulesDiff", "fromVersion"): 0,  # the shipped rules file, against itself
    ("rulesDiff", "toVersion"): 0,
}


def allowed(policy: Any, roles: frozenset[Role] | None) -> bool:
    if policy == PUBLIC:
        return True
    if roles is None:
        return False
    if policy == AUTHENTICATED:
        return True
    return Role.ADMIN in roles or bool(roles & policy)


def dummy(type_: graphql.GraphQLInputType) -> Any:
    """A value of `type_`: only the required parts of input objects are filled in."""
    type_ = graphql.get_nullable_type(type_)
    if isinstance(type_, graphql.GraphQLList):
        return [dummy(type_.of_type)]
    if isinstance(type_, graphql.GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, graphql.GraphQLInputObjectType):
        return {name: dummy(f.type) for name, f in type_.fields.items()
                if graphql.is_required_input_field(f)}
    return {
        "String": "x",
        "Int": 1,
        "Long": 1,
        "Float": 1.0,
        "Boolean": False,
        "ID": str(uuid.uuid4()),
        "Date": date.today().isoformat(),
        "DateTime": datetime.now(UTC).isoformat(),
    }[type_.name]


def operation(kind: str, name: str, field: graphql.GraphQLField) -> tuple[str, dict]:
    """`kind { name(required args as variables) { __typename } }` and its variables."""
    definitions, arguments, variables = [], [], {}
    for arg_name, arg in field.args.items():
        if not graphql.is_required_argument(arg):
            continue
        definitions.append(f"${arg_name}: {arg.type}")
        arguments.append(f"{arg_name}: ${arg_name}")
        variables[arg_name] = OVERRIDES.get((name, arg_name), dummy(arg.type))
    head = f"{kind}({', '.join(definitions)})" if definitions else kind
    call = f"{name}({', '.join(arguments)})" if arguments else name
    selection = " { __typename }" if graphql.is_composite_type(graphql.get_named_type(field.type)) else ""
    return f"{head} {{ {call}{selection} }}", variables


def root_fields(settings) -> dict[str, tuple[str, graphql.GraphQLField]]:
    core = build_schema(settings)._schema
    fields = {name: ("query", f) for name, f in core.query_type.fields.items()}
    fields |= {name: ("mutation", f) for name, f in core.mutation_type.fields.items()}
    return fields


def test_every_root_field_is_in_the_table(settings):
    fields = root_fields(settings)
    core = build_schema(settings)._schema
    assert set(core.query_type.fields) == set(QUERIES), (
        "add new queries to QUERIES (and remove dropped ones): "
        f"{set(core.query_type.fields) ^ set(QUERIES)}")
    assert set(core.mutation_type.fields) == set(MUTATIONS), (
        "add new mutations to MUTATIONS (and remove dropped ones): "
        f"{set(core.mutation_type.fields) ^ set(MUTATIONS)}")
    assert len(fields) == len(QUERIES) + len(MUTATIONS)


def auth_codes(result: dict) -> set[str]:
    return {(e.get("extensions") or {}).get("code") for e in result.get("errors") or []}


async def test_every_role_on_every_root_field(gql, settings):
    tokens: dict[str, str | None] = {"anonymous": None}
    for name, roles in PRINCIPALS.items():
        if roles is None:
            continue
        session = await gql.login(PHONES[name])
        await Player.filter(id=session["player"]["id"]).update(
            roles=sorted({Role.PLAYER.value, *(r.value for r in roles)}))
        tokens[name] = session["accessToken"]

    policy = QUERIES | MUTATIONS
    # logout revokes the caller's session: run it last.
    order = sorted(root_fields(settings).items(), key=lambda item: item[0] == "logout")
    failures, checked = [], 0
    for field_name, (kind, field) in order:
        query, variables = operation(kind, field_name, field)
        for principal, roles in PRINCIPALS.items():
            result = await gql(query, variables, token=tokens[principal])
            codes = auth_codes(result)
            expected_ok = allowed(policy[field_name], roles)
            checked += 1
            if "INTERNAL_ERROR" in codes:
                failures.append(f"{field_name} as {principal}: INTERNAL_ERROR {result}")
            elif expected_ok and codes & {"UNAUTHENTICATED", "FORBIDDEN"}:
                failures.append(f"{field_name} as {principal}: refused, should pass: {result}")
            elif not expected_ok:
                want = "UNAUTHENTICATED" if roles is None else "FORBIDDEN"
                data = (result.get("data") or {}).get(field_name)
                if want not in codes or data is not None:
                    failures.append(f"{field_name} as {principal}: expected {want}, got {result}")
    assert checked == len(policy) * len(PRINCIPALS)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("principal", ["player", "designer"])
async def test_a_refused_mutation_changes_nothing(gql, principal):
    """FORBIDDEN means the resolver never ran: no merchant is created."""
    from app.merchants.models import Merchant

    session = await gql.login(PHONES[principal])
    if principal == "designer":
        await Player.filter(id=session["player"]["id"]).update(roles=["player", "designer"])
    result = await gql('mutation { createMerchant(name: "Sneaky", idempotencyKey: "k1") '
                       "{ merchant { id } errors { code } } }", token=session["accessToken"])
    assert auth_codes(result) == {"FORBIDDEN"}
    assert await Merchant.all().count() == 0
