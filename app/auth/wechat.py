"""WeChat mini-program login: `wx.login` codes exchanged at `jscode2session`, phone numbers
from `getPhoneNumber` codes exchanged at `getuserphonenumber`.

The session_key that `jscode2session` returns is dropped at once: nothing here needs it
(phone numbers come by code, not by decrypting), so it is never stored, logged or
returned. The access token `getuserphonenumber` needs is cached in Redis until shortly
before it expires, shared by every server process, so they do not take turns replacing
each other's token.
"""

from __future__ import annotations

import httpx
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from app.auth.platforms import WECHAT, PlatformIdentity, call_json, checked_code, log, platform_string, unavailable
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.settings import Settings, WeChatApp

CODE_INVALID = 40029
CODE_USED = 40163
FREQUENCY_LIMIT = 45011
ACCESS_TOKEN_INVALID = (40001, 42001)  # invalid credential, access token expired
RATE_LIMIT_WAIT_SECONDS = 60
TOKEN_MARGIN_SECONDS = 300


class WeChatLogin:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis | RedisCluster) -> None:
        self.base = settings.wechat_base_url.rstrip("/")
        self.apps = {app.app_id: app for app in settings.wechat_apps}
        self.http = http
        self.redis = redis

    def app(self, app_id: str) -> WeChatApp:
        app = self.apps.get(app_id)
        if app is None:
            raise invalid("appId", N_("No WeChat mini-program with this appId is set up here."))
        return app

    async def identity(self, app_id: str, code: str) -> PlatformIdentity:
        """The user of a `wx.login` code (usable once, for 5 minutes)."""
        app = self.app(app_id)
        code = checked_code(code, "code")
        data = await call_json(self.http, WECHAT, "jscode2session", "GET",
                               f"{self.base}/sns/jscode2session",
                               params={"appid": app.app_id, "secret": app.secret,
                                       "js_code": code, "grant_type": "authorization_code"})
        data.pop("session_key", None)
        _raise_refusal(data, "jscode2session", "code")
        openid = platform_string(data, "openid")
        if openid is None:
            log.warning("wechat jscode2session answered without an openid")
            raise unavailable(WECHAT)
        return PlatformIdentity(WECHAT, app.app_id, openid, platform_string(data, "unionid"))

    async def phone_number(self, app_id: str, phone_code: str) -> str:
        """The phone number (+<country code><number>) of a `getPhoneNumber` code."""
        app = self.app(app_id)
        phone_code = checked_code(phone_code, "phoneCode")
        for attempt in range(2):
            token = await self._access_token(app, fresh=attempt > 0)
            data = await call_json(self.http, WECHAT, "getuserphonenumber", "POST",
                                   f"{self.base}/wxa/business/getuserphonenumber",
                                   params={"access_token": token}, json={"code": phone_code})
            if data.get("errcode") not in ACCESS_TOKEN_INVALID:
                break
        _raise_refusal(data, "getuserphonenumber", "phoneCode")
        info = data.get("phone_info")
        info = info if isinstance(info, dict) else {}
        number = platform_string(info, "purePhoneNumber", 20)
        country = info.get("countryCode")
        if number is None or not isinstance(country, str | int) or not str(country).isdigit():
            log.warning("wechat getuserphonenumber answered without a phone number")
            raise unavailable(WECHAT)
        return f"+{country}{number}"

    async def _access_token(self, app: WeChatApp, fresh: bool) -> str:
        key = f"wechat:access-token:{app.app_id}"
        if not fresh:
            try:
                cached = await self.redis.get(key)
            except RedisError:
                cached = None
            if cached:
                return str(cached)
        data = await call_json(self.http, WECHAT, "access token", "GET",
                               f"{self.base}/cgi-bin/token",
                               params={"grant_type": "client_credential", "appid": app.app_id,
                                       "secret": app.secret})
        token = platform_string(data, "access_token", 1000)
        expires_in = data.get("expires_in")
        if token is None or not isinstance(expires_in, int):
            log.error("wechat refused an access token to app %s: errcode %s %s",
                      app.app_id, data.get("errcode"), data.get("errmsg"))
            raise unavailable(WECHAT)
        try:
            await self.redis.set(key, token, ex=max(60, expires_in - TOKEN_MARGIN_SECONDS))
        except RedisError:
            pass  # the next login fetches one again
        return token


def _raise_refusal(data: dict, what: str, field: str) -> None:
    """The refusal in WeChat's documented `errcode`, if the answer is one."""
    errcode = data.get("errcode", 0)
    if errcode in (0, None):
        return
    phone = field == "phoneCode"
    if errcode == CODE_INVALID:
        raise ServiceError(ErrorCode.INVALID_CODE, N_(
            "The phone number code is not valid; ask for the number again.") if phone else N_(
            "The WeChat login code is not valid; call wx.login for a new one."), field)
    if errcode == CODE_USED:
        raise ServiceError(ErrorCode.INVALID_CODE, N_(
            "The phone number code was already used; ask for the number again.") if phone else N_(
            "The WeChat login code was already used; call wx.login for a new one."), field)
    if errcode == FREQUENCY_LIMIT:
        raise ServiceError(ErrorCode.RATE_LIMITED, N_(
            "WeChat refuses more logins for now; try again in %(seconds)s s.",
            seconds=RATE_LIMIT_WAIT_SECONDS), field, retry_after_seconds=RATE_LIMIT_WAIT_SECONDS)
    if errcode != -1:  # -1 is "system busy"; anything else is this server's configuration
        log.error("wechat %s refused: errcode %s %s", what, errcode, data.get("errmsg"))
    raise unavailable(WECHAT)
