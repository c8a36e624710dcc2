"""Demo content for an empty database. Each domain adds its own seeder to `SEEDERS`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

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


async def seed_trips() -> str:
    """A few metro, bus and bike trips yesterday for the demo citizens, through real ingestion."""
    from app.credits.ingest import Ingestor
    from app.leaderboards.boards import Leaderboards
    from app.planet.events import PlanetEvents
    from app.planet.hooks import GameHooks
    from app.redis import create_redis
    from app.settings import get_settings
    from game.rules import default_rules
    from methodology import default_registry

    settings = get_settings()
    redis = create_redis(settings)
    game = GameHooks(SimpleNamespace(rules=default_rules()), PlanetEvents(redis),
                     Leaderboards(redis, settings.default_timezone))
    zone = ZoneInfo(settings.default_timezone)
    day = datetime.now(zone).date() - timedelta(days=1)
    records = []
    for n, (phone, *_rest) in enumerate(DEMO_PLAYERS[:4]):
        player = await Player.get(phone=phone)
        for i, (kind, meters, minutes) in enumerate(DEMO_TRIPS[n:] + DEMO_TRIPS[:n]):
            start = datetime.combine(day, time(7 + 2 * i, 10 * n), tzinfo=zone)
            records.append({"id": f"demo-{phone}-{i}", "subject": str(player.id), "kind": kind,
                            "startedAt": start.isoformat(),
                            "endedAt": (start + timedelta(minutes=minutes)).isoformat(),
                            "distanceMeters": meters})
    outcomes = await Ingestor(settings, default_registry(), game).ingest("demo", records)
    await redis.aclose()
    accepted = sum(o.status == "accepted" for o in outcomes)
    return f"{accepted} demo trips credited yesterday (partner 'demo')"


DEMO_TRIPS = [("metro", 12850, 31), ("bus", 6400, 25), ("bike_share", 2300, 11), ("walking", 1800, 24)]

SEEDERS: list[Callable[[], Awaitable[str]]] = [seed_players, seed_trips]


async def database_is_empty() -> bool:
    return not await Player.exists()


async def seed_demo() -> list[str]:
    return [await seeder() for seeder in SEEDERS]

