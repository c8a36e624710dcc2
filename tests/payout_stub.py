"""A stand-in for a real payout provider, loaded by its dotted path as production would."""

from __future__ import annotations

from datetime import UTC, datetime

from app.payouts.provider import ProviderRecord


class RecordingPayouts:
    def __init__(self) -> None:
        self.paid: dict[str, ProviderRecord] = {}

    async def send(self, payout_id: str, recipient: str, amount_fen: int, memo: str) -> str:
        if payout_id not in self.paid:
            self.paid[payout_id] = ProviderRecord(payout_id, recipient, amount_fen,
                                                  f"stub-{len(self.paid) + 1}", datetime.now(UTC))
        return self.paid[payout_id].reference

    async def records(self, since: datetime | None) -> list[ProviderRecord]:
        return [r for r in self.paid.values() if since is None or r.created_at >= since]


class SlowSandbox:
    """The sandbox provider, answering only after a pause: a worker process killed during
    that pause has paid at the provider without having recorded it."""

    def __init__(self) -> None:
        from app.payouts.sandbox import SandboxProvider

        self.sandbox = SandboxProvider()

    async def send(self, payout_id: str, recipient: str, amount_fen: int, memo: str) -> str:
        import asyncio

        reference = await self.sandbox.send(payout_id, recipient, amount_fen, memo)
        await asyncio.sleep(0.05)
        return reference

    async def records(self, since: datetime | None) -> list[ProviderRecord]:
        return await self.sandbox.records(since)
