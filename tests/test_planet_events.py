"""Planet events over Redis pub/sub: they reach the players someone is listening to, and
nothing is published for the others."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import fakeredis

from app.planet.events import PlanetEvents, channel
from game.engine import EggFound, LevelUp

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def next_message(pubsub, timeout: float = 1.0) -> dict | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if message is not None:
            return message
    return None


async def test_events_go_only_to_players_someone_listens_to():
    redis = fakeredis.FakeAsyncRedis()
    events = PlanetEvents(redis)
    observer = redis.pubsub()  # sees every message actually published
    await observer.psubscribe("planet-events:*")
    listening = events.listen("alice")
    received = asyncio.ensure_future(anext(listening))
    for _ in range(50):  # until alice's subscription is registered
        if (await redis.pubsub_numsub(channel("alice")))[0][1]:
            break
        await asyncio.sleep(0.01)

    await events.publish_many([("bob", [LevelUp(2)], AT),
                               ("alice", [EggFound("e1", "forest", 5), LevelUp(3)], AT)])

    first = await asyncio.wait_for(received, 1)
    assert (first.kind, first.egg_id, first.theme_id) == ("EGG_FOUND", "e1", "forest")
    assert (await anext(listening)).level == 3
    published = []
    while (message := await next_message(observer, 0.3)) is not None:
        published.append((message["channel"].decode(), json.loads(message["data"])["kind"]))
    assert published == [(channel("alice"), "EGG_FOUND"), (channel("alice"), "LEVEL_UP")]
    await listening.aclose()
    await observer.aclose()
