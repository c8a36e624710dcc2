"""A partner batch is credited in one transaction, with exactly the outcomes, balances,
planets and ledger that the same records sent one by one produce."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime, timedelta

from app.accounts.models import Player
from app.credits.batch_rows import scene_history
from app.credits.models import Activity, MeterPeriod, PartnerRecord, SceneClaim
from app.ledger.models import LedgerTransaction
from app.ledger.service import balances
from app.ledger.verify import verify_ledger
from app.planet.models import Planet
from tests.partner_client import CST, send, trip, yesterday_at

FALLBACK = "credited one by one"


def mixed_records(prefix: str, first: str, second: str, third: str) -> list[dict]:
    """Three players; daily caps reached inside the batch; every kind of refusal; a record
    repeated within the batch; an egg and a theme unlock on the way."""
    records = [trip(f"{prefix}-m{i}", first, start=yesterday_at(7, 10 * i)) for i in range(6)]
    records += [
        trip(f"{prefix}-bus-big", first, kind="bus", meters=100000, minutes=120, start=yesterday_at(9)),
        trip(f"{prefix}-bus-cut", first, kind="bus", meters=20000, minutes=50, start=yesterday_at(18)),
        trip(f"{prefix}-s1", second, start=yesterday_at(8)),
        trip(f"{prefix}-s1", second, start=yesterday_at(8)),  # the same record again
        trip(f"{prefix}-s2", second, kind="bus", meters=5000, minutes=20, start=yesterday_at(12)),
        trip(f"{prefix}-nobody", "nobody-known"),
        trip(f"{prefix}-rocket", second, kind="rocket"),
        trip(f"{prefix}-bad", third, distanceMeters=-5),
        trip(f"{prefix}-fast", third, meters=60000, minutes=10),
    ]
    records += [trip(f"{prefix}-t{i}", third, start=yesterday_at(6, 5 * i), meters=3000, minutes=9)
                for i in range(4)]
    return records


def comparable(outcome: dict) -> tuple:
    return (outcome["status"], outcome.get("reductionGrams"), outcome.get("points"),
            outcome.get("reason"), "activityId" in outcome)


async def ledger_types(player_id: str) -> Counter:
    txs = await LedgerTransaction.filter(lines__account__owner=f"player:{player_id}").distinct()
    return Counter(tx.type for tx in txs)


async def planet_of(player_id: str) -> dict:
    state = dict((await Planet.get(player_id=player_id)).state)
    return {key: (sorted(value) if key in ("unlocked", "eggs") else value)
            for key, value in state.items()}


async def test_a_batch_equals_the_same_records_one_by_one(gql, client, caplog):
    together = [(await gql.login(f"+86138001380{i:02d}"))["player"]["id"] for i in range(3)]
    alone = [(await gql.login(f"+86138001381{i:02d}"))["player"]["id"] for i in range(3)]
    caplog.set_level(logging.INFO, logger="carbon_planet.ingest")

    batch = (await send(client, mixed_records("b", *together))).json()["results"]
    assert FALLBACK not in caplog.text  # one transaction, no retry one by one
    single = []
    for record in mixed_records("o", *alone):
        single.extend((await send(client, [record])).json()["results"])

    assert [comparable(o) for o in batch] == [comparable(o) for o in single]
    statuses = Counter(o["status"] for o in batch)
    assert statuses == {"accepted": 13, "rejected": 5, "duplicate": 1}
    assert batch[9] == {"id": "b-s1", "status": "duplicate", "activityId": batch[8]["activityId"]}
    assert [o.get("reason") for o in batch[5:8]] == ["DAILY_CAP_REACHED", None, None]
    assert batch[7]["reductionGrams"] == 3000 - 2690  # cut to the bus cap inside the batch
    for mine, theirs in zip(together, alone, strict=True):
        assert await balances(mine) == await balances(theirs)
        assert await ledger_types(mine) == await ledger_types(theirs)
        assert await planet_of(mine) == await planet_of(theirs)
    assert (await ledger_types(together[0]))["EGG_REWARD"] >= 1  # eggs found inside the batch
    assert await Activity.filter(player_id=together[1], status="rejected").count() == 1  # the rocket
    unique_ids = {r["id"] for r in mixed_records("b", *together)}
    assert await PartnerRecord.filter(record_id__startswith="b-").count() == len(unique_ids) == 18
    report = await verify_ledger()
    assert report.ok, report.problems

    again = (await send(client, mixed_records("b", *together))).json()["results"]
    assert [o["status"] for o in again] == ["duplicate"] * len(again)
    assert all(later["activityId"] == first["activityId"]
               for later, first in zip(again, batch, strict=True) if first["status"] == "accepted")


async def test_overlapping_batches_sent_at_once_credit_each_record_once(gql, client):
    players = [(await gql.login(f"+86138001382{i:02d}"))["player"]["id"] for i in range(8)]
    records = [trip(f"ov-{p[:8]}-{h}", p, start=yesterday_at(7 + h)) for p in players for h in range(3)]
    batches = [records[:16], records[8:], records, records[::-1], records[4:20]]
    responses = await asyncio.gather(*[send(client, batch) for batch in batches])
    assert all(r.status_code == 200 for r in responses)
    accepted = Counter(o["id"] for r in responses for o in r.json()["results"] if o["status"] == "accepted")
    assert accepted == {record["id"]: 1 for record in records}
    outcomes = [o for r in responses for o in r.json()["results"]]
    assert {o["status"] for o in outcomes} == {"accepted", "duplicate"}
    ids_by_record = {}
    for o in outcomes:
        ids_by_record.setdefault(o["id"], set()).add(o["activityId"])
    assert all(len(ids) == 1 for ids in ids_by_record.values())  # duplicates name the credited one
    assert await LedgerTransaction.filter(type="ACTIVITY_CREDIT").count() == len(records)
    for pid in players:
        assert (await balances(pid))["CO2E_GRAMS"] == 3 * 600
    report = await verify_ledger()
    assert report.ok, report.problems


async def test_batches_steps_and_quiz_for_the_same_players_at_once(gql, client, caplog):
    """Every crediting path takes its locks in one order (day's totals, planets, ledger
    accounts): run together on the same players, none deadlocks or falls back, and each
    planet's growth is exactly its player's growth in the ledger."""
    from app.planet.service import daily_question
    from game.rules import default_rules

    sessions = [await gql.login(f"+86138001383{i:02d}") for i in range(6)]
    players = [s["player"]["id"] for s in sessions]
    caplog.set_level(logging.INFO, logger="carbon_planet.ingest")
    batches = [[trip(f"mix{b}-{p[:8]}", p, ago=timedelta(minutes=40 + 10 * b)) for p in players]
               for b in range(4)]
    today = datetime.now(CST).date()
    quiz = "mutation($q: ID!, $c: ID!) { answerQuiz(quizId: $q, choiceId: $c) { correct errors { code } } }"
    steps = "mutation($d: Date!, $s: Int!) { syncSteps(date: $d, steps: $s) { errors { code } } }"

    def answer(session):
        question = daily_question(default_rules(), session["player"]["id"], today)
        return gql(quiz, {"q": f"{today.isoformat()}:{question.id}", "c": question.answer},
                   token=session["accessToken"])

    calls = [send(client, batch) for batch in batches]
    calls += [gql(steps, {"d": today.isoformat(), "s": 3000 * n}, token=s["accessToken"])
              for s in sessions for n in (1, 2, 3)]
    calls += [answer(s) for s in sessions]
    results = await asyncio.gather(*calls)

    assert [r.status_code for r in results[:4]] == [200] * 4
    assert all(o["status"] == "accepted" for r in results[:4] for o in r.json()["results"])
    assert all(r["data"]["syncSteps"]["errors"] == [] for r in results[4:22])
    assert all(r["data"]["answerQuiz"] == {"correct": True, "errors": []} for r in results[22:])
    assert FALLBACK not in caplog.text
    for pid in players:
        grown = (await Planet.get(player_id=pid)).state["growth"]
        assert (await balances(pid))["GROWTH"] == grown > 0
        assert (await balances(pid))["CO2E_GRAMS"] == 4 * 600
    report = await verify_ledger()
    assert report.ok, report.problems


async def test_a_batch_of_hundreds_of_players_is_credited_in_one_go(client, caplog):
    # Four hundred players touch some 1,200 ledger accounts: the accounts are locked with
    # one statement that SQLite's expression-depth limit (1,000 terms) must not refuse.
    from app.accounts.models import Player

    players = [await Player.create(nickname=f"b{i}", city="shenzhen") for i in range(400)]
    caplog.set_level(logging.INFO, logger="carbon_planet.ingest")
    records = [trip(f"wide-{i}", str(p.id), start=yesterday_at(7, i % 60))
               for i, p in enumerate(players)]
    results = (await send(client, records)).json()["results"]
    assert FALLBACK not in caplog.text
    assert Counter(o["status"] for o in results) == {"accepted": 400}
    report = await verify_ledger()
    assert report.ok, report.problems


async def test_a_batch_that_credits_nothing_is_still_one_transaction(client, caplog):
    """Every record refused, then the same batch again (every record a duplicate): nothing
    to lock or credit, and still no retry one by one."""
    from app.accounts.models import Player

    players = [await Player.create(nickname=f"n{i}", city="shenzhen") for i in range(3)]
    caplog.set_level(logging.INFO, logger="carbon_planet.ingest")
    records = [trip(f"short-{i}", str(p.id), start=yesterday_at(7, i), meters=10)
               for i, p in enumerate(players)] + [trip("nobody-1", "nobody", start=yesterday_at(8))]
    first = (await send(client, records)).json()["results"]
    assert [(o["status"], o["reason"]) for o in first] == [("rejected", "TOO_SHORT")] * 3 + [
        ("rejected", "UNKNOWN_SUBJECT")]
    again = (await send(client, records)).json()["results"]
    assert [o["status"] for o in again] == ["duplicate"] * 4
    assert FALLBACK not in caplog.text, caplog.text
    assert await PartnerRecord.filter(record_id__in=[r["id"] for r in records]).count() == 4
    assert await LedgerTransaction.all().count() == 0


async def test_a_batch_reads_back_exactly_the_claims_and_meters_it_names(app):
    """The history a batch reads is by whole key: another kind's claim on the same digest,
    or another meter of the same kind, is not the batch's."""
    player = await Player.create(nickname="keys")
    activity = await Activity.create(player=player, kind="recycling", source="test",
                                     occurred_at=datetime.now(CST), local_date=datetime.now(CST).date(),
                                     status="accepted", provenance={})
    for kind, digest in [("recycling", "d1"), ("e_statement", "d2"), ("recycling", "d2")]:
        await SceneClaim.create(kind=kind, digest=digest, dedup_key={}, activity=activity, partner_id="p")
    day = datetime.now(CST).date()
    for meter in ("M1", "M2"):
        for n in range(2):
            await MeterPeriod.create(kind="household_electricity", meter_id=meter,
                                     period_start=day - timedelta(days=60 - 30 * n),
                                     period_end=day - timedelta(days=31 - 30 * n),
                                     consumption=100 + n, activity=activity)
    history = await scene_history([("recycling", "d1"), ("e_statement", "d1"), ("recycling", "d2")],
                                  [("household_electricity", "M2"), ("water", "M1")])
    assert history.claims == {("recycling", "d1"): str(activity.id), ("recycling", "d2"): str(activity.id)}
    assert {key: [p.consumption for p in periods] for key, periods in history.periods.items()} == {
        ("household_electricity", "M2"): [100, 101], ("water", "M1"): []}
