"""Leaderboards in Redis (fakeredis by default, a real server with REDIS_URL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.accounts.models import Player
from app.clock import utcnow
from app.leaderboards import Entry, Leaderboards, rebuild_from_ledger
from app.leaderboards import keys as K
from app.ledger.models import LedgerLine
from app.ledger.service import Asset, credit, player_owner, post

TZ = "Asia/Shanghai"
CST = timezone(timedelta(hours=8))


def at(text: str) -> datetime:
    """A local Asia/Shanghai time, e.g. '2030-06-11 23:59'."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


# A Tuesday in the future (boards for past periods may already have expired).
NOW = at("2030-06-11 12:00")


@pytest.fixture
def redis(app):
    return app.state.services.redis


@pytest.fixture
def lb(redis) -> Leaderboards:
    return Leaderboards(redis, TZ)


def pids(entries: list[Entry]) -> list[str]:
    return [e.player_id for e in entries]


# -- keys ------------------------------------------------------------------------------


def test_period_ids_and_key_names():
    t = datetime(2026, 11, 21, 10, 0, tzinfo=CST)  # a Saturday
    assert K.period_id("DAY", t, TZ) == "d:2026-11-21"
    assert K.period_id("WEEK", t, TZ) == "w:2026-11-16"
    assert K.period_id("MONTH", t, TZ) == "m:2026-11"
    assert K.period_id("ALL_TIME", t, TZ) == "all"
    assert K.global_key("w:2026-11-16") == "lb:global:-:w:2026-11-16"
    assert K.city_key("shenzhen", "d:2026-11-21") == "lb:city:shenzhen:d:2026-11-21"
    # 2026-11-20 16:30 UTC is already the 21st in Shanghai.
    assert K.period_id("DAY", datetime(2026, 11, 20, 16, 30, tzinfo=UTC), TZ) == "d:2026-11-21"
    assert K.period_id("DAY", datetime(2026, 11, 20, 15, 59, tzinfo=UTC), TZ) == "d:2026-11-20"
    # A Monday is its own week start; a Sunday belongs to the week of the Monday before.
    assert K.period_id("WEEK", at("2030-06-10 00:00"), TZ) == "w:2030-06-10"
    assert K.period_id("WEEK", at("2030-06-09 23:59"), TZ) == "w:2030-06-03"
    assert K.period_id("MONTH", at("2030-12-31 23:59"), TZ) == "m:2030-12"
    assert K.period_id("MONTH", at("2031-01-01 00:00"), TZ) == "m:2031-01"
    with pytest.raises(ValueError):
        K.period_id("DAY", datetime(2030, 1, 1), TZ)  # naive
    with pytest.raises(ValueError):
        K.period_id("YEAR", NOW, TZ)


def test_expiry_instants():
    day_end = at("2030-06-12 00:00")
    assert K.expire_at("DAY", NOW, TZ) == int((day_end + timedelta(days=8)).timestamp())
    week_end = at("2030-06-17 00:00")
    assert K.expire_at("WEEK", NOW, TZ) == int((week_end + timedelta(weeks=5)).timestamp())
    assert K.expire_at("MONTH", NOW, TZ) == int(at("2031-08-01 00:00").timestamp())
    assert K.expire_at("MONTH", at("2030-12-05 00:00"), TZ) == int(
        at("2032-02-01 00:00").timestamp())
    assert K.expire_at("ALL_TIME", NOW, TZ) is None


def test_score_encoding_is_exact_and_orders_ties():
    early, late = at("2030-01-01 00:00"), at("2030-01-01 00:00:01")
    for grams in (0, 1, 12345, K.MAX_EXACT_GRAMS - 1):
        assert K.decode_score(K.encode_score(grams, early)) == grams
        assert K.decode_score(K.encode_score(grams, late)) == grams
        assert K.encode_score(grams, early) > K.encode_score(grams, late)
        assert K.encode_score(grams + 1, late) > K.encode_score(grams, early)
    # before the epoch / far future: clamped, still decodes
    assert K.decode_score(K.encode_score(7, datetime(2020, 1, 1, tzinfo=UTC))) == 7
    assert K.decode_score(K.encode_score(7, datetime(2090, 1, 1, tzinfo=UTC))) == 7


# -- ranks, ties -------------------------------------------------------------------------


async def test_ranks_and_scores(lb):
    await lb.record("a", "shenzhen", 500, at("2030-06-11 08:00"))
    await lb.record("b", "shenzhen", 900, at("2030-06-11 08:01"))
    await lb.record("c", "beijing", 100, at("2030-06-11 08:02"))
    await lb.record("a", "shenzhen", 600, at("2030-06-11 09:00"))  # a: 1100
    await lb.record("c", "beijing", 0, at("2030-06-11 09:00"))     # ignored
    await lb.record("c", "beijing", -50, at("2030-06-11 09:00"))   # ignored
    top = await lb.top("GLOBAL", "DAY", 10, now=NOW)
    assert top == [Entry(1, "a", 1100), Entry(2, "b", 900), Entry(3, "c", 100)]
    assert await lb.top("GLOBAL", "DAY", 2, now=NOW) == top[:2]
    assert await lb.me("b", "GLOBAL", "DAY", now=NOW) == Entry(2, "b", 900)
    assert await lb.me("nobody", "GLOBAL", "DAY", now=NOW) is None
    assert await lb.top("GLOBAL", "DAY", 0, now=NOW) == []
    with pytest.raises(ValueError):
        await lb.top("CITY", "DAY", 10, now=NOW)  # no city
    with pytest.raises(ValueError):
        await lb.top("PLANET", "DAY", 10, now=NOW)


async def test_ties_rank_who_got_there_first(lb):
    await lb.record("late", None, 300, at("2030-06-11 10:00"))
    await lb.record("early", None, 100, at("2030-06-11 08:00"))
    await lb.record("early", None, 200, at("2030-06-11 09:00"))  # reaches 300 at 09:00
    await lb.record("zzz", None, 300, at("2030-06-11 11:00"))
    top = await lb.top("GLOBAL", "DAY", 10, now=NOW)
    assert top == [Entry(1, "early", 300), Entry(2, "late", 300), Entry(3, "zzz", 300)]
    # topping up moves the time on: now 'early' reached 400 last... still alone at 400
    await lb.record("late", None, 100, at("2030-06-11 11:30"))
    await lb.record("early", None, 100, at("2030-06-11 11:40"))
    assert pids(await lb.top("GLOBAL", "DAY", 10, now=NOW)) == ["late", "early", "zzz"]


async def test_recording_order_does_not_matter(lb, redis):
    events = [("a", 5, "2030-06-11 08:00"), ("b", 3, "2030-06-11 08:30"),
              ("a", 2, "2030-06-11 09:00"), ("b", 4, "2030-06-11 08:45")]
    for p, g, t in events:
        await lb.record(p, "shenzhen", g, at(t))
    forward = {k: await redis.zrange(k, 0, -1, withscores=True)
               for k in sorted(await redis.keys("lb:*"))}
    await redis.flushdb()
    for p, g, t in reversed(events):
        await lb.record(p, "shenzhen", g, at(t))
    backward = {k: await redis.zrange(k, 0, -1, withscores=True)
                for k in sorted(await redis.keys("lb:*"))}
    assert forward == backward and len(forward) == 8
    # both reached 7 g; b at 08:45, a at 09:00
    assert pids(await lb.top("GLOBAL", "DAY", 5, now=NOW)) == ["b", "a"]


async def test_large_scores_stay_exact(lb):
    big = 2**23 + 12345
    huge = 2**40 + 7
    await lb.record("big", None, big, at("2030-06-11 08:00"))
    await lb.record("huge", None, huge, at("2030-06-11 08:00"))
    await lb.record("huge", None, 1, at("2030-06-11 08:01"))
    assert await lb.top("GLOBAL", "ALL_TIME", 5, now=NOW) == [
        Entry(1, "huge", huge + 1), Entry(2, "big", big)]


# -- periods -----------------------------------------------------------------------------


async def test_day_rolls_over_at_local_midnight(lb):
    await lb.record("p", None, 10, at("2030-06-11 23:59"))  # Tuesday
    await lb.record("p", None, 20, at("2030-06-12 00:01"))  # Wednesday
    tue, wed = at("2030-06-11 12:00"), at("2030-06-12 12:00")
    assert await lb.top("GLOBAL", "DAY", 5, now=tue) == [Entry(1, "p", 10)]
    assert await lb.top("GLOBAL", "DAY", 5, now=wed) == [Entry(1, "p", 20)]
    assert await lb.top("GLOBAL", "WEEK", 5, now=wed) == [Entry(1, "p", 30)]
    # the same instants in UTC are 15:59 and 16:01 on the same UTC day
    assert at("2030-06-11 23:59").astimezone(UTC).date() == at("2030-06-12 00:01").astimezone(
        UTC).date()


async def test_week_starts_on_monday(lb):
    await lb.record("p", None, 10, at("2030-06-09 23:59"))  # Sunday
    await lb.record("p", None, 20, at("2030-06-10 00:01"))  # Monday
    assert await lb.top("GLOBAL", "WEEK", 5, now=at("2030-06-09 12:00")) == [Entry(1, "p", 10)]
    assert await lb.top("GLOBAL", "WEEK", 5, now=at("2030-06-16 23:00")) == [Entry(1, "p", 20)]
    assert await lb.top("GLOBAL", "MONTH", 5, now=NOW) == [Entry(1, "p", 30)]


async def test_month_and_all_time(lb):
    await lb.record("p", None, 10, at("2030-06-30 23:59"))
    await lb.record("p", None, 20, at("2030-07-01 00:01"))
    await lb.record("q", None, 25, at("2030-07-02 10:00"))
    june, july = at("2030-06-15 12:00"), at("2030-07-15 12:00")
    assert await lb.top("GLOBAL", "MONTH", 5, now=june) == [Entry(1, "p", 10)]
    assert await lb.top("GLOBAL", "MONTH", 5, now=july) == [Entry(1, "q", 25), Entry(2, "p", 20)]
    # Sunday 30 June and Monday 1 July are in different weeks too
    assert await lb.top("GLOBAL", "WEEK", 5, now=at("2030-06-30 12:00")) == [Entry(1, "p", 10)]
    for now in (june, july, at("2035-01-01 00:00")):
        assert await lb.top("GLOBAL", "ALL_TIME", 5, now=now) == [
            Entry(1, "p", 30), Entry(2, "q", 25)]


# -- scopes ------------------------------------------------------------------------------


async def test_city_boards_are_separate(lb, redis):
    await lb.record("sz1", "shenzhen", 10, NOW)
    await lb.record("sz2", "shenzhen", 30, NOW)
    await lb.record("bj1", "beijing", 20, NOW)
    await lb.record("none", None, 40, NOW)
    assert pids(await lb.top("CITY", "DAY", 10, city="shenzhen", now=NOW)) == ["sz2", "sz1"]
    assert await lb.top("CITY", "WEEK", 10, city="beijing", now=NOW) == [Entry(1, "bj1", 20)]
    assert await lb.top("CITY", "DAY", 10, city="quzhou", now=NOW) == []
    assert pids(await lb.top("GLOBAL", "DAY", 10, now=NOW)) == ["none", "sz2", "bj1", "sz1"]
    assert await lb.me("sz1", "CITY", "MONTH", city="shenzhen", now=NOW) == Entry(2, "sz1", 10)
    assert await lb.me("bj1", "CITY", "MONTH", city="shenzhen", now=NOW) is None
    assert len(await redis.keys("lb:city:shenzhen:*")) == 4


async def test_friends_rank_only_the_given_ids(lb):
    for i, grams in enumerate([50, 40, 30, 20, 10]):
        await lb.record(f"p{i}", "shenzhen", grams, NOW)
    await lb.record("tie", "beijing", 30, NOW + timedelta(minutes=1))  # ties p2, later
    friends = ["p3", "p1", "tie", "p2", "stranger", "p1"]
    top = await lb.top("FRIENDS", "DAY", 10, friend_ids=friends, now=NOW)
    assert top == [Entry(1, "p1", 40), Entry(2, "p2", 30), Entry(3, "tie", 30),
                   Entry(4, "p3", 20)]
    assert await lb.top("FRIENDS", "DAY", 2, friend_ids=friends, now=NOW) == top[:2]
    assert await lb.me("p3", "FRIENDS", "DAY", friend_ids=friends, now=NOW) == top[3]
    assert await lb.me("p0", "FRIENDS", "DAY", friend_ids=friends, now=NOW) is None
    assert await lb.around("tie", "FRIENDS", "DAY", 1, friend_ids=friends, now=NOW) == top[1:4]
    assert await lb.top("FRIENDS", "DAY", 10, friend_ids=[], now=NOW) == []
    with pytest.raises(ValueError):
        await lb.top("FRIENDS", "DAY", 10, now=NOW)


async def test_around_me(lb):
    for i in range(10):  # p0 best (100) … p9 worst (10)
        await lb.record(f"p{i}", None, 100 - 10 * i, NOW)
    around = await lb.around("p0", "GLOBAL", "DAY", now=NOW)
    assert [(e.rank, e.player_id) for e in around] == [(1, "p0"), (2, "p1"), (3, "p2")]
    around = await lb.around("p1", "GLOBAL", "DAY", now=NOW)
    assert [e.rank for e in around] == [1, 2, 3, 4]
    around = await lb.around("p5", "GLOBAL", "DAY", now=NOW)
    assert around == [Entry(4, "p3", 70), Entry(5, "p4", 60), Entry(6, "p5", 50),
                      Entry(7, "p6", 40), Entry(8, "p7", 30)]
    around = await lb.around("p9", "GLOBAL", "DAY", radius=3, now=NOW)
    assert [(e.rank, e.player_id) for e in around] == [
        (7, "p6"), (8, "p7"), (9, "p8"), (10, "p9")]
    assert await lb.around("nobody", "GLOBAL", "DAY", now=NOW) == []
    assert await lb.around("p5", "GLOBAL", "DAY", radius=0, now=NOW) == [Entry(6, "p5", 50)]


# -- expiry ------------------------------------------------------------------------------


async def test_periodic_keys_expire_and_all_time_does_not(lb, redis):
    await lb.record("p", "shenzhen", 10, NOW)
    for scope_key in (K.global_key, lambda pid: K.city_key("shenzhen", pid)):
        for period in ("DAY", "WEEK", "MONTH"):
            key = scope_key(K.period_id(period, NOW, TZ))
            expected = K.expire_at(period, NOW, TZ) - int(utcnow().timestamp())
            assert expected - 5 <= await redis.ttl(key) <= expected + 1, (key, period)
        assert await redis.ttl(scope_key("all")) == -1
    day_ttl = await redis.ttl(K.global_key(K.period_id("DAY", NOW, TZ)))
    week_ttl = await redis.ttl(K.global_key(K.period_id("WEEK", NOW, TZ)))
    assert 0 < day_ttl < week_ttl


async def test_boards_already_expired_are_not_written(lb, redis):
    long_ago = datetime(2025, 6, 3, 10, 0, tzinfo=CST)  # even its MONTH board has expired
    await lb.record("p", None, 10, long_ago)
    assert sorted(await redis.keys("lb:*")) == ["lb:global:-:all"]
    recent = utcnow() - timedelta(days=20)  # DAY board gone, MONTH board kept
    await lb.record("p", None, 10, recent)
    assert K.global_key(K.period_id("MONTH", recent, TZ)) in await redis.keys("lb:*")
    assert K.global_key(K.period_id("DAY", recent, TZ)) not in await redis.keys("lb:*")


async def test_a_batch_recorded_at_once_equals_one_by_one(lb, redis):
    """record_many (one script call per set of boards) leaves every board exactly as the
    same activities recorded one at a time: a player twice, two cities, two days, ties."""
    items = [("a", "shenzhen", 500, at("2030-06-11 08:00")), ("b", "shenzhen", 500, at("2030-06-11 08:00")),
             ("c", "beijing", 700, at("2030-06-11 08:05")), ("a", "shenzhen", 250, at("2030-06-11 09:00")),
             ("d", None, 100, at("2030-06-11 09:30")), ("e", "shenzhen", 0, at("2030-06-11 09:40")),
             ("b", "shenzhen", 300, at("2030-06-12 07:00"))]

    async def boards() -> dict:
        found = {}
        async for key in redis.scan_iter(match="lb:*"):
            found[key] = (await redis.zrange(key, 0, -1, withscores=True), await redis.expiretime(key))
        return found

    for item in items:
        await lb.record(*item)
    one_by_one = await boards()
    await redis.flushdb()
    await lb.record_many(items)
    together = await boards()
    assert together == one_by_one
    assert len(together) == 5 + 5 + 4  # GLOBAL and shenzhen: two DAY boards each; beijing: one day
    assert await lb.top("GLOBAL", "DAY", 3, now=NOW) == [
        Entry(1, "a", 750), Entry(2, "c", 700), Entry(3, "b", 500)]


# -- rebuild from the ledger -------------------------------------------------------------


async def _snapshot(redis) -> dict[str, tuple]:
    """Every board: its members with scores, and when it expires (-1: never)."""
    keys = sorted([k async for k in redis.scan_iter(match="lb:*")])
    return {k: (await redis.zrange(k, 0, -1, withscores=True), await redis.expiretime(k))
            for k in keys}


async def test_rebuild_from_ledger_matches_live_boards(app, lb, redis):
    players = [
        await Player.create(nickname="Ann", city="shenzhen", roles=["player"]),
        await Player.create(nickname="Bo", city="beijing", roles=["player"]),
        await Player.create(nickname="Cy", city=None, roles=["player"]),
    ]
    plan = [(0, 120), (1, 80), (2, 200), (0, 40), (1, 90), (1, 50), (2, 5), (0, 100)]
    for n, (i, grams) in enumerate(plan):
        player = players[i]
        result = await post("test_activity", f"lb-test-{uuid.uuid4()}-{n}",
                             credit(str(player.id), {Asset.CO2E_GRAMS: grams,
                                                     Asset.CARBON_POINT: 1}))
        line = await LedgerLine.get(transaction_id=result.transaction.id,
                                    account__owner=player_owner(str(player.id)),
                                    asset=Asset.CO2E_GRAMS.value)
        await lb.record(str(player.id), player.city, grams, line.created_at)
    live = await _snapshot(redis)
    assert live and "lb:global:-:all" in live
    assert len(live["lb:global:-:all"][0]) == 3 and live["lb:global:-:all"][1] == -1
    totals = {str(p.id): 0 for p in players}
    for i, grams in plan:
        totals[str(players[i].id)] += grams
    board = await lb.top("GLOBAL", "ALL_TIME", 10)
    assert {e.player_id: e.score for e in board} == totals

    await redis.zadd("lb:global:-:stale", {"x": 1})  # rebuild clears every lb:* key
    await redis.set("not-a-board", "kept")
    calls = []
    processed = await rebuild_from_ledger(redis, TZ, progress=lambda d, t: calls.append((d, t)),
                                          batch_size=3)
    assert processed == len(plan)
    assert calls[0] == (0, len(plan)) and calls[-1] == (len(plan), len(plan))
    assert await _snapshot(redis) == live
    assert await redis.get("not-a-board") == "kept"
    # TTLs are restored too
    day_key = K.global_key(K.period_id("DAY", utcnow(), TZ))
    assert await redis.ttl(day_key) > 0
    assert await redis.ttl("lb:global:-:all") == -1


async def test_rebuild_matches_live_boards_when_big_totals_coarsen_the_tie_break(app, lb, redis):
    """Above 2**23 grams the increment script drops low bits of the tie-break; the
    rebuild's one-shot ZADD must land on the very same scores."""
    players = [await Player.create(nickname=f"Big{i}", city="shenzhen", roles=["player"])
               for i in range(2)]
    plan = [(0, 9_000_000), (1, 20_000_000), (0, 9_000_000), (1, 5), (0, 123_456_789)]
    for n, (i, grams) in enumerate(plan):
        result = await post("test_activity", f"big-{uuid.uuid4()}-{n}",
                             credit(str(players[i].id), {Asset.CO2E_GRAMS: grams}))
        line = await LedgerLine.get(transaction_id=result.transaction.id,
                                    account__owner=player_owner(str(players[i].id)),
                                    asset=Asset.CO2E_GRAMS.value)
        await lb.record(str(players[i].id), players[i].city, grams, line.created_at)
    live = await _snapshot(redis)
    top = await lb.top("GLOBAL", "ALL_TIME", 10)
    assert [e.score for e in top] == [141_456_789, 20_000_005]
    assert await rebuild_from_ledger(redis, TZ) == len(plan)
    assert await _snapshot(redis) == live
