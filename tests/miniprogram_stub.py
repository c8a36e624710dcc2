"""A local stand-in for WeChat's and Alipay's login APIs, served over HTTP by uvicorn.

It answers the documented requests with the documented answers: `jscode2session`,
`cgi-bin/token` and `getuserphonenumber` (WeChat), and `alipay.system.oauth.token` at
the open gateway (Alipay). A test issues the codes; each works once, an unknown code is
invalid and a second use is refused as WeChat and Alipay refuse it. It checks WeChat's
appid and secret, the access token, and the RSA2 signature of every Alipay request with
the app's public key, and signs its own answers with Alipay's key (`alipay_key`; a forged
answer is signed with another key). `down` answers HTTP 500, `garbage` a page that is not
JSON, `delay` answers late.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class WeChatUser:
    app_id: str
    openid: str
    unionid: str | None
    session_key: str = field(default_factory=lambda: base64.b64encode(
        secrets.token_bytes(16)).decode())


@dataclass
class PhoneGrant:
    app_id: str
    pure_number: str
    country_code: str


@dataclass
class AlipayUser:
    app_id: str
    open_id: str


class MiniProgramStub:
    def __init__(self) -> None:
        self.wechat_secrets: dict[str, str] = {}
        self.alipay_public_keys: dict[str, rsa.RSAPublicKey] = {}
        self.alipay_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.forger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.reset()
        self.app = Starlette(routes=[
            Route("/sns/jscode2session", self.jscode2session),
            Route("/cgi-bin/token", self.access_token),
            Route("/wxa/business/getuserphonenumber", self.phone_number, methods=["POST"]),
            Route("/gateway.do", self.gateway, methods=["POST"]),
        ])

    def reset(self) -> None:
        self.wechat_codes: dict[str, WeChatUser] = {}
        self.phone_codes: dict[str, PhoneGrant] = {}
        self.alipay_codes: dict[str, AlipayUser] = {}
        self.used: set[str] = set()
        self.access_tokens: dict[str, str] = {}
        self.token_requests = 0
        self.session_keys: list[str] = []
        self.down = False
        self.garbage = False
        self.forge = False
        self.delay = 0.0

    # what a test does

    def wechat_code(self, app_id: str, openid: str, unionid: str | None = None) -> str:
        code = "wx" + secrets.token_hex(12)
        self.wechat_codes[code] = user = WeChatUser(app_id, openid, unionid)
        self.session_keys.append(user.session_key)
        return code

    def phone_code(self, app_id: str, pure_number: str, country_code: str = "86") -> str:
        code = "ph" + secrets.token_hex(12)
        self.phone_codes[code] = PhoneGrant(app_id, pure_number, country_code)
        return code

    def alipay_code(self, app_id: str, open_id: str) -> str:
        code = "ap" + secrets.token_hex(12)
        self.alipay_codes[code] = AlipayUser(app_id, open_id)
        return code

    # the platforms

    async def _trouble(self) -> Response | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            return PlainTextResponse("Internal Server Error", status_code=500)
        if self.garbage:
            return PlainTextResponse("<html>system busy</html>", media_type="text/html")
        return None

    def _wechat_app_refusal(self, appid: str | None, secret: str | None) -> JSONResponse | None:
        if appid not in self.wechat_secrets:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        if secret != self.wechat_secrets[appid]:
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        return None

    def _take(self, codes: dict, code: str | None, app_id: str) -> object | str:
        """The grant of a code, or why not: 'invalid' or 'used'."""
        if code in self.used:
            return "used"
        grant = codes.get(code or "")
        if grant is None or grant.app_id != app_id:
            return "invalid"
        self.used.add(code)
        return grant

    async def jscode2session(self, request: Request) -> Response:
        if trouble := await self._trouble():
            return trouble
        q = request.query_params
        if q.get("grant_type") != "authorization_code":
            return JSONResponse({"errcode": 40002, "errmsg": "invalid grant_type"})
        if refusal := self._wechat_app_refusal(q.get("appid"), q.get("secret")):
            return refusal
        user = self._take(self.wechat_codes, q.get("js_code"), q["appid"])
        if user == "used":
            return JSONResponse({"errcode": 40163, "errmsg": "code been used"})
        if user == "invalid":
            return JSONResponse({"errcode": 40029, "errmsg": "invalid code"})
        answer = {"openid": user.openid, "session_key": user.session_key}
        if user.unionid:
            answer["unionid"] = user.unionid
        return JSONResponse(answer)

    async def access_token(self, request: Request) -> Response:
        if trouble := await self._trouble():
            return trouble
        q = request.query_params
        if refusal := self._wechat_app_refusal(q.get("appid"), q.get("secret")):
            return refusal
        self.token_requests += 1
        token = secrets.token_urlsafe(32)
        self.access_tokens[token] = q["appid"]
        return JSONResponse({"access_token": token, "expires_in": 7200})

    async def phone_number(self, request: Request) -> Response:
        body = await request.json()
        if trouble := await self._trouble():
            return trouble
        app_id = self.access_tokens.get(request.query_params.get("access_token", ""))
        if app_id is None:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        grant = self._take(self.phone_codes, body.get("code"), app_id)
        if grant == "used":
            return JSONResponse({"errcode": 40163, "errmsg": "code been used"})
        if grant == "invalid":
            return JSONResponse({"errcode": 40029, "errmsg": "invalid code"})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": grant.pure_number, "purePhoneNumber": grant.pure_number,
            "countryCode": grant.country_code,
            "watermark": {"appid": app_id, "timestamp": 1700000000}}})

    async def gateway(self, request: Request) -> Response:
        params = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if trouble := await self._trouble():
            return trouble
        if params.get("method") != "alipay.system.oauth.token":
            return _alipay_error("40004", "Business Failed", "isv.invalid-method", "")
        key = self.alipay_public_keys.get(params.get("app_id", ""))
        if key is None:
            return _alipay_error("40002", "Invalid Arguments", "isv.invalid-app-id",
                                 "无效的AppID参数")
        content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v)
        try:
            key.verify(base64.b64decode(params.get("sign", "")), content.encode(),
                       padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return _alipay_error("40002", "Invalid Arguments", "isv.invalid-signature",
                                 "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配")
        if params.get("sign_type") != "RSA2" or params.get("grant_type") != "authorization_code":
            return _alipay_error("40002", "Invalid Arguments", "isv.invalid-parameter", "")
        user = self._take(self.alipay_codes, params.get("code"), params["app_id"])
        if not isinstance(user, AlipayUser):
            return _alipay_error("40002", "Invalid Arguments", "isv.code-invalid",
                                 "授权码code无效")
        node = json.dumps({
            "user_id": "2088" + secrets.token_hex(6), "open_id": user.open_id,
            "access_token": "authusrB" + secrets.token_hex(16), "expires_in": 1296000,
            "refresh_token": "authusrB" + secrets.token_hex(16), "re_expires_in": 2592000,
            "auth_start": "2026-01-01 00:00:00", "note": "授权 {\"ok\"}"},
            ensure_ascii=False, separators=(",", ":"))
        signer = self.forger_key if self.forge else self.alipay_key
        sign = base64.b64encode(signer.sign(node.encode(), padding.PKCS1v15(),
                                            hashes.SHA256())).decode()
        text = f'{{"alipay_system_oauth_token_response":{node},"sign":"{sign}"}}'
        return Response(text, media_type="application/json; charset=utf-8")


def _alipay_error(code: str, msg: str, sub_code: str, sub_msg: str) -> JSONResponse:
    return JSONResponse({"error_response": {"code": code, "msg": msg, "sub_code": sub_code,
                                            "sub_msg": sub_msg}})
