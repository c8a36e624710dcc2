"""Following other players to compare on the friends leaderboard.

Adding is one-way (like following): it only lets you see the other player's nickname and
score on your own friends board, which they already show on the public boards, so it
needs no consent and cannot be abused to reach private data.
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.exceptions import IntegrityError

from app.accounts.models import Player
from app.accounts.service import get_player
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.planet.models import Friendship

MAX_FRIENDS = 500


async def add_friend(player_id: str, friend_id: str) -> None:
    friend = await get_player(friend_id)
    if friend.closed_at is not None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such player."), "playerId")
    if str(friend.id) == str(player_id):
        raise ServiceError(ErrorCode.INVALID_INPUT, N_("You cannot add yourself."), "playerId")
    if await Friendship.filter(player_id=player_id).count() >= MAX_FRIENDS:
        raise ServiceError(ErrorCode.LIMIT_REACHED, N_("At most %(max)s friends.", max=MAX_FRIENDS), "playerId")
    try:
        await Friendship.create(player_id=player_id, friend_id=friend.id)
    except IntegrityError:
        pass  # already a friend: adding again changes nothing


async def remove_friend(player_id: str, friend_id: str) -> None:
    friend = await get_player(friend_id)
    await Friendship.filter(player_id=player_id, friend_id=friend.id).delete()


async def friends_of(player_id: str) -> list[Player]:
    return (await friends_of_players([player_id]))[player_id]


async def friends_of_players(player_ids: Sequence[str]) -> dict[str, list[Player]]:
    """The players each of `player_ids` follows, oldest friendship first."""
    rows = await Friendship.filter(player_id__in=list(player_ids)).order_by("created_at", "id") \
        .prefetch_related("friend")
    found: dict[str, list[Player]] = {p: [] for p in player_ids}
    for row in rows:
        found[str(row.player_id)].append(row.friend)
    return found
