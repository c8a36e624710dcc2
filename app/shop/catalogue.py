"""Operators' side of the shop: items, stock, coupon code pools. Every change is audited.

Stock (`remaining`) only moves by atomic relative updates, so an operator topping up
never races a sale into overselling. An item that draws coupon codes from a pool has
exactly as much stock as it has unissued codes: importing codes is what adds stock.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app import audit
from app.database import newest_first
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.shop.models import CouponCode, ItemKind, LimitPeriod, ShopItem

MAX_PRICE = 10_000_000
MAX_STOCK = 100_000_000
MAX_CODES_PER_IMPORT = 10_000
EDITABLE = ("title", "title_en", "description", "description_en", "price_points",
            "per_player_limit", "limit_period", "available_from", "available_until", "cities",
            "cash_fen", "active")


@dataclass
class ItemFields:
    """What an operator sets on an item (None: not given)."""

    kind: str | None = None
    title: str | None = None
    title_en: str | None = None
    description: str | None = None
    description_en: str | None = None
    price_points: int | None = None
    stock: int | None = None  # initial stock; None on create: unlimited
    per_player_limit: int | None = None
    limit_period: str | None = None
    available_from: datetime | None = None
    available_until: datetime | None = None
    cities: list[str] | None = None
    cash_fen: int | None = None
    uses_codes: bool | None = None
    active: bool | None = None


def snapshot(item: ShopItem) -> dict[str, Any]:
    """An item's operator-visible fields as JSON-ready values (for the audit log)."""
    out: dict[str, Any] = {}
    for name in ("kind", *EDITABLE, "remaining", "uses_codes"):
        value = getattr(item, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def parse_item_id(value: str, field: str = "itemId") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such item."), field) from None


def _check(fields: ItemFields, known_cities: list[str], creating: bool,
           item: ShopItem | None = None) -> None:
    """Raise INVALID_INPUT naming the first field at fault."""
    def text(name: str, limit: int, required: bool) -> None:
        value = getattr(fields, name)
        if value is None:
            if required:
                raise invalid(_camel(name), N_("%(field)s is required.", field=_camel(name)))
            return
        if required and not value.strip():
            raise invalid(_camel(name), N_("%(field)s must not be empty.", field=_camel(name)))
        if len(value) > limit:
            raise invalid(_camel(name), N_("%(field)s is at most %(max)s characters.",
                                             field=_camel(name), max=limit))

    if creating:
        if fields.kind is None or fields.kind not in ItemKind.__members__:
            raise invalid("kind", N_("kind is one of %(kinds)s.", kinds=", ".join(ItemKind.__members__)))
    text("title", 120, creating)
    text("title_en", 120, creating)
    text("description", 4000, False)
    text("description_en", 4000, False)
    if creating and fields.price_points is None:
        raise invalid("pricePoints", N_("%(field)s is required.", field="pricePoints"))
    if fields.price_points is not None and not 0 < fields.price_points <= MAX_PRICE:
        raise invalid("pricePoints", N_("pricePoints is between 1 and %(max)s.", max=MAX_PRICE))
    if fields.stock is not None and not 0 <= fields.stock <= MAX_STOCK:
        raise invalid("stock", N_("stock is between 0 and %(max)s.", max=MAX_STOCK))
    if fields.per_player_limit is not None and not 0 < fields.per_player_limit <= 1000:
        raise invalid("perPlayerLimit", N_("perPlayerLimit is between 1 and 1000."))
    if fields.limit_period is not None and fields.limit_period not in LimitPeriod.__members__:
        raise invalid("limitPeriod", N_("limitPeriod is one of %(periods)s.",
                                          periods=", ".join(LimitPeriod.__members__)))
    for name in ("available_from", "available_until"):
        moment = getattr(fields, name)
        if moment is not None and moment.utcoffset() is None:
            raise invalid(_camel(name), N_("%(field)s needs a time zone.", field=_camel(name)))
    start = fields.available_from or (item.available_from if item else None)
    end = fields.available_until or (item.available_until if item else None)
    if start and end and end <= start:
        raise invalid("availableUntil", N_("availableUntil is after availableFrom."))
    unknown = [c for c in fields.cities or [] if c not in known_cities]
    if unknown:
        raise invalid("cities", N_("Unknown cities %(unknown)s; known: %(known)s.",
                                    unknown=", ".join(unknown), known=", ".join(known_cities)))
    kind = fields.kind or (item.kind if item else None)
    cash = fields.cash_fen if fields.cash_fen is not None else (item.cash_fen if item else None)
    if kind == ItemKind.CASH_RED_PACKET and not (cash and 0 < cash <= 100_000):
        raise invalid("cashFen", N_("A cash red packet pays 1 to 100,000 fen (¥1,000) per unit."))
    if kind != ItemKind.CASH_RED_PACKET and fields.cash_fen is not None:
        raise invalid("cashFen", N_("Only cash red packets pay cash."))
    uses_codes = fields.uses_codes if creating else (item.uses_codes if item else False)
    if uses_codes and kind != ItemKind.COUPON:
        raise invalid("usesCodes", N_("Only coupons draw codes from a pool."))
    if uses_codes and creating and fields.stock:
        raise invalid("stock", N_("A coupon with a code pool gets its stock by importing codes."))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def create_item(actor_id: str, fields: ItemFields, idempotency_key: str,
                      known_cities: list[str]) -> ShopItem:
    """A new item; the same idempotency key returns the item it made first."""
    if not idempotency_key or len(idempotency_key) > 200:
        raise invalid("idempotencyKey", N_("idempotencyKey is 1 to 200 characters."))
    existing = await ShopItem.get_or_none(idempotency_key=idempotency_key)
    if existing is not None:
        return existing
    _check(fields, known_cities, creating=True)
    values = {name: getattr(fields, name) for name in EDITABLE if getattr(fields, name) is not None}
    try:
        async with in_transaction():
            item = await ShopItem.create(
                kind=fields.kind, uses_codes=bool(fields.uses_codes),
                remaining=0 if fields.uses_codes else fields.stock,
                idempotency_key=idempotency_key, **values)
            await audit.record(actor_id, "shop.item.create", "shop_item", str(item.id),
                               after=snapshot(item))
    except IntegrityError:
        existing = await ShopItem.get_or_none(idempotency_key=idempotency_key)
        if existing is None:
            raise
        return existing
    return item


async def update_item(actor_id: str, item_id: str, fields: ItemFields,
                      known_cities: list[str]) -> ShopItem:
    """Change the given fields (kind, stock and the code pool are changed elsewhere)."""
    if fields.kind is not None or fields.uses_codes is not None or fields.stock is not None:
        raise invalid("input", N_("kind and usesCodes cannot change; use adjustShopItemStock for "
                                   "stock."))
    pk = parse_item_id(item_id)
    async with in_transaction():
        item = await ShopItem.filter(id=pk).select_for_update().first()
        if item is None:
            raise ServiceError(ErrorCode.NOT_FOUND, N_("No such item."), "itemId")
        _check(fields, known_cities, creating=False, item=item)
        before = snapshot(item)
        changes = {name: getattr(fields, name) for name in EDITABLE
                   if getattr(fields, name) is not None}
        if changes:
            await ShopItem.filter(id=pk).update(**changes)
            await item.refresh_from_db()
            await audit.record(actor_id, "shop.item.update", "shop_item", str(pk),
                               before=before, after=snapshot(item))
    return item


async def adjust_stock(actor_id: str, item_id: str, delta: int, note: str | None) -> ShopItem:
    """Add (or with a negative delta withdraw) stock atomically; never below zero."""
    pk = parse_item_id(item_id)
    if delta == 0 or abs(delta) > MAX_STOCK:
        raise invalid("delta", N_("delta is a non-zero whole number up to %(max)s either way.",
                                   max=MAX_STOCK))
    async with in_transaction():
        item = await ShopItem.get_or_none(id=pk)
        if item is None:
            raise ServiceError(ErrorCode.NOT_FOUND, N_("No such item."), "itemId")
        if item.uses_codes:
            raise invalid("delta", N_("This coupon's stock is its unissued codes: import codes "
                                       "instead."))
        if item.remaining is None:
            raise invalid("delta", N_("This item has unlimited stock."))
        changed = await ShopItem.filter(Q(id=pk) & Q(remaining__gte=-delta)).update(
            remaining=F("remaining") + delta)
        if not changed:
            raise ServiceError(ErrorCode.OUT_OF_STOCK,
                               N_("Only %(left)s left: cannot withdraw %(withdraw)s.",
                                  left=item.remaining, withdraw=-delta), "delta")
        before = item.remaining
        await item.refresh_from_db()
        await audit.record(actor_id, "shop.item.stock", "shop_item", str(pk),
                           before={"remaining": before}, after={"remaining": item.remaining},
                           note=note or f"{delta:+d}")
    return item


@dataclass
class ImportResult:
    item: ShopItem
    imported: int
    duplicates: list[str]


async def import_codes(actor_id: str, item_id: str, codes: list[str]) -> ImportResult:
    """Add codes to a coupon's pool; a code already in the pool is reported, not added twice."""
    pk = parse_item_id(item_id)
    cleaned = [c.strip() for c in codes]
    if not cleaned or len(cleaned) > MAX_CODES_PER_IMPORT:
        raise invalid("codes", N_("Send 1 to %(max)s codes at a time.", max=MAX_CODES_PER_IMPORT))
    bad = next((c for c in cleaned if not c or len(c) > 100), None)
    if bad is not None:
        raise invalid("codes", N_("Each code is 1 to 100 characters."))
    unique = list(dict.fromkeys(cleaned))  # first occurrences, in order
    async with in_transaction():
        item = await ShopItem.filter(id=pk).select_for_update().first()
        if item is None:
            raise ServiceError(ErrorCode.NOT_FOUND, N_("No such item."), "itemId")
        if not item.uses_codes:
            raise invalid("codes", N_("This item does not draw codes from a pool."))
        present = {str(code) for code in await CouponCode.filter(item_id=pk, code__in=unique)
                   .values_list("code", flat=True)}
        new = [c for c in unique if c not in present]
        await CouponCode.bulk_create([CouponCode(item_id=pk, code=c) for c in new])
        if new:
            await ShopItem.filter(id=pk).update(remaining=F("remaining") + len(new))
        await item.refresh_from_db()
        await audit.record(actor_id, "shop.codes.import", "shop_item", str(pk),
                           after={"imported": len(new), "remaining": item.remaining})
    duplicates = sorted(present) + sorted(c for c, n in Counter(cleaned).items() if n > 1)
    return ImportResult(item, len(new), duplicates)


async def visible_items(now: datetime, city: str | None, limit: int,
                        after: tuple[datetime, uuid.UUID] | None,
                        include_inactive: bool = False) -> list[ShopItem]:
    """Items a player can see, newest first: active, not over, and for the player's city
    (anyone not logged in, or without a city, sees every city's items)."""
    base = ShopItem.all()
    if not include_inactive:
        base = base.filter(active=True).filter(
            Q(available_until__isnull=True) | Q(available_until__gt=now))
    found: list[ShopItem] = []
    while len(found) < limit:
        batch = await newest_first(base, after).limit(100)
        found += [r for r in batch if include_inactive or city is None or not r.cities
                  or city in r.cities]
        if len(batch) < 100:
            break
        after = (batch[-1].created_at, batch[-1].id)
    return found[:limit]
