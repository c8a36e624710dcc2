"""Rate limits: fixed-window counters in Redis that fail open, and the client's IP address.

Why not the `limits` library: its Redis storage opens its own connection from a URL, so it
cannot share the embedded fakeredis server, and these limits must not take the service down
when Redis is. So this is one small Lua script (Redis 7.0 commands only: INCR, PTTL,
PEXPIRE, GET) run on the process's own client (`services.redis`):

- `hit` counts a request: it increments `rl:<bucket>:<who>`, starts the window (PEXPIRE) on
  the first request, and says whether the count is still within the limit and how long
  until the window ends. The increment and the expiry happen in one script, so a counter
  can never be left without an expiry, and concurrent requests on any number of processes
  count exactly.
- `peek` reads a counter without counting (used to refuse a client that already failed
  too often before doing any work for it).

A window starts with the first request and lasts `window_seconds`; the next request after
it starts a new one. A client can therefore get at most `2 × limit` through in any span
of `window_seconds` (the end of one window and the start of the next), which is enough to
stop floods and brute force.

Fail open: if Redis does not answer within `REDIS_TIMEOUT_SECONDS` (connection refused,
timeout, any Redis error; the client's own retries are cut short), the request is allowed,
a warning is logged (at most once every 10 s per bucket) and it is counted in
`carbon_rate_limit_unavailable_total`. For `RETRY_REDIS_AFTER_SECONDS` after a failure the
checks do not wait on Redis at all (they allow at once), so an outage does not add the
timeout to every request. The limits that protect accounts for certain
(one code per phone per minute, 5 tries per code) live in the database and keep holding.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from redis.exceptions import RedisError

log = logging.getLogger("carbon_planet.ratelimit")

RATE_LIMITED = Counter(
    "carbon_rate_limited_total", "Requests refused by a rate limit", ["bucket"]
)
UNAVAILABLE = Counter(
    "carbon_rate_limit_unavailable_total",
    "Rate-limit checks skipped because Redis did not answer (failed open)",
    ["bucket"],
)

_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""

_PEEK = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
"""

REDIS_TIMEOUT_SECONDS = 1.5  # a check never holds a request longer than this
RETRY_REDIS_AFTER_SECONDS = 5.0  # after a failure, skip Redis (fail open) this long
_WARN_EVERY_SECONDS = 10.0
_last_warning: dict[str, float] = {}
_skip_until: dict[int, float] = {}  # id(redis client) -> monotonic time


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after_seconds: int  # 0 when allowed


ALLOW_UNLIMITED = Decision(allowed=True, count=0, limit=0, retry_after_seconds=0)


def key_for(bucket: str, who: str) -> str:
    return f"rl:{bucket}:{who}"


async def hit(redis: Any, bucket: str, who: str, limit: int, window_seconds: int = 60) -> Decision:
    """Count one request of `who` in `bucket`; refused once more than `limit` in the window."""
    if limit <= 0:
        return ALLOW_UNLIMITED
    return await _run(redis, _HIT, bucket, who, limit, window_seconds, counting=True)


async def peek(redis: Any, bucket: str, who: str, limit: int, window_seconds: int = 60) -> Decision:
    """Whether `who` is already over `limit` in `bucket`, without counting a request."""
    if limit <= 0:
        return ALLOW_UNLIMITED
    return await _run(redis, _PEEK, bucket, who, limit, window_seconds, counting=False)


async def _run(redis: Any, script: str, bucket: str, who: str, limit: int,
               window_seconds: int, *, counting: bool) -> Decision:
    window_ms = max(1, int(window_seconds * 1000))
    if time.monotonic() < _skip_until.get(id(redis), -math.inf):
        UNAVAILABLE.labels(bucket).inc()
        return Decision(allowed=True, count=0, limit=limit, retry_after_seconds=0)
    try:
        async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
            count, ttl_ms = await redis.eval(script, 1, key_for(bucket, who), window_ms)
        count, ttl_ms = int(count), int(ttl_ms)
    except (RedisError, OSError, TimeoutError) as exc:
        _skip_until[id(redis)] = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
        _warn_unavailable(bucket, exc)
        return Decision(allowed=True, count=0, limit=limit, retry_after_seconds=0)
    _skip_until.pop(id(redis), None)
    over = count > limit if counting else count >= limit
    if not over:
        return Decision(allowed=True, count=count, limit=limit, retry_after_seconds=0)
    RATE_LIMITED.labels(bucket).inc()
    retry = math.ceil(ttl_ms / 1000) if ttl_ms > 0 else window_seconds
    return Decision(allowed=False, count=count, limit=limit, retry_after_seconds=max(1, retry))


def _warn_unavailable(bucket: str, exc: BaseException) -> None:
    UNAVAILABLE.labels(bucket).inc()
    now = time.monotonic()
    if now - _last_warning.get(bucket, -math.inf) >= _WARN_EVERY_SECONDS:
        _last_warning[bucket] = now
        log.warning("rate limit %r not checked (Redis unavailable: %s %s); allowing requests, "
                    "and not asking Redis again for %.0f s", bucket, type(exc).__name__, exc,
                    RETRY_REDIS_AFTER_SECONDS)


def client_ip(scope_or_request: Any, trusted_proxies: list[str] | tuple[str, ...] = ()) -> str:
    """The caller's address: the ASGI peer, or, when the peer is a trusted proxy, the
    right-most X-Forwarded-For address that is not itself a trusted proxy."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted_proxies:
        return peer
    networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    if not trusted(peer):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-forwarded-for":
            forwarded += [part.strip() for part in value.decode("latin-1").split(",")]
    for address in reversed(forwarded):
        if not address:
            continue
        if not trusted(address):
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                return peer  # garbage from the client side of the proxy: use the proxy
    return peer
