"""The planet game over GraphQL: from level 1 to three themes, eggs, quiz, friends, events."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from pathlib import Path

from graphql import parse, print_ast
from httpx import AsyncClient
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from app.i18n import negotiate
from app.ledger.service import Asset, balances
from tests.conftest import ENGLISH
from tests.partner_client import CST, send, trip

GAME = (Path(__file__).parent / "contract" / "game.graphql").read_text()
SYNC = """mutation($date: Date!, $steps: Int!) { syncSteps(date: $date, steps: $steps) {
  activity { id } errors { code } } }"""


def op(name: str) -> str:
    [found] = [d for d in parse(GAME).definitions if d.name and d.name.value == name]
    return print_ast(found)


def reader_language(gql) -> str:
    """The language the test client reads (its Accept-Language; Chinese without one)."""
    return negotiate(gql.http.headers.get("accept-language"))


async def planet(gql, token: str) -> dict:
    return (await gql(op("Planet"), token=token))["data"]["me"]["planet"]


def theme(p: dict, theme_id: str) -> dict:
    return next(t for t in p["themes"] if t["id"] == theme_id)


def day(n: int) -> datetime:
    """n days ago at 08:00 local: all within the 7 days activities may be credited for."""
    d = datetime.now(CST).date() - timedelta(days=n)
    return datetime(d.year, d.month, d.day, 8, tzinfo=CST)


async def test_a_new_player_unlocks_three_themes_with_progress_along_the_way(gql, client):
    session = await gql.login()
    token, pid = session["accessToken"], session["player"]["id"]
    start = await planet(gql, token)
    assert (start["level"], start["growth"], start["nextLevelGrowth"]) == (1, 0, 100)
    assert not any(t["unlocked"] for t in start["themes"]) and len(start["themes"]) == 9
    islands = theme(start, "green-energy-islands")
    in_words = {"zh-CN": "成长值达到 100", "en": "Reach 100 growth"}[reader_language(gql)]
    assert islands["requirements"] == [
        {"description": in_words, "progress": 0, "target": 100, "met": False}]

    # Day 1: 6,000 steps -> 60 growth: progress shows, nothing unlocked yet.
    await gql(SYNC, {"date": day(3).date().isoformat(), "steps": 6000}, token=token)
    p = await planet(gql, token)
    assert theme(p, "green-energy-islands")["requirements"][0]["progress"] == 60
    assert not theme(p, "green-energy-islands")["unlocked"]

    # Day 2: one metro ride -> 60 growth + the "first metro" egg (20): islands unlocked.
    await send(client, [trip("m1", pid, start=day(2))])
    p = await planet(gql, token)
    assert theme(p, "green-energy-islands")["unlocked"] and p["level"] == 2
    assert [e["id"] for e in p["eggs"]] == ["first-metro", "ten-thousand-steps"]
    sunshine = theme(p, "city-of-sunshine")
    assert sunshine["requirements"][0]["progress"] == 1 and not sunshine["unlocked"]

    # Day 3: two more rides (3 metro in all, 3 days in a row) -> City of Sunshine and
    # Clearwater Bay, and a second egg for the streak.
    await send(client, [trip("m2", pid, start=day(1)), trip("m3", pid, start=day(1) + timedelta(hours=9))])
    p = await planet(gql, token)
    unlocked = [t["id"] for t in p["themes"] if t["unlocked"]]
    assert unlocked == ["green-energy-islands", "city-of-sunshine", "clearwater-bay"]
    assert all(t["unlockedAt"] for t in p["themes"] if t["unlocked"])
    assert sorted(e["id"] for e in p["eggs"]) == ["first-metro", "ten-thousand-steps", "three-day-streak"]
    # planet growth is the ledger's growth balance, egg rewards included
    assert p["growth"] == (await balances(pid))[Asset.GROWTH] == 60 + 180 + 20 + 10 + 30

    # Eggs are found once: more rides add growth but no second egg.
    await send(client, [trip("m4", pid, start=day(1) + timedelta(hours=12))])
    again = await planet(gql, token)
    assert len(again["eggs"]) == 3

    chosen = await gql(op("SetActiveTheme"), {"themeId": "city-of-sunshine"}, token=token)
    assert chosen["data"]["setActiveTheme"] == {"planet": {"activeTheme": {"id": "city-of-sunshine"}}, "errors": []}
    locked = await gql(op("SetActiveTheme"), {"themeId": "glacier-watch"}, token=token)
    assert locked["data"]["setActiveTheme"]["errors"][0]["code"] == "LOCKED"
    unknown = await gql(op("SetActiveTheme"), {"themeId": "atlantis"}, token=token)
    assert unknown["data"]["setActiveTheme"]["errors"][0]["code"] == "NOT_FOUND"


async def test_the_quiz_is_one_question_a_day_answered_once(gql):
    session = await gql.login()
    token, pid = session["accessToken"], session["player"]["id"]
    first = (await gql(op("DailyQuiz"), token=token))["data"]["dailyQuiz"]
    second = (await gql(op("DailyQuiz"), token=token))["data"]["dailyQuiz"]
    assert first == second and first["answered"] is False
    from app.planet.service import daily_question
    from game.model import in_language
    from game.rules import default_rules

    question = daily_question(default_rules(), pid, datetime.now(CST).date())
    answer = await gql(op("AnswerQuiz"), {"quizId": first["id"], "choiceId": question.answer}, token=token)
    explanation = in_language(question, "explanation", reader_language(gql))
    assert answer["data"]["answerQuiz"] == {"correct": True, "explanation": explanation,
                                            "growthAwarded": 10, "errors": []}
    twice = await gql(op("AnswerQuiz"), {"quizId": first["id"], "choiceId": question.answer}, token=token)
    assert twice["data"]["answerQuiz"]["errors"][0]["code"] == "LIMIT_REACHED"
    assert (await gql(op("DailyQuiz"), token=token))["data"]["dailyQuiz"]["answered"] is True
    assert (await balances(pid))[Asset.GROWTH] == 10


async def test_wrong_or_stale_quiz_answers(gql):
    session = await gql.login()
    token = session["accessToken"]
    quiz = (await gql(op("DailyQuiz"), token=token))["data"]["dailyQuiz"]
    stale = await gql(op("AnswerQuiz"), {"quizId": "2020-01-01:metro-saving", "choiceId": "a"}, token=token)
    assert stale["data"]["answerQuiz"]["errors"][0]["code"] == "INVALID_INPUT"
    bad_choice = await gql(op("AnswerQuiz"), {"quizId": quiz["id"], "choiceId": "zz"}, token=token)
    assert bad_choice["data"]["answerQuiz"]["errors"][0]["field"] == "choiceId"
    wrong = next(c["id"] for c in quiz["choices"]
                 if c["id"] != _answer(session["player"]["id"]))
    result = await gql(op("AnswerQuiz"), {"quizId": quiz["id"], "choiceId": wrong}, token=token)
    assert result["data"]["answerQuiz"]["correct"] is False and result["data"]["answerQuiz"]["growthAwarded"] == 0
    assert (await balances(session["player"]["id"]))[Asset.GROWTH] == 0


def _answer(player_id: str) -> str:
    from app.planet.service import daily_question
    from game.rules import default_rules

    return daily_question(default_rules(), player_id, datetime.now(CST).date()).answer


async def test_friends_are_one_way_and_listed(gql):
    me = await gql.login("+8613800138001")
    other = await gql.login("+8613800138002")
    added = await gql(op("AddFriend"), {"playerId": other["player"]["id"]}, token=me["accessToken"])
    assert added["data"]["addFriend"] == {"ok": True, "errors": []}
    again = await gql(op("AddFriend"), {"playerId": other["player"]["id"]}, token=me["accessToken"])
    assert again["data"]["addFriend"]["ok"] is True
    mine = (await gql(op("Friends"), token=me["accessToken"]))["data"]["me"]["friends"]
    assert mine == [{"id": other["player"]["id"], "nickname": other["player"]["nickname"]}]
    theirs = (await gql(op("Friends"), token=other["accessToken"]))["data"]["me"]["friends"]
    assert theirs == []
    self_add = await gql(op("AddFriend"), {"playerId": me["player"]["id"]}, token=me["accessToken"])
    assert self_add["data"]["addFriend"]["errors"][0]["code"] == "INVALID_INPUT"
    nobody = await gql(op("AddFriend"), {"playerId": "00000000-0000-0000-0000-000000000000"},
                       token=me["accessToken"])
    assert nobody["data"]["addFriend"]["errors"][0]["code"] == "NOT_FOUND"
    removed = await gql("mutation($id: ID!) { removeFriend(playerId: $id) { ok } }",
                        {"id": other["player"]["id"]}, token=me["accessToken"])
    assert removed["data"]["removeFriend"]["ok"] is True
    assert (await gql(op("Friends"), token=me["accessToken"]))["data"]["me"]["friends"] == []


@contextlib.asynccontextmanager
async def subscribed(app, token: str):
    async with AsyncClient(transport=ASGIWebSocketTransport(app), base_url="http://t",
                           headers=ENGLISH) as c:
        async with aconnect_ws("/graphql", c, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
            assert (await ws.receive_json())["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": op("PlanetEvents")}})
            yield ws


async def test_planet_events_reach_only_the_players_own_devices(gql, client, app):
    import asyncio

    me = await gql.login("+8613800138001")
    other = await gql.login("+8613800138002")
    async with subscribed(app, me["accessToken"]) as mine, subscribed(app, other["accessToken"]) as theirs:
        await asyncio.sleep(0.2)  # let both subscriptions reach Redis
        await send(client, [trip("e1", me["player"]["id"], start=day(1))])  # 60 + egg 20
        await gql(SYNC, {"date": day(0).date().isoformat(), "steps": 3000}, token=me["accessToken"])
        events = []
        while len(events) < 4:
            message = await asyncio.wait_for(mine.receive_json(), 5)
            assert message["type"] == "next", message
            events.append(message["payload"]["data"]["planetEvents"])
        assert [(e["kind"], e["eggId"], e["themeId"], e["level"]) for e in events] == [
            ("EGG_FOUND", "first-metro", "city-of-sunshine", None),
            ("EGG_FOUND", "ten-thousand-steps", "green-energy-islands", None),
            ("THEME_UNLOCKED", None, "green-energy-islands", None),
            ("LEVEL_UP", None, None, 2),
        ]
        try:
            stray = await asyncio.wait_for(theirs.receive_json(), 0.5)
        except TimeoutError:
            stray = None
        assert stray is None


async def test_game_rewards_credit_the_ledger_once(gql, client):
    from app.ledger.models import LedgerTransaction
    from app.ledger.verify import verify_ledger

    session = await gql.login()
    pid = session["player"]["id"]
    for i in range(3):
        await send(client, [trip(f"r{i}", pid, start=day(1) + timedelta(hours=i))])
    assert await LedgerTransaction.filter(type="EGG_REWARD").count() == 2
    assert (await verify_ledger()).ok
