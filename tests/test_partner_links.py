"""One person across institutions: partners' own ids linked to one player, over HTTP and GraphQL."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator

from app.accounts.models import Player
from app.clock import utcnow
from app.credits.signatures import sign
from app.ledger.verify import verify_ledger
from app.settings import PartnerConfig
from tests.conftest import ENGLISH, PARTNER_ID, PARTNER_SECRETS, GraphQLClient
from tests.partner_client import CST, send, trip

BANKS = {"icbc-sz": "ICBC Shenzhen", "cmb": "China Merchants Bank", "pingan": "Ping An Bank"}
SECRETS = {bank: f"{bank}-secret-0123456789abcdefghijklmnopqrstuv" for bank in BANKS}

CODE = """mutation($partner: String!) { createPartnerLinkCode(partnerId: $partner) {
  code partnerId expiresAt errors { code message field } } }"""
REMOVE = """mutation($id: ID!) { removePartnerLink(id: $id) {
  link { id partnerId removedAt contributionGrams } errors { code message } } }"""
FIGURES = """query($since: Date!, $until: Date!) { programmeFigures(since: $since, until: $until) {
  days { date participants activities reductionGrams } } }"""
ME = """{ me { id balances { carbonPoints reductionGrams growth } planet { growth level }
  partnerLinks { id partnerId partner referenceHint since removedAt contributionGrams contributionPoints } } }"""


@pytest.fixture
async def banks_app(make_app):
    return await make_app(partners=[
        PartnerConfig(id=PARTNER_ID, name="Shenzhen Metro", secrets=PARTNER_SECRETS),
        *[PartnerConfig(id=bank, name=name, secrets=[SECRETS[bank]]) for bank, name in BANKS.items()]])


@pytest.fixture
async def http(banks_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=banks_app),
                                 base_url="http://testserver", headers=ENGLISH) as client:
        yield client


@pytest.fixture
def gql(http, banks_app) -> GraphQLClient:
    return GraphQLClient(http, banks_app)


async def post_link(http: httpx.AsyncClient, bank: str, body: dict | bytes,
                    secret: str | None = None) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time()))
    return await http.post("/partner/v1/links", content=raw, headers={
        "Content-Type": "application/json", "X-Partner-Id": bank, "X-Timestamp": stamp,
        "X-Signature": sign(secret or SECRETS[bank], stamp, raw)})


async def bank_send(http: httpx.AsyncClient, bank: str, records: list[dict]) -> list[dict]:
    response = await send(http, records, partner=bank, secret=SECRETS[bank])
    assert response.status_code == 200, response.text
    return response.json()["results"]


def by_ref(record_id: str, ref: str, **kw) -> dict:
    record = trip(record_id, "unused", **kw)
    del record["subject"]
    return {**record, "subjectRef": ref}


async def code_for(gql: GraphQLClient, token: str, bank: str) -> str:
    made = (await gql(CODE, {"partner": bank}, token=token))["data"]["createPartnerLinkCode"]
    assert made["errors"] == [] and made["partnerId"] == bank
    return made["code"]


async def link(gql: GraphQLClient, http: httpx.AsyncClient, token: str, bank: str, ref: str) -> dict:
    response = await post_link(http, bank, {"code": await code_for(gql, token, bank), "subjectRef": ref})
    assert response.status_code == 200, response.text
    return response.json()


async def me(gql: GraphQLClient, token: str) -> dict:
    result = await gql(ME, token=token)
    assert "errors" not in result, result
    return result["data"]["me"]


async def test_a_person_at_three_banks_has_one_balance_one_planet_and_each_banks_share(gql, http):
    session = await gql.login()
    token = session["accessToken"]
    refs = {"icbc-sz": "6222-0200-1234-5678", "cmb": "CUST000981", "pingan": "PA-77-0001"}
    for bank, ref in refs.items():
        linked = await link(gql, http, token, bank, ref)
        assert (linked["subjectRef"], linked["status"]) == (ref, "linked")
    # metro 12850 m = 600 g, 75 points; bus 10000 m = 269 g, 33 points (travel-v1)
    sent = {"icbc-sz": [by_ref("i-1", refs["icbc-sz"])],
            "cmb": [by_ref("c-1", refs["cmb"], kind="bus", meters=10000, minutes=40),
                    by_ref("c-2", refs["cmb"], ago=timedelta(hours=3))],
            "pingan": [by_ref("p-1", refs["pingan"], ago=timedelta(hours=5))]}
    for bank, records in sent.items():
        assert [r["status"] for r in await bank_send(http, bank, records)] == ["accepted"] * len(records)
    # the same person through the metro, by player id, as before
    [metro] = (await send(http, [trip("m-1", session["player"]["id"], kind="bus", meters=10000,
                                      minutes=40, ago=timedelta(hours=7))])).json()["results"]
    assert metro["status"] == "accepted"

    mine = await me(gql, token)
    assert await Player.all().count() == 1
    assert mine["balances"]["reductionGrams"] == 600 + 269 + 600 + 600 + 269
    assert mine["balances"]["carbonPoints"] == 75 + 33 + 75 + 75 + 33
    assert mine["planet"]["growth"] == mine["balances"]["growth"] > 0
    shares = {link["partnerId"]: (link["partner"], link["contributionGrams"], link["contributionPoints"])
              for link in mine["partnerLinks"]}
    assert shares == {"icbc-sz": ("ICBC Shenzhen", 600, 75), "cmb": ("China Merchants Bank", 869, 108),
                      "pingan": ("Ping An Bank", 600, 75)}
    assert {link["referenceHint"] for link in mine["partnerLinks"]} == {"…5678", "…0981", "…0001"}
    assert all(link["removedAt"] is None for link in mine["partnerLinks"])
    assert (await verify_ledger()).ok

    # the regulator's figures count the person once a day, with all five activities
    regulator = await gql.login("+8613800138106")
    await Player.filter(id=regulator["player"]["id"]).update(roles=["player", "regulator"])
    today = utcnow().astimezone(CST).date()
    figures = (await gql(FIGURES, {"since": str(today - timedelta(days=1)), "until": str(today)},
                         token=regulator["accessToken"]))["data"]["programmeFigures"]["days"]
    assert {day["participants"] for day in figures} == {1}
    assert sum(day["activities"] for day in figures) == 5
    assert sum(day["reductionGrams"] for day in figures) == mine["balances"]["reductionGrams"]


async def test_unlinking_refuses_later_records_with_a_reason_and_keeps_what_was_credited(gql, http):
    token = (await gql.login())["accessToken"]
    await link(gql, http, token, "cmb", "CUST1")
    await link(gql, http, token, "pingan", "PA1")
    assert (await bank_send(http, "cmb", [by_ref("c-1", "CUST1")]))[0]["status"] == "accepted"
    before = await me(gql, token)
    [cmb] = [link for link in before["partnerLinks"] if link["partnerId"] == "cmb"]

    removed = (await gql(REMOVE, {"id": cmb["id"]}, token=token))["data"]["removePartnerLink"]
    assert removed["errors"] == [] and removed["link"]["removedAt"] is not None
    assert removed["link"]["contributionGrams"] == 600
    again = (await gql(REMOVE, {"id": cmb["id"]}, token=token))["data"]["removePartnerLink"]
    assert again == removed  # idempotent: the same link, removed at the same time

    [later] = await bank_send(http, "cmb", [by_ref("c-2", "CUST1", ago=timedelta(hours=2))])
    assert (later["status"], later["reason"]) == ("rejected", "LINK_REMOVED")
    assert (await bank_send(http, "pingan", [by_ref("p-1", "PA1", ago=timedelta(hours=3))]))[0][
        "status"] == "accepted"
    after = await me(gql, token)
    assert after["balances"]["reductionGrams"] == 600 + 600  # cmb's credit kept, pingan's added
    assert [link["partnerId"] for link in after["partnerLinks"]] == ["pingan"]

    # the person may link the same id again, with a new code: records credit again
    assert (await link(gql, http, token, "cmb", "CUST1"))["status"] == "linked"
    [relinked] = await bank_send(http, "cmb", [by_ref("c-3", "CUST1", ago=timedelta(hours=4))])
    assert relinked["status"] == "accepted"


async def test_a_partner_cannot_link_anyone_without_the_persons_code(gql, http):
    token = (await gql.login())["accessToken"]
    guessed = await post_link(http, "cmb", {"code": "ABCD2345", "subjectRef": "CUST1"})
    assert guessed.status_code == 422 and guessed.json()["reason"] == "INVALID_CODE"
    # a code the person made for one bank does not work for another
    for_icbc = await code_for(gql, token, "icbc-sz")
    other = await post_link(http, "cmb", {"code": for_icbc, "subjectRef": "CUST1"})
    assert other.status_code == 422 and other.json()["reason"] == "INVALID_CODE"
    unsigned = await post_link(http, "cmb", {"code": for_icbc, "subjectRef": "CUST1"},
                               secret="not-the-secret-0123456789abcdefghij")
    assert unsigned.status_code == 401
    bad = await post_link(http, "cmb", b"[1, 2]")
    assert bad.status_code == 400
    empty = await post_link(http, "icbc-sz", {"code": for_icbc, "subjectRef": ""})
    assert empty.status_code == 422 and empty.json()["reason"] == "INVALID_FIELD"
    # nothing was linked: records by that id name nobody
    [refused] = await bank_send(http, "cmb", [by_ref("c-1", "CUST1")])
    assert (refused["status"], refused["reason"]) == ("rejected", "UNKNOWN_SUBJECT")
    assert (await me(gql, token))["partnerLinks"] == []
    # the code for icbc is still good there
    ok = await post_link(http, "icbc-sz", {"code": for_icbc.lower(), "subjectRef": "C9"})
    assert ok.status_code == 200 and ok.json()["status"] == "linked"


async def test_a_used_code_links_once_and_a_retry_gets_the_same_answer(gql, http):
    token = (await gql.login())["accessToken"]
    code = await code_for(gql, token, "cmb")
    first = await post_link(http, "cmb", {"code": code, "subjectRef": "CUST1"})
    retry = await post_link(http, "cmb", {"code": code, "subjectRef": "CUST1"})
    assert first.status_code == retry.status_code == 200
    assert (first.json()["status"], retry.json()["status"]) == ("linked", "already_linked")
    assert first.json()["linkedAt"] == retry.json()["linkedAt"]
    reused = await post_link(http, "cmb", {"code": code, "subjectRef": "SOMEONE-ELSE"})
    assert reused.status_code == 422 and reused.json()["reason"] == "CODE_USED"
    [refused] = await bank_send(http, "cmb", [by_ref("c-1", "SOMEONE-ELSE")])
    assert refused["reason"] == "UNKNOWN_SUBJECT"
    assert len((await me(gql, token))["partnerLinks"]) == 1


async def test_an_expired_code_is_refused(gql, http, monkeypatch):
    token = (await gql.login())["accessToken"]
    code = await code_for(gql, token, "cmb")
    made = (await gql(CODE, {"partner": "cmb"}, token=token))["data"]["createPartnerLinkCode"]
    assert made["expiresAt"] > utcnow().isoformat()
    later = utcnow() + timedelta(minutes=16)  # the default lifetime is 15 minutes
    monkeypatch.setattr("app.partner_links.service.utcnow", lambda: later)
    expired = await post_link(http, "cmb", {"code": code, "subjectRef": "CUST1"})
    assert expired.status_code == 422 and expired.json()["reason"] == "CODE_EXPIRED"
    assert "expired" in expired.json()["error"]
    assert (await me(gql, token))["partnerLinks"] == []


async def test_an_id_linked_to_one_person_is_not_taken_by_another(gql, http):
    first = (await gql.login("+8613800138001"))["accessToken"]
    second = (await gql.login("+8613800138002"))["accessToken"]
    await link(gql, http, first, "cmb", "CUST1")
    code = await code_for(gql, second, "cmb")
    taken = await post_link(http, "cmb", {"code": code, "subjectRef": "CUST1"})
    assert taken.status_code == 422 and taken.json()["reason"] == "LINK_TAKEN"
    # refused, so the code is still unused
    assert (await post_link(http, "cmb", {"code": code, "subjectRef": "CUST2"})).status_code == 200


async def test_a_player_sees_and_removes_only_their_own_links(gql, http):
    owner_session = await gql.login("+8613800138001")
    owner = owner_session["accessToken"]
    other_session = await gql.login("+8613800138002")
    other = other_session["accessToken"]
    await link(gql, http, owner, "cmb", "CUST1")
    [owned] = (await me(gql, owner))["partnerLinks"]
    assert (await me(gql, other))["partnerLinks"] == []
    stolen = (await gql(REMOVE, {"id": owned["id"]}, token=other))["data"]["removePartnerLink"]
    assert stolen["link"] is None and [e["code"] for e in stolen["errors"]] == ["NOT_FOUND"]
    nonsense = (await gql(REMOVE, {"id": "not-an-id"}, token=other))["data"]["removePartnerLink"]
    assert [e["code"] for e in nonsense["errors"]] == ["NOT_FOUND"]
    assert (await me(gql, owner))["partnerLinks"] == [owned]
    # a friend's links are not theirs to see
    await gql('mutation($id: ID!) { addFriend(playerId: $id) { ok } }',
              {"id": owner_session["player"]["id"]}, token=other)
    peek = await gql("{ me { friends { id partnerLinks { id } } } }", token=other)
    assert peek["data"] is None or peek["data"]["me"] is None or all(
        f is None or f.get("partnerLinks") is None for f in peek["data"]["me"]["friends"])
    assert [e["extensions"]["code"] for e in peek["errors"]] == ["FORBIDDEN"]
    anonymous = await gql(CODE, {"partner": "cmb"})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    unknown = (await gql(CODE, {"partner": "no-such-bank"}, token=owner))["data"]["createPartnerLinkCode"]
    assert (unknown["code"], [e["code"] for e in unknown["errors"]]) == (None, ["NOT_FOUND"])


async def test_a_record_names_its_person_one_way_only(gql, http):
    session = await gql.login()
    await link(gql, http, session["accessToken"], "cmb", "CUST1")
    both = {**by_ref("c-1", "CUST1"), "subject": session["player"]["id"]}
    [refused] = await bank_send(http, "cmb", [both])
    assert (refused["status"], refused["reason"]) == ("rejected", "INVALID_FIELD")
    # another partner's id for the person is not this partner's
    [elsewhere] = await bank_send(http, "pingan", [by_ref("p-1", "CUST1")])
    assert elsewhere["reason"] == "UNKNOWN_SUBJECT"


async def test_two_codes_racing_for_one_id_link_it_once(gql, http):
    tokens = [(await gql.login(f"+861380013800{i}"))["accessToken"] for i in range(1, 5)]
    codes = [await code_for(gql, token, "cmb") for token in tokens]
    answers = await asyncio.gather(*[post_link(http, "cmb", {"code": code, "subjectRef": "CUST1"})
                                     for code in codes])
    outcomes = sorted((a.status_code, a.json().get("status") or a.json()["reason"]) for a in answers)
    assert outcomes == [(200, "linked")] + [(422, "LINK_TAKEN")] * 3
    linked = [token for token, answer in zip(tokens, answers, strict=True) if answer.status_code == 200]
    [owner] = linked
    assert len((await me(gql, owner))["partnerLinks"]) == 1


async def test_the_partner_api_document_says_what_the_link_endpoint_answers(gql, http):
    spec = yaml.safe_load((Path(__file__).resolve().parents[1] / "docs" / "partners" / "openapi.yaml")
                          .read_text("utf-8"))
    operation = spec["paths"]["/partner/v1/links"]["post"]

    def valid(status: str, answer: httpx.Response) -> bool:
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": spec["components"]}).validate(answer.json())
        return answer.status_code == int(status)

    example = operation["requestBody"]["content"]["application/json"]["examples"]["link"]
    token = (await gql.login())["accessToken"]
    refused = await post_link(http, "cmb", example["value"])  # the example's code was never given
    assert valid("422", refused) and refused.json()["reason"] == "INVALID_CODE"
    linked = await post_link(http, "cmb", {**example["value"], "code": await code_for(gql, token, "cmb")})
    assert valid("200", linked) and linked.json()["status"] == "linked"
    assert valid("400", await post_link(http, "cmb", b"null"))
    assert valid("401", await post_link(http, "cmb", example["value"], secret="wrong-0123456789abcdefghijklmn"))
    trip_schema = Draft202012Validator({**spec["components"]["schemas"]["Trip"],
                                        "components": spec["components"]})
    trip_schema.validate(by_ref("c-1", "CUST000981"))
    assert not trip_schema.is_valid({**by_ref("c-1", "CUST000981"), "subject": "someone"})


async def test_link_codes_are_limited_per_player(gql):
    token = (await gql.login())["accessToken"]
    answers = [(await gql(CODE, {"partner": "cmb"}, token=token))["data"]["createPartnerLinkCode"]
               for _ in range(11)]
    assert all(a["errors"] == [] for a in answers[:10])
    assert answers[10]["code"] is None and [e["code"] for e in answers[10]["errors"]] == ["RATE_LIMITED"]
    other = (await gql.login("+8613800138009"))["accessToken"]
    assert (await gql(CODE, {"partner": "cmb"}, token=other))["data"]["createPartnerLinkCode"]["errors"] == []
