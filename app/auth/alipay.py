"""Alipay mini-program login: a `my.getAuthCode` code exchanged at the open gateway's
`alipay.system.oauth.token`, the request signed RSA2 (SHA256withRSA, PKCS#1 v1.5) with
the app's private key over its parameters sorted by name. When Alipay's public key is
set, the answer's `sign` is verified over the answer's JSON text as received.

Alipay names a user by `open_id` (apps created since 2023) or `user_id` (older apps);
the access token it also returns is not needed and is dropped.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NoReturn

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.auth.platforms import (
    ALIPAY,
    PlatformIdentity,
    call_platform,
    checked_code,
    log,
    platform_string,
    unavailable,
)
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.settings import Settings

METHOD = "alipay.system.oauth.token"
RESPONSE_KEY = "alipay_system_oauth_token_response"
BEIJING = timezone(timedelta(hours=8))
CODE_REFUSALS = {"isv.code-invalid", "isv.code-expired", "isv.code-used"}


def sign_content(params: dict[str, str]) -> str:
    """Alipay's string to sign: `k=v` pairs sorted by key, `&`-joined, without `sign` and
    empty values, not URL-encoded."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v)


def rsa2_sign(params: dict[str, str], key: rsa.RSAPrivateKey) -> str:
    signature = key.sign(sign_content(params).encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def load_private_key(path: str) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM file (PKCS#8 or PKCS#1)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def load_public_key(path: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} does not hold an RSA public key")
    return key


def signed_text(text: str, node: str) -> str | None:
    """The JSON object under `"<node>":` in `text`, exactly as written: what Alipay signs."""
    at = text.find(f'"{node}"')
    start = text.find("{", at) if at >= 0 else -1
    if start < 0 or text[at + len(node) + 2:start].strip() != ":":
        return None
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{}":
            depth += 1 if ch == "{" else -1
            if depth == 0:
                return text[start:i + 1]
    return None


def verified(text: str, signature: object, key: rsa.RSAPublicKey) -> bool:
    content = signed_text(text, RESPONSE_KEY)
    if content is None or not isinstance(signature, str):
        return False
    try:
        key.verify(base64.b64decode(signature), content.encode(), padding.PKCS1v15(),
                   hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


class AlipayLogin:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.gateway = settings.alipay_base_url.rstrip("/") + "/gateway.do"
        self.keys = {app.app_id: load_private_key(app.private_key_path)
                     for app in settings.alipay_apps}
        self.alipay_keys = {app.app_id: load_public_key(app.alipay_public_key_path)
                            for app in settings.alipay_apps if app.alipay_public_key_path}
        self.http = http

    async def identity(self, app_id: str, code: str) -> PlatformIdentity:
        """The user of a `my.getAuthCode` code (usable once)."""
        key = self.keys.get(app_id)
        if key is None:
            raise invalid("appId", N_("No Alipay mini-program with this appId is set up here."))
        code = checked_code(code, "code")
        params = {
            "app_id": app_id,
            "method": METHOD,
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "grant_type": "authorization_code",
            "code": code,
        }
        params["sign"] = rsa2_sign(params, key)
        reply = await call_platform(self.http, ALIPAY, METHOD, "POST", self.gateway, data=params)
        answer = reply.data.get(RESPONSE_KEY)
        if not isinstance(answer, dict) or answer.get("code") not in (None, "10000"):
            error = reply.data.get("error_response")
            _raise_refusal(error if isinstance(error, dict) else answer)
        alipay_key = self.alipay_keys.get(app_id)
        if alipay_key is not None and not verified(reply.text, reply.data.get("sign"), alipay_key):
            log.error("alipay %s answer's signature does not verify with Alipay's public key",
                      METHOD)
            raise unavailable(ALIPAY)
        openid = platform_string(answer, "open_id") or platform_string(answer, "user_id")
        if openid is None:
            log.warning("alipay %s answered without open_id or user_id", METHOD)
            raise unavailable(ALIPAY)
        return PlatformIdentity(ALIPAY, app_id, openid)


def _raise_refusal(error: object) -> NoReturn:
    error = error if isinstance(error, dict) else {}
    sub_code = error.get("sub_code")
    if sub_code in CODE_REFUSALS:
        raise ServiceError(ErrorCode.INVALID_CODE, N_(
            "The Alipay login code is not valid or was already used; call my.getAuthCode "
            "for a new one."), "code")
    if sub_code is not None:  # a signature, app id or permission problem: the configuration
        log.error("alipay %s refused: %s %s %s", METHOD, error.get("code"), sub_code,
                  error.get("sub_msg"))
    else:
        log.warning("alipay %s answered neither a token nor an error", METHOD)
    raise unavailable(ALIPAY)
