"""Selling and retiring certified grams, buyers, certificates and the inventory's figures.

A sale (or retirement) is one database transaction, all or nothing, in this order:

1. the inventory's cursor row, locked (`FOR UPDATE` on PostgreSQL; SQLite runs one writing
   transaction at a time): every sale waits here for the one before it, so two sales never
   read the same next serial;
2. the serials, taken in order: the oldest certified batch first (by closing time), then
   serial order, across batch boundaries, one allocation row per range; the database
   refuses two ranges that overlap (see `app.market.models.MarketAllocation`);
3. the sale row (its unique idempotency key makes a retry return the same certificate);
4. one ledger transaction: the grams from `inventory:certified` (which refuses to go
   below zero, so nobody sells more than was certified minus adjustments) to the buyer
   (`buyer:<id>`) or to `retired:<sale id>`, and the revenue in fen from
   `system:market-sales` to `market:revenue` and, the configured share, `market:shop-fund`.

Rounding, written once: revenue = grams × price per tonne / 1,000,000, rounded half up to
whole fen; the shop's share = revenue × percent / 100, rounded down (the shop is funded in
whole fen, the remainder of a fen stays with the operator's revenue).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from app import audit
from app.certification.models import CertifiedBatch
from app.certification.periods import serial
from app.database import dialect_sql, newest_first
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.ledger.models import LedgerAccount, LedgerLine
from app.ledger.service import Asset, Entry, Posting, post_many_in_transaction
from app.market.models import Buyer, BuyerKind, MarketAllocation, MarketCursor, MarketSale, SaleMode

INVENTORY = "inventory:certified"
SALES = "system:market-sales"
REVENUE = "market:revenue"
SHOP_FUND = "market:shop-fund"
ADJUSTMENT_TYPE = "certification.adjustment"  # the ledger type of an adjustment batch's posting
CURSOR = "certified"
NAME_MAX, CONTACT_MAX, NOTE_MAX, KEY_MAX = 120, 200, 300, 200
MAX_GRAMS = 10**12  # 1,000,000 t in one sale: beyond any buyer's offset, within Long
MAX_PRICE_FEN_PER_TONNE = 100_000_000  # ¥1,000,000 a tonne


def revenue_fen(grams: int, price_fen_per_tonne: int) -> int:
    """grams × price / 1,000,000, rounded half up to whole fen."""
    return (grams * price_fen_per_tonne + 500_000) // 1_000_000


def shop_fund_fen(total_fen: int, percent: int) -> int:
    """The shop's share of a sale's revenue, rounded down to whole fen."""
    return total_fen * percent // 100


def holder(mode: SaleMode, buyer_id: uuid.UUID | str, sale_id: uuid.UUID | str) -> str:
    """The ledger owner the grams go to: the buyer holds sold grams; retired grams are gone."""
    return f"buyer:{buyer_id}" if mode == SaleMode.SALE else f"retired:{sale_id}"


@dataclass(frozen=True)
class SerialRange:
    """Serials first..last (inclusive) of one certified batch."""

    batch_id: int
    batch_code: str
    serial_prefix: str
    period: str
    methodology_id: str
    methodology_version: int
    first: int
    last: int

    @property
    def grams(self) -> int:
        return self.last - self.first + 1

    def printed(self, number: int) -> str:
        return serial(self.serial_prefix, number)

    @property
    def first_printed(self) -> str:
        return self.printed(self.first)

    @property
    def last_printed(self) -> str:
        return self.printed(self.last)


@dataclass(frozen=True)
class Certificate:
    """A sale or retirement as its certificate shows it."""

    sale: MarketSale
    buyer: Buyer
    ranges: list[SerialRange]

    @property
    def methodologies(self) -> list[tuple[str, int]]:
        return sorted({(r.methodology_id, r.methodology_version) for r in self.ranges})

    @property
    def periods(self) -> list[str]:
        return sorted({r.period for r in self.ranges})


@dataclass(frozen=True)
class Inventory:
    """Grams certified and where they went; revenue in fen (the sums of the sales)."""

    certified_grams: int  # sealed and supplementary batches
    adjusted_grams: int  # taken back out of the inventory by adjustment batches (positive)
    sold_grams: int
    retired_grams: int
    available_grams: int  # the ledger balance of inventory:certified
    revenue_fen: int
    shop_fund_fen: int
    shop_share_percent: int  # the setting now (each sale keeps the one it was made with)


def _key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_MAX:
        raise invalid("idempotencyKey", N_("An idempotency key is 1 to %(max)s characters.",
                                            max=KEY_MAX))
    return key


def _text(value: str | None, field: str, limit: int, required: bool) -> str | None:
    clean = " ".join((value or "").split())
    if not clean and not required:
        return None
    if not clean or len(clean) > limit or any(
            unicodedata.category(ch).startswith("C") for ch in clean):
        raise invalid(field, N_("%(field)s is 1 to %(max)s printable characters.",
                                field=field, max=limit))
    return clean


def _buyer_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such buyer."), "buyerId") from None


async def get_buyer(buyer_id: str) -> Buyer:
    buyer = await Buyer.get_or_none(id=_buyer_uuid(buyer_id))
    if buyer is None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such buyer."), "buyerId")
    return buyer


async def create_buyer(actor_id: str, name: str, kind: BuyerKind, contact: str | None,
                       idempotency_key: str) -> Buyer:
    """Create a buyer (audited); the same key again returns the same buyer."""
    key = _key(idempotency_key)
    clean = _text(name, "name", NAME_MAX, required=True)
    contact = _text(contact, "contact", CONTACT_MAX, required=False)
    try:
        async with in_transaction():
            buyer = await Buyer.create(name=clean, kind=BuyerKind(kind).value, contact=contact,
                                       idempotency_key=key, created_by=actor_id)
            await audit.record(actor_id, "market.create_buyer", "buyer", str(buyer.id),
                               after={"name": clean, "kind": buyer.kind, "contact": contact})
            return buyer
    except IntegrityError:
        existing = await Buyer.get_or_none(idempotency_key=key)
        if existing is None:
            raise
        if (existing.name, existing.kind, existing.contact) != (clean, BuyerKind(kind).value,
                                                                 contact):
            raise ServiceError(ErrorCode.CONFLICT,
                               N_("This idempotency key created a different buyer."),
                               "idempotencyKey") from None
        return existing


async def buyers(limit: int, after: tuple[datetime, uuid.UUID] | None) -> list[Buyer]:
    return await newest_first(Buyer.all(), after).limit(limit)


def _check_sale(mode: SaleMode, grams: int, price: int) -> None:
    whole = isinstance(grams, int) and not isinstance(grams, bool)
    if not whole or not 0 < grams <= MAX_GRAMS:
        raise invalid("grams", N_("Sell or retire 1 to %(max)s whole grams.", max=MAX_GRAMS))
    lowest = 1 if mode == SaleMode.SALE else 0
    whole = isinstance(price, int) and not isinstance(price, bool)
    if not whole or not lowest <= price <= MAX_PRICE_FEN_PER_TONNE:
        raise invalid("priceFenPerTonne", N_(
            "The price is %(min)s to %(max)s whole fen per tonne (a retirement may be free).",
            min=lowest, max=MAX_PRICE_FEN_PER_TONNE))


async def available_grams() -> int:
    """The certified grams not yet sold or retired: the ledger balance of the inventory."""
    account = await LedgerAccount.get_or_none(owner=INVENTORY, asset=Asset.CERTIFIED_GRAMS.value)
    return int(account.balance) if account else 0


def _short(available: int) -> ServiceError:
    return ServiceError(ErrorCode.OUT_OF_STOCK, N_(
        "Only %(available)s certified grams are available.", available=available), "grams")


async def _replay(key: str, mode: SaleMode, buyer_id: str, grams: int,
                  price: int) -> Certificate | None:
    """The certificate this key already made, or None; a different sale under it is a CONFLICT."""
    sale = await MarketSale.get_or_none(idempotency_key=key)
    if sale is None:
        return None
    if (sale.mode, str(sale.buyer_id), sale.grams, sale.price_fen_per_tonne) != (
            mode.value, str(buyer_id), grams, price):
        raise ServiceError(ErrorCode.CONFLICT,
                           N_("This idempotency key was used for a different sale."),
                           "idempotencyKey")
    return (await _certificates([sale]))[0]


async def sell(actor_id: str, mode: SaleMode, buyer_id: str, grams: int,
               price_fen_per_tonne: int, idempotency_key: str, now: datetime,
               shop_share_percent: int, note: str | None = None) -> Certificate:
    """Sell or retire `grams` to a buyer, or refuse with a ServiceError having changed nothing.

    The same idempotency key again returns the same certificate."""
    key = _key(idempotency_key)
    _check_sale(mode, grams, price_fen_per_tonne)
    note = _text(note, "note", NOTE_MAX, required=False)
    found = await _replay(key, mode, buyer_id, grams, price_fen_per_tonne)
    if found is not None:
        return found
    buyer = await get_buyer(buyer_id)
    available = await available_grams()
    if grams > available:  # refused without a transaction; the locked read below decides
        raise _short(available)
    try:
        async with in_transaction():
            return await _sell_in_transaction(actor_id, mode, buyer, grams,
                                              price_fen_per_tonne, key, now, shop_share_percent,
                                              note)
    except IntegrityError:
        # a concurrent request with the same key made the sale first
        found = await _replay(key, mode, buyer_id, grams, price_fen_per_tonne)
        if found is None:
            raise
        return found


async def _lock_cursor() -> int:
    """Lock the inventory's cursor row (made on first use); the certificates issued so far."""
    conn = connections.get("default")
    await conn.execute_query(dialect_sql(conn, "INSERT INTO market_cursor (id, certificates) "
                                               "VALUES ({1}, 0) ON CONFLICT (id) DO NOTHING", 1),
                             [CURSOR])
    lock = " FOR UPDATE" if conn.capabilities.dialect == "postgres" else ""
    rows = await conn.execute_query_dict(
        dialect_sql(conn, "SELECT certificates FROM market_cursor WHERE id = {1}" + lock, 1),
        [CURSOR])
    return int(rows[0]["certificates"])


TAKEN = """
SELECT b.id, b.first_serial, b.last_serial,
       (SELECT MAX(a.last_serial) FROM market_allocation a WHERE a.batch_id = b.id) AS taken
FROM certified_batch b
WHERE b.kind <> 'adjustment' AND b.last_serial >= b.first_serial
ORDER BY b.closed_at, b.id
"""


async def _take_serials(grams: int) -> list[tuple[CertifiedBatch, int, int]]:
    """The next `grams` serials: (batch, first, last) ranges, oldest batch first. Each
    batch's last serial taken is one lookup in the (batch, last_serial) unique index."""
    conn = connections.get("default")
    spans = []
    wanted = grams
    for row in await conn.execute_query_dict(TAKEN):
        first, last = int(row["first_serial"]), int(row["last_serial"])
        start = first if row["taken"] is None else max(first, int(row["taken"]) + 1)
        if start > last:
            continue
        end = min(last, start + wanted - 1)
        spans.append((int(row["id"]), start, end))
        wanted -= end - start + 1
        if not wanted:
            batches = {b.id: b for b in await CertifiedBatch.filter(
                id__in=[batch_id for batch_id, _, _ in spans])}
            return [(batches[batch_id], start, end) for batch_id, start, end in spans]
    raise _short(grams - wanted)


async def _sell_in_transaction(actor_id: str, mode: SaleMode, buyer: Buyer, grams: int,
                               price: int, key: str, now: datetime, share_percent: int,
                               note: str | None) -> Certificate:
    issued = await _lock_cursor()
    available = await available_grams()
    if grams > available:
        raise _short(available)
    ranges = await _take_serials(grams)
    total = revenue_fen(grams, price)
    shop = shop_fund_fen(total, share_percent)
    number = f"CPC-{issued + 1:08d}"
    sale_id = uuid.uuid4()
    printed = [{"batch": b.code, "first": serial(b.serial_prefix, first),
                "last": serial(b.serial_prefix, last), "grams": last - first + 1}
               for b, first, last in ranges]
    digest = certificate_digest(number, mode, buyer, grams, price, total, printed, now)
    sale = await MarketSale.create(
        id=sale_id, number=number, mode=mode.value, buyer=buyer, grams=grams,
        price_fen_per_tonne=price, total_fen=total, shop_share_percent=share_percent,
        shop_fund_fen=shop, note=note, digest=digest, idempotency_key=key,
        created_by=actor_id, created_at=now)
    await MarketAllocation.bulk_create([
        MarketAllocation(sale_id=sale_id, batch_id=b.id, position=i, first_serial=first,
                         last_serial=last, grams=last - first + 1)
        for i, (b, first, last) in enumerate(ranges)])
    await MarketCursor.filter(id=CURSOR).update(certificates=issued + 1)
    postings = [Posting(INVENTORY, Asset.CERTIFIED_GRAMS, -grams),
                Posting(holder(mode, buyer.id, sale_id), Asset.CERTIFIED_GRAMS, grams)]
    if total:
        postings.append(Posting(SALES, Asset.CNY_FEN, -total))
        postings.append(Posting(REVENUE, Asset.CNY_FEN, total - shop))
        if shop:
            postings.append(Posting(SHOP_FUND, Asset.CNY_FEN, shop))
    postings = [p for p in postings if p.amount]
    try:
        await post_many_in_transaction([Entry(f"MARKET_{mode.value}", f"market:{sale_id}",
                                              postings, reference=f"certificate:{number}")])
    except ServiceError:  # the inventory went below zero (an adjustment since the read)
        raise _short(available) from None
    await audit.record(actor_id, f"market.{mode.value.lower()}", "certificate", number,
                       after={"buyer": str(buyer.id), "grams": grams, "price": price,
                              "total_fen": total, "shop_fund_fen": shop})
    return Certificate(sale, buyer, [SerialRange(
        b.id, b.code, b.serial_prefix, b.period, b.methodology_id, b.methodology_version,
        first, last) for b, first, last in ranges])


def certificate_digest(number: str, mode: SaleMode, buyer: Buyer, grams: int, price: int,
                       total: int, ranges: list[dict], created_at: datetime) -> str:
    """SHA-256 of the certificate's canonical JSON: anyone holding the certificate's figures
    can recompute it and compare it with the one the public lookup shows."""
    body = {"number": number, "mode": mode.value, "buyer": buyer.name, "buyer_kind": buyer.kind,
            "grams": grams, "price_fen_per_tonne": price, "total_fen": total, "ranges": ranges,
            "created_at": created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def _certificates(sales: list[MarketSale]) -> list[Certificate]:
    """Each sale with its buyer and serial ranges, in three queries whatever their number."""
    if not sales:
        return []
    allocations = await MarketAllocation.filter(sale_id__in=[s.id for s in sales]).order_by(
        "sale_id", "position")
    batches = {b.id: b for b in await CertifiedBatch.filter(
        id__in=list({a.batch_id for a in allocations}))}
    buyers_by_id = {b.id: b for b in await Buyer.filter(id__in=list({s.buyer_id for s in sales}))}
    ranges: dict[uuid.UUID, list[SerialRange]] = {s.id: [] for s in sales}
    for a in allocations:
        b = batches[a.batch_id]
        ranges[a.sale_id].append(SerialRange(
            b.id, b.code, b.serial_prefix, b.period, b.methodology_id, b.methodology_version,
            a.first_serial, a.last_serial))
    return [Certificate(s, buyers_by_id[s.buyer_id], ranges[s.id]) for s in sales]


async def certificate(number: str) -> Certificate | None:
    """The certificate with this number, or None."""
    if not isinstance(number, str) or len(number) > 40:
        return None
    sale = await MarketSale.get_or_none(number=number.strip().upper())
    return (await _certificates([sale]))[0] if sale else None


async def certificates(limit: int, after: tuple[datetime, uuid.UUID] | None,
                       buyer_id: uuid.UUID | None = None) -> list[Certificate]:
    """Certificates newest first, of one buyer or all."""
    query = MarketSale.all()
    if buyer_id is not None:
        query = query.filter(buyer_id=buyer_id)
    return await _certificates(await newest_first(query, after).limit(limit))


async def inventory(shop_share_percent: int) -> Inventory:
    """Where the certified grams are, and the revenue booked."""
    def total(rows: list[dict], name: str = "total") -> int:
        return int(rows[0][name] or 0) if rows else 0

    certified = total(await CertifiedBatch.filter(grams__gt=0).annotate(
        total=Sum("grams")).values("total"))
    # what adjustments took back out of the inventory (a withdrawal of grams already sold
    # is recorded in its adjustment batch's manifest as unrecovered, not taken here)
    adjusted = -total(await LedgerLine.filter(
        account__owner=INVENTORY, asset=Asset.CERTIFIED_GRAMS.value, amount__lt=0,
        transaction__type=ADJUSTMENT_TYPE).annotate(total=Sum("amount")).values("total"))
    by_mode = {r["mode"]: r for r in await MarketSale.annotate(
        grams_total=Sum("grams"), fen=Sum("total_fen"), shop=Sum("shop_fund_fen")
    ).group_by("mode").values("mode", "grams_total", "fen", "shop")}

    def of(mode: SaleMode, name: str) -> int:
        return int((by_mode.get(mode.value) or {}).get(name) or 0)

    return Inventory(
        certified_grams=certified, adjusted_grams=adjusted,
        sold_grams=of(SaleMode.SALE, "grams_total"),
        retired_grams=of(SaleMode.RETIREMENT, "grams_total"),
        available_grams=await available_grams(),
        revenue_fen=of(SaleMode.SALE, "fen") + of(SaleMode.RETIREMENT, "fen"),
        shop_fund_fen=of(SaleMode.SALE, "shop") + of(SaleMode.RETIREMENT, "shop"),
        shop_share_percent=shop_share_percent)
