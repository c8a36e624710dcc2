"""Turning a calculation into an activity and ledger credit, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.clock import utcnow
from app.credits.models import Activity, DailyCredit
from app.ledger.service import Asset, credit, post_in_transaction
from app.settings import Settings
from methodology import Calculation, DailyTotals, MethodologyRegistry


def totals(daily: DailyCredit) -> DailyTotals:
    return DailyTotals(
        reduction_grams=daily.reduction_grams,
        points=daily.points,
        growth=daily.growth,
        energy=daily.energy,
        steps=daily.steps,
    )


def provenance(calc: Calculation) -> dict:
    return {"factors": dict(calc.factors), "capsApplied": list(calc.caps_applied)}


def add_to_daily(daily: DailyCredit, calc: Calculation) -> dict[Asset, int]:
    """Add a calculation to the day's totals (in memory); the amounts it credits."""
    daily.reduction_grams += calc.reduction_grams
    daily.points += calc.points
    daily.growth += calc.growth
    daily.energy += calc.energy
    return {
        Asset.CO2E_GRAMS: calc.reduction_grams,
        Asset.CARBON_POINT: calc.points,
        Asset.GROWTH: calc.growth,
        Asset.ENERGY: calc.energy,
    }


async def credit_activity(activity: Activity, calc: Calculation, daily: DailyCredit,
                          key: str) -> datetime:
    """Post the calculation's amounts for `activity`, add them to the day's totals, and
    return the ledger time of the credit (when the player reached their new score)."""
    amounts = add_to_daily(daily, calc)
    credited_at = utcnow()
    if any(amounts.values()):
        tx = await post_in_transaction("ACTIVITY_CREDIT", key, credit(str(activity.player_id), amounts),
                                       reference=f"activity:{activity.id}")
        credited_at = tx.created_at
    await daily.save(update_fields=["reduction_grams", "points", "growth", "energy", "steps",
                                    "activity_id"])
    return credited_at


class CreditHooks:
    """What a credit sets off besides the ledger: the planet game (inside the credit's
    transaction) and, once committed, live events and leaderboards. The base class does
    nothing; `app.planet.hooks.GameHooks` is the real one."""

    async def on_activity(self, player_id: str, kind: str, growth: int, day, count: int) -> list:
        return []

    async def on_activities(self, activities: list) -> list[list]:
        """`on_activity` for several (player, kind, growth, day, count) at once."""
        return [[] for _ in activities]

    async def after_commit(self, player, reduction_grams: int, at, effects: list) -> None:
        return None

    async def after_commit_many(self, items: list) -> None:
        """`after_commit` for several (player, grams, at, effects)."""
        for item in items:
            await self.after_commit(*item)


class CreditService:
    """What ingestion and step sync share: settings, methodologies, game hooks, local zone."""

    def __init__(self, settings: Settings, registry: MethodologyRegistry,
                 game: CreditHooks | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.game = game or CreditHooks()
        self.zone = ZoneInfo(settings.default_timezone)
