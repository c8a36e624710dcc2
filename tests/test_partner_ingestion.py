"""Partner ingestion over HTTP, as partner-ingestion.md describes it."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from graphql import parse, print_ast

from app.credits.models import Activity, PartnerRecord
from app.ledger.models import LedgerTransaction
from app.ledger.service import Asset, balances
from app.ledger.verify import verify_ledger
from tests.conftest import ENGLISH, PARTNER_SECRETS
from tests.partner_client import send, trip, yesterday_at

CONTRACT = (Path(__file__).parent / "contract" / "credits.graphql").read_text()


def operation(name: str) -> str:
    [found] = [d for d in parse(CONTRACT).definitions if d.name and d.name.value == name]
    return print_ast(found)


@pytest.fixture
async def player(gql):
    return await gql.login()


async def test_metro_trip_credited_with_the_methodology_figures(gql, client, player):
    response = await send(client, [trip("r1", player["player"]["id"], meters=12850)])
    assert response.status_code == 200
    [result] = response.json()["results"]
    # Shenzhen 2021: metro saves 46.7 g/person-km; floor(46.7 × 12.85) = 600 g;
    # 8 g a point -> 75 points; 100 growth per kg -> 60 growth, plus the planet's
    # "first metro ride" egg (20 growth, through the ledger).
    assert result == {"id": "r1", "status": "accepted", "activityId": result["activityId"],
                      "reductionGrams": 600, "points": 75}
    token = player["accessToken"]
    balance = (await gql(operation("Balances"), token=token))["data"]["me"]["balances"]
    assert balance == {"carbonPoints": 75, "growth": 80, "energy": 0, "reductionGrams": 600}
    page = (await gql(operation("Activities"), {"first": 5}, token=token))["data"]["me"]["activities"]
    [node] = [edge["node"] for edge in page["edges"]]
    assert node["id"] == result["activityId"]
    assert (node["kind"], node["distanceMeters"], node["reductionGrams"], node["pointsAwarded"],
            node["growthAwarded"], node["status"]) == ("metro", 12850, 600, 75, 60, "ACCEPTED")
    assert node["methodology"] == {"id": "cn-low-carbon-travel", "version": 1}


async def test_bus_trip_and_subject_by_host_identity(gql, client):
    import jwt

    from tests.conftest import AUDIENCE, HS_ISSUER, HS_SECRET

    token = jwt.encode({"iss": HS_ISSUER, "aud": AUDIENCE, "sub": "openid-777",
                        "exp": int(time.time()) + 60}, HS_SECRET, "HS256")
    login = (await gql('mutation($t: String!) { loginWithHostToken(token: $t) { session { player { id } } } }',
                       {"t": token}))["data"]["loginWithHostToken"]["session"]
    response = await send(client, [trip("bus-1", "openid-777", kind="bus", meters=10000, minutes=40)])
    [result] = response.json()["results"]
    assert (result["status"], result["reductionGrams"], result["points"]) == ("accepted", 269, 33)
    assert (await balances(login["player"]["id"]))[Asset.CO2E_GRAMS] == 269


async def test_the_same_record_50_times_concurrently_credits_once(client, player):
    record = trip("dup-1", player["player"]["id"])
    responses = await asyncio.gather(*[send(client, [record]) for _ in range(50)])
    statuses = sorted(r.json()["results"][0]["status"] for r in responses)
    assert statuses == ["accepted"] + ["duplicate"] * 49
    activity_ids = {r.json()["results"][0]["activityId"] for r in responses}
    assert len(activity_ids) == 1
    assert (await balances(player["player"]["id"]))[Asset.CARBON_POINT] == 75
    assert await LedgerTransaction.filter(type="ACTIVITY_CREDIT").count() == 1
    assert await LedgerTransaction.filter(type="EGG_REWARD").count() == 1
    assert (await verify_ledger()).ok


async def test_a_record_repeated_within_one_request_and_later(client, player):
    record = trip("again", player["player"]["id"])
    first = (await send(client, [record, record])).json()["results"]
    assert [r["status"] for r in first] == ["accepted", "duplicate"]
    later = (await send(client, [record])).json()["results"]
    assert later[0] == {"id": "again", "status": "duplicate", "activityId": first[0]["activityId"]}


async def test_200_different_records_concurrently_sum_exactly(make_app, tmp_path):
    import httpx

    from tests.conftest import GraphQLClient

    generous = (Path(__file__).parents[1] / "methodology" / "files" / "travel-v1.toml").read_text()
    (tmp_path / "city.toml").write_text(generous.replace("daily_cap_grams = 3000", "daily_cap_grams = 10000000"))
    app = await make_app(methodology_dir=str(tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers=ENGLISH) as http:
        player = await GraphQLClient(http, app).login()
        pid = player["player"]["id"]
        meters = [1000 + 37 * i for i in range(200)]
        records = [trip(f"many-{i}", pid, meters=m, minutes=10) for i, m in enumerate(meters)]
        responses = await asyncio.gather(*[send(http, [r]) for r in records])
    results = [r.json()["results"][0] for r in responses]
    assert all(r["status"] == "accepted" for r in results)
    expected_grams = sum(46700 * m // 1_000_000 for m in meters)
    totals = await balances(pid)
    assert totals[Asset.CO2E_GRAMS] == expected_grams == sum(r["reductionGrams"] for r in results)
    assert totals[Asset.CARBON_POINT] == sum(r["points"] for r in results)
    report = await verify_ledger()
    assert report.ok, report.problems


async def test_daily_cap_cuts_a_record_in_part_then_refuses(client, player):
    pid = player["player"]["id"]
    # metro: 3000 g a day; 600 g a trip
    results = []
    for i in range(6):
        response = await send(client, [trip(f"cap-{i}", pid, start=yesterday_at(7, 10 * i))])
        results.append(response.json()["results"][0])
    assert [r.get("reductionGrams") for r in results[:5]] == [600] * 5
    assert results[5]["status"] == "rejected" and results[5]["reason"] == "DAILY_CAP_REACHED"
    record = trip("cap-part", pid, kind="bus", meters=100000, minutes=120, start=yesterday_at(9))
    [part] = (await send(client, [record])).json()["results"]
    assert part["status"] == "accepted" and part["reductionGrams"] == 2690
    late = trip("cap-cut", pid, kind="bus", meters=20000, minutes=50, start=yesterday_at(18))
    [cut] = (await send(client, [late])).json()["results"]
    assert cut["status"] == "accepted" and cut["reductionGrams"] == 3000 - 2690
    activity = await Activity.get(id=cut["activityId"])
    assert activity.provenance["capsApplied"] == ["bus.daily_cap_grams"]
    assert (await balances(pid))[Asset.CO2E_GRAMS] == 3000 + 3000


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"subject": "nobody-known"}, "UNKNOWN_SUBJECT"),
        ({"kind": "rocket"}, "UNKNOWN_KIND"),
        ({"distanceMeters": -5}, "INVALID_FIELD"),
        ({"distanceMeters": "12"}, "INVALID_FIELD"),
        ({"startedAt": "yesterday"}, "INVALID_FIELD"),
        ({"startedAt": "2026-11-21T08:00:00"}, "INVALID_FIELD"),
        ({"meters": 60000, "minutes": 10}, "IMPLAUSIBLE_SPEED"),
        ({"meters": 120}, "TOO_SHORT"),
        ({"ago": timedelta(hours=-2)}, "IN_FUTURE"),
        ({"ago": timedelta(days=9)}, "TOO_OLD"),
    ],
)
async def test_each_rejection_reason_credits_nothing_and_is_kept(client, player, overrides, reason):
    shape = {k: v for k, v in overrides.items() if k in ("meters", "minutes", "ago")}
    record = trip("bad-1", player["player"]["id"], **shape)
    record.update({k: v for k, v in overrides.items() if k not in shape})
    response = await send(client, [record])
    [result] = response.json()["results"]
    assert result["status"] == "rejected" and result["reason"] == reason, result
    assert result["message"]
    assert await LedgerTransaction.all().count() == 0
    kept = await PartnerRecord.get(record_id="bad-1")
    assert (kept.status, kept.reason, kept.payload["id"]) == ("rejected", reason, "bad-1")
    again = (await send(client, [record])).json()["results"][0]
    assert again["status"] == "duplicate"


async def test_rotated_secrets_both_verify(client, player):
    for i, secret in enumerate(PARTNER_SECRETS):
        response = await send(client, [trip(f"rot-{i}", player["player"]["id"])], secret=secret)
        assert response.status_code == 200


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"secret": "wrong-secret-0123456789abcdefghijklmn"}, 401),
        ({"signature": "sha256=00"}, 401),
        ({"partner": "nobody"}, 401),
        ({"timestamp_offset": -301}, 401),  # offsets from now, taken when the test runs
        ({"timestamp_offset": 400}, 401),
        ({"body": b"{not json"}, 400),
        ({"body": b'{"records": "nope"}'}, 400),
        ({"body": b'[1, 2]'}, 400),
    ],
)
async def test_refused_requests_change_nothing(client, player, kwargs, status):
    if "timestamp_offset" in kwargs:
        kwargs = {"timestamp": int(time.time()) + kwargs["timestamp_offset"]}
    records = [trip("x-1", player["player"]["id"])]
    response = await send(client, records if "body" not in kwargs else None, **kwargs)
    assert response.status_code == status
    assert response.json()["error"]
    assert await PartnerRecord.all().count() == 0
    assert await LedgerTransaction.all().count() == 0


async def test_more_than_1000_records_is_413(client, player):
    records = [trip(f"big-{i}", player["player"]["id"]) for i in range(1001)]
    response = await send(client, records)
    assert response.status_code == 413
    assert await PartnerRecord.all().count() == 0


async def test_operators_list_received_records(gql, client, player):
    from app.accounts.models import Player

    await send(client, [trip("ok-1", player["player"]["id"]), trip("no-1", "ghost")])
    query = """query($status: String) { partnerRecords(partnerId: "metro-sz", status: $status, first: 10) {
      edges { node { recordId status reason activityId payload } } pageInfo { hasNextPage } } }"""
    denied = await gql(query, {"status": "rejected"}, token=player["accessToken"])
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await Player.filter(id=player["player"]["id"]).update(roles=["player", "operator"])
    rejected = await gql(query, {"status": "rejected"}, token=player["accessToken"])
    [node] = [e["node"] for e in rejected["data"]["partnerRecords"]["edges"]]
    assert (node["recordId"], node["reason"], node["activityId"]) == ("no-1", "UNKNOWN_SUBJECT", None)
    everything = await gql(query, {"status": None}, token=player["accessToken"])
    assert [e["node"]["recordId"] for e in everything["data"]["partnerRecords"]["edges"]] == ["no-1", "ok-1"]


async def test_methodologies_are_public_with_sources(gql):
    result = await gql(operation("Methodologies"))
    [m] = [m for m in result["data"]["methodologies"] if m["id"] == "cn-low-carbon-travel"]
    assert m["version"] == 1
    assert {"metro", "bus", "cycling", "bike_share", "walking", "steps"} == set(m["kinds"])
    factors = {f["key"]: f for f in m["factors"]}
    assert factors["metro.mode"]["value"] == "123.3" and "Shenzhen 2021" in factors["metro.mode"]["source"]
    assert all(f["source"] for f in m["factors"])
    assert {"key": "metro.daily_cap_grams", "value": 3000, "unit": "gCO2e/day"} in m["caps"]


async def test_activities_paginate_newest_first_with_rejections(gql, client, player):
    pid = player["player"]["id"]
    records = [trip(f"p-{i}", pid, meters=2000 + i, start=yesterday_at(6, 5 * i)) for i in range(5)]
    records.append(trip("p-short", pid, meters=50, start=yesterday_at(12)))
    for record in records:  # one request each: creation order is the list order
        await send(client, [record])
    seen, after = [], None
    while True:
        page = (await gql(operation("Activities"), {"first": 2, "after": after},
                          token=player["accessToken"]))["data"]["me"]["activities"]
        seen += [edge["node"] for edge in page["edges"]]
        assert len(page["edges"]) <= 2
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [n["distanceMeters"] for n in seen] == [50, 2004, 2003, 2002, 2001, 2000]
    assert (seen[0]["status"], seen[0]["rejectReason"], seen[0]["reductionGrams"]) == ("REJECTED", "TOO_SHORT", 0)
    assert len({n["id"] for n in seen}) == 6


async def test_records_of_scenes_the_partner_is_not_registered_for_are_refused(client, player):
    """Shipped methodologies cover household energy, PV, recycling, banking and check-ins,
    but a partner registered for travel only is refused them, alone or in a batch."""
    pid = player["player"]["id"]
    kinds = ["rooftop_pv", "household_electricity", "recycling", "online_payment", "reusable_cup"]
    [alone] = (await send(client, [trip("pv-1", pid, kind="rooftop_pv")])).json()["results"]
    batch = (await send(client, [trip(f"scene-{k}", pid, kind=k) for k in kinds])).json()["results"]
    for result, kind in zip([alone, *batch], ["rooftop_pv", *kinds], strict=True):
        assert result["status"] == "rejected" and result["reason"] == "SCENE_NOT_ALLOWED", result
        assert result["message"] == f"partner metro-sz is not registered for {kind} records"
    assert await LedgerTransaction.all().count() == 0
    assert await Activity.filter(status="accepted").count() == 0
    assert (await balances(pid)).get(Asset.CO2E_GRAMS, 0) == 0
