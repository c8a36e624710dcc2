"""The outbox worker: sends due payouts, retries with backoff, records the outcome once.

- Claim: one conditional `UPDATE … RETURNING` takes a batch of due, unclaimed (or
  lease-expired) payouts and stamps them with this worker's id and a lease. Two
  workers never hold the same payout (PostgreSQL also skips rows another claim has
  locked, so concurrent workers take different rows instead of waiting).
- Send: the attempt is counted before the provider is called, with the payout's
  stable id, so a crash still counts and a resend is de-duplicated by the provider.
- Record: PAID or FAILED is written only while the payout is still PENDING and
  claimed by this worker, in the same transaction as the purpose's handler (the
  shop's order, a merchant settlement), so an outcome is recorded and acted on once.
- A worker that dies mid-batch leaves its payouts claimed; when the lease runs out
  another worker claims them and resends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.database import dialect_sql
from app.payouts import outbox
from app.payouts.models import Payout, PayoutStatus
from app.payouts.provider import PayoutProvider, PermanentPayoutError, TransientPayoutError
from app.settings import Settings

log = logging.getLogger("carbon_planet.payouts")

PENDING = PayoutStatus.PENDING.value


@dataclass
class BatchResult:
    """What one `run_once` did."""

    claimed: int = 0
    paid: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0  # lost the claim (lease expired and another worker took over) or errored


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PayoutWorker:
    def __init__(
        self,
        provider: PayoutProvider,
        settings: Settings,
        handlers: Mapping[str, outbox.PayoutHandler] | None = None,
        clock: Callable[[], datetime] = utcnow,
        worker_id: str | None = None,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self._handlers = handlers
        self.clock = clock
        self.worker_id = worker_id or default_worker_id()

    @property
    def handlers(self) -> Mapping[str, outbox.PayoutHandler]:
        """The ones given, else the outbox's registry (read live: registered at start)."""
        return outbox.handlers() if self._handlers is None else self._handlers

    def now(self) -> datetime:
        # UTC always: SQLite compares the stored ISO strings, which only sort in one zone
        return self.clock().astimezone(UTC)

    def backoff(self, attempts: int) -> timedelta:
        """Delay after the `attempts`-th failed attempt: base, 2x base, 4x base … capped."""
        s = self.settings
        return timedelta(seconds=min(s.payout_backoff_seconds * 2 ** (attempts - 1),
                                     s.payout_backoff_max_seconds))

    async def claim(self, limit: int | None = None) -> list[Payout]:
        """Take up to `limit` due payouts for this worker, oldest due first."""
        now = self.now()
        until = now + timedelta(seconds=self.settings.payout_lease_seconds)
        conn = connections.get("default")
        due = ("status = {3} AND next_attempt_at <= {4} "
               "AND (claimed_until IS NULL OR claimed_until < {4})")
        pick = f"SELECT id FROM payout WHERE {due} ORDER BY next_attempt_at, id LIMIT {{5}}"
        if conn.capabilities.dialect == "postgres":
            # a CTE runs once (an IN subquery may be re-run per row, locking more than LIMIT)
            sql = (f"WITH picked AS ({pick} FOR UPDATE SKIP LOCKED) "
                   "UPDATE payout SET claimed_until = {1}, claimed_by = {2} "
                   "FROM picked WHERE payout.id = picked.id RETURNING payout.id")
        else:  # SQLite runs one writer at a time: the statement is atomic as it stands
            sql = (f"UPDATE payout SET claimed_until = {{1}}, claimed_by = {{2}} "
                   f"WHERE {due} AND id IN ({pick}) RETURNING id")
        rows = await conn.execute_query_dict(
            dialect_sql(conn, sql),
            [until, self.worker_id, PENDING, now, limit or self.settings.payout_batch_size])
        ids = [r["id"] for r in rows]
        if not ids:
            return []
        return await Payout.filter(id__in=ids).order_by("next_attempt_at", "id")

    def _mine(self, payout: Payout):
        return Payout.filter(id=payout.id, status=PENDING, claimed_by=self.worker_id)

    async def run_once(self) -> BatchResult:
        """Claim one batch and send each payout in it."""
        result = BatchResult()
        batch = await self.claim()
        result.claimed = len(batch)
        for payout in batch:
            try:
                outcome = await self._process(payout)
            except Exception:  # noqa: BLE001 - one bad payout must not stop the batch
                log.exception("payout %s: could not record the outcome; retried after the lease",
                              payout.id)
                outcome = "skipped"
            setattr(result, outcome, getattr(result, outcome) + 1)
        return result

    async def _process(self, payout: Payout) -> str:
        if payout.purpose not in self.handlers:  # nobody could record the outcome: send nothing
            raise LookupError(f"no handler registered for payout purpose {payout.purpose!r} "
                              "(app.payout_handlers.register_payout_handlers not called?)")
        if not await self._mine(payout).update(attempts=F("attempts") + 1):
            return "skipped"
        payout.attempts += 1
        try:
            reference = await self.provider.send(
                payout.id, payout.recipient, int(payout.amount_fen),
                f"{payout.purpose} {payout.reference}")
        except PermanentPayoutError as exc:
            return await self._fail(payout, f"refused: {exc}")
        except Exception as exc:  # noqa: BLE001 - anything unexpected is worth a retry
            error = (str(exc) if isinstance(exc, TransientPayoutError)
                     else f"{type(exc).__name__}: {exc}") or type(exc).__name__
            if payout.attempts >= self.settings.payout_max_attempts:
                return await self._fail(payout, f"gave up after {payout.attempts} attempts: {error}")
            return await self._retry(payout, error)
        return await self._paid(payout, reference)

    async def _paid(self, payout: Payout, reference: str) -> str:
        now = self.now()
        async with in_transaction():
            if not await self._mine(payout).update(
                    status=PayoutStatus.PAID.value, provider_reference=reference, finished_at=now,
                    claimed_until=None, last_error=None):
                return "skipped"
            await self.handlers[payout.purpose].paid(await Payout.get(id=payout.id))
        log.info("payout %s paid: %s fen to %s (%s)", payout.id, payout.amount_fen,
                 payout.recipient, reference)
        return "paid"

    async def _fail(self, payout: Payout, error: str) -> str:
        now = self.now()
        async with in_transaction():
            if not await self._mine(payout).update(
                    status=PayoutStatus.FAILED.value, finished_at=now, claimed_until=None,
                    last_error=error[:500]):
                return "skipped"
            await self.handlers[payout.purpose].failed(await Payout.get(id=payout.id))
        log.warning("payout %s failed for good: %s", payout.id, error)
        return "failed"

    async def _retry(self, payout: Payout, error: str) -> str:
        delay = self.backoff(payout.attempts)
        if not await self._mine(payout).update(
                next_attempt_at=self.now() + delay, claimed_until=None, claimed_by=None,
                last_error=error[:500]):
            return "skipped"
        log.info("payout %s attempt %s failed (%s); retry in %s s", payout.id, payout.attempts,
                 error, int(delay.total_seconds()))
        return "retrying"

    async def run_forever(self, poll_seconds: float | None = None) -> None:
        """Work until cancelled; a failing batch (database down) is logged and tried again."""
        poll = poll_seconds if poll_seconds is not None else self.settings.payout_poll_seconds
        while True:
            try:
                result = await self.run_once()
            except Exception:  # noqa: BLE001 - the worker outlives database hiccups
                log.exception("payout batch failed; trying again in %s s", poll)
                result = BatchResult()
            if result.claimed < self.settings.payout_batch_size:
                await asyncio.sleep(poll)
