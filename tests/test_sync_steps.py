"""`syncSteps`: the day's highest report counts, only the increase is credited, within the cap."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from app.accounts.models import Player
from app.credits.models import Activity
from app.ledger.models import LedgerTransaction
from app.ledger.service import Asset, balances
from app.ledger.verify import verify_ledger

SYNC = """
mutation SyncSteps($date: Date!, $steps: Int!) {
  syncSteps(date: $date, steps: $steps) {
    activity { id steps growthAwarded energyAwarded }
    errors { code message field }
  }
}"""
CST = timezone(timedelta(hours=8))
EGG = 10  # the planet's "10,000-step day" egg, granted once at 100 growth


def today() -> str:
    return datetime.now(CST).date().isoformat()


async def sync(gql, token: str, steps: int, day: str | None = None) -> dict:
    return (await gql(SYNC, {"date": day or today(), "steps": steps}, token=token))["data"]["syncSteps"]


async def test_only_the_increase_is_credited(gql):
    session = await gql.login()
    token, pid = session["accessToken"], session["player"]["id"]
    first = await sync(gql, token, 4321)
    assert first["errors"] == []
    assert first["activity"]["steps"] == 4321
    assert (first["activity"]["growthAwarded"], first["activity"]["energyAwarded"]) == (43, 43)
    second = await sync(gql, token, 10050)
    assert second["activity"]["id"] == first["activity"]["id"]
    # floor(10050 / 100) over the whole day: remainders of earlier syncs are not lost
    assert (second["activity"]["growthAwarded"], second["activity"]["energyAwarded"]) == (100, 100)
    lower = await sync(gql, token, 9000)
    assert lower["activity"]["steps"] == 10050 and lower["activity"]["growthAwarded"] == 100
    totals = await balances(pid)
    assert (totals[Asset.GROWTH], totals[Asset.ENERGY], totals[Asset.CO2E_GRAMS]) == (100 + EGG, 100, 0)
    assert await LedgerTransaction.filter(type="ACTIVITY_CREDIT").count() == 2


async def test_the_same_report_repeated_and_concurrent_credits_once(gql):
    session = await gql.login()
    results = await asyncio.gather(*[sync(gql, session["accessToken"], 8000) for _ in range(10)])
    assert all(r["errors"] == [] for r in results)
    assert len({r["activity"]["id"] for r in results}) == 1
    assert (await balances(session["player"]["id"]))[Asset.ENERGY] == 80
    assert await LedgerTransaction.all().count() == 1
    assert (await verify_ledger()).ok


async def test_daily_cap_limits_credited_steps(gql):
    session = await gql.login()
    token = session["accessToken"]
    await sync(gql, token, 15000)
    capped = await sync(gql, token, 26000)
    assert capped["errors"] == []
    assert capped["activity"]["steps"] == 26000
    assert capped["activity"]["growthAwarded"] == 200  # 20,000 steps a day at most
    again = await sync(gql, token, 30000)
    assert again["activity"]["growthAwarded"] == 200
    activity = await Activity.get(id=capped["activity"]["id"])
    assert activity.provenance["capsApplied"] == ["steps.daily_cap_steps"]
    assert (await balances(session["player"]["id"]))[Asset.GROWTH] == 200 + EGG


async def test_days_are_separate(gql):
    session = await gql.login()
    yesterday = (datetime.now(CST).date() - timedelta(days=1)).isoformat()
    a = await sync(gql, session["accessToken"], 5000, yesterday)
    b = await sync(gql, session["accessToken"], 5000)
    assert a["activity"]["id"] != b["activity"]["id"]
    assert (await balances(session["player"]["id"]))[Asset.GROWTH] == 100 + EGG


async def test_bad_reports_change_nothing(gql):
    session = await gql.login()
    token = session["accessToken"]
    tomorrow = (datetime.now(CST).date() + timedelta(days=1)).isoformat()
    old = (datetime.now(CST).date() - timedelta(days=30)).isoformat()
    cases = [(-1, None, "steps"), (10_000_000, None, "steps"), (100, tomorrow, "date"),
             (100, old, "date"), (150_000, None, "steps")]
    for steps, day, field in cases:
        result = await sync(gql, token, steps, day)
        assert result["activity"] is None
        assert result["errors"][0]["code"] == "INVALID_INPUT" and result["errors"][0]["field"] == field
    assert await LedgerTransaction.all().count() == 0
    assert await Activity.filter(steps__gt=0).count() == 0
    unauth = await gql(SYNC, {"date": today(), "steps": 10})
    assert unauth["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


WITHDRAW = """mutation($id: ID!) { withdrawActivity(activityId: $id, reason: FRAUD,
  idempotencyKey: "steps-fraud") { activity { status } errors { code } } }"""


async def test_a_withdrawn_day_of_steps_earns_no_more_that_day(gql):
    session = await gql.login()
    token, pid = session["accessToken"], session["player"]["id"]
    first = await sync(gql, token, 4321)
    operator = await gql.login("+8613800138095")
    await Player.filter(id=operator["player"]["id"]).update(roles=["player", "operator"])
    done = (await gql(WITHDRAW, {"id": first["activity"]["id"]},
                      token=operator["accessToken"]))["data"]["withdrawActivity"]
    assert done == {"activity": {"status": "WITHDRAWN"}, "errors": []}
    later = await sync(gql, token, 12000)
    assert later["errors"] == [] and later["activity"]["id"] == first["activity"]["id"]
    assert later["activity"]["steps"] == 4321  # the withdrawn count, not credited further
    totals = await balances(pid)
    assert (totals[Asset.GROWTH], totals[Asset.ENERGY]) == (0, 0)
    assert await LedgerTransaction.filter(type="ACTIVITY_CREDIT").count() == 1
    # another day is credited as usual
    yesterday = (datetime.now(CST).date() - timedelta(days=1)).isoformat()
    assert (await sync(gql, token, 500, yesterday))["activity"]["growthAwarded"] == 5
    assert (await verify_ledger()).ok
