"""Live planet events (theme unlocked, egg found, level up) over Redis pub/sub, so every
server process can push a player's events to that player's open subscriptions."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from game.engine import Effect, EggFound, LevelUp, ThemeUnlockedEffect

log = logging.getLogger("carbon_planet.planet.events")


@dataclass(frozen=True)
class PlanetEventData:
    kind: str
    theme_id: str | None
    egg_id: str | None
    level: int | None
    at: datetime


def channel(player_id: str) -> str:
    return f"planet-events:{player_id}"


def _text(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else name


def to_message(effect: Effect, at: datetime) -> dict:
    if isinstance(effect, ThemeUnlockedEffect):
        return {"kind": "THEME_UNLOCKED", "themeId": effect.theme_id, "at": at.isoformat()}
    if isinstance(effect, EggFound):
        return {"kind": "EGG_FOUND", "themeId": effect.theme_id, "eggId": effect.egg_id,
                "at": at.isoformat()}
    assert isinstance(effect, LevelUp)
    return {"kind": "LEVEL_UP", "level": effect.level, "at": at.isoformat()}


class PlanetEvents:
    def __init__(self, redis: Redis | RedisCluster) -> None:
        self.redis = redis

    async def publish(self, player_id: str, effects: list[Effect], at: datetime) -> None:
        await self.publish_many([(player_id, effects, at)])

    async def publish_many(self, items: list[tuple[str, list[Effect], datetime]]) -> None:
        """Each (player, effects, at) in order, in one pipelined round trip, to the players
        someone is listening to. Best effort: a Redis outage must never undo or fail a credit."""
        items = [(channel(player_id), effects, at) for player_id, effects, at in items if effects]
        if not items:
            return
        try:
            if isinstance(self.redis, RedisCluster):  # a cluster pipeline routes by key only
                for name, effects, at in items:
                    for effect in effects:
                        await self.redis.publish(name, json.dumps(to_message(effect, at)))
                return
            listened = await self._listened({name for name, _, _ in items})
            pipe = self.redis.pipeline(transaction=False)
            for name, effects, at in items:
                if name in listened:
                    for effect in effects:
                        pipe.publish(name, json.dumps(to_message(effect, at)))
            if len(pipe):
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001
            log.warning("%d planet events not published: %s", sum(len(e) for _, e, _ in items), exc)

    async def _listened(self, channels: set[str]) -> set[str]:
        """The channels with a subscriber now (one PUBSUB NUMSUB): most players have no
        planet open while their records are credited, and a message nobody hears is work
        for nothing. Someone subscribing a moment later misses it, as they would have had
        it been sent a moment earlier: events are live only. Only subscriptions by channel
        count (as `listen` makes them), not pattern ones."""
        counts = await self.redis.pubsub_numsub(*channels)
        return {_text(name) for name, count in counts if count}

    async def listen(self, player_id: str) -> AsyncIterator[PlanetEventData]:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(channel(player_id))
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                data = json.loads(message["data"])
                yield PlanetEventData(
                    kind=data["kind"], theme_id=data.get("themeId"), egg_id=data.get("eggId"),
                    level=data.get("level"), at=datetime.fromisoformat(data["at"]),
                )
        finally:
            await pubsub.unsubscribe(channel(player_id))
            await pubsub.aclose()
