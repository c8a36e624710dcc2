"""Leaderboards kept in Redis sorted sets (Redis 7.0 commands only; works on fakeredis[lua]).

Every activity adds its grams to up to 8 boards: GLOBAL and the player's CITY, each for the
DAY, WEEK, MONTH (in the board time zone, weeks start Monday) and ALL_TIME containing it.
FRIENDS boards are not stored: they are read from the GLOBAL board of the period (ZMSCORE)
and ranked in Python with the same ordering as Redis.

Scores carry a tie-break (see `app.leaderboards.keys`): for equal grams, who got there
first ranks first. The increment is one Lua script, atomic per call: it reads the current
score, adds the grams, and keeps as tie-break the *latest* time among the recorded
activities (the time the player reached their current total). Taking the latest rather
than "the time of this call" makes the result independent of the order in which
activities are recorded, so a board rebuilt from the ledger equals the live one.
On a single Redis the 8 boards are updated by one script call, for one activity or a
whole partner batch; on Redis Cluster (keys in different slots) by one script call per key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.asyncio.cluster import RedisCluster

from app.clock import utcnow
from app.leaderboards import keys as K

INCREMENT_LUA = """
local S = 536870912.0            -- 2^29, the tie-break scale
local LIMIT = 9007199254740992.0 -- 2^53, integers up to here are exact doubles
-- ARGV: the expire-at of each key (0: never), then (member, grams, k) per activity
for i = #KEYS + 1, #ARGV, 3 do
  local member = ARGV[i]
  local delta = tonumber(ARGV[i + 1])
  local k_new = tonumber(ARGV[i + 2])
  for _, key in ipairs(KEYS) do
    local k = k_new
    local grams = delta
    local old = redis.call('ZSCORE', key, member)
    if old then
      local o = tonumber(old)
      local og = math.floor(o)
      grams = og + delta
      local k_old = (o - og) * S
      if k_old < k then k = k_old end  -- keep the latest time (smaller k)
    end
    local unit = 1.0
    while (grams + 1) * S > LIMIT * unit do unit = unit * 2 end
    k = math.floor(k / unit) * unit
    redis.call('ZADD', key, string.format('%.17g', (grams * S + k) / S), member)
  end
end
for j, key in ipairs(KEYS) do
  local expire = tonumber(ARGV[j])
  if expire > 0 then redis.call('EXPIREAT', key, expire) end
end
return #ARGV - #KEYS
"""


@dataclass(frozen=True)
class Entry:
    rank: int  # 1-based
    player_id: str
    score: int  # grams CO2e reduced in the period


def _check_scope(scope: str) -> str:
    if scope not in K.SCOPES:
        raise ValueError(f"unknown leaderboard scope {scope!r}; expected one of {K.SCOPES}")
    return scope


class Leaderboards:
    """Record activities and read boards. `timezone` defines the DAY/WEEK/MONTH boundaries."""

    def __init__(self, redis, timezone: str) -> None:
        self.redis = redis
        self.timezone = timezone
        self._increment = redis.register_script(INCREMENT_LUA)
        self._cluster = isinstance(redis, RedisCluster)
        self._zone = ZoneInfo(timezone)

    # -- writing -----------------------------------------------------------------------

    def periods_for(self, at: datetime) -> list[tuple[str, int | None]]:
        """(period id, expire-at unix seconds or None) of each period (DAY, WEEK, MONTH,
        ALL_TIME) containing `at`."""
        return [(K.period_id(period, at, self.timezone), K.expire_at(period, at, self.timezone))
                for period in K.PERIODS]

    def boards_for(self, city: str | None, at: datetime) -> list[tuple[str, int | None]]:
        """(key, expire-at unix seconds or None) of every board an activity at `at` touches."""
        out = []
        for pid, expire in self.periods_for(at):
            out.append((K.global_key(pid), expire))
            if city:
                out.append((K.city_key(city, pid), expire))
        return out

    async def record(self, player_id: str, city: str | None, grams: int, at: datetime) -> None:
        """Add `grams` (ignored if <= 0) reached at `at` to every board containing `at`."""
        await self.record_many([(player_id, city, grams, at)])

    async def record_many(self, items: Sequence[tuple[str, str | None, int, datetime]]) -> None:
        """`record` for several (player id, city, grams, at), in order. On one Redis: one
        script call per set of boards (a partner batch, all of one city and day, is one
        call); on Redis Cluster, whose keys live in different slots, a call per key."""
        now = int(utcnow().timestamp())
        groups: dict[tuple, list] = {}
        boards_of: dict[tuple, tuple] = {}
        for player_id, city, grams, at in items:
            if grams <= 0:
                continue
            day = (city, at.astimezone(self._zone).date())  # the boards depend on the day only
            if day not in boards_of:
                boards_of[day] = tuple((key, exp or 0) for key, exp in self.boards_for(city, at)
                                       if exp is None or exp > now)
            if boards_of[day]:
                groups.setdefault(boards_of[day], []).extend(
                    (str(player_id), int(grams), K.tie_units(at)))
        if self._cluster:
            await asyncio.gather(*(self._increment(keys=[key], args=[exp, *activities])
                                   for boards, activities in groups.items() for key, exp in boards))
        elif len(groups) == 1:
            [(boards, activities)] = groups.items()
            await self._increment(keys=[key for key, _ in boards],
                                  args=[*(exp for _, exp in boards), *activities])
        elif groups:
            pipe = self.redis.pipeline(transaction=False)
            for boards, activities in groups.items():
                await self._increment(keys=[key for key, _ in boards],
                                      args=[*(exp for _, exp in boards), *activities], client=pipe)
            await pipe.execute()

    # -- reading -----------------------------------------------------------------------

    def key(self, scope: str, period: str, *, city: str | None = None,
            now: datetime | None = None) -> str:
        """The stored board read for `scope` (FRIENDS reads the GLOBAL board)."""
        _check_scope(scope)
        pid = K.period_id(period, now or utcnow(), self.timezone)
        if scope == "CITY":
            if not city:
                raise ValueError("the CITY leaderboard needs a city")
            return K.city_key(city, pid)
        return K.global_key(pid)

    async def _friends(self, period: str, friend_ids: Iterable[str] | None,
                       now: datetime | None) -> list[Entry]:
        if friend_ids is None:
            raise ValueError("the FRIENDS leaderboard needs friend_ids")
        ids = list(dict.fromkeys(str(i) for i in friend_ids))
        if not ids:
            return []
        scores = await self.redis.zmscore(self.key("GLOBAL", period, now=now), ids)
        present = [(float(s), pid) for pid, s in zip(ids, scores) if s is not None]
        # Same order as ZREVRANGE: score descending, then member descending.
        present.sort(reverse=True)
        return [Entry(i + 1, pid, K.decode_score(s)) for i, (s, pid) in enumerate(present)]

    @staticmethod
    def _entries(rows: Sequence[tuple[str, float]], first_rank: int) -> list[Entry]:
        return [Entry(first_rank + i, str(member), K.decode_score(score))
                for i, (member, score) in enumerate(rows)]

    async def top(self, scope: str, period: str, n: int, *, city: str | None = None,
                  friend_ids: Iterable[str] | None = None,
                  now: datetime | None = None) -> list[Entry]:
        """The first `n` entries, best first."""
        if n <= 0:
            return []
        if _check_scope(scope) == "FRIENDS":
            return (await self._friends(period, friend_ids, now))[:n]
        key = self.key(scope, period, city=city, now=now)
        return self._entries(await self.redis.zrevrange(key, 0, n - 1, withscores=True), 1)

    async def me(self, player_id: str, scope: str, period: str, *, city: str | None = None,
                 friend_ids: Iterable[str] | None = None,
                 now: datetime | None = None) -> Entry | None:
        """The player's rank and score, or None when not on the board."""
        player_id = str(player_id)
        if _check_scope(scope) == "FRIENDS":
            entries = await self._friends(period, friend_ids, now)
            return next((e for e in entries if e.player_id == player_id), None)
        key = self.key(scope, period, city=city, now=now)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrank(key, player_id)
            pipe.zscore(key, player_id)
            rank, score = await pipe.execute()
        if rank is None or score is None:
            return None
        return Entry(int(rank) + 1, player_id, K.decode_score(score))

    async def around(self, player_id: str, scope: str, period: str, radius: int = 2, *,
                     city: str | None = None, friend_ids: Iterable[str] | None = None,
                     now: datetime | None = None) -> list[Entry]:
        """Up to `radius` players above, the player, and up to `radius` below ([] if absent)."""
        player_id = str(player_id)
        radius = max(0, radius)
        if _check_scope(scope) == "FRIENDS":
            entries = await self._friends(period, friend_ids, now)
            index = next((i for i, e in enumerate(entries) if e.player_id == player_id), None)
            if index is None:
                return []
            return entries[max(0, index - radius): index + radius + 1]
        key = self.key(scope, period, city=city, now=now)
        rank = await self.redis.zrevrank(key, player_id)
        if rank is None:
            return []
        start = max(0, int(rank) - radius)
        rows = await self.redis.zrevrange(key, start, int(rank) + radius, withscores=True)
        return self._entries(rows, start + 1)
