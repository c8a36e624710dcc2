"""Compare the outbox with the provider's books, and say what each difference means.

The outbox and the provider can disagree only through a crash window (paid at the
provider, not yet recorded), a provider-side problem, or a bug; every disagreement
is listed with what to do about it, nothing is changed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.payouts.models import Payout, PayoutStatus
from app.payouts.provider import PayoutProvider


@dataclass(frozen=True)
class Difference:
    payout_id: str
    kind: str  # paid-not-recorded, paid-but-failed, missing-at-provider, amount, recipient,
    #            reference, unknown-at-provider
    detail: str

    def __str__(self) -> str:
        return f"{self.payout_id}: {self.kind}: {self.detail}"


async def reconcile(provider: PayoutProvider, since: datetime | None = None) -> list[Difference]:
    """Differences between outbox payouts created since `since` and the provider's records."""
    outbox_query = Payout.all() if since is None else Payout.filter(created_at__gte=since)
    payouts = {p.id: p for p in await outbox_query}
    records = {r.payout_id: r for r in await provider.records(since)}
    # a payout created before `since` may have been paid after it
    older = set(records) - set(payouts)
    if older:
        payouts.update({p.id: p for p in await Payout.filter(id__in=older)})

    differences = []
    for payout_id in sorted(set(payouts) | set(records)):
        payout, record = payouts.get(payout_id), records.get(payout_id)
        if payout is None:
            assert record is not None  # the id came from the outbox or the provider
            differences.append(Difference(
                payout_id, "unknown-at-provider",
                f"the provider paid {record.amount_fen} fen to {record.recipient} "
                f"({record.reference}) but the outbox has no such payout: investigate"))
            continue
        if record is None:
            if payout.status == PayoutStatus.PAID.value:
                differences.append(Difference(
                    payout_id, "missing-at-provider",
                    f"the outbox says PAID ({payout.provider_reference}) but the provider has no "
                    "record: check with the provider before paying again"))
            continue
        if payout.status == PayoutStatus.PENDING.value:
            differences.append(Difference(
                payout_id, "paid-not-recorded",
                f"paid at the provider ({record.reference}) but the outbox says PENDING after "
                f"{payout.attempts} attempt(s): the worker records it PAID on its next attempt "
                "(the provider de-duplicates the resend)"))
        elif payout.status == PayoutStatus.FAILED.value:
            differences.append(Difference(
                payout_id, "paid-but-failed",
                f"paid at the provider ({record.reference}) but the outbox says FAILED and its "
                "value was given back: recover the payment or reverse the refund by hand"))
        if record.amount_fen != payout.amount_fen:
            differences.append(Difference(
                payout_id, "amount",
                f"outbox {payout.amount_fen} fen, provider {record.amount_fen} fen"))
        if record.recipient != payout.recipient:
            differences.append(Difference(
                payout_id, "recipient",
                f"outbox {payout.recipient}, provider {record.recipient}"))
        if payout.status == PayoutStatus.PAID.value and payout.provider_reference != record.reference:
            differences.append(Difference(
                payout_id, "reference",
                f"outbox {payout.provider_reference}, provider {record.reference}"))
    return differences
