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
    ("+8613800000094", "Theme Reviewer", "shenzhen", ["player", "designer"]),  # approves
    ("+8613800000091", "Scene Operator", "shenzhen", ["player", "operator"]),
    ("+8613800000092", "Merchant Staff", "shenzhen", ["player", "merchant"]),
    ("+8613800000093", "Ecology Bureau", "shenzhen", ["player", "regulator"]),
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


async def seed_shop() -> str:
    """A small shop: a coupon pool, a gift in limited stock, a red packet, a donation, a ride."""
    from app.settings import get_settings
    from app.shop import catalogue
    from app.shop.catalogue import ItemFields

    operator = await Player.get(phone="+8613800000091")
    actor, cities = str(operator.id), get_settings().cities
    items = [
        ItemFields(kind="COUPON", title="咖啡店满30减10券", title_en="¥10 off ¥30 at a coffee shop",
                   price_points=120, uses_codes=True, per_player_limit=1, limit_period="WEEK"),
        ItemFields(kind="PHYSICAL_GIFT", title="低碳星球帆布袋", title_en="Low-carbon planet tote bag",
                   price_points=800, stock=50, per_player_limit=1),
        ItemFields(kind="CASH_RED_PACKET", title="数字人民币红包 ¥1.88",
                   title_en="¥1.88 digital-RMB red packet", price_points=200, cash_fen=188,
                   stock=1000, per_player_limit=3, limit_period="MONTH"),
        ItemFields(kind="DONATION", title="以你的名义种一棵梭梭树",
                   title_en="A saxaul tree planted in your name", price_points=1500),
        ItemFields(kind="TRANSIT_RIDE", title="深圳地铁单程票", title_en="Shenzhen metro single ride",
                   price_points=300, stock=500, per_player_limit=2, limit_period="DAY",
                   cities=["shenzhen"]),
    ]
    made = [await catalogue.create_item(actor, f, f"demo-item-{i}", cities)
            for i, f in enumerate(items)]
    result = await catalogue.import_codes(actor, str(made[0].id),
                                          [f"DEMO-COFFEE-{n:04d}" for n in range(20)])
    return f"{len(made)} shop items ({result.imported} coupon codes)"


async def seed_merchants() -> str:
    """A café that takes points at the till, with the demo merchant-staff account on its staff."""
    from app.merchants import service
    from app.settings import get_settings

    operator = await Player.get(phone="+8613800000091")
    staff = await Player.get(phone="+8613800000092")
    merchant = await service.create_merchant(str(operator.id), "绿叶咖啡 Green Leaf Café",
                                             "shenzhen", "demo-merchant-0", get_settings().cities)
    await service.add_staff(str(operator.id), str(merchant.id), str(staff.id))
    return f"1 merchant ({merchant.name}, id {merchant.id}), staffed by {staff.phone}"


DEMO_TRIPS = [("metro", 12850, 31), ("bus", 6400, 25), ("bike_share", 2300, 11), ("walking", 1800, 24)]

SEEDERS: list[Callable[[], Awaitable[str]]] = [seed_players, seed_trips, seed_shop, seed_merchants]


async def database_is_empty() -> bool:
    return not await Player.exists()


async def seed_demo() -> list[str]:
    return [await seeder() for seeder in SEEDERS]

