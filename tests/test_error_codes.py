"""Every kind of refused operation carries the same `extensions.code` over HTTP and over a
websocket, taken from where the error arose, not from graphql-core's wording: a variable's
value that reads like a parser message is still a variable's bad value."""

from __future__ import annotations

import pytest

from tests.test_hardening import codes, socket

TOKENS = "{ me { " + " ".join("id" for _ in range(5000)) + " } }"
COMMENTS = "{ me { id } }\n" + "#\n" * 5000  # over the token limit in comments alone
NESTED = "{ shopItems(after: " + "[" * 300 + "]" * 300 + ") { __typename } }"
FIRST = "query($f: Int) { shopItems(first: $f) { __typename } }"
DEEP = "{ me { " + "friends { " * 14 + "id" + " }" * 16  # past the depth of 12
WIDE = "{ methodologies { " + " ".join("id" for _ in range(2000)) + " } }"

CASES = [
    # (name, query, variables, code, words in the message)
    ("syntax", "{ me { id ", None, "GRAPHQL_PARSE_FAILED", "Syntax Error"),
    ("tokens", TOKENS, None, "QUERY_TOO_COMPLEX", "more than 3000 tokens"),
    ("comments", COMMENTS, None, "QUERY_TOO_COMPLEX", "more than 3000 tokens"),
    ("parser nesting", NESTED, None, "QUERY_TOO_COMPLEX", "nested too deeply to be read"),
    ("unknown field", "{ nope }", None, "GRAPHQL_VALIDATION_FAILED", "nope"),
    ("literal of a wrong type", '{ shopItems(first: "x") { __typename } }', None,
     "GRAPHQL_VALIDATION_FAILED", "Int"),
    ("validation budget", WIDE, None, "QUERY_TOO_COMPLEX", ""),
    ("depth limit", DEEP, None, "QUERY_TOO_COMPLEX", "maximum depth"),
    ("variable of a wrong type", FIRST, {"f": "x"}, "INVALID_INPUT", "$f"),
    ("variable reading like a parser limit", FIRST, {"f": "tokens. Parsing aborted"},
     "INVALID_INPUT", "$f"),
    ("variable reading like a syntax error", FIRST, {"f": "Syntax Error"}, "INVALID_INPUT", "$f"),
    ("required variable missing", "query($id: ID!) { shopItem(id: $id) { id } }", None,
     "INVALID_INPUT", "$id"),
    ("malformed cursor (a resolver's refusal)", "{ shopItems(after: \"nope\") { __typename } }",
     None, "INVALID_INPUT", ""),
]


@pytest.mark.parametrize("name, query, variables, code, words", CASES,
                         ids=[case[0] for case in CASES])
async def test_each_kind_of_refusal_has_its_code_on_every_transport(app, gql, name, query,
                                                                    variables, code, words):
    over_http = await gql(query, variables)
    assert codes(over_http) == [code], over_http
    assert words in over_http["errors"][0]["message"]
    assert over_http.get("data") is None or name.startswith("malformed")
    async with socket(app) as ws:
        over_socket = await ws.run(query, variables)
        assert codes(over_socket) == [code], over_socket
        assert await ws.run("{ __typename }") == {"data": {"__typename": "Query"}}


async def test_an_operation_name_that_names_none_is_a_validation_failure_on_every_transport(
        app, gql):
    request = {"query": "query A { __typename }", "operationName": "B"}
    over_http = await gql.http.post("/graphql", json=request)
    assert over_http.status_code == 400 and codes(over_http.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    async with socket(app) as ws:
        await ws.ws.send_json({"id": "x", "type": "subscribe", "payload": request})
        message = await ws.ws.receive_json(timeout=10)
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    no_query = await gql.http.post("/graphql", json={"variables": {}})
    assert no_query.status_code == 400 and codes(no_query.json()) == ["BAD_REQUEST"]
