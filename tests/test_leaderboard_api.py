"""The Leaderboard query over GraphQL, rebuild from the ledger, and a Redis outage."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from graphql import parse, print_ast

from app.accounts.models import Player
from tests.conftest import ENGLISH, GraphQLClient
from tests.partner_client import CST, send, trip

GAME = (Path(__file__).parent / "contract" / "game.graphql").read_text()
[BOARD] = [print_ast(d) for d in parse(GAME).definitions if d.name and d.name.value == "Leaderboard"]


def yesterday(hour: int) -> datetime:
    d = datetime.now(CST).date() - timedelta(days=1)
    return datetime(d.year, d.month, d.day, hour, tzinfo=CST)


async def players(gql, n: int, city: str = "shenzhen") -> list[dict]:
    sessions = []
    for i in range(n):
        s = await gql.login(f"+86138001390{i:02d}")
        await Player.filter(id=s["player"]["id"]).update(city=city if i % 3 else "qingdao")
        sessions.append(s)
    return sessions


async def board(gql, token: str, scope: str, period: str, first: int = 10) -> dict:
    result = await gql(BOARD, {"scope": scope, "period": period, "first": first}, token=token)
    assert "errors" not in result, result
    return result["data"]["leaderboard"]


async def test_ranks_scores_ties_and_around(gql, client):
    ps = await players(gql, 6)
    # player i rides i+1 km of metro yesterday: 46 g per km, so the board is reversed order
    meters = [2000, 4000, 6000, 8000, 8000, 12000]
    for i, (p, m) in enumerate(zip(ps, meters, strict=True)):
        if i == 4:  # ties break on the second a score was reached: player 3 gets there first
            await asyncio.sleep(1.1)
        await send(client, [trip(f"lb-{i}", p["player"]["id"], meters=m, minutes=30, start=yesterday(7 + i))])
    top = await board(gql, ps[0]["accessToken"], "GLOBAL", "ALL_TIME")
    names = [e["player"]["id"] for e in top["entries"]]
    scores = [e["score"] for e in top["entries"]]
    ids = [p["player"]["id"] for p in ps]
    # 8,000 m tie: player 3's was credited a second earlier -> player 3 first
    assert names == [ids[5], ids[3], ids[4], ids[2], ids[1], ids[0]]
    assert scores == [560, 373, 373, 280, 186, 93]
    assert [e["rank"] for e in top["entries"]] == [1, 2, 3, 4, 5, 6]
    bottom = await board(gql, ps[0]["accessToken"], "GLOBAL", "ALL_TIME")
    assert bottom["me"] == {"rank": 6, "score": 93}
    assert [e["rank"] for e in bottom["around"]] == [4, 5, 6]
    first = await board(gql, ps[5]["accessToken"], "GLOBAL", "WEEK")
    assert first["me"]["rank"] == 1 and [e["rank"] for e in first["around"]] == [1, 2, 3]
    middle = await board(gql, ps[2]["accessToken"], "GLOBAL", "ALL_TIME")
    assert [e["rank"] for e in middle["around"]] == [2, 3, 4, 5, 6]
    two = await board(gql, ps[0]["accessToken"], "GLOBAL", "ALL_TIME", first=2)
    assert len(two["entries"]) == 2
    # Boards count a reduction when it is credited (yesterday's trips sent today count
    # today), as the ledger records it, so live boards and a rebuild agree.
    today = await board(gql, ps[0]["accessToken"], "GLOBAL", "DAY")
    assert today["entries"] == top["entries"]


async def test_city_and_friends_scopes(gql, client):
    ps = await players(gql, 4)  # player 0 and 3 in qingdao, 1 and 2 in shenzhen
    for i, p in enumerate(ps):
        await send(client, [trip(f"c-{i}", p["player"]["id"], meters=3000 + 1000 * i, start=yesterday(8))])
    ids = [p["player"]["id"] for p in ps]
    city = await board(gql, ps[1]["accessToken"], "CITY", "ALL_TIME")
    assert [e["player"]["id"] for e in city["entries"]] == [ids[2], ids[1]]
    await gql('mutation($id: ID!) { addFriend(playerId: $id) { ok } }', {"id": ids[3]},
              token=ps[0]["accessToken"])
    friends = await board(gql, ps[0]["accessToken"], "FRIENDS", "ALL_TIME")
    assert [e["player"]["id"] for e in friends["entries"]] == [ids[3], ids[0]]
    assert friends["me"]["rank"] == 2


async def test_rebuild_gives_identical_boards(gql, client, app, settings):
    ps = await players(gql, 3)
    for i, p in enumerate(ps):
        await send(client, [trip(f"rb-{i}", p["player"]["id"], meters=5000 + 700 * i, start=yesterday(9))])
    redis = app.state.services.redis

    async def snapshot() -> dict:
        keys = sorted([k async for k in redis.scan_iter(match="lb:*")])
        return {k: await redis.zrange(k, 0, -1, withscores=True) for k in keys}

    live = await snapshot()
    assert len(live) == 12  # global, qingdao and shenzhen boards x DAY, WEEK, MONTH, ALL_TIME
    await redis.flushdb()
    if settings.redis_url:  # the command, in its own process, against the same Redis
        done = subprocess.run(
            [str(Path(sys.executable).parent / "carbon-planet"), "leaderboard", "rebuild"],
            env={**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url},
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "rebuilt from 3 ledger lines" in done.stdout
    else:  # embedded fakeredis lives in this process: rebuild here
        from app.leaderboards.rebuild import rebuild_from_ledger

        assert await rebuild_from_ledger(redis, settings.default_timezone) == 3
    assert await snapshot() == live


async def test_a_redis_outage_fails_only_the_leaderboard_and_boards_catch_up(make_app, settings):
    await make_app()  # the first app empties the database and Redis
    app = await make_app(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers=ENGLISH) as http:
        gql = GraphQLClient(http, app)
        session = await gql.login()
        pid = session["player"]["id"]
        response = await send(http, [trip("down-1", pid, start=yesterday(8))])
        assert response.json()["results"][0]["status"] == "accepted"
        result = await gql("""{ me { balances { reductionGrams } }
          leaderboard(scope: GLOBAL, period: ALL_TIME) { me { rank score } } }""",
                           token=session["accessToken"])
        assert result["data"]["me"]["balances"]["reductionGrams"] == 600, result
        assert result["data"]["leaderboard"] is None
        assert result["errors"][0]["path"] == ["leaderboard"]
        assert result["errors"][0]["extensions"]["code"] == "NOT_AVAILABLE", result
        assert (await http.get("/readyz")).status_code == 503
        hooks = app.state.services.game
        assert hooks.boards_stale
        assert await hooks.refresh_if_stale() is False  # still down: stays stale

        # Redis "returns": point the boards at a live one; the next refresh rebuilds them.
        from app.leaderboards.boards import Leaderboards
        from app.redis import create_redis

        hooks.boards = Leaderboards(create_redis(settings), settings.default_timezone)
        assert await hooks.refresh_if_stale() is True
        top = await hooks.boards.top("GLOBAL", "ALL_TIME", 10)
        assert [(e.player_id, e.score) for e in top] == [(pid, 600)]
