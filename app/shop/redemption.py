"""Redeeming items for points, cancelling orders, and the outcome of red-packet payouts.

A redemption is one database transaction, all or nothing, in this order (the order
every writer here takes its locks in, so they cannot deadlock):

1. the order row, whose unique (player, idempotency key) makes a retry, even a
   concurrent one, find the first order instead of charging again;
2. the per-player limit counter: a conditional UPDATE (`used + n <= limit`);
3. the points, through the ledger: the player's balance UPDATE refuses to go below 0;
4. the stock: a conditional UPDATE (`remaining >= n`) on the item row, taken last so
   the hot row of a flash sale is locked for as short a time as possible;
5. coupon codes (taken under that item lock, so two orders never get one code) and,
   for a red packet, its payout in the outbox.

Any refusal rolls all of it back. Cancelling and refunding never edit or delete ledger
lines: they post a compensating transaction and give the stock and limit back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app import audit
from app.accounts.models import Player
from app.database import dialect_sql, newest_first
from app.database_pages import first_rows_per_owner
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_, LazyMessage
from app.ledger.service import Asset, player_owner, post_in_transaction, sharded_owner, transfer
from app.payouts import outbox
from app.payouts.models import Payout
from app.shop.catalogue import parse_item_id
from app.shop.models import CouponCode, ItemKind, LimitCounter, Order, OrderStatus, ShopItem
from app.shop.periods import period_key

MAX_QUANTITY = 20
CANCELLABLE = (OrderStatus.CONFIRMED.value,)


def _spent_account(player_id: str) -> str:
    """Where redeemed points go: a sharded system account (points leave circulation)."""
    return sharded_owner("redemption", player_id)


def unavailable_reason(item: ShopItem, now: datetime, city: str | None) -> LazyMessage | None:
    """Why a player cannot redeem the item now (None: they can, stock and limits aside)."""
    if not item.active:
        return N_("This item has been withdrawn.")
    if item.available_from and now < item.available_from:
        return N_("This item is available from %(time)s.", time=item.available_from.isoformat())
    if item.available_until and now >= item.available_until:
        return N_("This item is no longer available.")
    if item.cities and city not in item.cities:
        where = ", ".join(item.cities)
        if city:
            return N_("This item is for players in %(cities)s.", cities=where)
        return N_("This item is for players in %(cities)s. Set your city in your profile.",
                  cities=where)
    return None


def _check_request(quantity: int, idempotency_key: str) -> None:
    if not 0 < quantity <= MAX_QUANTITY:
        raise invalid("quantity", N_("quantity is between 1 and %(max)s.", max=MAX_QUANTITY))
    if not idempotency_key or len(idempotency_key) > 200:
        raise invalid("idempotencyKey", N_("idempotencyKey is 1 to 200 characters."))


async def _existing(player_id: str, idempotency_key: str, item_id: uuid.UUID,
                    quantity: int) -> Order | None:
    order = await Order.get_or_none(player_id=player_id, idempotency_key=idempotency_key)
    if order is not None and (order.item_id != item_id or order.quantity != quantity):
        raise ServiceError(ErrorCode.CONFLICT,
                           N_("This idempotencyKey was used for a different redemption."),
                           "idempotencyKey")
    return order


async def redeem(player: Player, item_id: str, quantity: int, idempotency_key: str,
                 now: datetime, timezone: str) -> Order:
    """Redeem `quantity` of an item, or refuse with a ServiceError having changed nothing."""
    _check_request(quantity, idempotency_key)
    pk = parse_item_id(item_id)
    player_id = str(player.id)
    order = await _existing(player_id, idempotency_key, pk, quantity)
    if order is not None:
        return order
    item = await ShopItem.get_or_none(id=pk)
    if item is None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such item."), "itemId")
    reason = unavailable_reason(item, now, player.city)
    if reason:
        raise ServiceError(ErrorCode.NOT_AVAILABLE, reason, "itemId")
    if item.per_player_limit is not None and quantity > item.per_player_limit:
        raise ServiceError(ErrorCode.LIMIT_REACHED,
                           N_("At most %(limit)s per player.", limit=item.per_player_limit),
                           "quantity")
    if item.remaining is not None and item.remaining < quantity:
        # sold out as of this read: refuse without a transaction (after a flash sale sells
        # out, almost every attempt ends here); the stock UPDATE below decides the rest
        raise ServiceError(ErrorCode.OUT_OF_STOCK, _left(item.remaining), "quantity")
    try:
        async with in_transaction():
            return await _redeem_in_transaction(player_id, item, quantity, idempotency_key,
                                                now, timezone)
    except IntegrityError:
        # a concurrent request with the same key made the order first
        order = await _existing(player_id, idempotency_key, pk, quantity)
        if order is None:
            raise
        return order


async def _redeem_in_transaction(player_id: str, item: ShopItem, quantity: int,
                                 idempotency_key: str, now: datetime, timezone: str) -> Order:
    price = item.price_points * quantity
    is_cash = item.kind == ItemKind.CASH_RED_PACKET
    limit_key = (period_key(item.limit_period, now, timezone)
                 if item.per_player_limit is not None else None)
    order = await Order.create(
        player_id=player_id, item_id=item.id, quantity=quantity, points_spent=price,
        status=(OrderStatus.PENDING_PAYOUT if is_cash else OrderStatus.CONFIRMED).value,
        idempotency_key=idempotency_key, limit_period_key=limit_key,
        cash_fen=(item.cash_fen or 0) * quantity if is_cash else 0)
    if limit_key is not None:
        await _take_limit(player_id, item, limit_key, quantity)
    await post_in_transaction("REDEEM", f"redeem:{order.id}",
                              transfer(player_owner(player_id), _spent_account(player_id),
                                       Asset.CARBON_POINT, price),
                              reference=f"order:{order.id}")
    taken = await ShopItem.filter(Q(id=item.id) & Q(active=True)).filter(
        Q(remaining__isnull=True) | Q(remaining__gte=quantity)
    ).update(remaining=F("remaining") - quantity, sold=F("sold") + quantity)
    if not taken:
        fresh = await ShopItem.get(id=item.id)
        if not fresh.active:
            raise ServiceError(ErrorCode.NOT_AVAILABLE, N_("This item has been withdrawn."),
                               "itemId")
        raise ServiceError(ErrorCode.OUT_OF_STOCK, _left(fresh.remaining or 0), "quantity")
    if item.uses_codes:
        order.coupon_codes = await _assign_codes(item.id, order.id, quantity, now)
        await order.save(update_fields=["coupon_codes"])
    if is_cash:
        await outbox.enqueue(f"order:{order.id}", "order", str(order.id),
                             player_owner(player_id), order.cash_fen, now)
    return order


def _left(remaining: int) -> LazyMessage:
    return N_("Sold out.") if remaining == 0 else N_("Only %(left)s left.", left=remaining)


async def _take_limit(player_id: str, item: ShopItem, key: str, quantity: int) -> None:
    limit = item.per_player_limit
    assert limit is not None  # called for limited items only
    conn = connections.get("default")
    await conn.execute_query(  # ON CONFLICT: a concurrent first redemption must not abort ours
        dialect_sql(conn, "INSERT INTO shop_limit_counter (player_id, item_id, period, used) "
                          "VALUES ({1}, {2}, {3}, 0) ON CONFLICT (player_id, item_id, period) "
                          "DO NOTHING"),
        [player_id, str(item.id), key])
    raised = await LimitCounter.filter(
        player_id=player_id, item_id=item.id, period=key,
        used__lte=limit - quantity,
    ).update(used=F("used") + quantity)
    if not raised:
        counter = await LimitCounter.get(player_id=player_id, item_id=item.id, period=key)
        left = max(limit - counter.used, 0)
        if key == "total":
            message = N_("The limit is %(limit)s per player: %(left)s left.",
                         limit=item.per_player_limit, left=left)
        else:
            message = N_("The limit is %(limit)s per player in %(period)s: %(left)s left.",
                         limit=item.per_player_limit, period=key, left=left)
        raise ServiceError(ErrorCode.LIMIT_REACHED, message, "quantity")


async def _assign_codes(item_id: uuid.UUID, order_id: uuid.UUID, quantity: int,
                        now: datetime) -> list[str]:
    """Codes for an order; the item row lock (held since the stock update) makes this safe."""
    free = await CouponCode.filter(item_id=item_id, order_id__isnull=True).order_by("id") \
        .limit(quantity)
    if len(free) < quantity:  # stock and pool disagree: refuse rather than issue nothing
        raise ServiceError(ErrorCode.OUT_OF_STOCK, N_("No codes left."), "quantity")
    await CouponCode.filter(id__in=[c.id for c in free]).update(order_id=order_id,
                                                                assigned_at=now)
    return [c.code for c in free]


async def _give_back(order: Order, item: ShopItem, ledger_type: str, key: str) -> None:
    """Points, stock and limit back for an order (inside the caller's transaction)."""
    player_id = str(order.player_id)
    await post_in_transaction(ledger_type, key,
                              transfer(_spent_account(player_id), player_owner(player_id),
                                       Asset.CARBON_POINT, order.points_spent),
                              reference=f"order:{order.id}")
    if not item.uses_codes:  # an issued code is void, so a code pool's stock stays down
        await ShopItem.filter(id=item.id, remaining__isnull=False).update(
            remaining=F("remaining") + order.quantity)
    await ShopItem.filter(id=item.id).update(sold=F("sold") - order.quantity)
    if order.limit_period_key is not None:
        await LimitCounter.filter(player_id=order.player_id, item_id=item.id,
                                  period=order.limit_period_key).update(
            used=F("used") - order.quantity)


async def cancel(actor_id: str, order_id: str, reason: str) -> Order:
    """Cancel a confirmed order and refund it; cancelling again returns the cancelled order."""
    try:
        pk = uuid.UUID(str(order_id))
    except ValueError:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such order."), "orderId") from None
    if not reason.strip() or len(reason) > 500:
        raise invalid("reason", N_("reason is 1 to 500 characters."))
    async with in_transaction():
        moved = await Order.filter(id=pk, status__in=CANCELLABLE).update(
            status=OrderStatus.CANCELLED.value, cancel_reason=reason)
        order = await Order.get_or_none(id=pk).select_related("item")
        if order is None:
            raise ServiceError(ErrorCode.NOT_FOUND, N_("No such order."), "orderId")
        if not moved:
            if order.status == OrderStatus.CANCELLED:
                return order
            raise ServiceError(ErrorCode.CONFLICT,
                               N_("An order in status %(status)s cannot be cancelled.",
                                  status=str(order.status)),
                               "orderId")
        await _give_back(order, order.item, "REFUND", f"refund:{order.id}")
        await audit.record(actor_id, "shop.order.cancel", "shop_order", str(pk),
                           before={"status": OrderStatus.CONFIRMED.value},
                           after={"status": OrderStatus.CANCELLED.value}, note=reason)
    return order


class OrderPayouts:
    """What the payout worker tells the shop about a red packet's cash."""

    async def paid(self, payout: Payout) -> None:
        await Order.filter(id=payout.reference, status=OrderStatus.PENDING_PAYOUT.value).update(
            status=OrderStatus.PAID_OUT.value)

    async def failed(self, payout: Payout) -> None:
        moved = await Order.filter(id=payout.reference,
                                   status=OrderStatus.PENDING_PAYOUT.value).update(
            status=OrderStatus.REFUNDED.value,
            cancel_reason=f"payout failed: {payout.last_error or 'refused'}"[:500])
        if moved:
            order = await Order.get(id=payout.reference).select_related("item")
            await _give_back(order, order.item, "PAYOUT_REFUND", f"payout-refund:{order.id}")


async def player_orders(player_ids: Sequence[str], limit: int,
                        after: tuple[datetime, uuid.UUID] | None) -> dict[str, list[Order]]:
    """Up to `limit` orders of each player, newest first, item loaded."""
    query = newest_first(Order.filter(player_id__in=list(player_ids)), after)
    rows = await first_rows_per_owner(query, len(player_ids), '"shop_order"."player_id"',
                                      ["-created_at", "-id"], limit, ("item",))
    found: dict[str, list[Order]] = {p: [] for p in player_ids}
    for row in rows:
        found[str(row.player_id)].append(row)
    return found


async def orders(limit: int, after: tuple[datetime, uuid.UUID] | None,
                 status: str | None = None, item_id: uuid.UUID | None = None) -> list[Order]:
    """Every player's orders (operators), newest first; in one status, of one item."""
    query = Order.all()
    if status is not None:
        query = query.filter(status=status)
    if item_id is not None:
        query = query.filter(item_id=item_id)
    return await newest_first(query, after).limit(limit).select_related("item")
