"""A player's own data as one JSON-ready document: what the programme holds about them.

Secrets are left out (login-code and refresh-token hashes), and so is other people's data:
friends appear by id only, not by nickname.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.accounts.models import AuthSession, HostIdentity, MiniProgramIdentity, Player
from app.certification.models import ActivityWithdrawal, CertifiedActivity
from app.clock import utcnow
from app.credits.crediting import explained
from app.credits.models import Activity
from app.ledger.models import LedgerLine
from app.ledger.service import balances, player_owner
from app.merchants.models import MerchantPayment
from app.partner_links.models import PartnerLink
from app.planet.models import Friendship, Planet, QuizAnswer
from app.shop.models import Order
from methodology import MethodologyRegistry

FORMAT = "carbon-planet.export/1"


def _time(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _profile(player: Player) -> dict[str, Any]:
    return {"id": str(player.id), "phone": player.phone, "nickname": player.nickname,
            "city": player.city, "avatarUrl": player.avatar_url, "roles": list(player.roles),
            "createdAt": _time(player.created_at)}


async def _identities(player_id: str) -> dict[str, list[dict[str, Any]]]:
    hosts = await HostIdentity.filter(player_id=player_id).order_by("id")
    apps = await MiniProgramIdentity.filter(player_id=player_id).order_by("id")
    return {
        "hostApps": [{"issuer": h.issuer, "subject": h.subject, "createdAt": _time(h.created_at)}
                     for h in hosts],
        "miniPrograms": [{"platform": m.platform, "appId": m.app_id, "openid": m.openid,
                          "unionid": m.unionid, "createdAt": _time(m.created_at)} for m in apps],
    }


async def _sessions(player_id: str) -> list[dict[str, Any]]:
    rows = await AuthSession.filter(player_id=player_id).order_by("created_at")
    return [{"id": str(s.id), "method": s.method, "createdAt": _time(s.created_at),
             "revokedAt": _time(s.revoked_at), "revokeReason": s.revoke_reason} for s in rows]


async def _partner_links(player_id: str) -> list[dict[str, Any]]:
    rows = await PartnerLink.filter(player_id=player_id).order_by("created_at", "id")
    return [{"id": str(link.id), "partnerId": link.partner_id, "externalId": link.external_id,
             "active": bool(link.active), "createdAt": _time(link.created_at),
             "removedAt": _time(link.removed_at)} for link in rows]


async def _activities(player_id: str, registry: MethodologyRegistry) -> list[dict[str, Any]]:
    rows = await Activity.filter(player_id=player_id).order_by("occurred_at", "id")
    return [{"id": str(a.id), "kind": a.kind, "source": a.source,
             "occurredAt": _time(a.occurred_at), "endedAt": _time(a.ended_at),
             "localDate": _time(a.local_date), "distanceMeters": a.distance_meters,
             "steps": a.steps, "reductionGrams": a.reduction_grams, "points": a.points,
             "growth": a.growth, "energy": a.energy, "status": a.status,
             "rejectReason": a.reject_reason, "methodologyId": a.methodology_id,
             "methodologyVersion": a.methodology_version,
             "provenance": explained(a.provenance, a.kind, a.methodology_id, a.methodology_version,
                                     registry),
             "createdAt": _time(a.created_at)} for a in rows]


async def _certified(player_id: str) -> list[dict[str, Any]]:
    """The player's part of each certified batch: grams and serials per activity."""
    rows = await CertifiedActivity.filter(activity__player_id=player_id).order_by("id") \
        .select_related("batch")
    return [{"activityId": str(c.activity_id), "batch": c.batch.code,
             "period": c.batch.period, "batchKind": c.batch.kind, "kind": c.kind,
             "grams": c.grams, "serialPrefix": c.batch.serial_prefix,
             "firstSerial": c.first_serial, "lastSerial": c.last_serial} for c in rows]


async def _withdrawals(player_id: str) -> list[dict[str, Any]]:
    rows = await ActivityWithdrawal.filter(activity__player_id=player_id).order_by("id")
    return [{"activityId": str(w.activity_id), "reason": w.reason,
             "note": w.note, "reversed": w.reversed_amounts, "owed": w.owed_amounts,
             "createdAt": _time(w.created_at)} for w in rows]


async def _ledger(player_id: str) -> list[dict[str, Any]]:
    rows = await LedgerLine.filter(account__owner=player_owner(player_id)) \
        .order_by("id").select_related("transaction")
    return [{"id": line.id, "transactionId": str(line.transaction.id),
             "type": line.transaction.type, "asset": line.asset, "amount": line.amount,
             "balanceAfter": line.balance_after, "createdAt": _time(line.created_at)}
            for line in rows]


async def _planet(player_id: str) -> dict[str, Any]:
    planet = await Planet.get_or_none(player_id=player_id)
    answers = await QuizAnswer.filter(player_id=player_id).order_by("local_date", "id")
    return {
        "state": planet.state if planet else None,
        "activeTheme": planet.active_theme if planet else None,
        "quizAnswers": [{"localDate": _time(q.local_date), "questionId": q.question_id,
                         "choiceId": q.choice_id, "correct": q.correct} for q in answers],
    }


async def _orders(player_id: str) -> list[dict[str, Any]]:
    rows = await Order.filter(player_id=player_id).order_by("created_at", "id") \
        .select_related("item")
    return [{"id": str(o.id), "itemId": str(o.item.id), "item": o.item.title,
             "itemEn": o.item.title_en, "quantity": o.quantity, "pointsSpent": o.points_spent,
             "status": o.status, "couponCodes": list(o.coupon_codes), "cashFen": o.cash_fen,
             "cancelReason": o.cancel_reason, "createdAt": _time(o.created_at)} for o in rows]


async def _merchant_payments(player_id: str) -> list[dict[str, Any]]:
    rows = await MerchantPayment.filter(player_id=player_id).order_by("created_at", "id")
    return [{"id": str(p.id), "merchantId": str(p.merchant_id), "points": p.points,
             "createdAt": _time(p.created_at)} for p in rows]


async def _friends(player_id: str) -> list[dict[str, Any]]:
    rows = await Friendship.filter(player_id=player_id).order_by("created_at", "id")
    return [{"playerId": str(f.friend_id), "since": _time(f.created_at)}
            for f in rows]


async def export_player(player: Player, registry: MethodologyRegistry) -> dict[str, Any]:
    """Everything held about `player`, by section, JSON-ready (integers stay integers);
    activities' provenance with the sources from `registry`."""
    pid = str(player.id)
    return {
        "format": FORMAT,
        "generatedAt": _time(utcnow()),
        "profile": _profile(player),
        "identities": await _identities(pid),
        "sessions": await _sessions(pid),
        "partnerLinks": await _partner_links(pid),
        "balances": {asset.value: amount for asset, amount in (await balances(pid)).items()},
        "ledgerLines": await _ledger(pid),
        "activities": await _activities(pid, registry),
        "certifiedReductions": await _certified(pid),
        "withdrawals": await _withdrawals(pid),
        "planet": await _planet(pid),
        "friends": await _friends(pid),
        "orders": await _orders(pid),
        "merchantPayments": await _merchant_payments(pid),
    }
