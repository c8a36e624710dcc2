"""DataLoaders: a list's per-item fields read in one query for the whole list, not one each.

Every operation's context (`schema.context.Context.loaders`) holds a fresh set. A field
resolver calls `info.context.loaders.<name>.load(key)`; the keys every item of a list asks
for in the same turn of the event loop reach the loader's batch function together, which
answers them with one `WHERE … IN (…)` query, in the order of the keys.

The loaders batch but do not cache (`cache=False`): a mutation that changes a balance and
then shows it reads it afresh, exactly as a per-item query would.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from strawberry.dataloader import DataLoader

from app.accounts.models import Player
from app.certification.withdrawal import withdrawals_of
from app.credits import queries as activities
from app.ledger import service as ledger
from app.merchants import service as merchants
from app.planet import friends
from app.planet import service as planet
from app.shop import redemption

K = TypeVar("K")
V = TypeVar("V")
After = TypeVar("After")


@dataclass(frozen=True)
class PageKey(Generic[After]):
    """One owner's page of a nested list: `limit` rows (page size + 1) after `after`."""

    owner_id: str
    limit: int
    after: After | None = None


def by_id(fetch: Callable[[list[str]], Awaitable[dict[str, V]]]
          ) -> Callable[[list[str]], Awaitable[list[V]]]:
    """A batch function from a query answering {id: value} for every id asked."""
    async def load(ids: list[str]) -> list[V]:
        found = await fetch(ids)
        return [found[i] for i in ids]
    return load


def pages(fetch: Callable[[list[str], int, Any], Awaitable[dict[str, list[V]]]]
          ) -> Callable[[list[PageKey]], Awaitable[list[list[V]]]]:
    """A batch function for per-owner pages: one query per distinct (limit, after), which
    for the items of one list is a single query."""
    async def load(keys: list[PageKey]) -> list[list[V]]:
        groups: dict[tuple[int, Any], list[str]] = defaultdict(list)
        for key in keys:
            groups[(key.limit, key.after)].append(key.owner_id)
        found = {(limit, after): await fetch(list(dict.fromkeys(owners)), limit, after)
                 for (limit, after), owners in groups.items()}
        return [found[(key.limit, key.after)][key.owner_id] for key in keys]
    return load


async def _players(ids: list[str]) -> dict[str, Player | None]:
    found = {str(p.id): p for p in await Player.filter(id__in=ids)}
    return {i: found.get(i) for i in ids}


async def _ledger_lines(ids: list[str], limit: int, after: tuple[int] | None) -> dict:
    return await ledger.player_lines(ids, limit, after[0] if after else None)


def _loader(load_fn: Callable[[list[Any]], Awaitable[Sequence[Any]]]) -> Any:
    return field(default_factory=lambda: DataLoader(load_fn=load_fn, cache=False))


@dataclass
class Loaders:
    """One operation's loaders, named after what they load; keys are ids as strings."""

    players: DataLoader[str, Player | None] = _loader(by_id(_players))
    player_balances: DataLoader[str, dict[ledger.Asset, int]] = _loader(
        by_id(ledger.balances_of_players))
    player_ledger: DataLoader[PageKey[tuple[int]], list[Any]] = _loader(pages(_ledger_lines))
    player_activities: DataLoader[PageKey[tuple[datetime, uuid.UUID]], list[Any]] = _loader(
        pages(activities.player_activities))
    activity_withdrawals: DataLoader[str, Any] = _loader(by_id(withdrawals_of))
    player_orders: DataLoader[PageKey[tuple[datetime, uuid.UUID]], list[Any]] = _loader(
        pages(redemption.player_orders))
    friends: DataLoader[str, list[Player]] = _loader(by_id(friends.friends_of_players))
    planets: DataLoader[str, tuple[Any, str | None]] = _loader(by_id(planet.planet_states))
    merchant_balances: DataLoader[str, int] = _loader(by_id(merchants.balance_points))
    merchant_payments: DataLoader[PageKey[tuple[datetime, uuid.UUID]], list[Any]] = _loader(
        pages(merchants.merchant_payments))
    merchant_settlements: DataLoader[PageKey[None], list[Any]] = _loader(
        pages(lambda ids, limit, _after: merchants.merchant_settlements(ids, limit)))
