"""Demo content for an empty database. Each domain adds its own seeder to `SEEDERS`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.accounts.models import Player

DEMO_PLAYERS = [
    # phone, nickname, city, roles
    ("+8613800000001", "绿色通勤者", "shenzhen", ["player"]),
    ("+8613800000002", "地铁达人", "shenzhen", ["player"]),
    ("+8613800000003", "步行小星", "qingdao", ["player"]),
    ("+8613800000004", "骑行青年", "nanjing", ["player"]),
    ("+8613800000090", "Game Designer", "shenzhen", ["player", "designer"]),
    ("+8613800000091", "Scene Operator", "shenzhen", ["player", "operator"]),
    ("+8613800000092", "Merchant Staff", "shenzhen", ["player", "merchant"]),
    ("+8613800000099", "Administrator", "shenzhen", ["player", "admin"]),
]


async def seed_players() -> str:
    for phone, nickname, city, roles in DEMO_PLAYERS:
        await Player.create(phone=phone, nickname=nickname, city=city, roles=roles)
    return f"{len(DEMO_PLAYERS)} players (log in with their phones, e.g. {DEMO_PLAYERS[0][0]})"


SEEDERS: list[Callable[[], Awaitable[str]]] = [seed_players]


async def database_is_empty() -> bool:
    return not await Player.exists()


async def seed_demo() -> list[str]:
    return [await seeder() for seeder in SEEDERS]

