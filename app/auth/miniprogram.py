"""Mini-program login: a platform's one-time code (and optionally a phone number code)
becomes a player. Every exchange with the platform happens before anything is written,
so a refused code or a platform that does not answer leaves no player and no identity."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from app.accounts.models import Player
from app.accounts.service import player_for_miniprogram
from app.auth.alipay import AlipayLogin
from app.auth.phones import normalise_phone
from app.auth.wechat import WeChatLogin
from app.settings import Settings


class MiniProgramLogin:
    def __init__(self, settings: Settings, redis: Redis | RedisCluster) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(timeout=settings.miniprogram_timeout_seconds,
                                      trust_env=False)
        self.wechat = WeChatLogin(settings, self.http, redis)
        self.alipay = AlipayLogin(settings, self.http)

    async def wechat_player(self, app_id: str, code: str, phone_code: str | None) -> Player:
        self.wechat.app(app_id)  # an unknown app is refused before any call
        phone = None
        if phone_code is not None:
            raw = await self.wechat.phone_number(app_id, phone_code)
            phone = normalise_phone(raw, self.settings.phone_default_region, "phoneCode")
        identity = await self.wechat.identity(app_id, code)
        return await player_for_miniprogram(identity, phone)

    async def alipay_player(self, app_id: str, code: str) -> Player:
        return await player_for_miniprogram(await self.alipay.identity(app_id, code), None)

    async def close(self) -> None:
        await self.http.aclose()
