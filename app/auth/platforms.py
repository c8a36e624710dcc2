"""What WeChat and Alipay logins share: the identity a platform vouches for, the checks of
a client's code, and one JSON call to a platform where anything but an answer (a timeout,
a refused connection, an HTTP error, a body that is not a JSON object) is NOT_AVAILABLE.

Platform URLs carry secrets (WeChat's AppSecret, login codes, access tokens) in their
query strings, so nothing here logs a URL, and httpx's own request log (INFO, the full
URL) is raised to WARNING.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_

log = logging.getLogger("carbon_planet.miniprogram")
logging.getLogger("httpx").setLevel(logging.WARNING)

WECHAT = "wechat"
ALIPAY = "alipay"
MAX_CODE_LENGTH = 256


@dataclass(frozen=True)
class PlatformIdentity:
    """A user as a mini-program platform names them: openid per app, unionid (WeChat)
    across the apps of one developer account."""

    platform: str
    app_id: str
    openid: str
    unionid: str | None = None


def unavailable(platform: str) -> ServiceError:
    message = (N_("WeChat did not answer the login; try again in a moment.") if platform == WECHAT
               else N_("Alipay did not answer the login; try again in a moment."))
    return ServiceError(ErrorCode.NOT_AVAILABLE, message)


def checked_code(code: str, field: str) -> str:
    """A client's one-time code, refused before any call when it cannot be one."""
    code = code.strip()
    if not code or len(code) > MAX_CODE_LENGTH or not code.isascii() or not code.isprintable():
        raise invalid(field, N_("The code is empty or malformed."))
    return code


def platform_string(data: dict[str, Any], key: str, limit: int = 128) -> str | None:
    """A string field of a platform's answer, or None when absent, empty or too long."""
    value = data.get(key)
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


@dataclass(frozen=True)
class PlatformAnswer:
    data: dict[str, Any]
    text: str  # as received: Alipay signs part of it byte for byte


async def call_platform(http: httpx.AsyncClient, platform: str, what: str, method: str, url: str,
                        **kwargs: Any) -> PlatformAnswer:
    """The JSON object a platform answered; NOT_AVAILABLE (logged by `what`, never by URL)
    when it did not answer one."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        log.warning("%s %s failed: %s", platform, what, type(exc).__name__)
        raise unavailable(platform) from None
    if response.status_code != 200:
        log.warning("%s %s answered HTTP %s", platform, what, response.status_code)
        raise unavailable(platform)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.warning("%s %s answered something that is not a JSON object", platform, what)
        raise unavailable(platform)
    return PlatformAnswer(data, response.text)


async def call_json(http: httpx.AsyncClient, platform: str, what: str, method: str, url: str,
                    **kwargs: Any) -> dict[str, Any]:
    return (await call_platform(http, platform, what, method, url, **kwargs)).data
