"""The Redis client: a real server (or cluster) from `REDIS_URL`, else in-process fakeredis.

All embedded clients share one `FakeServer`, so every part of the process sees the
same data, as it would with a real server.
"""

from __future__ import annotations

import fakeredis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

from app.settings import Settings

_EMBEDDED_SERVER = fakeredis.FakeServer()


def create_redis(settings: Settings) -> Redis | RedisCluster:
    url = settings.redis_url
    if not url:
        return fakeredis.FakeAsyncRedis(server=_EMBEDDED_SERVER, decode_responses=True)
    if url.startswith("redis+cluster://"):
        return RedisCluster.from_url("redis://" + url.removeprefix("redis+cluster://"),
                                     decode_responses=True)
    # a busy worker waits its turn for a pooled connection instead of failing at the
    # pool's limit (redis-py's default pool raises MaxConnectionsError beyond 100)
    pool = BlockingConnectionPool.from_url(
        url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2,
        health_check_interval=30, max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds)
    return Redis(connection_pool=pool)
