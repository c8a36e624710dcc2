"""One-time login codes sent by SMS.

Rules: stored as keyed hashes, valid for `login_code_ttl_seconds`, at most
`login_code_max_attempts` tries per code, and one code per phone per
`login_code_resend_seconds`. The resend limit and the try counter are enforced by
conditional updates in the database, so concurrent requests cannot bypass them
and they keep working when Redis is unavailable.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from app.accounts.models import LoginCode
from app.auth.hashing import keyed_hash, new_login_code, same
from app.auth.phones import normalise_phone
from app.auth.sms import SmsProvider
from app.clock import utcnow
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.settings import Settings

CODE_PATTERN = re.compile(r"\d{6}")


class LoginCodes:
    def __init__(self, settings: Settings, sms: SmsProvider) -> None:
        self.settings = settings
        self.sms = sms

    def _hash(self, phone: str, code: str) -> str:
        return keyed_hash(self.settings.secret_key, "login-code", f"{phone}:{code}")

    def normalise(self, raw_phone: str) -> str:
        return normalise_phone(raw_phone, self.settings.phone_default_region)

    async def request(self, raw_phone: str) -> int:
        """Send a new code; returns the seconds until another may be requested."""
        phone = self.normalise(raw_phone)
        resend = self.settings.login_code_resend_seconds
        now = utcnow()
        code = new_login_code()
        values: dict[str, Any] = {
            "code_hash": self._hash(phone, code),
            "sent_at": now,
            "expires_at": now + timedelta(seconds=self.settings.login_code_ttl_seconds),
            "attempts": 0,
            "consumed_at": None,
        }
        replaced = await LoginCode.filter(
            phone=phone, sent_at__lte=now - timedelta(seconds=resend)
        ).update(**values)
        if not replaced:
            try:
                await LoginCode.create(phone=phone, **values)
            except IntegrityError:
                raise self._rate_limited(phone, await LoginCode.get(phone=phone)) from None
        try:
            await self.sms.send_login_code(phone, code)
        except Exception:
            await LoginCode.filter(phone=phone, code_hash=values["code_hash"]).delete()
            raise ServiceError(
                ErrorCode.NOT_AVAILABLE, N_("The SMS could not be sent; try again."), "phone"
            ) from None
        return resend

    def _rate_limited(self, phone: str, row: LoginCode) -> ServiceError:
        waited = (utcnow() - row.sent_at).total_seconds()
        retry = max(1, math.ceil(self.settings.login_code_resend_seconds - waited))
        return ServiceError(
            ErrorCode.RATE_LIMITED,
            N_("A code was sent to this phone recently; try again in %(seconds)s s.", seconds=retry),
            "phone",
            retry_after_seconds=retry,
        )

    async def verify(self, raw_phone: str, code: str) -> str:
        """Consume the phone's code if `code` matches; returns the normalised phone."""
        phone = self.normalise(raw_phone)
        if not CODE_PATTERN.fullmatch(code or ""):
            raise invalid("code", N_("The code is 6 digits."))
        row = await LoginCode.get_or_none(phone=phone)
        if row is None or row.consumed_at is not None:
            raise ServiceError(ErrorCode.INVALID_CODE, N_("No code is waiting; request one."), "code")
        max_attempts = self.settings.login_code_max_attempts
        if row.attempts >= max_attempts:
            raise self._locked()
        if row.expires_at <= utcnow():
            raise ServiceError(ErrorCode.CODE_EXPIRED, N_("The code has expired; request a new one."), "code")
        counted = await LoginCode.filter(
            phone=phone, code_hash=row.code_hash, consumed_at=None, attempts__lt=max_attempts
        ).update(attempts=F("attempts") + 1)
        if not counted:
            raise self._locked()
        if not same(self._hash(phone, code), row.code_hash):
            left = max_attempts - row.attempts - 1
            raise ServiceError(
                ErrorCode.INVALID_CODE, N_("Wrong code; %(left)s tries left.", left=left), "code"
            )
        consumed = await LoginCode.filter(
            phone=phone, code_hash=row.code_hash, consumed_at=None
        ).update(consumed_at=utcnow())
        if not consumed:
            raise ServiceError(ErrorCode.INVALID_CODE, N_("The code was already used."), "code")
        return phone

    @staticmethod
    def _locked() -> ServiceError:
        return ServiceError(
            ErrorCode.LOCKED, N_("Too many wrong tries for this code; request a new one."), "code"
        )
