"""Persisted queries over HTTP (POST and GET) and the websocket: Apollo's automatic
persisted queries, the allow-list mode and the manifest built from the client contract."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.server import ConfigurationError
from schema.query_manifest import DEFAULT_MANIFEST, load_manifest
from tests.conftest import ENGLISH, REQUEST_CODE
from tests.test_console import console_login
from tests.test_websocket import connect

CONTRACT = Path(__file__).parent / "contract"
OWN_OPERATIONS = Path(__file__).parents[1] / "schema" / "operations"  # beyond the contract
MANIFEST = {op.name: op for op in load_manifest(DEFAULT_MANIFEST).values()}
NOT_FOUND = {"data": None, "errors": [{"message": "PersistedQueryNotFound",
                                       "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
# not in the manifest: only a client's registration makes it known
METHODOLOGY_IDS = "query MethodologyIds { methodologies { id version } }"


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}


def get_params(query: str, *, send_query: bool = False, variables: dict | None = None) -> dict:
    """The URL parameters Apollo's link sends with useGETForHashedQueries."""
    params = {"extensions": json.dumps(persisted(query), separators=(",", ":"))}
    if send_query:
        params["query"] = query
    if variables:
        params["variables"] = json.dumps(variables)
    return params


async def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                             headers=ENGLISH)


def code_of(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


# --- automatic persisted queries --------------------------------------------------------------

async def test_a_hash_unknown_then_registered_then_run_by_hash_over_post(client):
    extensions = persisted(METHODOLOGY_IDS)
    miss = await client.post("/graphql", json={"extensions": extensions})
    assert miss.status_code == 200 and miss.json() == NOT_FOUND

    registered = await client.post("/graphql", json={"query": METHODOLOGY_IDS,
                                                      "extensions": extensions})
    assert registered.status_code == 200, registered.text
    methodologies = registered.json()["data"]["methodologies"]
    assert methodologies and "errors" not in registered.json()

    hit = await client.post("/graphql", json={"extensions": extensions})
    assert hit.status_code == 200 and hit.json() == {"data": {"methodologies": methodologies}}


async def test_the_same_over_get_with_a_cacheable_answer_for_a_public_query(client):
    query = "query MethodologyVersions { methodologies { version } }"
    miss = await client.get("/graphql", params=get_params(query))
    assert miss.status_code == 200 and miss.json() == NOT_FOUND
    assert "graphiql" not in miss.text.lower()  # a hashed GET is an operation, not the IDE

    registered = await client.get("/graphql", params=get_params(query, send_query=True))
    assert registered.status_code == 200 and registered.json()["data"]["methodologies"]

    hit = await client.get("/graphql", params=get_params(query))
    again = await client.get("/graphql", params=get_params(query))
    assert hit.status_code == 200 and hit.json() == registered.json()
    assert str(hit.url) == str(again.url) and hit.content == again.content
    assert hit.headers["cache-control"] == "public, max-age=60"
    assert "Accept-Language" in hit.headers["vary"]


async def test_a_players_own_answer_over_get_is_private(gql, client):
    session = await gql.login("+8613800138501")
    me = MANIFEST["Me"].body
    hit = await client.get("/graphql", params=get_params(me),
                           headers={"Authorization": f"Bearer {session['accessToken']}"})
    assert hit.status_code == 200
    assert hit.json()["data"]["me"]["id"] == session["player"]["id"]
    assert hit.headers["cache-control"] == "private, no-store"

    anonymous = await client.get("/graphql", params=get_params(me))
    assert code_of(anonymous) == "UNAUTHENTICATED"
    assert anonymous.headers["cache-control"] == "private, no-store"


async def test_a_hash_that_is_not_the_querys_is_refused_and_nothing_is_stored(client):
    other = "query Other { methodologies { title } }"
    refused = await client.post("/graphql", json={"query": METHODOLOGY_IDS,
                                                   "extensions": persisted(other)})
    assert refused.status_code == 400 and code_of(refused) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert refused.json()["data"] is None
    for query in (METHODOLOGY_IDS, other):
        assert (await client.post("/graphql", json={"extensions": persisted(query)})).json() \
            == NOT_FOUND


@pytest.mark.parametrize("extension", [
    {"version": 2, "sha256Hash": sha(METHODOLOGY_IDS)},
    {"version": 1, "sha256Hash": "not-a-hash"},
    {"version": 1},
    "a string",
])
async def test_a_malformed_persisted_query_extension_is_refused(client, extension):
    refused = await client.post("/graphql", json={"extensions": {"persistedQuery": extension}})
    assert refused.status_code == 400 and code_of(refused) == "PERSISTED_QUERY_INVALID"


async def test_a_mutation_named_by_hash_over_get_is_refused_and_not_run(gql, client, app):
    phone = "+8613800138502"
    mutation = MANIFEST["RequestLoginCode"].body
    refused = await client.get("/graphql", params=get_params(mutation, variables={"phone": phone}))
    assert refused.status_code == 400 and refused.json()["data"] is None
    assert app.state.services.sms.latest_code(phone) is None

    # one a client registered (over POST, where it runs) is refused over GET as well
    logout = "mutation SignOut { logout { ok } }"
    await client.post("/graphql", json={"query": logout, "extensions": persisted(logout)})
    assert (await client.get("/graphql", params=get_params(logout))).status_code == 400


async def test_limits_hold_for_a_persisted_document(client, make_app):
    deep = "query Deep { me { " + "friends { " * 15 + "id" + " }" * 16 + " }"
    refused = await client.post("/graphql", json={"query": deep, "extensions": persisted(deep)})
    assert code_of(refused) == "QUERY_TOO_COMPLEX"
    assert (await client.post("/graphql", json={"extensions": persisted(deep)})).json() \
        == NOT_FOUND  # a refused document is not registered

    # registered within the limits, run by hash where the limits are stricter
    factors = "query FactorKeys { methodologies { factors { key } } }"
    registered = await client.post("/graphql", json={"query": factors,
                                                      "extensions": persisted(factors)})
    assert registered.json()["data"]["methodologies"]
    strict = await make_app(graphql_max_depth=1)
    async with await client_for(strict) as c:
        hit = await c.post("/graphql", json={"extensions": persisted(factors)})
    assert code_of(hit) == "QUERY_TOO_COMPLEX"


async def test_a_document_over_the_size_bound_runs_but_is_not_registered(make_app):
    app = await make_app(persisted_query_max_bytes=40)
    async with await client_for(app) as c:
        ran = await c.post("/graphql", json={"query": METHODOLOGY_IDS,
                                             "extensions": persisted(METHODOLOGY_IDS)})
        assert ran.json()["data"]["methodologies"]
        assert (await c.post("/graphql", json={"extensions": persisted(METHODOLOGY_IDS)})).json() \
            == NOT_FOUND


async def test_with_persisted_queries_off_clients_are_told_to_send_the_text(make_app):
    app = await make_app(persisted_queries="off")
    async with await client_for(app) as c:
        answer = await c.post("/graphql", json={"query": METHODOLOGY_IDS,
                                                "extensions": persisted(METHODOLOGY_IDS)})
        assert answer.status_code == 200
        assert answer.json()["errors"] == [{"message": "PersistedQueryNotSupported",
                                            "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}}]
        assert (await c.post("/graphql", json={"query": METHODOLOGY_IDS})).json()["data"]


# --- allow-list ----------------------------------------------------------------------------

@pytest.fixture
async def allowlist(make_app):
    app = await make_app(persisted_queries="allowlist")
    async with await client_for(app) as c:
        yield app, c


async def test_allowlist_runs_a_registered_operation_by_hash(allowlist):
    app, c = allowlist
    methodologies = MANIFEST["Methodologies"].body
    hit = await c.post("/graphql", json={"extensions": persisted(methodologies)})
    assert hit.status_code == 200 and hit.json()["data"]["methodologies"]
    by_get = await c.get("/graphql", params=get_params(methodologies))
    assert by_get.json() == hit.json()

    phone = "+8613800138503"
    sent = await c.post("/graphql", json={"extensions": persisted(MANIFEST["RequestLoginCode"].body),
                                          "variables": {"phone": phone}})
    assert sent.json()["data"]["requestLoginCode"]["errors"] == []
    assert app.state.services.sms.latest_code(phone) is not None


async def test_allowlist_refuses_unknown_operations_and_registers_nothing(allowlist, make_app):
    _, c = allowlist
    for body in ({"query": METHODOLOGY_IDS},
                 {"query": METHODOLOGY_IDS, "extensions": persisted(METHODOLOGY_IDS)},
                 {"extensions": persisted(METHODOLOGY_IDS)},
                 {"query": REQUEST_CODE, "variables": {"phone": "+8613800138504"}}):
        refused = await c.post("/graphql", json=body)
        assert refused.status_code == 400 and code_of(refused) == "PERSISTED_QUERY_NOT_ALLOWED"
        assert refused.json()["data"] is None
    by_get = await c.get("/graphql", params=get_params(METHODOLOGY_IDS, send_query=True))
    assert code_of(by_get) == "PERSISTED_QUERY_NOT_ALLOWED"

    automatic = await make_app()  # same Redis: the refused registration left nothing behind
    async with await client_for(automatic) as a:
        assert (await a.post("/graphql", json={"extensions": persisted(METHODOLOGY_IDS)})).json() \
            == NOT_FOUND


async def test_allowlist_holds_on_the_websocket(allowlist):
    app, _ = allowlist
    async with connect(app) as ws:
        await ws.send_json({"type": "connection_init"})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe",
                            "payload": {"query": METHODOLOGY_IDS}})
        refused = await ws.receive_json()
        assert refused["id"] == "1" and refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"

        await ws.send_json({"id": "2", "type": "subscribe", "payload": {
            "extensions": persisted(MANIFEST["Methodologies"].body)}})
        answer = await ws.receive_json()
        assert answer["id"] == "2" and answer["type"] == "next"
        assert answer["payload"]["data"]["methodologies"]


async def test_the_console_runs_in_allowlist_mode(make_app):
    app = await make_app(persisted_queries="allowlist")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://console.test", headers=ENGLISH) as c:
        await console_login(c, app, "+8613800138505", "regulator")
        page = await c.get("/console/figures")
    assert page.status_code == 200 and 'id="csv"' in page.text


async def test_allowlist_without_its_manifest_does_not_start(make_app, tmp_path):
    with pytest.raises(ConfigurationError, match="CARBON_PERSISTED_QUERY_MANIFEST"):
        await make_app(persisted_queries="allowlist",
                       persisted_query_manifest=str(tmp_path / "missing.json"))
    tampered = tmp_path / "tampered.json"
    data = json.loads(DEFAULT_MANIFEST.read_text())
    data["operations"][0]["body"] += " "
    tampered.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match="sha256"):
        await make_app(persisted_queries="allowlist", persisted_query_manifest=str(tampered))


# --- the manifest -----------------------------------------------------------------------------

def test_the_committed_manifest_is_the_client_contracts():
    files = [str(p) for p in sorted(CONTRACT.glob("*.graphql"))]
    files += [str(p) for p in sorted(OWN_OPERATIONS.glob("*.graphql"))]
    checked = CliRunner().invoke(cli, ["persisted-queries", "manifest", *files, "--check"])
    assert checked.exit_code == 0, checked.output
    names = {op.name for op in load_manifest(DEFAULT_MANIFEST).values()}
    assert {"Planet", "Balances", "Leaderboard", "PlanetEvents", "Redeem",
            "LoginWithWeChat", "LoginWithAlipay", "PartnerLinks", "RemovePartnerLink"} <= names


def test_the_manifest_command_refuses_an_operation_the_schema_does_not_have(tmp_path):
    bad = tmp_path / "bad.graphql"
    bad.write_text("query Nope { noSuchField }")
    out = tmp_path / "manifest.json"
    result = CliRunner().invoke(cli, ["persisted-queries", "manifest", str(bad), "-o", str(out)])
    assert result.exit_code == 1 and "noSuchField" in result.output
    assert not out.exists()
