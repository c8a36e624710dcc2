"""Merchants, paying them in points, their settlements: thin resolvers over `app.merchants`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.permission import BasePermission
from strawberry.types import Info

from app.auth.roles import Role
from app.errors import ServiceError
from app.i18n.messages import _
from app.merchants import service as merchants
from app.merchants.models import Merchant as MerchantModel
from app.merchants.models import MerchantPayment as MerchantPaymentModel
from app.merchants.models import Settlement as SettlementModel
from app.merchants.models import SettlementStatus as SettlementStatusEnum
from schema.accounts import PlayerType
from schema.errors import UserError, user_errors
from schema.loaders import PageKey
from schema.pagination import Connection, decode_newest, newest_key, page_args, paginate
from schema.permissions import IsAuthenticated, requires_role

strawberry.enum(SettlementStatusEnum, name="SettlementStatus")  # marks the class itself (the alias below)
SettlementStatus = SettlementStatusEnum
IsOperator = requires_role(Role.OPERATOR)


class MerchantStaffOrOperator(BasePermission):
    """A merchant's private fields: its own staff, or an operator or admin."""

    error_extensions = {"code": "FORBIDDEN"}

    @property
    def message(self) -> str:  # type: ignore[override]  # in the reader's language
        return _("Only this merchant's staff (or an operator) may see this.")

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = await info.context.principal()
        if principal.has_any({Role.OPERATOR}):
            return True
        return Role.MERCHANT in principal.roles and await merchants.is_staff(
            principal.player_id, str(source.id))


@strawberry.type
class Settlement:
    id: strawberry.ID
    period: str
    period_start: datetime
    period_end: datetime
    payment_count: int
    points: int = strawberry.field(
        description="Points settled (taken out of the merchant's balance).")
    cash_fen: int
    points_per_yuan: int
    status: SettlementStatus
    statement: str = strawberry.field(description="The CSV statement.")
    created_at: datetime

    @classmethod
    def from_model(cls, s: SettlementModel) -> Settlement:
        return cls(id=strawberry.ID(str(s.id)), period=s.period, period_start=s.period_start,
                   period_end=s.period_end, payment_count=s.payments, points=s.points,
                   cash_fen=s.cash_fen, points_per_yuan=s.points_per_yuan,
                   status=SettlementStatusEnum(s.status), statement=s.statement,
                   created_at=s.created_at)


@strawberry.type(name="Merchant")
class MerchantType:
    id: strawberry.ID
    name: str
    city: str | None
    active: bool
    created_at: datetime

    @strawberry.field(permission_classes=[MerchantStaffOrOperator],
                      description="Points received and not yet settled.")
    async def balance_points(self, info: Info) -> int:
        return await info.context.loaders.merchant_balances.load(str(self.id))

    @strawberry.field(permission_classes=[MerchantStaffOrOperator], description="Newest first.")
    async def payments(self, info: Info, first: int | None = None,
                       after: str | None = None) -> Connection[MerchantPayment]:
        load = info.context.loaders.merchant_payments.load
        merchant_id = str(self.id)
        return await paginate(first, after, lambda n, key: load(PageKey(merchant_id, n, key)),
                              MerchantPayment.from_model, newest_key, decode_newest)

    @strawberry.field(permission_classes=[MerchantStaffOrOperator],
                      description="Newest period first.")
    async def settlements(self, info: Info, first: int | None = None) -> list[Settlement]:
        limit, _ = page_args(first, None)
        rows = await info.context.loaders.merchant_settlements.load(
            PageKey(str(self.id), limit))
        return [Settlement.from_model(s) for s in rows]

    @classmethod
    def from_model(cls, m: MerchantModel) -> MerchantType:
        return cls(id=strawberry.ID(str(m.id)), name=m.name, city=m.city, active=m.active,
                   created_at=m.created_at)


@strawberry.type
class MerchantPayment:
    id: strawberry.ID
    points: int
    merchant: MerchantType
    created_at: datetime
    settled: bool

    @classmethod
    def from_model(cls, p: MerchantPaymentModel) -> MerchantPayment:
        return cls(id=strawberry.ID(str(p.id)), points=p.points,
                   merchant=MerchantType.from_model(p.merchant), created_at=p.created_at,
                   settled=p.settlement_id is not None)


@strawberry.type
class PayMerchantPayload:
    payment: MerchantPayment | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MerchantPayload:
    merchant: MerchantType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AddMerchantStaffPayload:
    merchant: MerchantType | None = None
    player: PlayerType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MerchantQuery:
    @strawberry.field(permission_classes=[IsOperator], description="Newest first (operators).")
    async def merchants(self, first: int | None = None,
                        after: str | None = None) -> Connection[MerchantType]:
        return await paginate(first, after, merchants.list_merchants,
                              MerchantType.from_model, newest_key, decode_newest)

    @strawberry.field(permission_classes=[IsOperator],
                      description="One merchant by id (operators); null when there is none.")
    async def merchant(self, id: strawberry.ID) -> MerchantType | None:
        try:
            return MerchantType.from_model(await merchants.get_merchant(str(id), "id"))
        except ServiceError:
            return None

    @strawberry.field(permission_classes=[requires_role(Role.MERCHANT)],
                      description="The merchant the caller works for (merchant staff).")
    async def my_merchant(self, info: Info) -> MerchantType | None:
        principal = await info.context.principal()
        merchant = await merchants.merchant_of_staff(principal.player_id)
        return MerchantType.from_model(merchant) if merchant else None


@strawberry.type
class MerchantMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated],
                         description="Pay a merchant in points; the same idempotencyKey pays once.")
    async def pay_merchant(self, info: Info, merchant_id: strawberry.ID, points: int,
                           idempotency_key: str) -> PayMerchantPayload:
        principal = await info.context.principal()
        try:
            payment = await merchants.pay_merchant(principal.player_id, str(merchant_id), points,
                                                   idempotency_key)
        except ServiceError as exc:
            return PayMerchantPayload(errors=user_errors(exc))
        return PayMerchantPayload(payment=MerchantPayment.from_model(payment))

    @strawberry.mutation(permission_classes=[IsOperator], description="Operators; audited.")
    async def create_merchant(self, info: Info, name: str, idempotency_key: str,
                              city: str | None = None) -> MerchantPayload:
        principal = await info.context.principal()
        try:
            merchant = await merchants.create_merchant(principal.player_id, name, city,
                                                       idempotency_key,
                                                       info.context.services.settings.cities)
        except ServiceError as exc:
            return MerchantPayload(errors=user_errors(exc))
        return MerchantPayload(merchant=MerchantType.from_model(merchant))

    @strawberry.mutation(permission_classes=[IsOperator],
                         description="Operators; audited. An inactive merchant takes no payments.")
    async def set_merchant_active(self, info: Info, merchant_id: strawberry.ID,
                                  active: bool) -> MerchantPayload:
        principal = await info.context.principal()
        try:
            merchant = await merchants.set_active(principal.player_id, str(merchant_id), active)
        except ServiceError as exc:
            return MerchantPayload(errors=user_errors(exc))
        return MerchantPayload(merchant=MerchantType.from_model(merchant))

    @strawberry.mutation(permission_classes=[IsOperator],
                         description="Operators; audited. Gives the player the merchant role.")
    async def add_merchant_staff(self, info: Info, merchant_id: strawberry.ID,
                                 player_id: strawberry.ID) -> AddMerchantStaffPayload:
        principal = await info.context.principal()
        try:
            merchant, player = await merchants.add_staff(principal.player_id, str(merchant_id),
                                                         str(player_id))
        except ServiceError as exc:
            return AddMerchantStaffPayload(errors=user_errors(exc))
        return AddMerchantStaffPayload(merchant=MerchantType.from_model(merchant),
                                       player=PlayerType.from_model(player))

