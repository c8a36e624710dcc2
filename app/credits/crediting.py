"""Turning a calculation into an activity and ledger credit, inside the caller's transaction.

Locks are taken in one order on every crediting path: the day's totals, the planets, then
the ledger accounts (see `CreditService.play_then_post`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from app.credits.models import DailyCredit
from app.ledger.models import LedgerTransaction
from app.ledger.service import Asset, Entry, credit, post_many_in_transaction
from app.settings import Settings
from methodology import Calculation, DailyTotals, MethodologyRegistry, rounding_text


def totals(daily: DailyCredit) -> DailyTotals:
    return DailyTotals(
        reduction_grams=daily.reduction_grams,
        points=daily.points,
        growth=daily.growth,
        energy=daily.energy,
        steps=daily.steps,
    )


def provenance(calc: Calculation) -> dict:
    """What an activity keeps of its calculation: the factors and caps used and, for scenes
    beyond travel, the inputs as read. The factors' sources and the rounding belong to the
    methodology version and are added where the provenance is shown (`explained`): kept
    with every activity they would be most of its row (a kilobyte for a bill)."""
    found = {"factors": dict(calc.factors), "capsApplied": list(calc.caps_applied)}
    if calc.inputs:
        found["inputs"] = dict(calc.inputs)
    return found


def explained(stored: dict, kind: str, methodology_id: str | None, version: int | None,
              registry: MethodologyRegistry) -> dict:
    """An activity's provenance as shown: as kept, with each factor's source and, for a
    scene beyond travel, the rounding, from its methodology version. Activities credited
    before the sources were left out of the row keep their own."""
    if not stored or methodology_id is None or version is None:
        return stored
    shown = dict(stored)
    if "sources" not in shown:
        known = registry.factor_sources(methodology_id, version)
        shown["sources"] = {key: known[key] for key in stored.get("factors", {}) if key in known}
    if "inputs" in shown and "rounding" not in shown:
        methodology = registry.get(methodology_id, version)
        shown["rounding"] = rounding_text(methodology, kind) if methodology is not None else ""
    return shown


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


def credit_entry(player_id: str, activity_id, amounts: dict[Asset, int],
                 key: str | None = None) -> Entry | None:
    """The ledger transaction crediting an activity's amounts (None if all are zero). Its
    idempotency key names the activity unless given, so each activity is credited at most
    once (a day's steps, credited in increments, name the new total instead)."""
    if not any(amounts.values()):
        return None
    return Entry("ACTIVITY_CREDIT", key or f"activity:{activity_id}",
                 credit(str(player_id), amounts), reference=f"activity:{activity_id}")


class CreditHooks:
    """What a credit sets off besides the ledger: the planet game (inside the credit's
    transaction, before the ledger step, handing back its own ledger entries) and, once
    committed, live events and leaderboards. The base class does nothing;
    `app.planet.hooks.GameHooks` is the real one."""

    async def on_activities(self, activities: list) -> tuple[list[list], list[Entry]]:
        """For each (player, kind, growth, day, count), in order: its game effects; and
        the ledger entries (egg rewards) the caller posts with its credits."""
        return [[] for _ in activities], []

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

    async def play_then_post(self, events: list, credits: list[Entry]
                             ) -> tuple[list[list], list[LedgerTransaction]]:
        """The game's part of some credits, then the credits and the game's rewards in one
        ledger step, the last lock taken: the shared issuance accounts are held only
        from here to commit. Each event's effects, and the credits' transactions."""
        effects, rewards = await self.game.on_activities(events)
        txs = await post_many_in_transaction(credits + rewards)
        return effects, txs[:len(credits)]
