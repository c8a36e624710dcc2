"""Closing a period per merchant: points out of the merchant's account, cash through the outbox.

Per merchant, one database transaction:
1. lock the merchant's ledger account (`SELECT … FOR UPDATE`; a payment to the merchant
   updates that row, so in-flight payments finish first and new ones wait);
2. insert the Settlement row, unique per (merchant, period): a second run finds it and
   settles nothing ("already settled");
3. claim the period's payments (`UPDATE … SET settlement_id WHERE settlement_id IS NULL`);
4. settle the merchant's balance minus the points of payments not yet due (unclaimed),
   that is this period's payments plus any remainder carried from earlier periods,
   rounded down to the points that convert into whole fen at the rate (with 100
   points per yuan, every point: 1 point = 1 fen); what does not convert stays in the
   balance and is carried into the next settlement;
5. post the ledger transfer merchant -> system:settlement and enqueue the payout.

The statement CSV is kept in the row and written to `<statements_dir>/<period>/<merchant>.csv`
after the commit (rewritten by a later run if the file is missing).

A payout that fails for good (`SettlementPayouts.failed`) marks the settlement FAILED,
posts the points back to the merchant (a new ledger transaction; lines are never
edited) and releases its payments. Settling the same period again then reuses the
FAILED row (the (merchant, period) pair is unique) with a new payout id
(`settlement:<id>:2`, …) and ledger key; the failed payout and both ledger
transactions stay as the history.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from app.errors import invalid
from app.i18n.messages import N_
from app.ledger import service as ledger
from app.ledger.models import LedgerAccount
from app.ledger.service import Asset
from app.merchants import statements
from app.merchants.models import Merchant, MerchantPayment, Settlement, SettlementStatus
from app.payouts import outbox
from app.payouts.models import Payout
from app.settings import get_settings

# A period can be settled this long after it ends, so that a payment still committing
# at the boundary (its time is taken just before its INSERT) is in its period's claim.
GRACE = timedelta(minutes=5)
PENDING = SettlementStatus.PENDING_PAYOUT.value
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$|^(\d{4})-(\d{2})-(\d{2})$|^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Period:
    name: str
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware


def parse_period(text: str, tz: ZoneInfo) -> Period:
    """'2026-11' (month), '2026-11-20' (day) or '2026-W47' (ISO week), in local time."""
    match = _PERIOD.match((text or "").strip())
    try:
        if match is None:
            raise ValueError
        if match.group(1):
            first = date(int(match.group(1)), int(match.group(2)), 1)
            after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        elif match.group(3):
            first = date(int(match.group(3)), int(match.group(4)), int(match.group(5)))
            after = first + timedelta(days=1)
        else:
            first = date.fromisocalendar(int(match.group(6)), int(match.group(7)), 1)
            after = first + timedelta(days=7)
    except ValueError:
        raise invalid("period", N_("A period is a month (2026-11), a day (2026-11-20) "
                                   "or an ISO week (2026-W47).")) from None
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    end = datetime(after.year, after.month, after.day, tzinfo=tz)
    return Period(match.group(0), start, end)


def points_unit(points_per_yuan: int) -> int:
    """The fewest points that are a whole number of fen at this rate."""
    return points_per_yuan // math.gcd(points_per_yuan, 100)


@dataclass
class MerchantOutcome:
    merchant_id: str
    merchant_name: str
    status: str  # "settled", "already settled", "nothing to settle"
    settlement: Settlement | None = None
    statement_file: Path | None = None
    late_payments: int = 0  # unclaimed payments in an already settled period


@dataclass
class SettleReport:
    period: Period
    outcomes: list[MerchantOutcome] = field(default_factory=list)

    def settled(self) -> list[MerchantOutcome]:
        return [o for o in self.outcomes if o.status == "settled"]


class _NothingToSettle(Exception):
    pass


async def settle(period: str, now: datetime, points_per_yuan: int | None = None,
                 statements_dir: str | Path | None = None,
                 timezone: str | None = None) -> SettleReport:
    """Settle `period` for every merchant with unsettled payments in it (see the module doc)."""
    settings = get_settings()
    rate = settings.settlement_points_per_yuan if points_per_yuan is None else points_per_yuan
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise invalid("rate", N_("The rate is a whole number of points per yuan, at least 1."))
    tz = ZoneInfo(timezone or settings.default_timezone)
    folder = Path(statements_dir or settings.statements_dir)
    p = parse_period(period, tz)
    if p.end > now - GRACE:
        raise invalid("period", N_("%(period)s has not ended (or ended less than %(minutes)s "
                                   "minutes ago).", period=p.name,
                                   minutes=int(GRACE.total_seconds() // 60)))
    due = await MerchantPayment.filter(
        settlement_id=None, created_at__gte=p.start, created_at__lt=p.end,
    ).distinct().values_list("merchant_id", flat=True)
    done = await Settlement.filter(period=p.name).values_list("merchant_id", flat=True)
    report = SettleReport(p)
    for merchant_id in sorted({str(m) for m in [*due, *done]}):
        merchant = await Merchant.get(id=merchant_id)
        outcome = await _settle_merchant(merchant, p, now, rate, tz)
        if outcome.settlement is not None:
            path = statements.statement_path(folder, p.name, merchant_id)
            if outcome.status == "settled" or not path.exists():
                statements.write(path, outcome.settlement.statement)
            outcome.statement_file = path
        if outcome.status == "already settled":
            outcome.late_payments = await MerchantPayment.filter(
                merchant_id=merchant_id, settlement_id=None,
                created_at__gte=p.start, created_at__lt=p.end).count()
        report.outcomes.append(outcome)
    return report


def _settlement_owner(merchant_id: str) -> str:
    return ledger.sharded_owner("settlement", merchant_id)


async def _lock_account(merchant_id: str) -> LedgerAccount | None:
    """Lock the merchant's points account (payments to it wait) and read its balance."""
    return await LedgerAccount.filter(owner=ledger.merchant_owner(merchant_id),
                                      asset=Asset.CARBON_POINT.value).select_for_update().first()


async def _unclaimed_points(merchant_id: str) -> int:
    rows = await MerchantPayment.filter(merchant_id=merchant_id, settlement_id=None).annotate(
        total=Sum("points")).values("total")
    return int(rows[0]["total"] or 0) if rows else 0


async def _settle_merchant(merchant: Merchant, p: Period, now: datetime, rate: int,
                           tz: ZoneInfo) -> MerchantOutcome:
    mid = str(merchant.id)
    outcome = MerchantOutcome(mid, merchant.name, "settled")
    try:
        async with in_transaction():
            account = await _lock_account(mid)
            existing = await Settlement.filter(
                merchant_id=mid, period=p.name).select_for_update().first()
            if existing is not None and existing.status != SettlementStatus.FAILED.value:
                return MerchantOutcome(mid, merchant.name, "already settled", existing)
            sid = existing.id if existing else uuid.uuid4()
            claimed = await MerchantPayment.filter(
                merchant_id=mid, settlement_id=None, created_at__gte=p.start, created_at__lt=p.end,
            ).update(settlement_id=sid)
            if not claimed:
                raise _NothingToSettle
            payments = await MerchantPayment.filter(settlement_id=sid).order_by("created_at", "id")
            payments_points = sum(x.points for x in payments)
            total = (int(account.balance) if account else 0) - await _unclaimed_points(mid)
            settled = max(0, total - total % points_unit(rate))
            cash_fen = settled * 100 // rate
            attempt = 1 + (await Payout.filter(purpose="settlement", reference=str(sid)).count()
                           if existing else 0)
            suffix = "" if attempt == 1 else f":{attempt}"
            if settled:
                await ledger.post_in_transaction(
                    "settlement", f"settle:{mid}:{p.name}{suffix}",
                    ledger.transfer(ledger.merchant_owner(mid), _settlement_owner(mid),
                                    Asset.CARBON_POINT, settled),
                    reference=str(sid))
                await outbox.enqueue(f"settlement:{sid}{suffix}", "settlement", str(sid),
                                     ledger.merchant_owner(mid), cash_fen, now)
            figures = statements.StatementFigures(
                p.name, p.start, p.end, payments_points, total - payments_points, settled, rate,
                cash_fen)
            values: dict[str, Any] = dict(
                period_start=p.start, period_end=p.end, payments=len(payments), points=settled,
                cash_fen=cash_fen, points_per_yuan=rate,
                # nothing to pay (everything carried forward) is settled at once
                status=(PENDING if settled else SettlementStatus.PAID.value),
                statement=statements.render(mid, merchant.name, figures, payments, tz))
            if existing:
                await Settlement.filter(id=sid).update(**values)
                outcome.settlement = await Settlement.get(id=sid)
            else:
                outcome.settlement = await Settlement.create(id=sid, merchant_id=mid, period=p.name,
                                                             **values)
    except _NothingToSettle:
        return MerchantOutcome(mid, merchant.name, "nothing to settle")
    except IntegrityError:  # a concurrent run settled this merchant's period first
        existing = await Settlement.get_or_none(merchant_id=mid, period=p.name)
        if existing is None:
            raise
        return MerchantOutcome(mid, merchant.name, "already settled", existing)
    return outcome


class SettlementPayouts:
    """The outbox's handler for purpose "settlement" (called inside the worker's transaction)."""

    async def paid(self, payout: Payout) -> None:
        await Settlement.filter(id=payout.reference, status=PENDING).update(
            status=SettlementStatus.PAID.value)

    async def failed(self, payout: Payout) -> None:
        """Give the points back to the merchant and release the payments for a later run."""
        found = await Settlement.get_or_none(id=payout.reference)
        if found is None:
            return
        mid = str(found.merchant_id)
        async with in_transaction():  # a savepoint inside the worker's transaction
            # the same lock order as settle(): the merchant's account, then the settlement
            await _lock_account(mid)
            changed = await Settlement.filter(id=found.id, status=PENDING).update(
                status=SettlementStatus.FAILED.value)
            if not changed:
                return  # already handled
            settlement = await Settlement.get(id=found.id)
            if settlement.points:
                await ledger.post_in_transaction(
                    "settlement-failed", f"settle-failed:{payout.id}",
                    ledger.transfer(_settlement_owner(mid), ledger.merchant_owner(mid),
                                    Asset.CARBON_POINT, settlement.points),
                    reference=str(settlement.id))
            await MerchantPayment.filter(settlement_id=settlement.id).update(settlement_id=None)
