"""Linking by phone: a partner offers its id with the phone number it holds, and the player
who verified that number accepts (or declines) in the app."""

# ruff: noqa: F811  (the code-link tests' fixtures, imported by name, are parameters here)
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from app.credits.models import Activity
from app.partner_links.models import PartnerLink, PartnerLinkOffer
from tests.test_partner_links import (  # noqa: F401  (fixtures)
    SECRETS,
    bank_send,
    banks_app,
    by_ref,
    gql,
    http,
    me,
    post_link,
)

OFFERS = """{ me { partnerLinkOffers { id partnerId partner referenceHint offeredAt expiresAt } } }"""
DECIDE = """mutation($id: ID!, $accept: Boolean!) { decidePartnerLinkOffer(id: $id, accept: $accept) {
  link { id partnerId partner referenceHint } errors { code message field } } }"""
PHONE = "+8613800138000"


async def offers(gql, token: str) -> list[dict]:
    result = await gql(OFFERS, token=token)
    assert "errors" not in result, result
    return result["data"]["me"]["partnerLinkOffers"]


async def offer(http, bank: str, ref: str, phone: str) -> dict:
    response = await post_link(http, bank, {"subjectRef": ref, "phone": phone})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_player_with_the_phone_accepts_and_the_banks_records_credit_them(gql, http):
    token = (await gql.login(PHONE))["accessToken"]
    other = (await gql.login("+8613900139000"))["accessToken"]
    # the bank writes the number its own way; it is the same mobile number
    answer = await offer(http, "cmb", "CUST000981", "138 0013 8000")
    assert answer["status"] == "offered" and answer["subjectRef"] == "CUST000981"
    # an offer for a number nobody uses gets the same answer: the bank learns nothing
    assert (await offer(http, "cmb", "CUST000982", "13700137000"))["status"] == "offered"

    [shown] = await offers(gql, token)
    assert (shown["partnerId"], shown["partner"], shown["referenceHint"]) == (
        "cmb", "China Merchants Bank", "…0981")
    assert await offers(gql, other) == []
    # nobody else can take it, even knowing its id
    refused = (await gql(DECIDE, {"id": shown["id"], "accept": True}, token=other))
    assert refused["data"]["decidePartnerLinkOffer"]["errors"][0]["code"] == "NOT_FOUND"
    # before accepting, the bank's records find nobody
    [early] = await bank_send(http, "cmb", [by_ref("c-0", "CUST000981")])
    assert (early["status"], early["reason"]) == ("rejected", "UNKNOWN_SUBJECT")

    decided = (await gql(DECIDE, {"id": shown["id"], "accept": True}, token=token))[
        "data"]["decidePartnerLinkOffer"]
    assert decided["errors"] == [] and decided["link"]["partnerId"] == "cmb"
    again = (await gql(DECIDE, {"id": shown["id"], "accept": True}, token=token))[
        "data"]["decidePartnerLinkOffer"]
    assert again["link"]["id"] == decided["link"]["id"]
    assert await PartnerLink.filter(partner_id="cmb").count() == 1
    assert await offers(gql, token) == []

    [credited] = await bank_send(http, "cmb", [by_ref("c-1", "CUST000981", ago=timedelta(hours=2))])
    assert credited["status"] == "accepted"
    mine = await me(gql, token)
    assert mine["balances"]["reductionGrams"] == 600  # metro 12,850 m (travel-v1)
    assert [(link["partnerId"], link["contributionGrams"]) for link in mine["partnerLinks"]] == [
        ("cmb", 600)]


async def test_a_declined_offer_links_nothing_and_stays_declined(gql, http):
    token = (await gql.login(PHONE))["accessToken"]
    await offer(http, "pingan", "PA-77-0001", PHONE)
    [shown] = await offers(gql, token)
    declined = (await gql(DECIDE, {"id": shown["id"], "accept": False}, token=token))[
        "data"]["decidePartnerLinkOffer"]
    assert declined == {"link": None, "errors": []}
    accepted_later = (await gql(DECIDE, {"id": shown["id"], "accept": True}, token=token))[
        "data"]["decidePartnerLinkOffer"]
    assert accepted_later == {"link": None, "errors": []}  # the first decision holds
    assert await PartnerLink.all().count() == 0
    [refused] = await bank_send(http, "pingan", [by_ref("p-1", "PA-77-0001")])
    assert refused["reason"] == "UNKNOWN_SUBJECT"
    assert await Activity.filter(status="accepted").count() == 0


async def test_an_expired_offer_is_not_shown_and_cannot_be_accepted(gql, http):
    token = (await gql.login(PHONE))["accessToken"]
    await offer(http, "icbc-sz", "6222-0200-1234-5678", PHONE)
    row = await PartnerLinkOffer.get(partner_id="icbc-sz")
    assert await offers(gql, token) != []
    await PartnerLinkOffer.filter(id=row.id).update(expires_at=row.created_at)
    assert await offers(gql, token) == []
    result = (await gql(DECIDE, {"id": str(row.id), "accept": True}, token=token))[
        "data"]["decidePartnerLinkOffer"]
    assert result["errors"][0]["code"] == "CONFLICT" and result["link"] is None
    assert "expired" in result["errors"][0]["message"]
    # the bank sends it again: renewed, one offer, shown again
    await offer(http, "icbc-sz", "6222-0200-1234-5678", PHONE)
    assert await PartnerLinkOffer.all().count() == 1
    assert len(await offers(gql, token)) == 1


async def test_the_table_keeps_no_phone_number(gql, http):
    await offer(http, "cmb", "CUST000981", PHONE)
    row = await PartnerLinkOffer.get()
    assert "13800138000" not in row.phone_hash and len(row.phone_hash) == 64


async def test_bad_offers_are_refused_with_their_reason_and_change_nothing(http):
    for body in ({"subjectRef": "X1", "phone": "not a phone"}, {"subjectRef": "X1", "phone": 13800138000},
                 {"subjectRef": "", "phone": PHONE}, {"subjectRef": ["X"], "phone": PHONE}):
        response = await post_link(http, "cmb", body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["reason"] == "INVALID_FIELD"
    response = await post_link(http, "cmb", {"subjectRef": "X1", "phone": PHONE},
                               secret=SECRETS["pingan"])
    assert response.status_code == 401
    assert await PartnerLinkOffer.all().count() == 0


async def test_a_linked_id_offered_to_someone_else_is_refused(gql, http):
    first = (await gql.login(PHONE))["accessToken"]
    second = (await gql.login("+8613900139000"))["accessToken"]
    await offer(http, "cmb", "CUST000981", PHONE)
    await offer(http, "cmb", "CUST000981", "+8613900139000")
    [mine] = await offers(gql, first)
    [theirs] = await offers(gql, second)
    assert (await gql(DECIDE, {"id": mine["id"], "accept": True}, token=first))[
        "data"]["decidePartnerLinkOffer"]["errors"] == []
    taken = (await gql(DECIDE, {"id": theirs["id"], "accept": True}, token=second))[
        "data"]["decidePartnerLinkOffer"]
    assert taken["errors"][0]["code"] == "CONFLICT" and taken["link"] is None
    assert await PartnerLink.filter(partner_id="cmb", active=True).count() == 1


async def test_the_partner_api_document_says_what_an_offer_answers(gql, http):
    spec = yaml.safe_load((Path(__file__).resolve().parents[1] / "docs" / "partners" / "openapi.yaml")
                          .read_text("utf-8"))
    operation = spec["paths"]["/partner/v1/links"]["post"]
    request = operation["requestBody"]["content"]["application/json"]
    example = request["examples"]["offer"]["value"]
    Draft202012Validator({**request["schema"], "components": spec["components"]}).validate(example)
    answer = await post_link(http, "cmb", example)
    assert answer.status_code == 200
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": spec["components"]}).validate(answer.json())
    assert answer.json()["status"] == "offered"
    refused = await post_link(http, "cmb", {**example, "phone": "12"})
    schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": spec["components"]}).validate(refused.json())
