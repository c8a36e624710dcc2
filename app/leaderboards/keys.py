"""Pure functions for leaderboard keys, periods, expiry and the tie-breaking score encoding.

Keys
----
``lb:{scope}:{scope value}:{period id}``, e.g. ``lb:global:-:w:2026-11-16`` or
``lb:city:shenzhen:d:2026-11-21``. Period ids are computed in the board's time zone:
DAY ``d:YYYY-MM-DD``, WEEK ``w:YYYY-MM-DD`` (the Monday that starts it), MONTH ``m:YYYY-MM``,
ALL_TIME ``all``.

Expiry
------
A periodic key expires some time after its period ends (so "last week" stays readable):
DAY 8 days, WEEK 5 weeks, MONTH 13 months after the end of the period. ALL_TIME never expires.

Score encoding
--------------
A sorted-set score is a double. It holds ``grams + k / 2**29`` where ``k`` is the tie-break
in ``[0, 2**29)``: ``k = 2**29 - 1 - t`` and ``t`` is the whole seconds since
2026-01-01T00:00:00Z (clamped to ``[0, 2**29 - 1]``, i.e. until mid-2043) at which the player
reached their current score. Earlier ⇒ larger ``k`` ⇒ higher score, so with equal grams the
one who got there first ranks first. ``grams * 2**29 + k`` is an integer below ``2**52`` for
``grams < 2**23`` (8.3 t CO2e per board), so the double holds it exactly and
``floor(score)`` gives back the grams. (It stays exact up to ``grams < 2**24 - 1``; beyond
that the increment script drops low bits of ``k`` – the tie-break gets coarser, the grams stay
exact.) Players tied on both grams and second are ordered by Redis (member, reverse-lex).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("DAY", "WEEK", "MONTH", "ALL_TIME")
SCOPES = ("GLOBAL", "CITY", "FRIENDS")

TIE_BITS = 29
TIE_SCALE = 1 << TIE_BITS  # 2**29
TIE_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MAX_EXACT_GRAMS = 1 << 23

GLOBAL_SCOPE_VALUE = "-"

DAY_KEEP = timedelta(days=8)
WEEK_KEEP = timedelta(weeks=5)
MONTH_KEEP_MONTHS = 13


def _check_period(period: str) -> str:
    if period not in PERIODS:
        raise ValueError(f"unknown leaderboard period {period!r}; expected one of {PERIODS}")
    return period


def _local_date(at: datetime, tz: str) -> date:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("leaderboard times must be timezone-aware")
    return at.astimezone(ZoneInfo(tz)).date()


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + (d.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def period_start(period: str, at: datetime, tz: str) -> date | None:
    """The local date on which the period containing `at` starts (None for ALL_TIME)."""
    _check_period(period)
    if period == "ALL_TIME":
        return None
    d = _local_date(at, tz)
    if period == "DAY":
        return d
    if period == "WEEK":
        return d - timedelta(days=d.weekday())  # Monday
    return d.replace(day=1)


def period_id(period: str, at: datetime, tz: str) -> str:
    """`d:2026-11-21`, `w:2026-11-16` (its Monday), `m:2026-11` or `all`."""
    start = period_start(period, at, tz)
    if start is None:
        return "all"
    if period == "DAY":
        return f"d:{start.isoformat()}"
    if period == "WEEK":
        return f"w:{start.isoformat()}"
    return f"m:{start.year:04d}-{start.month:02d}"


def _local_midnight(d: date, tz: str) -> datetime:
    return datetime.combine(d, time(0), tzinfo=ZoneInfo(tz))


def period_end(period: str, at: datetime, tz: str) -> datetime | None:
    """The aware instant (local midnight) at which the period containing `at` ends."""
    start = period_start(period, at, tz)
    if start is None:
        return None
    if period == "DAY":
        end = start + timedelta(days=1)
    elif period == "WEEK":
        end = start + timedelta(weeks=1)
    else:
        end = _add_months(start, 1)
    return _local_midnight(end, tz)


def expire_at(period: str, at: datetime, tz: str) -> int | None:
    """Unix seconds at which the board of the period containing `at` expires (None: never)."""
    start = period_start(period, at, tz)
    if start is None:
        return None
    if period == "DAY":
        until = _local_midnight(start + timedelta(days=1) + DAY_KEEP, tz)
    elif period == "WEEK":
        until = _local_midnight(start + timedelta(weeks=1) + WEEK_KEEP, tz)
    else:
        until = _local_midnight(_add_months(start, 1 + MONTH_KEEP_MONTHS), tz)
    return int(until.timestamp())


def board_key(scope: str, scope_value: str, pid: str) -> str:
    return f"lb:{scope}:{scope_value}:{pid}"


def global_key(pid: str) -> str:
    return board_key("global", GLOBAL_SCOPE_VALUE, pid)


def city_key(city: str, pid: str) -> str:
    if not city or ":" in city:
        raise ValueError(f"invalid city for a leaderboard key: {city!r}")
    return board_key("city", city, pid)


def tie_units(at: datetime) -> int:
    """k in [0, 2**29): larger for earlier instants (whole seconds since 2026-01-01Z)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("leaderboard times must be timezone-aware")
    seconds = math.floor((at - TIE_EPOCH).total_seconds())
    seconds = min(max(seconds, 0), TIE_SCALE - 1)
    return TIE_SCALE - 1 - seconds


def encode_score(grams: int, at: datetime) -> float:
    """The sorted-set score for `grams` reached at `at` (exact for 0 <= grams < 2**23)."""
    return (grams * TIE_SCALE + tie_units(at)) / TIE_SCALE


def decode_score(score: float | str) -> int:
    """Back to integer grams."""
    return math.floor(float(score))
