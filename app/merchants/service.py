"""Merchant accounts and staff (operators, audited), and paying a merchant in points.

A payment is one database transaction: the `MerchantPayment` row and the ledger
transfer player -> merchant. The row is unique per (player, idempotency key), so a
retry (or a concurrent duplicate, which meets the unique index and rolls back)
returns the first payment and never charges twice.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app import audit
from app.accounts.models import Player
from app.accounts.service import get_player
from app.auth.roles import Role
from app.database import newest_first
from app.database_pages import first_rows_per_owner
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.ledger import service as ledger
from app.ledger.models import LedgerAccount
from app.ledger.service import Asset
from app.merchants.models import Merchant, MerchantPayment, MerchantStaff, Settlement

NAME_MAX = 120
KEY_MAX = 200
MAX_PAYMENT_POINTS = 1_000_000


def _key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_MAX:
        raise invalid("idempotencyKey", N_("An idempotency key is 1 to %(max)s characters.",
                                            max=KEY_MAX))
    return key


def _merchant_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise invalid(field, N_("Not a merchant id.")) from None


async def get_merchant(merchant_id: str, field: str = "merchantId") -> Merchant:
    merchant = await Merchant.get_or_none(id=_merchant_uuid(merchant_id, field))
    if merchant is None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such merchant."), field)
    return merchant


def _snapshot(merchant: Merchant) -> dict:
    return {"name": merchant.name, "city": merchant.city, "active": merchant.active}


async def create_merchant(actor_id: str, name: str, city: str | None, idempotency_key: str,
                          cities: Sequence[str]) -> Merchant:
    """Create a merchant (audited); the same key again returns the same merchant."""
    key = _key(idempotency_key)
    clean = " ".join((name or "").split())
    if not clean or len(clean) > NAME_MAX or any(
            unicodedata.category(ch).startswith("C") for ch in clean):
        raise invalid("name", N_("A merchant name is 1 to %(max)s printable characters.",
                                  max=NAME_MAX))
    if city is not None and city not in cities:
        raise invalid("city", N_("Unknown city; one of: %(cities)s.", cities=", ".join(cities)))
    try:
        async with in_transaction():
            merchant = await Merchant.create(name=clean, city=city, idempotency_key=key)
            await audit.record(actor_id, "merchant.create", "merchant", str(merchant.id),
                               after=_snapshot(merchant))
            return merchant
    except IntegrityError:
        existing = await Merchant.get_or_none(idempotency_key=key)
        if existing is None:
            raise
        if (existing.name, existing.city) != (clean, city):
            raise ServiceError(ErrorCode.CONFLICT,
                               N_("This idempotency key created a different merchant."),
                               "idempotencyKey") from None
        return existing


async def set_active(actor_id: str, merchant_id: str, active: bool) -> Merchant:
    """Deactivate (or reactivate) a merchant; an inactive merchant takes no payments."""
    merchant = await get_merchant(merchant_id)
    if merchant.active == active:
        return merchant
    async with in_transaction():
        before = _snapshot(merchant)
        await Merchant.filter(id=merchant.id).update(active=active)
        merchant.active = active
        await audit.record(actor_id, "merchant.activate" if active else "merchant.deactivate",
                           "merchant", str(merchant.id), before=before, after=_snapshot(merchant))
    return merchant


async def add_staff(actor_id: str, merchant_id: str, player_id: str) -> tuple[Merchant, Player]:
    """Make a player staff of one merchant and give them the merchant role (audited).

    A player works for at most one merchant (`myMerchant` is one merchant): staff of
    another merchant is a CONFLICT. Adding someone already on the staff changes nothing.
    """
    merchant = await get_merchant(merchant_id)
    player = await get_player(player_id)
    async with in_transaction():
        player = await Player.filter(id=player.id).select_for_update().get()
        current = await MerchantStaff.filter(player_id=player.id).first()
        if current is not None and current.merchant_id != merchant.id:
            raise ServiceError(ErrorCode.CONFLICT,
                               N_("This player is already staff of another merchant."),
                               "playerId")
        roles = sorted({*player.roles, Role.PLAYER.value, Role.MERCHANT.value})
        if current is not None and roles == sorted(player.roles):
            return merchant, player
        if current is None:
            await MerchantStaff.create(merchant=merchant, player_id=player.id)
        before = {"roles": sorted(player.roles), "staff": current is not None}
        await Player.filter(id=player.id).update(roles=roles)
        player.roles = roles
        await audit.record(actor_id, "merchant.add_staff", "merchant", str(merchant.id),
                           before=before, after={"player_id": str(player.id), "roles": roles})
    return merchant, player


def _points(points: int) -> int:
    whole = isinstance(points, int) and not isinstance(points, bool)
    if not whole or not 0 < points <= MAX_PAYMENT_POINTS:
        raise invalid("points", N_("Pay 1 to %(max)s whole points.", max=MAX_PAYMENT_POINTS))
    return points


async def _replay(player_id: str, key: str, merchant_id: uuid.UUID,
                  points: int) -> MerchantPayment | None:
    """The payment this key already made, or None; a different payment under it is a CONFLICT."""
    existing = await MerchantPayment.get_or_none(
        player_id=player_id, idempotency_key=key).select_related("merchant")
    if existing is not None and (existing.merchant_id != merchant_id or existing.points != points):
        raise ServiceError(ErrorCode.CONFLICT,
                           N_("This idempotency key was used for a different payment."),
                           "idempotencyKey")
    return existing


async def pay_merchant(player_id: str, merchant_id: str, points: int,
                       idempotency_key: str) -> MerchantPayment:
    """Move points from the player to the merchant once per key (the merchant is loaded)."""
    key = _key(idempotency_key)
    points = _points(points)
    merchant_key = _merchant_uuid(merchant_id, "merchantId")
    existing = await _replay(player_id, key, merchant_key, points)
    if existing is not None:  # a retry is answered even if the merchant closed since
        return existing
    merchant = await get_merchant(merchant_id)
    if not merchant.active:
        raise ServiceError(ErrorCode.NOT_AVAILABLE, N_("This merchant no longer takes points."),
                           "merchantId")
    try:
        async with in_transaction():
            payment = await MerchantPayment.create(merchant=merchant, player_id=player_id,
                                                   points=points, idempotency_key=key)
            await ledger.post_in_transaction(
                "merchant-payment", f"pay-merchant:{payment.id}",
                ledger.transfer(ledger.player_owner(player_id),
                                ledger.merchant_owner(str(merchant.id)),
                                Asset.CARBON_POINT, points),
                reference=str(payment.id))
    except IntegrityError:  # a concurrent request with the same key won
        existing = await _replay(player_id, key, merchant_key, points)
        if existing is None:
            raise
        return existing
    payment.merchant = merchant
    return payment


# Reading -----------------------------------------------------------------------------

async def list_merchants(limit: int, after: tuple[datetime, uuid.UUID] | None) -> list[Merchant]:
    """Newest first (keyset on created_at, id)."""
    return await newest_first(Merchant.all(), after).limit(limit)


async def merchant_of_staff(player_id: str) -> Merchant | None:
    staff = await MerchantStaff.filter(player_id=player_id).select_related("merchant").first()
    return staff.merchant if staff else None


async def is_staff(player_id: str, merchant_id: str) -> bool:
    return await MerchantStaff.filter(player_id=player_id, merchant_id=merchant_id).exists()


async def balance_points(merchant_ids: Sequence[str]) -> dict[str, int]:
    """Each merchant's unsettled points (0 before its first payment), in one query."""
    owners = {ledger.merchant_owner(str(m)): str(m) for m in merchant_ids}
    rows = await LedgerAccount.filter(owner__in=list(owners), asset=Asset.CARBON_POINT.value) \
        .values("owner", "balance")
    found = {str(m): 0 for m in merchant_ids}
    for r in rows:
        found[owners[r["owner"]]] = int(r["balance"])
    return found


async def merchant_payments(merchant_ids: Sequence[str], limit: int,
                            after: tuple[datetime, uuid.UUID] | None
                            ) -> dict[str, list[MerchantPayment]]:
    """Up to `limit` payments of each merchant, newest first, merchant loaded."""
    query = newest_first(MerchantPayment.filter(merchant_id__in=list(merchant_ids)), after)
    rows = await first_rows_per_owner(query, len(merchant_ids), '"merchant_payment"."merchant_id"',
                                      ["-created_at", "-id"], limit, ("merchant",))
    return _by_merchant(merchant_ids, rows)


async def merchant_settlements(merchant_ids: Sequence[str], limit: int
                               ) -> dict[str, list[Settlement]]:
    """Up to `limit` settlements of each merchant, newest period first."""
    query = Settlement.filter(merchant_id__in=list(merchant_ids))
    rows = await first_rows_per_owner(query, len(merchant_ids), '"settlement"."merchant_id"',
                                      ["-period_start", "-created_at", "-id"], limit)
    return _by_merchant(merchant_ids, rows)


def _by_merchant(merchant_ids: Sequence[str], rows: Sequence[Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {str(m): [] for m in merchant_ids}
    for row in rows:
        found[str(row.merchant_id)].append(row)
    return found
