"""The points shop: items, redeeming, orders; operators' catalogue mutations. Thin resolvers."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry
from strawberry.types import Info

from app import audit
from app.auth.roles import Role
from app.clock import utcnow
from app.errors import ServiceError
from app.shop import catalogue, redemption
from app.shop.models import AuditEntry as AuditModel
from app.shop.models import ItemKind, LimitPeriod, OrderStatus
from app.shop.models import Order as OrderModel
from app.shop.models import ShopItem as ItemModel
from schema.errors import UserError, client_error, user_errors
from schema.loaders import Loaders, PageKey
from schema.pagination import (
    Connection,
    decode_newest,
    newest_key,
    page_args,
    paginate,
)
from schema.permissions import IsAuthenticated, Public, requires_role

strawberry.enum(ItemKind, name="ShopItemKind")  # marks the class itself (the alias below)
ShopItemKind = ItemKind
strawberry.enum(LimitPeriod, name="LimitPeriod")  # marks the class itself (the alias below)
LimitPeriodEnum = LimitPeriod
strawberry.enum(OrderStatus, name="OrderStatus")  # marks the class itself (the alias below)
OrderStatusEnum = OrderStatus
IsOperator = requires_role(Role.OPERATOR)


@strawberry.type
class ShopItem:
    id: strawberry.ID
    kind: ShopItemKind
    title: str = strawberry.field(description="Chinese title.")
    title_en: str
    description: str
    description_en: str
    price_points: int
    remaining: int | None = strawberry.field(description="Units left; null: unlimited.")
    sold: int
    per_player_limit: int | None
    limit_period: LimitPeriodEnum = strawberry.field(
        description="The period perPlayerLimit counts in (TOTAL: ever).")
    available_from: datetime | None
    available_until: datetime | None
    cities: list[str] = strawberry.field(description="Empty: every city.")
    cash_fen: int | None = strawberry.field(description="Red packets: cash per unit, in fen.")
    uses_codes: bool = strawberry.field(description="Coupons drawn from an imported code pool.")
    active: bool

    @classmethod
    def from_model(cls, item: ItemModel) -> ShopItem:
        return cls(
            id=strawberry.ID(str(item.id)), kind=ItemKind(item.kind), title=item.title,
            title_en=item.title_en, description=item.description,
            description_en=item.description_en, price_points=item.price_points,
            remaining=item.remaining, sold=item.sold, per_player_limit=item.per_player_limit,
            limit_period=LimitPeriod(item.limit_period), available_from=item.available_from,
            available_until=item.available_until, cities=list(item.cities or []),
            cash_fen=item.cash_fen, uses_codes=item.uses_codes, active=item.active)


@strawberry.type
class Order:
    id: strawberry.ID
    status: OrderStatusEnum
    quantity: int
    points_spent: int
    coupon_code: str | None = strawberry.field(description="The first coupon code, if any.")
    coupon_codes: list[str]
    cash_fen: int = strawberry.field(description="Red packets: cash to be paid, in fen.")
    cancel_reason: str | None
    created_at: datetime
    item: ShopItem
    player_id: strawberry.ID = strawberry.field(description="The player who redeemed it.")

    @classmethod
    def from_model(cls, order: OrderModel, item: ItemModel | None = None) -> Order:
        codes = list(order.coupon_codes or [])
        return cls(
            id=strawberry.ID(str(order.id)), player_id=strawberry.ID(str(order.player_id)),
            status=OrderStatus(order.status),
            quantity=order.quantity, points_spent=order.points_spent,
            coupon_code=codes[0] if codes else None, coupon_codes=codes,
            cash_fen=order.cash_fen, cancel_reason=order.cancel_reason,
            created_at=order.created_at, item=ShopItem.from_model(item or order.item))


@strawberry.type
class AuditEntry:
    id: strawberry.ID
    actor_id: str
    action: str
    target_type: str
    target_id: str
    before: str | None = strawberry.field(description="JSON")
    after: str | None = strawberry.field(description="JSON")
    note: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, e: AuditModel) -> AuditEntry:
        dump = lambda v: None if v is None else json.dumps(v, ensure_ascii=False)  # noqa: E731
        return cls(id=strawberry.ID(str(e.id)), actor_id=e.actor_id, action=e.action,
                   target_type=e.target_type, target_id=e.target_id, before=dump(e.before),
                   after=dump(e.after), note=e.note, created_at=e.created_at)


@strawberry.input
class ShopItemInput:
    kind: ShopItemKind | None = None
    title: str | None = None
    title_en: str | None = None
    description: str | None = None
    description_en: str | None = None
    price_points: int | None = None
    stock: int | None = strawberry.field(
        default=None, description="Initial stock (create only); omitted: unlimited.")
    per_player_limit: int | None = None
    limit_period: LimitPeriodEnum | None = None
    available_from: datetime | None = None
    available_until: datetime | None = None
    cities: list[str] | None = None
    cash_fen: int | None = None
    uses_codes: bool | None = strawberry.field(
        default=None, description="Create only: a coupon whose stock is an imported code pool.")
    active: bool | None = None

    def to_fields(self) -> catalogue.ItemFields:
        values = {name: getattr(self, name) for name in catalogue.ItemFields.__dataclass_fields__}
        for name in ("kind", "limit_period"):
            if values[name] is not None:
                values[name] = values[name].value
        return catalogue.ItemFields(**values)


@strawberry.type
class ShopItemPayload:
    item: ShopItem | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ImportCouponCodesPayload:
    item: ShopItem | None = None
    imported: int = 0
    duplicates: list[str] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderPayload:
    order: Order | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def orders_of(loaders: Loaders, player_id: str, first: int | None,
                    after: str | None) -> Connection[Order]:
    return await paginate(first, after,
                          lambda n, key: loaders.player_orders.load(PageKey(player_id, n, key)),
                          Order.from_model, newest_key, decode_newest)


@strawberry.type
class ShopQuery:
    @strawberry.field(permission_classes=[Public], description=(
        "Items on sale, newest first. Logged-in players with a city see that city's items "
        "and those for every city."))
    async def shop_items(self, info: Info, first: int | None = None,
                         after: str | None = None) -> Connection[ShopItem]:
        page_args(first, after, decode_newest)  # a malformed argument before anything is read
        city = None
        if await info.context.optional_principal() is not None:
            city = (await info.context.player()).city
        now = utcnow()
        return await paginate(first, after,
                              lambda n, key: catalogue.visible_items(now, city, n, key),
                              ShopItem.from_model, newest_key, decode_newest)

    @strawberry.field(permission_classes=[IsOperator],
                      description="Every item, withdrawn and past ones too (operators).")
    async def all_shop_items(self, first: int | None = None,
                             after: str | None = None) -> Connection[ShopItem]:
        now = utcnow()
        return await paginate(
            first, after,
            lambda n, key: catalogue.visible_items(now, None, n, key, include_inactive=True),
            ShopItem.from_model, newest_key, decode_newest)

    @strawberry.field(permission_classes=[IsOperator], description=(
        "One item by id, withdrawn and past ones too (operators); null when there is none."))
    async def shop_item(self, id: strawberry.ID) -> ShopItem | None:
        try:
            item = await ItemModel.get_or_none(id=catalogue.parse_item_id(str(id), "id"))
        except ServiceError:
            return None
        return ShopItem.from_model(item) if item else None

    @strawberry.field(permission_classes=[IsOperator], description=(
        "Every player's orders, newest first (operators): in one status, of one item."))
    async def shop_orders(self, status: OrderStatusEnum | None = None,
                          item_id: strawberry.ID | None = None, first: int | None = None,
                          after: str | None = None) -> Connection[Order]:
        page_args(first, after, decode_newest)  # a malformed argument before anything is read
        item = None
        if item_id is not None:
            try:
                item = catalogue.parse_item_id(str(item_id))
            except ServiceError as exc:
                raise client_error(exc) from None
        wanted = status.value if status else None
        return await paginate(first, after,
                              lambda n, key: redemption.orders(n, key, wanted, item),
                              Order.from_model, newest_key, decode_newest)

    @strawberry.field(permission_classes=[IsOperator],
                      description="The audit log of shop and merchant changes, newest first.")
    async def audit_log(self, target_type: str | None = None, target_id: str | None = None,
                        first: int | None = None, after: str | None = None
                        ) -> Connection[AuditEntry]:
        return await paginate(
            first, after,
            lambda n, key: audit.entries(target_type, target_id, n, key[0] if key else None),
            AuditEntry.from_model, lambda e: (e.id,))


@strawberry.type
class ShopMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated], description=(
        "All or nothing: points debited, stock taken and the order made together. The same "
        "idempotencyKey returns the same order and never charges twice."))
    async def redeem(self, info: Info, item_id: strawberry.ID, quantity: int,
                     idempotency_key: str) -> OrderPayload:
        player = await info.context.player()
        settings = info.context.services.settings
        try:
            order = await redemption.redeem(player, str(item_id), quantity, idempotency_key,
                                            utcnow(), settings.default_timezone)
            item = await ItemModel.get(id=order.item_id)
        except ServiceError as exc:
            return OrderPayload(errors=user_errors(exc))
        return OrderPayload(order=Order.from_model(order, item))

    @strawberry.mutation(permission_classes=[IsOperator],
                         description="Cancel a confirmed order: points, stock and limit back.")
    async def cancel_order(self, info: Info, order_id: strawberry.ID, reason: str) -> OrderPayload:
        principal = await info.context.principal()
        try:
            order = await redemption.cancel(principal.player_id, str(order_id), reason)
        except ServiceError as exc:
            return OrderPayload(errors=user_errors(exc))
        return OrderPayload(order=Order.from_model(order))

    @strawberry.mutation(permission_classes=[IsOperator])
    async def create_shop_item(self, info: Info, input: ShopItemInput,
                               idempotency_key: str) -> ShopItemPayload:
        principal = await info.context.principal()
        try:
            item = await catalogue.create_item(principal.player_id, input.to_fields(),
                                               idempotency_key,
                                               info.context.services.settings.cities)
        except ServiceError as exc:
            return ShopItemPayload(errors=user_errors(exc))
        return ShopItemPayload(item=ShopItem.from_model(item))

    @strawberry.mutation(permission_classes=[IsOperator],
                         description="Change the given fields of an item.")
    async def update_shop_item(self, info: Info, item_id: strawberry.ID,
                               input: ShopItemInput) -> ShopItemPayload:
        principal = await info.context.principal()
        try:
            item = await catalogue.update_item(principal.player_id, str(item_id),
                                               input.to_fields(),
                                               info.context.services.settings.cities)
        except ServiceError as exc:
            return ShopItemPayload(errors=user_errors(exc))
        return ShopItemPayload(item=ShopItem.from_model(item))

    @strawberry.mutation(permission_classes=[IsOperator], description=(
        "Add stock (or withdraw it with a negative delta), atomically with sales."))
    async def adjust_shop_item_stock(self, info: Info, item_id: strawberry.ID, delta: int,
                                     note: str | None = None) -> ShopItemPayload:
        principal = await info.context.principal()
        try:
            item = await catalogue.adjust_stock(principal.player_id, str(item_id), delta, note)
        except ServiceError as exc:
            return ShopItemPayload(errors=user_errors(exc))
        return ShopItemPayload(item=ShopItem.from_model(item))

    @strawberry.mutation(permission_classes=[IsOperator], description=(
        "Add codes to a coupon's pool; each becomes one unit of stock and goes to one order."))
    async def import_coupon_codes(self, info: Info, item_id: strawberry.ID,
                                  codes: list[str]) -> ImportCouponCodesPayload:
        principal = await info.context.principal()
        try:
            result = await catalogue.import_codes(principal.player_id, str(item_id), codes)
        except ServiceError as exc:
            return ImportCouponCodesPayload(errors=user_errors(exc))
        return ImportCouponCodesPayload(item=ShopItem.from_model(result.item),
                                        imported=result.imported, duplicates=result.duplicates)
