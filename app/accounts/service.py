"""Finding or creating players, and editing their profile."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from typing import Any
from urllib.parse import urlsplit

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.accounts.models import HostIdentity, MiniProgramIdentity, Player
from app.auth.host_tokens import HostClaims
from app.auth.platforms import PlatformIdentity
from app.auth.roles import Role
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.settings import Settings

NICKNAME_MAX = 20
DEFAULT_NICKNAME = "低碳玩家"


async def player_for_phone(phone: str) -> Player:
    """The player who owns this (verified) phone; created on first login."""
    player = await Player.get_or_none(phone=phone)
    if player is not None:
        return player
    try:
        return await Player.create(
            phone=phone, nickname=f"{DEFAULT_NICKNAME}{phone[-4:]}", roles=[Role.PLAYER.value]
        )
    except IntegrityError:  # a concurrent first login created it
        return await Player.get(phone=phone)


async def player_for_host(claims: HostClaims, settings: Settings) -> Player:
    """The player linked to (issuer, subject); the first login creates and links one."""
    identity = await HostIdentity.filter(
        issuer=claims.issuer, subject=claims.subject
    ).select_related("player").first()
    if identity is not None:
        return identity.player
    tag = hashlib.sha256(f"{claims.issuer}|{claims.subject}".encode()).hexdigest()[:4]
    nickname = _clean_nickname(claims.nickname) if claims.nickname else None
    try:
        async with in_transaction():
            player = await Player.create(
                nickname=nickname or f"{DEFAULT_NICKNAME}{tag}",
                city=claims.city if claims.city in settings.cities else None,
                roles=[Role.PLAYER.value],
            )
            await HostIdentity.create(issuer=claims.issuer, subject=claims.subject, player=player)
            return player
    except IntegrityError:  # a concurrent first login linked it
        identity = await HostIdentity.get(
            issuer=claims.issuer, subject=claims.subject
        ).prefetch_related("player")
        return identity.player


async def player_for_miniprogram(identity: PlatformIdentity, phone: str | None) -> Player:
    """The player of a mini-program user, found by openid in this app, else by unionid in
    another app of the platform, else by the (platform-verified) phone; created when none.
    The phone is recorded on a player who has none; one that belongs to another player is
    a CONFLICT and nothing changes."""
    try:
        return await _link_miniprogram(identity, phone)
    except IntegrityError:  # a concurrent first login linked it, or took the phone
        return await _link_miniprogram(identity, phone)


async def _link_miniprogram(identity: PlatformIdentity, phone: str | None) -> Player:
    key: dict[str, Any] = {"platform": identity.platform, "app_id": identity.app_id, "openid": identity.openid}
    async with in_transaction() as conn:
        if identity.unionid and conn.capabilities.dialect == "postgres":
            # first logins from two apps at once must not make two players of one unionid
            await conn.execute_query("SELECT pg_advisory_xact_lock(hashtext($1))",
                                     [f"unionid:{identity.platform}:{identity.unionid}"])
        linked = await MiniProgramIdentity.filter(**key).select_related("player").first()
        player = linked.player if linked else None
        if linked is not None and identity.unionid and linked.unionid != identity.unionid:
            await MiniProgramIdentity.filter(id=linked.id).update(unionid=identity.unionid)
        if player is None and identity.unionid:
            sibling = await MiniProgramIdentity.filter(
                platform=identity.platform, unionid=identity.unionid
            ).select_related("player").first()
            player = sibling.player if sibling else None
        owner = await Player.get_or_none(phone=phone) if phone else None
        if player is None:
            player = owner
        if player is None:
            tag = phone[-4:] if phone else hashlib.sha256(
                f"{identity.platform}|{identity.app_id}|{identity.openid}".encode()).hexdigest()[:4]
            player = await Player.create(phone=phone, nickname=f"{DEFAULT_NICKNAME}{tag}",
                                         roles=[Role.PLAYER.value])
        elif phone and owner is not None and owner.id != player.id:
            raise ServiceError(ErrorCode.CONFLICT, N_(
                "This phone number belongs to another account; log in with it by SMS code."),
                "phoneCode")
        elif phone and player.phone is None:
            await Player.filter(id=player.id).update(phone=phone)
            player.phone = phone
        if linked is None:
            await MiniProgramIdentity.create(**key, unionid=identity.unionid, player=player)
        return player


def _clean_nickname(raw: str) -> str | None:
    name = " ".join(raw.split())
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return None
    return name[:NICKNAME_MAX] or None


def validate_profile(changes: dict[str, str | None], settings: Settings) -> dict[str, str | None]:
    """Check every proposed change; raise the first problem, naming its input field."""
    clean: dict[str, str | None] = {}
    if "nickname" in changes:
        raw = changes["nickname"]
        name = _clean_nickname(raw) if raw is not None else None
        if name is None or len(" ".join((raw or "").split())) > NICKNAME_MAX:
            raise invalid(
                "input.nickname",
                N_("A nickname is 1 to %(max)s printable characters.", max=NICKNAME_MAX),
            )
        clean["nickname"] = name
    if "city" in changes:
        city = changes["city"]
        if city is not None and city not in settings.cities:
            raise invalid("input.city", N_("Unknown city; one of: %(cities)s.",
                                           cities=", ".join(settings.cities)))
        clean["city"] = city
    if "avatar_url" in changes:
        url = changes["avatar_url"]
        if url is not None:
            try:  # urlsplit drops CR, LF and tab silently, and raises on a bad IPv6 host
                parts = urlsplit(url) if url.isprintable() and " " not in url else None
                host = parts.hostname if parts else None
            except ValueError:
                parts = host = None
            if parts is None or parts.scheme != "https" or not host or len(url) > 500:
                raise invalid("input.avatarUrl", N_("An avatar URL is an https:// URL of up to 500 characters."))
        clean["avatar_url"] = url
    return clean


async def update_profile(
    player: Player, changes: dict[str, str | None], settings: Settings
) -> Player:
    clean = validate_profile(changes, settings)
    if clean:
        await Player.filter(id=player.id).update(**clean)
        await player.refresh_from_db()
    return player


async def get_player(player_id: str, field: str = "playerId") -> Player:
    try:
        key = uuid.UUID(player_id)
    except (ValueError, TypeError):
        raise invalid(field, N_("Not a player id.")) from None
    player = await Player.get_or_none(id=key)
    if player is None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such player."), field)
    return player


ADMINS_SQL = {
    # every admin row locked: two admins removing each other at once cannot both succeed
    "postgres": """SELECT id FROM player WHERE roles @> '["admin"]'::jsonb FOR UPDATE""",
    "sqlite": """SELECT id FROM player WHERE EXISTS
                 (SELECT 1 FROM json_each(player.roles) WHERE json_each.value = 'admin')""",
}


async def set_roles(player_id: str, roles: list[Role]) -> Player:
    """Replace a player's roles; the programme always keeps at least one admin."""
    player = await get_player(player_id)
    new_roles = sorted({Role.PLAYER, *roles})
    async with in_transaction() as conn:
        if Role.ADMIN not in new_roles:
            _, rows = await conn.execute_query(ADMINS_SQL[conn.capabilities.dialect])
            admins = {str(row["id"]) for row in rows}
            if admins == {str(player.id)}:
                raise ServiceError(ErrorCode.CONFLICT, N_(
                    "This is the only admin: make another player admin before removing this "
                    "one's admin role."), "roles")
        await Player.filter(id=player.id).using_db(conn).update(roles=new_roles)
    await player.refresh_from_db()
    return player
