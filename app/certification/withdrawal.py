"""Withdrawing a credited activity (a partner recalled it, an operator found it fraudulent).

History is not edited: the activity keeps its amounts, its status becomes `withdrawn`, an
`ActivityWithdrawal` row records who, why and what was reversed, and the reversal is a
ledger transaction of its own (`activity.withdrawal`, reference `activity:<id>`).

A player may have spent the points already. The reversal takes, per asset, what the
player's balance holds, never below zero, and records the rest as owed on the withdrawal
(shown to the player with it); nothing else is taken later.

If the activity was certified, the next close of its methodology version carries it in an
adjustment batch (`app.certification.service`); the sealed batch is never changed. If it
was not, it is simply never sealed (only accepted activities are).

The activity's amounts leave its day's totals, so the daily caps count only what stands.
A record recalled or withdrawn as a data error may be followed by its correction (a bill
read again, a receipt weighed again): the withdrawal releases the activity's claim on its
real event and its billing period, so the corrected record is credited rather than
refused as a duplicate or an overlap. A fraudulent or duplicate record's event stays
claimed: it is not credited again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.certification.models import ActivityWithdrawal, CertifiedActivity
from app.credits.daily import lock_daily
from app.credits.models import Activity, MeterPeriod, SceneClaim
from app.credits.steps import KIND as STEPS_KIND
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_, LazyMessage
from app.ledger.service import (
    ISSUANCE,
    Asset,
    Entry,
    Posting,
    player_owner,
    post_many_in_transaction,
)

WITHDRAWAL_TYPE = "activity.withdrawal"
MAX_KEY_LENGTH = 200
REVERSED = (Asset.CARBON_POINT, Asset.GROWTH, Asset.ENERGY, Asset.CO2E_GRAMS)


class WithdrawalReason(StrEnum):
    PARTNER_RECALL = "PARTNER_RECALL"
    FRAUD = "FRAUD"
    DUPLICATE = "DUPLICATE"
    DATA_ERROR = "DATA_ERROR"


# the reasons after which a corrected record of the same real event may be credited
RELEASING = (WithdrawalReason.PARTNER_RECALL, WithdrawalReason.DATA_ERROR)


def reason_text(reason: str) -> LazyMessage:
    """What the player reads about why an activity was withdrawn."""
    if reason == WithdrawalReason.PARTNER_RECALL:
        return N_("The partner that reported this activity recalled it.")
    if reason == WithdrawalReason.FRAUD:
        return N_("This activity did not pass the programme's checks.")
    if reason == WithdrawalReason.DUPLICATE:
        return N_("This activity was reported twice: it is credited once.")
    return N_("The record of this activity was wrong.")


@dataclass(frozen=True)
class Withdrawn:
    withdrawal: ActivityWithdrawal
    activity: Activity
    certified: bool  # it had been sealed: an adjustment follows in the next close
    created: bool


def _amounts(activity: Activity) -> dict[Asset, int]:
    return {Asset.CARBON_POINT: activity.points, Asset.GROWTH: activity.growth,
            Asset.ENERGY: activity.energy, Asset.CO2E_GRAMS: activity.reduction_grams}


async def _balances(conn, owner: str) -> dict[Asset, int]:
    lock = " FOR UPDATE" if conn.capabilities.dialect == "postgres" else ""
    mark = "$1" if lock else "?"
    rows = await conn.execute_query_dict(
        f"SELECT asset, balance FROM ledger_account WHERE owner = {mark} ORDER BY id{lock}", [owner])
    found = {asset: 0 for asset in Asset}
    for r in rows:
        found[Asset(r["asset"])] = int(r["balance"])
    return found


async def _result(withdrawal: ActivityWithdrawal) -> Withdrawn:
    activity = await Activity.get(id=withdrawal.activity_id)
    certified = await CertifiedActivity.exists(activity_id=activity.id, kind="certified")
    return Withdrawn(withdrawal, activity, certified, created=False)


def _activity_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("There is no such activity."),
                           "activityId") from None


async def withdraw(activity_id: str, reason: str, note: str | None, withdrawn_by: str,
                   idempotency_key: str) -> Withdrawn:
    """Withdraw an accepted activity once; the same key (or the activity withdrawn before)
    returns the first withdrawal."""
    key = idempotency_key.strip()
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise ServiceError(ErrorCode.INVALID_INPUT, N_(
            "An idempotency key is 1 to %(max)s characters.", max=MAX_KEY_LENGTH),
            "idempotencyKey")
    if reason not in WithdrawalReason.__members__:
        raise ServiceError(ErrorCode.INVALID_INPUT, N_("Unknown withdrawal reason."), "reason")
    note = (note or "").strip() or None
    if note is not None and len(note) > 300:
        raise ServiceError(ErrorCode.INVALID_INPUT,
                           N_("At most %(max)s characters.", max=300), "note")
    wanted = _activity_id(activity_id)
    if (found := await _by_key(key, wanted)) is not None:
        return found
    try:
        return await _withdraw(wanted, reason, note, withdrawn_by, key)
    except IntegrityError:  # the same key, or the same activity, withdrawn concurrently
        found = await _by_key(key, wanted)
        if found is None:
            earlier = await ActivityWithdrawal.get_or_none(activity_id=wanted)
            if earlier is None:
                raise
            found = await _result(earlier)
        return found


async def _by_key(key: str, wanted: uuid.UUID) -> Withdrawn | None:
    found = await ActivityWithdrawal.get_or_none(idempotency_key=key)
    if found is None:
        return None
    if found.activity_id != wanted:
        raise ServiceError(ErrorCode.CONFLICT, N_(
            "This idempotency key was used to withdraw another activity."), "idempotencyKey")
    return await _result(found)


async def _withdraw(wanted: uuid.UUID, reason: str, note: str | None, withdrawn_by: str,
                    key: str) -> Withdrawn:
    async with in_transaction() as conn:
        activity = await Activity.filter(id=wanted).select_for_update().using_db(conn).first()
        if activity is None:
            raise ServiceError(ErrorCode.NOT_FOUND, N_("There is no such activity."),
                               "activityId")
        earlier = await ActivityWithdrawal.filter(activity_id=wanted).using_db(conn).first()
        if earlier is not None:
            return await _result(earlier)
        if activity.status != "accepted":
            raise ServiceError(ErrorCode.INVALID_INPUT, N_(
                "Only an accepted activity can be withdrawn."), "activityId")
        owner = player_owner(str(activity.player_id))
        held = await _balances(conn, owner)
        taken: dict[Asset, int] = {}
        owed: dict[Asset, int] = {}
        for asset, amount in _amounts(activity).items():
            if amount <= 0:
                continue
            taken[asset] = min(amount, max(held[asset], 0))
            if amount - taken[asset]:
                owed[asset] = amount - taken[asset]
        postings: list[Posting] = []
        for asset, amount in taken.items():
            if amount:
                postings += [Posting(owner, asset, -amount), Posting(ISSUANCE, asset, amount)]
        withdrawal = await ActivityWithdrawal.create(
            using_db=conn, activity_id=wanted, previous_status=activity.status, reason=reason,
            note=note, withdrawn_by=withdrawn_by, idempotency_key=key,
            reversed_amounts={a.value: n for a, n in taken.items() if n},
            owed_amounts={a.value: n for a, n in owed.items()})
        await Activity.filter(id=wanted).using_db(conn).update(status="withdrawn")
        if reason in RELEASING:
            await SceneClaim.filter(activity_id=wanted).using_db(conn).delete()
            await MeterPeriod.filter(activity_id=wanted).using_db(conn).delete()
        await _free_daily_caps(activity)
        if postings:
            await post_many_in_transaction([Entry(
                WITHDRAWAL_TYPE, f"withdrawal:{wanted}", postings, reference=f"activity:{wanted}")])
    activity.status = "withdrawn"
    certified = await CertifiedActivity.exists(activity_id=wanted, kind="certified")
    return Withdrawn(withdrawal, activity, certified, created=True)


async def _free_daily_caps(activity: Activity) -> None:
    """Take the activity's amounts out of its day's totals for its kind, so the daily caps
    count only what still stands: a later record that day earns what the withdrawn one
    had used up. A day's steps keep their total (it is the phone's count, and the next
    sync credits only steps above it)."""
    if activity.kind == STEPS_KIND:
        return
    daily = await lock_daily(str(activity.player_id), activity.local_date, activity.kind)
    for name in ("reduction_grams", "points", "growth", "energy"):
        setattr(daily, name, max(getattr(daily, name) - getattr(activity, name), 0))
    await daily.save(update_fields=["reduction_grams", "points", "growth", "energy"])


async def withdrawals_of(activity_ids: Sequence[str]) -> dict[str, ActivityWithdrawal | None]:
    """Each activity's withdrawal (None when it stands), in one query."""
    rows = await ActivityWithdrawal.filter(activity_id__in=list(activity_ids))
    found = {str(w.activity_id): w for w in rows}
    return {a: found.get(a) for a in activity_ids}
