"""Turning a calculation into an activity and ledger credit, inside the caller's transaction."""

from __future__ import annotations

from app.credits.models import Activity, DailyCredit
from app.ledger.service import Asset, credit, post_in_transaction
from methodology import Calculation, DailyTotals


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


async def credit_activity(activity: Activity, calc: Calculation, daily: DailyCredit,
                          key: str) -> None:
    """Post the calculation's amounts for `activity` and add them to the day's totals."""
    amounts = {
        Asset.CO2E_GRAMS: calc.reduction_grams,
        Asset.CARBON_POINT: calc.points,
        Asset.GROWTH: calc.growth,
        Asset.ENERGY: calc.energy,
    }
    if any(amounts.values()):
        await post_in_transaction("ACTIVITY_CREDIT", key, credit(str(activity.player_id), amounts),
                                  reference=f"activity:{activity.id}")
    daily.reduction_grams += calc.reduction_grams
    daily.points += calc.points
    daily.growth += calc.growth
    daily.energy += calc.energy
    await daily.save(update_fields=["reduction_grams", "points", "growth", "energy", "steps",
                                    "activity_id"])
