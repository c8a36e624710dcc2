"""Query limits, error masking with request ids, GET for queries only."""

from __future__ import annotations

import logging
import uuid

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

    from tests.conftest import ENGLISH, GraphQLClient

    app = await make_app(graphql_max_depth=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers=ENGLISH) as c:
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


# ---------------------------------------------------------------- codes on refused operations

def codes(result: dict) -> list[str]:
    return [(e.get("extensions") or {}).get("code") for e in result.get("errors") or []]


async def test_refused_operations_carry_a_code(gql):
    assert codes(await gql("{ " + " ".join(f"a{i}: me {{ id }}" for i in range(200)) + " }")) \
        == ["QUERY_TOO_COMPLEX"]
    assert codes(await gql("{ me { " + " ".join("id" for _ in range(5000)) + " } }")) \
        == ["QUERY_TOO_COMPLEX"]
    assert codes(await gql("{ me { id ")) == ["GRAPHQL_PARSE_FAILED"]
    assert codes(await gql("{ nope }")) == ["GRAPHQL_VALIDATION_FAILED"]
    bad_variable = await gql("query($f: Int) { shopItems(first: $f) { __typename } }", {"f": "x"})
    assert codes(bad_variable) == ["INVALID_INPUT"]  # a value its type refuses


async def test_depth_limit_has_a_code(make_app):
    import httpx

    from tests.conftest import ENGLISH, GraphQLClient

    app = await make_app(graphql_max_depth=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers=ENGLISH) as c:
        deep = 'mutation { loginWithCode(phone: "1", code: "1") { session { player { id } } } }'
        assert codes(await GraphQLClient(c, app)(deep)) == ["QUERY_TOO_COMPLEX"]


async def test_wide_selections_and_fragment_fan_out(gql):
    """A selection set of 2,000 fields (under the token limit) exceeds graphql-core's budget
    for comparing fields; fragments that spread fragments (8 levels of 10 spreads: 10^7
    selections in ~130 tokens) are refused before the depth and alias limiters walk them.
    A modest fan-out is answered."""
    wide = await gql("{ methodologies { " + " ".join("id" for _ in range(2000)) + " } }")
    assert wide.get("data") is None and codes(wide) == ["QUERY_TOO_COMPLEX"]
    fine = await gql("{ methodologies { " + " ".join("id" for _ in range(50)) + " } }")
    assert "errors" not in fine and fine["data"]["methodologies"]

    def fan_out(levels: int) -> str:
        fragments = ["fragment F0 on Query { methodologies { id } }"] + [
            f"fragment F{i} on Query {{ " + " ".join(f"...F{i - 1}" for _ in range(10)) + " }"
            for i in range(1, levels)]
        return f"query {{ ...F{levels - 1} }}\n" + "\n".join(fragments)

    refused = await gql(fan_out(8))
    assert refused.get("data") is None and codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert "fragments" in refused["errors"][0]["message"]
    answered = await gql(fan_out(3))  # 100 spreads of one field
    assert answered["data"] == fine["data"]


def test_expanded_field_count_is_linear_and_survives_cycles():
    import graphql

    from schema.limits import expanded_field_count

    doc = graphql.parse("{ a { b c } ...X } fragment X on Q { d ...Y ...Y } fragment Y on Q { e }")
    assert expanded_field_count(doc, 100) == 6
    cyclic = graphql.parse("{ ...A } fragment A on Q { x ...B } fragment B on Q { y ...A }")
    assert expanded_field_count(cyclic, 100) == 2


# ---------------------------------------------------------------- huge lists and bodies

async def admin(gql) -> str:
    from app.accounts.models import Player

    session = await gql.login("+8613800138099")
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "admin"])
    return session["accessToken"]


async def test_every_page_size_argument_is_bounded(gql, settings):
    """Every root list with `first` (and the player's own lists) refuses first: 100000."""
    import graphql

    from schema import build_schema
    from tests.test_authorization_matrix import dummy

    token = await admin(gql)
    await gql('mutation { updateProfile(input: {city: "shenzhen"}) { errors { code } } }',
              token=token)
    core = build_schema(settings)._schema
    tried = []
    for name, field in core.query_type.fields.items():
        if "first" not in field.args:
            continue
        definitions, arguments, variables = ["$first: Int!"], ["first: $first"], {"first": 100_000}
        for arg_name, arg in field.args.items():
            if arg_name != "first" and graphql.is_required_argument(arg):
                definitions.append(f"${arg_name}: {arg.type}")
                arguments.append(f"{arg_name}: ${arg_name}")
                variables[arg_name] = dummy(arg.type)
        query = f"query({', '.join(definitions)}) {{ {name}({', '.join(arguments)}) {{ __typename }} }}"
        result = await gql(query, variables, token=token)
        assert codes(result) == ["INVALID_INPUT"], (name, result)
        tried.append(name)
    assert {"partnerRecords", "ruleVersions", "shopItems", "leaderboard"} <= set(tried)
    for field in ("ledger", "activities", "orders"):
        nested = await gql(f"{{ me {{ {field}(first: 100000) {{ __typename }} }} }}", token=token)
        assert codes(nested) == ["INVALID_INPUT"], (field, nested)


async def test_huge_code_list_is_refused(gql):
    token = await admin(gql)
    query = ("mutation($item: ID!, $codes: [String!]!) { importCouponCodes(itemId: $item, codes: $codes) "
             "{ imported errors { code field message } } }")
    codes_ = [f"C{i:06d}" for i in range(100_000)]  # 1.2 MB: under the body limit
    result = await gql(query, {"item": str(uuid.uuid4()), "codes": codes_}, token=token)
    [error] = result["data"]["importCouponCodes"]["errors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", "codes")
    inline = "mutation { importCouponCodes(itemId: \"1\", codes: [" + ", ".join(
        f'"C{i}"' for i in range(100_000)) + "]) { imported } }"
    assert codes(await gql(inline, token=token)) == ["QUERY_TOO_COMPLEX"]


async def test_request_body_over_the_limit_is_413(client, settings):
    big = {"query": "{ __typename }", "variables": {"pad": "x" * (10 * 1024 * 1024)}}
    response = await client.post("/graphql", json=big)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"

    async def chunks():  # no Content-Length: counted while reading
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(settings.graphql_max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    streamed = await client.post("/graphql", content=chunks(),
                                 headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    just_under = {"query": "{ __typename }",
                  "variables": {"pad": "x" * (settings.graphql_max_body_bytes - 100)}}
    ok = await client.post("/graphql", json=just_under)
    assert ok.status_code == 200 and ok.json() == {"data": {"__typename": "Query"}}
