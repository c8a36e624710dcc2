"""Balances and the player's own ledger: thin resolvers over `app.ledger`."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.ledger.models import LedgerLine
from app.ledger.service import Asset as AssetEnum
from schema.loaders import Loaders, PageKey
from schema.pagination import Connection, paginate

strawberry.enum(AssetEnum, name="Asset")  # marks the class itself (the alias below)
Asset = AssetEnum


@strawberry.type
class Balances:
    carbon_points: int = strawberry.field(description="Spendable carbon points (碳积分).")
    growth: int = strawberry.field(description="Growth (成长值): drives the planet, not spendable.")
    energy: int = strawberry.field(description="Energy (精力值): the health account fed by steps.")
    reduction_grams: int = strawberry.field(description="Certified CO2e reduced, in grams.")


@strawberry.type
class LedgerEntry:
    id: strawberry.ID
    tx_id: strawberry.ID
    type: str
    asset: Asset
    amount: int
    balance_after: int
    created_at: datetime
    hash: str = strawberry.field(description="This line's place in the account's hash chain.")
    reference: str | None = strawberry.field(default=None, description=(
        "What the transaction is about, e.g. activity:<id> for an activity's credit or its "
        "withdrawal (type activity.withdrawal: the activity's withdrawal says why)."))

    @classmethod
    def from_model(cls, line: LedgerLine) -> LedgerEntry:
        return cls(
            id=strawberry.ID(str(line.id)),
            tx_id=strawberry.ID(str(line.transaction_id)),
            type=line.transaction.type,
            asset=AssetEnum(line.asset),
            amount=line.amount,
            balance_after=line.balance_after,
            created_at=line.created_at,
            hash=line.hash,
            reference=line.transaction.reference,
        )


async def balances_of(loaders: Loaders, player_id: str) -> Balances:
    found = await loaders.player_balances.load(player_id)
    return Balances(
        carbon_points=found[AssetEnum.CARBON_POINT],
        growth=found[AssetEnum.GROWTH],
        energy=found[AssetEnum.ENERGY],
        reduction_grams=found[AssetEnum.CO2E_GRAMS],
    )


async def ledger_of(loaders: Loaders, player_id: str, first: int | None,
                    after: str | None) -> Connection[LedgerEntry]:
    return await paginate(
        first, after, lambda n, key: loaders.player_ledger.load(PageKey(player_id, n, key)),
        LedgerEntry.from_model, lambda line: (line.id,))
