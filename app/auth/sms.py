"""SMS providers. A real provider plugs in by `CARBON_SMS_PROVIDER=package.module:Class`."""

from __future__ import annotations

import importlib
import logging
from collections import OrderedDict
from typing import Protocol

from app.auth.phones import masked

log = logging.getLogger("carbon_planet.sms")


class SmsProvider(Protocol):
    async def send_login_code(self, phone: str, code: str) -> None: ...


class LogSmsProvider:
    """Development provider: writes the code to the log and remembers the latest per phone."""

    def __init__(self, remember: int = 10_000) -> None:
        self._latest: OrderedDict[str, str] = OrderedDict()
        self._remember = remember

    async def send_login_code(self, phone: str, code: str) -> None:
        log.warning(
            "login code %s for %s (development SMS provider)",
            code,
            masked(phone),
            extra={"phone": phone, "login_code": code},
        )
        self._latest[phone] = code
        self._latest.move_to_end(phone)
        while len(self._latest) > self._remember:
            self._latest.popitem(last=False)

    def latest_code(self, phone: str) -> str | None:
        return self._latest.get(phone)


def load_sms_provider(spec: str) -> SmsProvider:
    if spec == "log":
        return LogSmsProvider()
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise ValueError(f"CARBON_SMS_PROVIDER must be 'log' or 'package.module:Class', not {spec!r}")
    return getattr(importlib.import_module(module_name), class_name)()
