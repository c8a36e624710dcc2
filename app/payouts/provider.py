"""The payout provider interface. A real provider plugs in by
`CARBON_PAYOUT_PROVIDER=package.module:Class`; `sandbox` ships for development.

A provider must de-duplicate on `payout_id`: the worker resends the same id after
a crash or an ambiguous failure, and expects the first payment's reference back
rather than a second payment.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class TransientPayoutError(Exception):
    """The provider may succeed later (timeout, rate limit, outage): the worker retries."""


class PermanentPayoutError(Exception):
    """The provider refuses this payout for good (closed account, invalid recipient)."""


@dataclass(frozen=True)
class ProviderRecord:
    """One payment as the provider's own books show it."""

    payout_id: str
    recipient: str
    amount_fen: int
    reference: str
    created_at: datetime


class PayoutProvider(Protocol):
    async def send(self, payout_id: str, recipient: str, amount_fen: int, memo: str) -> str:
        """Pay once per `payout_id`; return the provider's reference (the same on a resend)."""
        ...

    async def records(self, since: datetime | None) -> list[ProviderRecord]:
        """The provider's payments made at or after `since` (all when None)."""
        ...


# Short names for the providers that ship with the project; they load like any
# other plug-in, so this interface module imports none of its implementations.
BUILT_IN_PROVIDERS = {"sandbox": "app.payouts.sandbox:SandboxProvider"}


def load_payout_provider(spec: str) -> PayoutProvider:
    module_name, _, class_name = BUILT_IN_PROVIDERS.get(spec, spec).partition(":")
    if not module_name or not class_name:
        raise ValueError(
            f"CARBON_PAYOUT_PROVIDER must be 'sandbox' or 'package.module:Class', not {spec!r}")
    return getattr(importlib.import_module(module_name), class_name)()
