"""A time without a UTC offset is refused with INVALID_INPUT, as a literal or in a variable,
and nothing changes; with an offset (or Z) it is read as that instant."""

from __future__ import annotations

import uuid

import pytest

from app.shop.models import ShopItem
from tests.test_shop import CREATE, staff

RECORDS = "query($since: DateTime) { partnerRecords(since: $since) { edges { cursor } } }"


def codes(result: dict) -> list[str]:
    return [(e.get("extensions") or {}).get("code") for e in result.get("errors") or []]


@pytest.mark.parametrize("value, words", [
    ("2026-03-01T08:00:00", "no UTC offset"),
    ("2026-03-01 08:00", "no UTC offset"),
    ("2026-03-01", "no UTC offset"),
    ("yesterday", "not an ISO 8601 date and time"),
    (1772323200, "ISO 8601 text"),
])
async def test_a_time_without_its_zone_is_refused_in_a_variable_and_as_a_literal(gql, value,
                                                                                 words):
    token = (await staff(gql, "+8613800138081"))["accessToken"]
    in_variable = await gql(RECORDS, {"since": value}, token=token)
    assert in_variable["data"] is None and codes(in_variable) == ["INVALID_INPUT"]
    assert words in in_variable["errors"][0]["message"]
    literal = f"{{ partnerRecords(since: {value!r}) {{ edges {{ cursor }} }} }}".replace("'", '"')
    as_literal = await gql(literal, token=token)
    assert as_literal.get("data") is None and codes(as_literal) == ["INVALID_INPUT"]
    assert words in as_literal["errors"][0]["message"]


async def test_a_time_with_its_offset_is_that_instant(gql):
    token = (await staff(gql, "+8613800138082"))["accessToken"]
    for value in ("2026-03-01T08:00:00+08:00", "2026-03-01T00:00:00Z"):
        answered = await gql(RECORDS, {"since": value}, token=token)
        assert "errors" not in answered and answered["data"]["partnerRecords"]["edges"] == []
    item = {"kind": "COUPON", "title": "地铁优惠券", "titleEn": "Metro coupon", "pricePoints": 100,
            "availableFrom": "2026-03-01T08:00:00+08:00"}
    created = await gql(CREATE, {"input": item, "key": str(uuid.uuid4())}, token=token)
    assert created["data"]["createShopItem"]["errors"] == []
    stored = await ShopItem.get(id=created["data"]["createShopItem"]["item"]["id"])
    assert stored.available_from.isoformat().startswith("2026-03-01T00:00:00")
    assert stored.available_from.utcoffset().total_seconds() == 0


async def test_a_mutation_given_a_naive_time_changes_nothing(gql):
    token = (await staff(gql, "+8613800138083"))["accessToken"]
    before = await ShopItem.all().count()
    item = {"kind": "COUPON", "title": "地铁优惠券", "titleEn": "Metro coupon", "pricePoints": 100,
            "availableFrom": "2026-03-01T08:00:00"}
    refused = await gql(CREATE, {"input": item, "key": str(uuid.uuid4())}, token=token)
    assert refused["data"] is None and codes(refused) == ["INVALID_INPUT"]
    assert "$input" in refused["errors"][0]["message"] and "availableFrom" in \
        refused["errors"][0]["message"]
    assert await ShopItem.all().count() == before


async def test_the_refusal_reads_in_the_callers_language(gql):
    token = (await staff(gql, "+8613800138084"))["accessToken"]
    response = await gql.http.post("/graphql", json={
        "query": RECORDS, "variables": {"since": "2026-03-01T08:00:00"}},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_INPUT" and "UTC" in error["message"]
    assert "no UTC offset" not in error["message"]
