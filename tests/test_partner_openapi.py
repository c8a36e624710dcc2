"""docs/partners/openapi.yaml is valid OpenAPI 3.1 and says what the endpoint does: its
examples, sent to the app as a partner would send them, get the documented status codes
and bodies that match the documented schemas (and, for 200, the documented outcomes)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.credits.signatures import sign
from app.settings import PartnerConfig
from methodology import default_registry
from tests.conftest import ENGLISH, PARTNER_ID, PARTNER_SECRETS, GraphQLClient

SPEC = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "docs" / "partners" / "openapi.yaml").read_text("utf-8"))
PATH = "/partner/v1/activities"
OPERATION = SPEC["paths"][PATH]["post"]
RESPONSES = OPERATION["responses"]
HEADERS = {p["name"]: p for p in OPERATION["parameters"] if p["in"] == "header"}
# Every status the document lists, with how the test brings it about (500 needs a broken
# database: tests/test_resilience_database.py covers it).
PROVOKED = {"200", "400", "401", "413", "429"}
# the partners the examples name (`x-partner-id`), with the scenes they are registered for
SCENE_PARTNERS = {"grid-sz": ["household_electricity"], "recycler-sz": ["quantity"],
                  "bank-sz": ["e_statement", "online_transfer", "online_payment"]}
PARTNERS = [PartnerConfig(id=PARTNER_ID, secrets=PARTNER_SECRETS)] + [
    PartnerConfig(id=p, secrets=[f"{p}-secret-0123456789abcdefghijklmnop"], scenes=scenes)
    for p, scenes in SCENE_PARTNERS.items()]
TIMES = ("startedAt", "endedAt", "occurredAt")


def schema_of(status: str) -> Draft202012Validator:
    content = RESPONSES[status]["content"]["application/json"]
    return Draft202012Validator({**content["schema"], "components": SPEC["components"]})


def headers_for(body: bytes, *, secret: str = PARTNER_SECRETS[0], partner: str = PARTNER_ID
                ) -> dict[str, str]:
    stamp = str(int(time.time()))
    headers = {"X-Partner-Id": partner, "X-Timestamp": stamp,
               "X-Signature": sign(secret, stamp, body), "Content-Type": "application/json"}
    assert set(HEADERS) <= set(headers), "the document names headers the test does not send"
    return headers


def rebased(records: list[dict], player_id: str) -> list[dict]:
    """The example's records for a real player, moved to two hours ago (keeping their
    durations and the gaps between them), so that they are neither too old nor in the
    future whenever the test runs."""
    times = [datetime.fromisoformat(r[k]) for r in records for k in TIMES if k in r]
    shift = (datetime.now(times[0].tzinfo) - timedelta(hours=2)) - min(times) if times else None
    out = []
    for record in records:
        record = dict(record)
        if "subject" in record:
            record["subject"] = player_id
        for key in TIMES:
            if key in record:
                record[key] = (datetime.fromisoformat(record[key]) + shift).isoformat()
        out.append(record)
    return out


async def post(client, body: bytes, **kwargs):
    return await client.post(PATH, content=body, headers=headers_for(body, **kwargs))


def test_the_document_is_valid_openapi_31():
    assert SPEC["openapi"].startswith("3.1")
    validate(SPEC)  # raises on any error
    for name in ("X-Partner-Id", "X-Timestamp", "X-Signature"):
        assert HEADERS[name]["required"] is True


def test_every_documented_status_is_checked_here():
    assert set(RESPONSES) - {"500"} == PROVOKED


def test_documented_examples_match_their_schemas():
    request = OPERATION["requestBody"]["content"]["application/json"]
    body_schema = Draft202012Validator({**request["schema"], "components": SPEC["components"]})
    for example in request["examples"].values():
        # the unreadable example breaks the schema on purpose: the endpoint refuses that
        # record alone, which the live test below checks
        errors = list(body_schema.iter_errors(example["value"]))
        assert not errors or example is request["examples"]["unreadable"], errors
    for status, response in RESPONSES.items():
        for media in response.get("content", {}).values():
            for example in media.get("examples", {}).values():
                schema_of(status).validate(example["value"])


def test_every_shipped_scene_has_its_record_schema():
    """Each scene's schema requires what its methodology's record_fields name."""
    schemas = SPEC["components"]["schemas"]
    listed = {ref["$ref"].rsplit("/", 1)[1] for ref in schemas["Record"]["anyOf"]}
    for methodology in default_registry().all():
        for table in (methodology.quantity, methodology.baseline, methodology.event):
            for kind, scene in table.items():
                name = "".join(part.capitalize() for part in kind.split("_")) + "Record"
                assert name in listed, name
                schema = schemas[name]
                assert schema["properties"]["kind"]["enum"] == [kind]
                assert {"id", "kind", "occurredAt", *scene.record_fields} <= set(schema["required"])
                assert schema["oneOf"] == [{"required": ["subject"]}, {"required": ["subjectRef"]}]


@pytest.mark.parametrize("name", sorted(
    OPERATION["requestBody"]["content"]["application/json"]["examples"]))
async def test_request_examples_get_the_documented_answers(make_app, name):
    import httpx

    app = await make_app(partners=PARTNERS)
    example_of = OPERATION["requestBody"]["content"]["application/json"]["examples"][name]
    example = example_of["value"]
    partner = example_of.get("x-partner-id", PARTNER_ID)
    secret = next(p.secrets[0] for p in PARTNERS if p.id == partner)
    documented = RESPONSES["200"]["content"]["application/json"]["examples"][name]["value"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                 headers=ENGLISH) as client:
        player = (await GraphQLClient(client, app).login())["player"]["id"]
        body = json.dumps({"records": rebased(example["records"], player)}).encode()
        response = await post(client, body, secret=secret, partner=partner)

    assert response.status_code == 200, response.text
    answer = response.json()
    schema_of("200").validate(answer)
    assert len(answer["results"]) == len(documented["results"])
    for got, expected in zip(answer["results"], documented["results"], strict=True):
        assert got["id"] == expected["id"]
        assert got["status"] == expected["status"]
        assert set(got) == set(expected), (got, expected)
        for key in ("reductionGrams", "points", "reason", "message"):
            assert got.get(key) == expected.get(key), key
    # a duplicate names the activity its first copy credited, as the example shows
    activity_ids = {r["id"]: r["activityId"] for r in answer["results"] if r["status"] == "accepted"}
    for got in answer["results"]:
        if got["status"] == "duplicate":
            assert got["activityId"] == activity_ids[got["id"]]


@pytest.mark.parametrize("name", sorted(RESPONSES["400"]["content"]["application/json"]["examples"]))
async def test_400_examples(client, name):
    documented = RESPONSES["400"]["content"]["application/json"]["examples"][name]["value"]
    body = {"notJson": b"not json", "noRecords": b'{"activities": []}'}[name]
    response = await post(client, body)
    assert response.status_code == 400
    schema_of("400").validate(response.json())
    assert response.json() == documented


async def test_401_example(client):
    documented = RESPONSES["401"]["content"]["application/json"]["examples"]["badSignature"]
    body = json.dumps({"records": []}).encode()
    response = await post(client, body, secret="not-the-partner-secret-0123456789abcdef")
    assert response.status_code == 401
    schema_of("401").validate(response.json())
    assert response.json() == documented["value"]


async def test_413_example(client):
    documented = RESPONSES["413"]["content"]["application/json"]["examples"]["tooManyRecords"]
    body = json.dumps({"records": [{"id": f"r{n}"} for n in range(1001)]}).encode()
    response = await post(client, body)
    assert response.status_code == 413
    schema_of("413").validate(response.json())
    assert response.json() == documented["value"]


async def test_429_is_documented_with_retry_after(make_app):
    import httpx

    app = await make_app(partner_rate_limit=1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver", headers={"Accept-Language": "en"}) as c:
        body = json.dumps({"records": []}).encode()
        assert (await post(c, body)).status_code == 200
        response = await post(c, body)
    assert response.status_code == 429
    schema_of("429").validate(response.json())
    assert set(RESPONSES["429"]["headers"]) == {"Retry-After"}
    assert int(response.headers["Retry-After"]) == response.json()["retryAfterSeconds"]
    assert response.json()["error"].startswith("more than 1 requests a minute; retry in ")
