"""The carbon-inclusive market: buyers, selling and retiring certified grams, certificates.
Thin resolvers over `app.market.service`."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from app.auth.roles import Role
from app.clock import utcnow
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.market import service as market
from app.market.models import Buyer as BuyerModel
from app.market.models import BuyerKind as BuyerKindEnum
from app.market.models import SaleMode
from schema.errors import UserError, client_error, user_errors
from schema.pagination import Connection, decode_newest, newest_key, page_args, paginate
from schema.permissions import Public, requires_role
from schema.scalars import Long

strawberry.enum(BuyerKindEnum, name="BuyerKind")  # marks the class itself (the alias below)
BuyerKind = BuyerKindEnum
strawberry.enum(SaleMode, name="MarketSaleMode")  # marks the class itself (the alias below)
MarketSaleMode = SaleMode
IsOperator = requires_role(Role.OPERATOR)
IsOperatorOrRegulator = requires_role(Role.OPERATOR, Role.REGULATOR)


@strawberry.type
class Buyer:
    id: strawberry.ID
    name: str
    kind: BuyerKind
    contact: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, buyer: BuyerModel) -> Buyer:
        return cls(id=strawberry.ID(str(buyer.id)), name=buyer.name, kind=BuyerKind(buyer.kind),
                   contact=buyer.contact, created_at=buyer.created_at)


@strawberry.type
class CertificateSerialRange:
    batch_code: str = strawberry.field(description="The certified batch the serials are from.")
    period: str = strawberry.field(description="The batch's period, YYYY-MM.")
    methodology_id: str
    methodology_version: int
    first_serial: str = strawberry.field(description="Printed, e.g. SZ-2026-11-TRAVEL-V1-000000001.")
    last_serial: str = strawberry.field(description="Printed; the range includes it.")
    grams: Long = strawberry.field(description="Serials in the range: one per gram.")


@strawberry.type
class CertificateMethodology:
    methodology_id: str
    version: int


@strawberry.type
class RetirementCertificate:
    number: str = strawberry.field(description="The certificate number, e.g. CPC-00000001.")
    mode: MarketSaleMode = strawberry.field(
        description="SALE: the buyer holds the grams; RETIREMENT: they are cancelled for good.")
    buyer_id: strawberry.ID
    buyer_name: str
    buyer_kind: BuyerKind
    grams: Long
    price_fen_per_tonne: int
    total_fen: Long = strawberry.field(
        description="grams × price per tonne / 1,000,000, rounded half up to whole fen.")
    shop_share_percent: int = strawberry.field(
        description="The share of the revenue that funds the points shop, when sold.")
    shop_fund_fen: Long = strawberry.field(
        description="totalFen × shopSharePercent / 100, rounded down to whole fen.")
    ranges: list[CertificateSerialRange] = strawberry.field(
        description="The serials, in the order they were taken (oldest batch first).")
    methodologies: list[CertificateMethodology]
    periods: list[str]
    note: str | None
    created_at: datetime
    digest: str = strawberry.field(description=(
        "SHA-256 (hex) of the certificate's canonical JSON: number, mode, buyer, grams, "
        "price, total, printed ranges and time (see the operators' market page)."))

    @classmethod
    def from_certificate(cls, c: market.Certificate) -> RetirementCertificate:
        s = c.sale
        return cls(
            number=s.number, mode=SaleMode(s.mode), buyer_id=strawberry.ID(str(c.buyer.id)),
            buyer_name=c.buyer.name, buyer_kind=BuyerKind(c.buyer.kind), grams=s.grams,
            price_fen_per_tonne=s.price_fen_per_tonne, total_fen=s.total_fen,
            shop_share_percent=s.shop_share_percent, shop_fund_fen=s.shop_fund_fen,
            ranges=[CertificateSerialRange(
                batch_code=r.batch_code, period=r.period, methodology_id=r.methodology_id,
                methodology_version=r.methodology_version, first_serial=r.first_printed,
                last_serial=r.last_printed, grams=Long(r.grams)) for r in c.ranges],
            methodologies=[CertificateMethodology(methodology_id=m, version=v)
                           for m, v in c.methodologies],
            periods=c.periods, note=s.note, created_at=s.created_at, digest=s.digest)


@strawberry.type
class MarketInventory:
    certified_grams: Long = strawberry.field(
        description="Grams certified by sealed and supplementary batches.")
    adjusted_grams: Long = strawberry.field(
        description="Grams taken back by adjustment batches (withdrawn activities).")
    sold_grams: Long
    retired_grams: Long
    available_grams: Long = strawberry.field(description=(
        "Not yet sold or retired: certified − adjusted − sold − retired (the ledger balance "
        "of inventory:certified)."))
    revenue_fen: Long = strawberry.field(description="Every sale's and retirement's total.")
    shop_fund_fen: Long = strawberry.field(description="The part of the revenue that funds the shop.")
    shop_share_percent: int = strawberry.field(
        description="The share configured now (CARBON_MARKET_SHOP_SHARE_PERCENT).")


@strawberry.type
class BuyerPayload:
    buyer: Buyer | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CertificatePayload:
    certificate: RetirementCertificate | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _buyer_filter(buyer_id: strawberry.ID | None) -> uuid.UUID | None:
    if buyer_id is None:
        return None
    try:
        return uuid.UUID(str(buyer_id))
    except ValueError:
        raise client_error(ServiceError(ErrorCode.NOT_FOUND, N_("No such buyer."),
                                        "buyerId")) from None


@strawberry.type
class MarketQuery:
    @strawberry.field(permission_classes=[IsOperatorOrRegulator], description=(
        "Certified grams and where they went, and the revenue booked (operators, regulator)."))
    async def market_inventory(self, info: Info) -> MarketInventory:
        found = await market.inventory(info.context.services.settings.market_shop_share_percent)
        return MarketInventory(**vars(found))

    @strawberry.field(permission_classes=[IsOperatorOrRegulator], description=(
        "Sale and retirement certificates, newest first; of one buyer (operators, regulator)."))
    async def certificates(self, buyer_id: strawberry.ID | None = None, first: int | None = None,
                           after: str | None = None) -> Connection[RetirementCertificate]:
        page_args(first, after, decode_newest)  # a malformed argument before anything is read
        wanted = _buyer_filter(buyer_id)
        return await paginate(first, after,
                              lambda n, key: market.certificates(n, key, wanted),
                              RetirementCertificate.from_certificate,
                              lambda c: newest_key(c.sale), decode_newest)

    @strawberry.field(permission_classes=[Public], description=(
        "A certificate by its number, for anyone to check; null when there is none."))
    async def certificate(self, number: str) -> RetirementCertificate | None:
        found = await market.certificate(number)
        return RetirementCertificate.from_certificate(found) if found else None

    @strawberry.field(permission_classes=[IsOperator], description="Buyers, newest first.")
    async def buyers(self, first: int | None = None,
                     after: str | None = None) -> Connection[Buyer]:
        return await paginate(first, after, market.buyers, Buyer.from_model, newest_key,
                              decode_newest)


async def _sell(info: Info, mode: SaleMode, buyer_id: strawberry.ID, grams: Long,
                price_fen_per_tonne: int, idempotency_key: str,
                note: str | None) -> CertificatePayload:
    principal = await info.context.principal()
    settings = info.context.services.settings
    try:
        found = await market.sell(principal.player_id, mode, str(buyer_id), grams,
                                  price_fen_per_tonne, idempotency_key, utcnow(),
                                  settings.market_shop_share_percent, note)
    except ServiceError as exc:
        return CertificatePayload(errors=user_errors(exc))
    return CertificatePayload(certificate=RetirementCertificate.from_certificate(found))


@strawberry.type
class MarketMutation:
    @strawberry.mutation(permission_classes=[IsOperator], description=(
        "A buyer of certified grams. The same idempotencyKey returns the same buyer."))
    async def create_buyer(self, info: Info, name: str, kind: BuyerKind, idempotency_key: str,
                           contact: str | None = None) -> BuyerPayload:
        principal = await info.context.principal()
        try:
            buyer = await market.create_buyer(principal.player_id, name, kind, contact,
                                              idempotency_key)
        except ServiceError as exc:
            return BuyerPayload(errors=user_errors(exc))
        return BuyerPayload(buyer=Buyer.from_model(buyer))

    @strawberry.mutation(permission_classes=[IsOperator], description=(
        "Sell certified grams to a buyer, who then holds them: the next serials in order, a "
        "certificate, the revenue booked. The same idempotencyKey returns the same certificate."))
    async def sell_certified_grams(self, info: Info, buyer_id: strawberry.ID, grams: Long,
                                   price_fen_per_tonne: int, idempotency_key: str,
                                   note: str | None = None) -> CertificatePayload:
        return await _sell(info, SaleMode.SALE, buyer_id, grams, price_fen_per_tonne,
                           idempotency_key, note)

    @strawberry.mutation(permission_classes=[IsOperator], description=(
        "Retire certified grams for a buyer (an offset: cancelled for good), as "
        "sellCertifiedGrams; the price may be 0. Note: what the retirement offsets."))
    async def retire_certified_grams(self, info: Info, buyer_id: strawberry.ID, grams: Long,
                                     price_fen_per_tonne: int, idempotency_key: str,
                                     note: str | None = None) -> CertificatePayload:
        return await _sell(info, SaleMode.RETIREMENT, buyer_id, grams, price_fen_per_tonne,
                           idempotency_key, note)
