"""The game's side of a credit: planet state inside the credit's transaction; live events
and leaderboards once it has committed (both derived, so a Redis outage loses nothing:
the boards are rebuilt from the ledger when Redis answers again)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol

from app.accounts.models import Player
from app.credits.crediting import CreditHooks
from app.leaderboards.boards import Leaderboards
from app.leaderboards.rebuild import rebuild_from_ledger
from app.ledger.service import Entry
from app.planet import service as planet
from app.planet.events import PlanetEvents
from game.engine import Effect
from game.model import Rules


class RulesSource(Protocol):
    rules: Rules

log = logging.getLogger("carbon_planet.planet")


class GameHooks(CreditHooks):
    def __init__(self, rules: RulesSource, events: PlanetEvents, boards: Leaderboards) -> None:
        self.rules_source = rules
        self.events = events
        self.boards = boards
        self.boards_stale = False

    async def on_activities(self, activities: list[planet.PlanetActivity | tuple]
                            ) -> tuple[list[list[Effect]], list[Entry]]:
        return await planet.on_activities(activities, self.rules_source.rules)

    async def after_commit(self, player, reduction_grams: int, at: datetime | None,
                           effects: list[Effect]) -> None:
        await self.after_commit_many([(player, reduction_grams, at, effects)])

    async def after_commit_many(self, items: list[tuple[Player, int, datetime | None, list[Effect]]]
                                ) -> None:
        """`after_commit` for a batch: events as they come, the boards in one pipeline."""
        await self.events.publish_many([(str(player.id), effects, at or datetime.now().astimezone())
                                        for player, _, at, effects in items])
        try:
            await self.boards.record_many([(str(player.id), player.city, grams, at)
                                           for player, grams, at, _ in items if at is not None])
        except Exception as exc:  # noqa: BLE001 - Redis is derived; the ledger has it
            self.boards_stale = True
            log.warning("leaderboards not updated (%s); rebuilding when Redis answers", exc)

    async def refresh_if_stale(self) -> bool:
        """Rebuild the boards from the ledger if an update failed and Redis answers now."""
        if not self.boards_stale:
            return False
        try:
            await self.boards.redis.ping()
            self.boards_stale = False
            lines = await rebuild_from_ledger(self.boards.redis, self.boards.timezone)
        except Exception as exc:  # noqa: BLE001
            self.boards_stale = True
            log.info("Redis still unavailable for leaderboards: %s", exc)
            return False
        log.info("leaderboards rebuilt from %d ledger lines after a Redis outage", lines)
        return True

    async def keep_boards_fresh(self, interval: float = 5.0) -> None:
        """Background task of each server process (see `refresh_if_stale`)."""
        while True:
            await asyncio.sleep(interval)
            await self.refresh_if_stale()
