"""Closing a player's account: personal data erased, the pseudonymous history kept.

Erased in one transaction: the phone, nickname (replaced by `CLOSED_NICKNAME`), city and
avatar; host-app and mini-program identities; the phone's login code; partner-link codes;
partners' link offers for the phone; the partner's id in every partner link (the links
end) and in the partner records that credited the player; friendships both ways. Every
session is revoked. The player row stays, with `closed_at`, as the owner of ledger lines,
activities, orders and the planet: those are the programme's accounting and certified
history, and name only the random player id. Afterwards the player's id leaves every
leaderboard in Redis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from tortoise.transactions import in_transaction

from app.accounts.models import (
    AuthSession,
    HostIdentity,
    LoginCode,
    MiniProgramIdentity,
    Player,
)
from app.auth.roles import Role
from app.auth.sessions import CLOSED
from app.clock import utcnow
from app.credits.models import PartnerRecord
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.partner_links.models import PartnerLink, PartnerLinkCode, PartnerLinkOffer
from app.partner_links.service import PartnerLinks
from app.planet.models import Friendship
from app.settings import Settings

log = logging.getLogger("carbon_planet.privacy")

CLOSED_NICKNAME = "已注销用户"
ERASED_EXTERNAL_ID = "erased"
REVOKE_REASON = CLOSED
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Closed:
    player_id: str
    closed_at: datetime


def _check(confirm: bool, idempotency_key: str) -> None:
    if confirm is not True:
        raise invalid("confirm", N_(
            "Closing erases your phone number, nickname and links for good: send confirm: "
            "true to close the account."))
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH \
            or not idempotency_key.isprintable():
        raise invalid("idempotencyKey", N_(
            "An idempotency key is 1 to %(max)s characters.", max=MAX_KEY_LENGTH))


async def close_account(player_id: str, confirm: bool, idempotency_key: str,
                        settings: Settings, redis: object | None = None) -> Closed:
    """Close the account of `player_id` (again, with any key: the first closing's result).

    Staff accounts are refused: an admin removes their roles first, so that closing never
    leaves the programme without an admin or a merchant without its staff."""
    _check(confirm, idempotency_key)
    async with in_transaction() as conn:
        player = await Player.filter(id=player_id).using_db(conn).select_for_update().get()
        if player.closed_at is not None:
            return Closed(str(player.id), player.closed_at)
        if any(role != Role.PLAYER.value for role in player.roles):
            raise ServiceError(ErrorCode.CONFLICT, N_(
                "A staff account cannot be closed; ask an admin to remove its staff roles "
                "first."), "confirm")
        now = utcnow()
        if player.phone:
            await LoginCode.filter(phone=player.phone).using_db(conn).delete()
        await HostIdentity.filter(player_id=player.id).using_db(conn).delete()
        await MiniProgramIdentity.filter(player_id=player.id).using_db(conn).delete()
        await PartnerLinkCode.filter(player_id=player.id).using_db(conn).delete()
        await _erase_link_offers(conn, player, settings)
        await PartnerLink.filter(player_id=player.id, removed_at=None).using_db(conn).update(
            removed_at=now)
        await PartnerLink.filter(player_id=player.id).using_db(conn).update(
            active=None, external_id=ERASED_EXTERNAL_ID)
        await _erase_partner_record_subjects(conn, str(player.id))
        await Friendship.filter(player_id=player.id).using_db(conn).delete()
        await Friendship.filter(friend_id=player.id).using_db(conn).delete()
        await AuthSession.filter(player_id=player.id, revoked_at=None).using_db(conn).update(
            revoked_at=now, revoke_reason=REVOKE_REASON)
        await Player.filter(id=player.id).using_db(conn).update(
            phone=None, nickname=CLOSED_NICKNAME, city=None, avatar_url=None,
            roles=[Role.PLAYER.value], closed_at=now, close_key=idempotency_key)
    if redis is not None:
        await leave_leaderboards(redis, str(player.id))
    return Closed(str(player.id), now)


async def _erase_link_offers(conn, player: Player, settings: Settings) -> None:
    """Partners' offers for the player's phone number or that made one of their links: the
    partner's id and the phone's hash go (a fresh account with the number sees none, and a
    partner offering again makes a new offer)."""
    linked = PartnerLinkOffer.filter(link__player_id=player.id)
    offers = await linked.using_db(conn)
    if player.phone:
        offers += await PartnerLinkOffer.filter(
            phone_hash=PartnerLinks(settings).phone_hash(player.phone)).using_db(conn)
    for offer in {o.id: o for o in offers}.values():
        await PartnerLinkOffer.filter(id=offer.id).using_db(conn).update(
            external_id=ERASED_EXTERNAL_ID, phone_hash=f"erased-{offer.id.hex}",
            decided_at=offer.decided_at or utcnow())


async def _erase_partner_record_subjects(conn, player_id: str) -> None:
    """The partner's id for the person (subjectRef) or host-app subject in the records that
    credited the player; a subject that is the player's own id stays."""
    records = await PartnerRecord.filter(activity__player_id=player_id).using_db(conn)
    for record in records:
        payload = dict(record.payload)
        if "subjectRef" in payload:
            payload["subjectRef"] = ERASED_EXTERNAL_ID
        if "subject" in payload and payload["subject"] != player_id:
            payload["subject"] = ERASED_EXTERNAL_ID
        if payload != record.payload:
            await PartnerRecord.filter(id=record.id).using_db(conn).update(payload=payload)


async def leave_leaderboards(redis, player_id: str) -> int:
    """Remove `player_id` from every stored board; how many boards held it. Boards show no
    closed player either way (see schema.planet), so an unreachable Redis is only logged."""
    removed = 0
    try:
        async for key in redis.scan_iter(match="lb:*", count=1000):
            removed += int(await redis.zrem(key, player_id) or 0)
    except (RedisError, OSError) as exc:
        log.warning("closed player %s left on leaderboards: Redis: %s", player_id, exc)
    return removed
