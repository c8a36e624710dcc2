"""The regulator's programme figures: aggregates that add up to the ledger, and nothing personal."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from app.accounts.models import Player
from tests.partner_client import CST, send, trip, yesterday_at

FIGURES = """query($since: Date!, $until: Date!) { programmeFigures(since: $since, until: $until) {
  since until days { date participants activities reductionGrams points }
  scenes { date scene methodologyId methodologyVersion participants activities
           reductionGrams points }
  csv } }"""
BALANCE = "{ me { balances { reductionGrams carbonPoints } } }"


async def regulator(gql) -> str:
    session = await gql.login("+8613800138093")
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "regulator"])
    return session["accessToken"]


async def test_figures_add_up_to_the_ledger_and_name_nobody(gql, client):
    alice, bob = await gql.login("+8613800138001"), await gql.login("+8613800138002")
    day = yesterday_at(8).date()
    results = (await send(client, [
        trip("a-metro", alice["player"]["id"], start=yesterday_at(8)),
        trip("a-bus", alice["player"]["id"], kind="bus", meters=6400, start=yesterday_at(12)),
        trip("b-metro", bob["player"]["id"], start=yesterday_at(9)),
        trip("b-fast", bob["player"]["id"], meters=200_000, minutes=10, start=yesterday_at(18)),
    ])).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "accepted", "rejected"]

    token = await regulator(gql)
    figures = (await gql(FIGURES, {"since": day.isoformat(), "until": day.isoformat()},
                         token=token))["data"]["programmeFigures"]
    [total] = figures["days"]
    assert (total["date"], total["participants"], total["activities"]) == (day.isoformat(), 2, 3)
    ledger_grams = ledger_points = 0
    for player in (alice, bob):
        balances = (await gql(BALANCE, token=player["accessToken"]))["data"]["me"]["balances"]
        ledger_grams += balances["reductionGrams"]
        ledger_points += balances["carbonPoints"]
    assert total["reductionGrams"] == ledger_grams > 0
    assert total["points"] == ledger_points
    scenes = {(s["scene"], s["methodologyId"]): s for s in figures["scenes"]}
    assert scenes[("metro", "cn-low-carbon-travel")]["participants"] == 2
    assert scenes[("bus", "cn-low-carbon-travel")]["activities"] == 1
    assert sum(s["reductionGrams"] for s in figures["scenes"]) == ledger_grams

    rows = list(csv.DictReader(io.StringIO(figures["csv"])))
    scene_rows = [r for r in rows if r["scene"] != "*"]
    assert sum(int(r["reduction_grams"]) for r in scene_rows) == ledger_grams
    assert [int(r["reduction_grams"]) for r in rows if r["scene"] == "*"] == [ledger_grams]
    for player in (alice, bob):  # aggregates only
        assert player["player"]["id"] not in figures["csv"]
        assert player["player"]["nickname"] not in figures["csv"]


async def test_figures_refuse_a_bad_range(gql):
    token = await regulator(gql)
    today = datetime.now(CST).date()
    backwards = await gql(FIGURES, {"since": today.isoformat(),
                                    "until": (today - timedelta(days=1)).isoformat()}, token=token)
    assert backwards["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "until"}
    too_long = await gql(FIGURES, {"since": (today - timedelta(days=400)).isoformat(),
                                   "until": today.isoformat()}, token=token)
    assert too_long["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    empty = await gql(FIGURES, {"since": today.isoformat(), "until": today.isoformat()},
                      token=token)
    assert empty["data"]["programmeFigures"]["days"] == []
