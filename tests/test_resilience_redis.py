"""Redis loses the leaderboards (FLUSHDB, or a restart without persistence): they come back
identical from the ledger, and while Redis is away only `leaderboard` fails.

The server runs in its own process against a Redis reached over TCP. In CI's real pass that
is the Redis server (database from REDIS_URL). In the embedded pass there is no Redis server,
so the test process serves one with fakeredis's TCP server: the same protocol and commands
(Lua included) the app uses, which the test can flush and cut off. The shared Redis server
itself is never restarted (other test runs use its other databases): a restart is a TCP
relay that resets every connection and refuses new ones, while the database is flushed, as
a restart without persistence leaves it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from fakeredis import TcpFakeServer
from redis.asyncio import Redis

from app.accounts.models import Player
from app.leaderboards import keys as K
from app.leaderboards.boards import INCREMENT_LUA
from app.ledger.service import Asset, balances
from tests.partner_client import CST, send, trip
from tests.resilience_support import (
    ServerProcess,
    TcpProxy,
    board_snapshot,
    free_port,
    gql_post,
    new_players,
    run_command,
    server_env,
    wait_until,
)

CITIES = ["shenzhen", "beijing", "qingdao", None]
BOARD = """query($scope: LeaderboardScope!, $period: LeaderboardPeriod!) {
  leaderboard(scope: $scope, period: $period, first: 100) { entries { score player { id } } } }"""


@pytest.fixture
async def redis_server(app, settings):
    """(host, port, db) of a Redis the test may flush: REDIS_URL's, or a TCP fakeredis."""
    if settings.redis_url:
        url = urlsplit(settings.redis_url)
        yield url.hostname or "127.0.0.1", url.port or 6379, int(url.path.strip("/") or 0)
        return
    fake = TcpFakeServer(("127.0.0.1", free_port()), server_type="redis")
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake.server_address[0], fake.server_address[1], 0
    fake.shutdown()
    fake.server_close()


@pytest.fixture
async def redis(redis_server, settings):
    host, port, db = redis_server
    client = Redis(host=host, port=port, db=db, decode_responses=True)
    await client.flushdb()
    if not settings.redis_url:
        # fakeredis's TCP server drops the connection where Redis answers NOSCRIPT (on the
        # first EVALSHA of the boards' script), so load the script once, as it stays loaded
        # on a real server anyway.
        await client.script_load(INCREMENT_LUA)
    yield client
    await client.aclose()


async def populate(settings, http: httpx.AsyncClient, prefix: str, count: int = 24) -> list[tuple[str, str]]:
    """`count` players in three cities (and some with none), 1 to 4 metro trips each, sent
    as concurrent signed batches through the server."""
    players = await new_players(settings, count, prefix)
    for i, (pid, _) in enumerate(players):
        await Player.filter(id=pid).update(city=CITIES[i % len(CITIES)])
    start = datetime.now(CST) - timedelta(hours=2)
    records = [trip(f"{prefix}{i}-{n}", pid, meters=1500 + 250 * ((i * 7 + n) % 11), minutes=10,
                    start=start + timedelta(minutes=n))
               for i, (pid, _) in enumerate(players) for n in range(1 + i % 4)]
    responses = await asyncio.gather(*(send(http, records[k::4]) for k in range(4)))
    statuses = Counter(r["status"] for resp in responses for r in resp.json()["results"])
    assert statuses == Counter({"accepted": len(records)}), statuses
    return players


async def ledger_scores(players: list[tuple[str, str]]) -> dict[str, int]:
    return {pid: (await balances(pid))[Asset.CO2E_GRAMS] for pid, _ in players}


async def api_board(http: httpx.AsyncClient, token: str, scope: str = "GLOBAL",
                    period: str = "ALL_TIME") -> httpx.Response:
    return await gql_post(http, BOARD, {"scope": scope, "period": period}, token=token)


def scores_of(response: httpx.Response) -> dict[str, int]:
    body = response.json()
    assert "errors" not in body, body
    return {e["player"]["id"]: e["score"] for e in body["data"]["leaderboard"]["entries"]}


def check_boards(snapshot: dict, expected: dict[str, int]) -> None:
    """The live boards are what the ledger says: 4 periods x (global + each city)."""
    assert len(snapshot) == 4 * (1 + 3), sorted(snapshot)
    members, expires = snapshot[K.global_key("all")]
    assert {m: K.decode_score(s) for m, s in members} == expected
    assert not expires and all(exp for key, (_, exp) in snapshot.items() if not key.endswith(":all"))


async def test_flushed_boards_are_rebuilt_identical(settings, redis_server, redis, tmp_path):
    host, port, db = redis_server
    url = f"redis://{host}:{port}/{db}"
    server = ServerProcess(settings, tmp_path, REDIS_URL=url)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
            players = await populate(settings, http, "flush-")
            expected = await ledger_scores(players)
            live = await board_snapshot(redis)
            check_boards(live, expected)
            token = players[0][1]
            assert scores_of(await api_board(http, token)) == expected

            await redis.flushdb()
            assert await board_snapshot(redis) == {}

            code, out = await run_command("leaderboard", "rebuild",
                                          env=server_env(settings, REDIS_URL=url))
            assert code == 0, out
            assert f"rebuilt from {sum(1 + i % 4 for i in range(len(players)))} ledger lines" in out
            assert await board_snapshot(redis) == live  # every key, member and score; TTLs set
            # the running server reads the rebuilt boards (no restart)
            assert scores_of(await api_board(http, token)) == expected
            city = scores_of(await api_board(http, token, "CITY", "WEEK"))
            assert city == {pid: g for i, (pid, g) in enumerate(expected.items())
                            if CITIES[i % len(CITIES)] == "shenzhen"}
    finally:
        server.stop()
    assert server.starts == 1


async def test_redis_restart_fails_only_leaderboards_and_the_server_rebuilds_them(
        settings, redis_server, redis, tmp_path):
    host, port, db = redis_server
    proxy = TcpProxy(host, port)
    await proxy.up()
    server = ServerProcess(settings, tmp_path, REDIS_URL=f"redis://127.0.0.1:{proxy.port}/{db}")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
            players = await populate(settings, http, "restart-")
            token = players[0][1]
            before = await board_snapshot(redis)
            check_boards(before, await ledger_scores(players))

            # Redis "restarts": every connection reset, nothing listening, data gone.
            await proxy.down()
            await redis.flushdb()

            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "ok"
            assert ready.json()["checks"]["redis"].startswith("error")
            result = (await gql_post(http, """{ me { balances { reductionGrams } }
              leaderboard(scope: GLOBAL, period: ALL_TIME) { entries { score } } }""",
                                     token=token)).json()
            assert result["data"]["leaderboard"] is None
            assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
                (["leaderboard"], "NOT_AVAILABLE")]
            assert result["data"]["me"]["balances"]["reductionGrams"] == (
                await balances(players[0][0]))[Asset.CO2E_GRAMS]
            # credits keep coming in while Redis is away
            during = [trip(f"during-{i}", pid, meters=4000, minutes=15)
                      for i, (pid, _) in enumerate(players[:6])]
            response = await send(http, during)
            assert [r["status"] for r in response.json()["results"]] == ["accepted"] * 6
            profile = (await gql_post(http, 'mutation { updateProfile(input: {nickname: "回来了"}) '
                                            '{ player { nickname } errors { code } } }',
                                      token=token)).json()
            assert profile["data"]["updateProfile"] == {"player": {"nickname": "回来了"}, "errors": []}

            # Redis is back: the server notices and rebuilds the boards from the ledger itself.
            await proxy.up()
            expected = await ledger_scores(players)

            async def boards_back() -> bool:
                response = await api_board(http, token)
                return "errors" not in response.json() and scores_of(response) == expected
            await wait_until(boards_back, "the server to rebuild the boards", seconds=60, every=0.5)
            assert (await http.get("/readyz")).status_code == 200
            rebuilt = await board_snapshot(redis)
            check_boards(rebuilt, expected)

            # identical to what the operator's command derives from the ledger
            code, out = await run_command("leaderboard", "rebuild", env=server_env(
                settings, REDIS_URL=f"redis://{host}:{port}/{db}"))
            assert code == 0, out
            assert await board_snapshot(redis) == rebuilt
    finally:
        server.stop()
        await proxy.down()
    assert server.starts == 1  # recovered without a restart of the app
