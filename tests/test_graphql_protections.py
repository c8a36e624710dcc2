"""Query limits, error masking with request ids, GET for queries only."""

from __future__ import annotations

import logging

from app.accounts import service as accounts
from tests.conftest import LOGIN_WITH_CODE, REQUEST_CODE


async def test_alias_flood_is_refused(gql):
    query = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(200)) + " }"
    result = await gql(query)
    assert result.get("data") is None
    assert "aliases" in result["errors"][0]["message"].lower()


async def test_token_limit(gql):
    query = "{ me { " + " ".join("id" for _ in range(5000)) + " } }"
    result = await gql(query)
    assert result.get("data") is None
    assert "token" in result["errors"][0]["message"].lower()


async def test_depth_limit(make_app):
    import httpx

    from tests.conftest import GraphQLClient

    app = await make_app(graphql_max_depth=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        gql = GraphQLClient(c, app)
        deep = 'mutation { loginWithCode(phone: "1", code: "1") { session { player { id } } } }'
        result = await gql(deep)
        assert result.get("data") is None and "depth" in result["errors"][0]["message"]
        shallow = 'mutation { loginWithCode(phone: "1", code: "1") { errors { code } } }'
        assert (await gql(shallow))["data"]["loginWithCode"]["errors"][0]["code"] == "INVALID_INPUT"


async def test_malformed_query_is_a_graphql_error(gql):
    result = await gql("{ me { id ")
    assert result["errors"] and "Syntax Error" in result["errors"][0]["message"]
    unknown = await gql("{ nope }")
    assert "Cannot query field" in unknown["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged_with_the_request_id(
    gql, client, monkeypatch, caplog
):
    async def broken(phone):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(accounts, "player_for_phone", broken)
    phone = "+8613800138000"
    await gql(REQUEST_CODE, {"phone": phone})
    with caplog.at_level(logging.ERROR, logger="carbon_planet.graphql"):
        response = await client.post(
            "/graphql",
            json={"query": LOGIN_WITH_CODE, "variables": {"phone": phone, "code": gql.sent_code(phone)}},
            headers={"X-Request-ID": "req-abc-123"},
        )
    body = response.json()
    error = body["errors"][0]
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-abc-123"}
    assert response.headers["x-request-id"] == "req-abc-123"
    logged = [r for r in caplog.records if r.name == "carbon_planet.graphql"]
    assert logged and logged[0].request_id == "req-abc-123"
    assert "hunter2" in str(logged[0].exc_info[1])


async def test_get_serves_queries_but_not_mutations(client):
    ok = await client.get("/graphql", params={"query": "{ __typename }"})
    assert ok.json() == {"data": {"__typename": "Query"}}
    mutation = await client.get(
        "/graphql", params={"query": 'mutation { requestLoginCode(phone: "13800138000") { retryAfterSeconds } }'}
    )
    assert mutation.status_code in (400, 405)
    assert "not allowed" in mutation.text.lower()


async def test_graphiql_is_served(client):
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
