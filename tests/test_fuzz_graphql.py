"""Property-based fuzzing of the whole GraphQL schema (hypothesis-graphql).

Thousands of generated operations, queries and mutations, valid ones (every root field,
every argument, nested selections) and invalid ones (one schema violation each), sent over
HTTP to the in-process app, anonymously and as an admin (whose calls pass every permission
check and reach the resolvers). Whatever the operation:

- the response is HTTP 200 with a JSON body (never a 500);
- no message carries a traceback or a Python exception name;
- every error has `extensions.code`;
- nothing is an INTERNAL_ERROR: an unexpected exception in a resolver is a bug to fix with
  a typed error, so one fails the test (hypothesis then shrinks it to a minimal operation).

The run is bounded and reproducible (`derandomize=True`, no example database). Set
`CARBON_FUZZ_EXAMPLES` to a larger number for a deeper local run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from datetime import UTC

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_config
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from app.accounts.models import Player
from schema import build_schema
from tests.conftest import ENGLISH, GraphQLClient

EXAMPLES = int(os.environ.get("CARBON_FUZZ_EXAMPLES", "600"))

FUZZ_SETTINGS = hypothesis_config(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)

# Dates and times: mostly well-formed, sometimes not.
CUSTOM_SCALARS = {
    "Date": st.one_of(st.dates().map(str), st.text(max_size=12)).map(nodes.String),
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        st.datetimes().map(lambda d: d.isoformat()),  # no zone
        st.text(max_size=25),
    ).map(nodes.String),
    "Long": st.one_of(  # whole numbers either side of 2^53, and what is not one
        st.integers(min_value=-(2**60), max_value=2**60).map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.text(max_size=12).map(nodes.String),
    ),
}

# A Python exception leaking into a message: "Traceback", a file path, or an exception name.
LEAK = re.compile(r'Traceback|File "|\b[A-Z]\w*(Error|Exception)\b(?!: )')


def check_response(response: httpx.Response, operation: str) -> dict:
    assert response.status_code == 200, (response.status_code, response.text, operation)
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), body
    assert "Traceback" not in response.text, operation
    for error in body.get("errors") or []:
        message = error["message"]
        assert not LEAK.search(message), (message, operation)
        code = (error.get("extensions") or {}).get("code")
        assert code, (error, operation)
        assert code != "INTERNAL_ERROR", f"unexpected error for:\n{operation}\n{error}"
    return body


@pytest.fixture
async def fuzz_app(make_app):
    """Login limits off: the fuzzer should reach the resolvers, not the rate limiter."""
    return await make_app(login_code_ip_limit=0, login_attempt_ip_limit=0)


@pytest.fixture
async def fuzz_http(fuzz_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fuzz_app),
                                 base_url="http://testserver", headers=ENGLISH) as client:
        yield client


@pytest.fixture
async def admin_token(fuzz_app, fuzz_http) -> str:
    session = await GraphQLClient(fuzz_http, fuzz_app).login("+8613800138099")
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "admin"])
    return session["accessToken"]


async def fuzz(body: Callable[..., Awaitable[None]], hypothesis_settings: hypothesis_config,
               **strategies: st.SearchStrategy) -> None:
    """Run `body` for each generated example, with hypothesis's engine (and its shrinking).

    Hypothesis drives synchronous tests only, and this event loop runs the app: the
    engine runs in a thread, and each example is sent back to this loop to run.
    """
    loop = asyncio.get_running_loop()

    @hypothesis_settings
    @given(**strategies)
    def property_holds(**example: object) -> None:
        asyncio.run_coroutine_threadsafe(body(**example), loop).result()

    await asyncio.to_thread(property_holds)


def operations(settings_, mode: Mode = Mode.POSITIVE, exclude: frozenset[str] = frozenset()):
    core = build_schema(settings_)._schema
    fields = [name for t in (core.query_type, core.mutation_type) for name in t.fields
              if name not in exclude]
    return from_schema(core, fields=fields, custom_scalars=CUSTOM_SCALARS, mode=mode)


async def test_fuzz_anonymous(fuzz_http, settings):
    async def run(operation: str) -> None:
        check_response(await fuzz_http.post("/graphql", json={"query": operation}), operation)

    await fuzz(run, FUZZ_SETTINGS, operation=operations(settings))


async def test_fuzz_as_admin(fuzz_http, admin_token, settings):
    headers = {"Authorization": f"Bearer {admin_token}"}

    answered = []

    # logout would end the admin's session and leave the rest of the run anonymous.
    async def run(operation: str) -> None:
        response = await fuzz_http.post("/graphql", json={"query": operation}, headers=headers)
        body = check_response(response, operation)
        codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
        assert not codes & {"UNAUTHENTICATED", "FORBIDDEN"}, (operation, body)
        if body.get("data") is None and not any(e.get("path") for e in body.get("errors") or []):
            refused.append(operation)  # refused before any resolver: a control character in
            # a generated string, a generated Date or DateTime literal that is no date
        else:
            # a resolver ran: it answered, or refused with a typed error at its path
            answered.append(any(v is not None for v in (body.get("data") or {}).values())
                            or any(e.get("path") for e in body.get("errors") or []))

    refused: list[str] = []
    await fuzz(run, FUZZ_SETTINGS,
               operation=operations(settings, exclude=frozenset({"logout"})))
    assert sum(answered) > len(answered) // 2  # most operations ran their resolvers
    assert len(answered) > 100, (len(answered), len(refused))


async def test_fuzz_invalid_operations(fuzz_http, admin_token, settings):
    """Operations with one schema violation each: refused with a code, never a crash."""
    headers = {"Authorization": f"Bearer {admin_token}"}

    async def run(operation: str) -> None:
        response = await fuzz_http.post("/graphql", json={"query": operation}, headers=headers)
        check_response(response, operation)

    await fuzz(run, FUZZ_SETTINGS, operation=operations(settings, Mode.NEGATIVE,
                                               exclude=frozenset({"logout"})))


async def test_fuzz_variables(fuzz_http, admin_token):
    """Arguments sent as variables: values of every JSON shape, also the wrong ones."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                    max_size=4),
        max_leaves=8,
    )
    cases = st.sampled_from([
        ("mutation($p: String!) { requestLoginCode(phone: $p) { errors { code } } }", "p"),
        ("mutation($d: Date!, $s: Int!) { syncSteps(date: $d, steps: $s) { errors { code } } }",
         "d"),
        ("mutation($i: ShopItemInput!) { createShopItem(input: $i, idempotencyKey: \"k\") "
         "{ errors { code field } } }", "i"),
        ("mutation($c: [String!]!) { importCouponCodes(itemId: \"1\", codes: $c) "
         "{ errors { code } } }", "c"),
        ("query($f: Int, $a: String) { partnerRecords(first: $f, after: $a) "
         "{ edges { cursor } } }", "f"),
        ("query($a: String) { shopItems(after: $a) { edges { cursor } } }", "a"),
        ("query($s: DateTime) { partnerRecords(since: $s) { edges { cursor } } }", "s"),
        ("mutation($r: [Role!]!) { setPlayerRoles(playerId: \"x\", roles: $r) "
         "{ errors { code } } }", "r"),
    ])

    async def run(case: tuple[str, str], value: object) -> None:
        query, name = case
        response = await fuzz_http.post("/graphql", json={"query": query, "variables": {name: value}},
                                        headers=headers)
        check_response(response, f"{query} with {name}={value!r}")

    await fuzz(run, FUZZ_SETTINGS, case=cases, value=json_values)


# ---------------------------------------------------------------- websocket and hostile text

def check_errors(errors: list[dict], operation: str) -> None:
    for error in errors:
        assert not LEAK.search(error["message"]), (error, operation)
        code = (error.get("extensions") or {}).get("code")
        assert code and code != "INTERNAL_ERROR", (error, operation[:300])


async def test_fuzz_over_websocket(fuzz_app, admin_token, settings):
    """Generated queries and mutations sent as `subscribe` messages on an admin's socket:
    every answer is a result or a refusal with a code, never an internal error."""
    from tests.test_hardening import socket

    async def run(operation: str) -> None:
        async with socket(fuzz_app, admin_token) as ws:
            result = await ws.run(operation)
        check_errors(result.get("errors") or [], operation)

    examples = hypothesis_config(FUZZ_SETTINGS, max_examples=max(EXAMPLES // 4, 50))
    await fuzz(run, examples, operation=operations(settings, exclude=frozenset({"logout"})))


HOSTILE_TEXT = ["nul\x00byte", "line\r\nbreak", "lone\ud800surrogate", "x" * 10**6]


def _named(type_: graphql.GraphQLType) -> graphql.GraphQLNamedType:
    while isinstance(type_, graphql.GraphQLWrappingType):
        type_ = type_.of_type
    return type_


def _text_value(type_: graphql.GraphQLInputType, text: str):
    return [text] if isinstance(graphql.get_nullable_type(type_), graphql.GraphQLList) else text


def hostile_operations(settings_) -> list[tuple[str, dict]]:
    """For every root field and every string argument or string field of an input argument:
    the operation with that string set to each hostile text (the rest: typed dummies)."""
    from tests.test_authorization_matrix import dummy

    core = build_schema(settings_)._schema
    texts = ("String", "ID", "Date", "DateTime")
    cases = []
    for kind, root in (("query", core.query_type), ("mutation", core.mutation_type)):
        for name, field in root.fields.items():
            if name == "logout":
                continue
            base = {arg_name: dummy(arg.type) for arg_name, arg in field.args.items()
                    if graphql.is_required_argument(arg)}
            targets = []
            for arg_name, arg in field.args.items():
                named = _named(arg.type)
                if named.name in texts:
                    targets.append((arg_name, None, arg.type))
                elif isinstance(named, graphql.GraphQLInputObjectType):
                    targets += [(arg_name, f_name, f.type) for f_name, f in named.fields.items()
                                if _named(f.type).name in texts]
            for arg_name, input_field, type_ in targets:
                definitions = ", ".join(f"${a}: {field.args[a].type}"
                                        for a in sorted({*base, arg_name}))
                arguments = ", ".join(f"{a}: ${a}" for a in sorted({*base, arg_name}))
                query = f"{kind}({definitions}) {{ {name}({arguments}) {{ __typename }} }}"
                for text in HOSTILE_TEXT:
                    variables = dict(base)
                    if input_field is None:
                        variables[arg_name] = _text_value(type_, text)
                    else:
                        variables[arg_name] = {**dummy(field.args[arg_name].type),
                                               input_field: _text_value(type_, text)}
                    cases.append((query, variables))
    return cases


async def test_hostile_text_in_every_string_argument(fuzz_app, fuzz_http, admin_token, settings):
    """NUL, CR/LF, a lone surrogate and 10^6 characters in every string argument and input
    field of every root field, as an admin, over HTTP and over a websocket: refused with a
    code or answered, never a 5xx or an INTERNAL_ERROR (on PostgreSQL too, which stores
    neither NUL nor a lone surrogate)."""
    from tests.test_hardening import socket

    cases = hostile_operations(settings)
    assert len(cases) > 150
    headers = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"}
    refused = 0
    async with socket(fuzz_app, admin_token) as ws:
        for query, variables in cases:
            body = json.dumps({"query": query, "variables": variables})  # "\ud800" escaped
            response = await fuzz_http.post("/graphql", content=body, headers=headers)
            label = f"{query} with {json.dumps(variables)[:200]}"
            result = check_response(response, label)
            over_socket = await ws.run(query, variables)
            check_errors(over_socket.get("errors") or [], label)
            refused += result.get("data") is None
    assert refused >= len(cases) // 2  # most hostile text stops at the boundary
