"""Payout outbox: retries with backoff, failing for good, concurrent workers, crash and
restart, reconcile, the CLI, and plugging in a provider."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.payouts import outbox
from app.payouts.models import Payout, PayoutStatus, SandboxPayment
from app.payouts.provider import PermanentPayoutError, TransientPayoutError, load_payout_provider
from app.payouts.reconcile import reconcile
from app.payouts.sandbox import SandboxProvider
from app.payouts.worker import PayoutWorker
from tests.payout_stub import RecordingPayouts

COMMAND = str(Path(sys.executable).parent / "carbon-planet")


class Clock:
    """The worker's now, moved by the test instead of by sleeping."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingHandler:
    def __init__(self) -> None:
        self.paid_ids: list[str] = []
        self.failed_ids: list[str] = []

    async def paid(self, payout: Payout) -> None:
        assert payout.status == PayoutStatus.PAID.value
        self.paid_ids.append(payout.id)

    async def failed(self, payout: Payout) -> None:
        assert payout.status == PayoutStatus.FAILED.value
        self.failed_ids.append(payout.id)


class Flaky:
    """The sandbox, but each listed payout id first raises the given errors in turn."""

    def __init__(self, errors: dict[str, list[BaseException]] | None = None) -> None:
        self.sandbox = SandboxProvider()
        self.errors = errors or {}
        self.sends: Counter[str] = Counter()

    async def send(self, payout_id, recipient, amount_fen, memo):
        self.sends[payout_id] += 1
        await asyncio.sleep(0)  # let concurrent workers interleave
        if self.errors.get(payout_id):
            raise self.errors[payout_id].pop(0)
        return await self.sandbox.send(payout_id, recipient, amount_fen, memo)

    async def records(self, since):
        return await self.sandbox.records(since)


@pytest.fixture
async def payout_settings(make_app):
    app = await make_app(payout_worker=False, payout_backoff_seconds=30,
                         payout_backoff_max_seconds=3600, payout_max_attempts=6,
                         payout_lease_seconds=60, payout_batch_size=50)
    return app.state.settings


async def enqueue(n: int, clock: Clock, prefix: str = "order", amount_fen: int = 500) -> list[str]:
    ids = []
    async with in_transaction():
        for i in range(n):
            payout = await outbox.enqueue(f"{prefix}:{i:04d}", "order", f"ref-{i}",
                                          f"player:p{i}", amount_fen, clock())
            ids.append(payout.id)
    return ids


def worker(provider, settings, handler, clock, **overrides) -> PayoutWorker:
    return PayoutWorker(provider, settings.model_copy(update=overrides),
                        handlers={"order": handler}, clock=clock)


async def test_fails_twice_then_succeeds_is_paid_once_after_backoff(payout_settings):
    clock, handler = Clock(), RecordingHandler()
    [pid] = await enqueue(1, clock)
    provider = Flaky({pid: [TransientPayoutError("timeout"), ConnectionError("reset")]})
    w = worker(provider, payout_settings, handler, clock)

    first = await w.run_once()
    assert (first.claimed, first.retrying) == (1, 1)
    row = await Payout.get(id=pid)
    assert row.status == "PENDING" and row.attempts == 1 and row.claimed_until is None
    assert row.next_attempt_at == clock.now + timedelta(seconds=30)
    assert row.last_error == "timeout"

    clock.advance(29)
    assert (await w.run_once()).claimed == 0  # not before next_attempt_at
    clock.advance(1)
    assert (await w.run_once()).retrying == 1
    row = await Payout.get(id=pid)
    assert row.next_attempt_at == clock.now + timedelta(seconds=60)  # doubled
    assert row.last_error.startswith("ConnectionError")

    clock.advance(59)
    assert (await w.run_once()).claimed == 0
    clock.advance(1)
    assert (await w.run_once()).paid == 1
    paid_at = clock.now
    clock.advance(10_000)
    assert (await w.run_once()).claimed == 0  # paid payouts are never sent again

    row = await Payout.get(id=pid)
    assert row.status == "PAID" and row.attempts == 3 and row.finished_at == paid_at
    assert row.provider_reference == (await SandboxPayment.get(payout_id=pid)).reference
    assert await SandboxPayment.all().count() == 1
    assert handler.paid_ids == [pid] and handler.failed_ids == []
    assert provider.sends[pid] == 3


async def test_refused_payout_fails_for_good_once(payout_settings):
    clock, handler = Clock(), RecordingHandler()
    [pid] = await enqueue(1, clock)
    provider = Flaky({pid: [PermanentPayoutError("account closed")]})
    w = worker(provider, payout_settings, handler, clock)

    assert (await w.run_once()).failed == 1
    clock.advance(100_000)
    assert (await w.run_once()).claimed == 0
    row = await Payout.get(id=pid)
    assert row.status == "FAILED" and row.attempts == 1 and "account closed" in row.last_error
    assert handler.failed_ids == [pid] and handler.paid_ids == []
    assert await SandboxPayment.all().count() == 0


async def test_transient_until_max_attempts_fails_for_good(payout_settings):
    clock, handler = Clock(), RecordingHandler()
    [pid] = await enqueue(1, clock)
    provider = Flaky({pid: [TransientPayoutError("busy") for _ in range(10)]})
    w = worker(provider, payout_settings, handler, clock, payout_max_attempts=4,
               payout_backoff_max_seconds=90)

    delays = []
    for _ in range(3):
        before = clock.now
        assert (await w.run_once()).retrying == 1
        delays.append((await Payout.get(id=pid)).next_attempt_at - before)
        clock.advance(3600)
    assert delays == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=90)]  # capped
    assert (await w.run_once()).failed == 1
    clock.advance(100_000)
    assert (await w.run_once()).claimed == 0

    row = await Payout.get(id=pid)
    assert row.status == "FAILED" and row.attempts == 4 and "gave up after 4 attempts" in row.last_error
    assert handler.failed_ids == [pid] and handler.paid_ids == []
    assert provider.sends[pid] == 4


async def test_two_concurrent_workers_send_each_payout_once(payout_settings):
    clock, handler = Clock(), RecordingHandler()
    ids = await enqueue(40, clock)
    provider = Flaky()
    workers = [worker(provider, payout_settings, handler, clock, payout_batch_size=5) for _ in range(2)]

    claimed_together = await asyncio.gather(*(w.claim() for w in workers))
    first, second = ({p.id for p in batch} for batch in claimed_together)
    assert len(first) + len(second) == 10 and not first & second  # disjoint batches
    clock.advance(61)  # those two claims lapse; the workers start over

    async def drain(w: PayoutWorker) -> None:
        for _ in range(100):
            result = await w.run_once()
            if not result.claimed and not await Payout.filter(status="PENDING").exists():
                return

    await asyncio.gather(*(drain(w) for w in workers))

    assert provider.sends == Counter({pid: 1 for pid in ids})
    assert await SandboxPayment.all().count() == 40
    assert await Payout.filter(status="PAID").count() == 40
    assert sorted(handler.paid_ids) == ids
    for w in workers:  # the payer's id stays on the row
        assert await Payout.filter(claimed_by=w.worker_id, status="PAID").count() > 0


class Killed(BaseException):
    """The process dies: nothing in the worker catches this."""


class DiesAfter:
    """Pays at the sandbox, then the worker process dies before recording the Nth payout."""

    def __init__(self, n: int) -> None:
        self.sandbox, self.n, self.sent = SandboxProvider(), n, 0

    async def send(self, payout_id, recipient, amount_fen, memo):
        reference = await self.sandbox.send(payout_id, recipient, amount_fen, memo)
        self.sent += 1
        if self.sent == self.n:
            raise Killed(payout_id)
        return reference

    async def records(self, since):
        return await self.sandbox.records(since)


async def test_worker_killed_mid_batch_is_finished_by_the_next_without_loss_or_duplicates(payout_settings):
    clock, handler = Clock(), RecordingHandler()
    ids = await enqueue(10, clock)
    crashing = worker(DiesAfter(4), payout_settings, handler, clock)
    with pytest.raises(Killed) as killed:
        await crashing.run_once()
    crashed_id = killed.value.args[0]

    assert await Payout.filter(status="PAID").count() == 3
    assert await Payout.filter(status="PENDING", claimed_by=crashing.worker_id).count() == 7
    assert await SandboxPayment.all().count() == 4
    [difference] = await reconcile(SandboxProvider())
    assert (difference.payout_id, difference.kind) == (crashed_id, "paid-not-recorded")
    assert "records it PAID on its next attempt" in str(difference)

    provider = Flaky()
    restarted = worker(provider, payout_settings, handler, clock)
    assert (await restarted.run_once()).claimed == 0  # the dead worker's lease still holds
    clock.advance(61)
    result = await restarted.run_once()
    assert (result.claimed, result.paid) == (7, 7)

    assert await Payout.filter(status="PAID").count() == 10
    assert await SandboxPayment.all().count() == 10  # the crashed payout was not paid twice
    assert sorted(handler.paid_ids) == ids  # each recorded and handled exactly once
    crashed = await Payout.get(id=crashed_id)
    assert crashed.attempts == 2
    assert crashed.provider_reference == (await SandboxPayment.get(payout_id=crashed_id)).reference
    assert await reconcile(SandboxProvider()) == []


async def test_a_failing_handler_rolls_back_the_outcome_and_is_retried(payout_settings):
    clock, handler = Clock(), RecordingHandler()
    [pid] = await enqueue(1, clock)

    class Broken(RecordingHandler):
        async def paid(self, payout):
            raise RuntimeError("shop database hiccup")

    assert (await worker(SandboxProvider(), payout_settings, Broken(), clock).run_once()).skipped == 1
    assert (await Payout.get(id=pid)).status == "PENDING"  # PAID was rolled back with the handler
    clock.advance(61)
    assert (await worker(SandboxProvider(), payout_settings, handler, clock).run_once()).paid == 1
    assert handler.paid_ids == [pid] and await SandboxPayment.all().count() == 1


async def test_sandbox_deduplicates_racing_sends_by_payout_id(payout_settings):
    sandbox = SandboxProvider()
    refs = await asyncio.gather(*(sandbox.send("order:x", "player:1", 800, "memo") for _ in range(5)))
    assert len(set(refs)) == 1
    assert await SandboxPayment.all().count() == 1
    with pytest.raises(PermanentPayoutError, match="already used"):
        await sandbox.send("order:x", "player:1", 900, "memo")


async def test_reconcile_lists_each_kind_of_difference(payout_settings):
    clock, handler = Clock(), RecordingHandler()
    ids = await enqueue(4, clock)
    await worker(SandboxProvider(), payout_settings, handler, clock).run_once()
    assert await reconcile(SandboxProvider()) == []

    await SandboxPayment.filter(payout_id=ids[0]).delete()
    await SandboxPayment.filter(payout_id=ids[1]).update(amount_fen=501)
    await SandboxPayment.filter(payout_id=ids[2]).update(recipient="player:someone-else")
    await SandboxPayment.create(payout_id="order:stranger", recipient="player:z", amount_fen=1,
                                reference="sandbox-z")
    await Payout.filter(id=ids[3]).update(status="FAILED")
    found = {(d.payout_id, d.kind) for d in await reconcile(SandboxProvider())}
    assert found == {(ids[0], "missing-at-provider"), (ids[1], "amount"), (ids[2], "recipient"),
                     ("order:stranger", "unknown-at-provider"), (ids[3], "paid-but-failed")}


async def test_worker_loop_survives_a_failing_batch(payout_settings, monkeypatch):
    clock, handler = Clock(), RecordingHandler()
    [pid] = await enqueue(1, clock)
    w = worker(SandboxProvider(), payout_settings, handler, clock)
    real_claim, calls = w.claim, []

    async def claim_after_an_outage(limit=None):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database restarting")
        return await real_claim(limit)

    monkeypatch.setattr(w, "claim", claim_after_an_outage)
    task = asyncio.create_task(w.run_forever(poll_seconds=0.01))
    try:
        for _ in range(500):
            if handler.paid_ids:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert handler.paid_ids == [pid] and len(calls) >= 2


def test_provider_is_loaded_from_settings():
    assert isinstance(load_payout_provider("sandbox"), SandboxProvider)
    assert isinstance(load_payout_provider("tests.payout_stub:RecordingPayouts"), RecordingPayouts)
    with pytest.raises(ValueError, match="CARBON_PAYOUT_PROVIDER"):
        load_payout_provider("nonsense")


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "CARBON_PAYOUT_PROVIDER": "sandbox"}
    return subprocess.run([COMMAND, "payouts", *args], env=env, capture_output=True, text=True,
                          timeout=60)


async def test_cli_reconcile_exit_codes_and_list(payout_settings):
    clock, handler = Clock(), RecordingHandler()
    ids = await enqueue(2, clock)
    await worker(SandboxProvider(), payout_settings, handler, clock).run_once()

    agree = _cli(payout_settings, "reconcile")
    assert agree.returncode == 0, agree.stderr
    assert agree.stdout.strip() == "outbox and provider agree (2 payouts)"

    await SandboxPayment.filter(payout_id=ids[1]).delete()
    differ = _cli(payout_settings, "reconcile")
    assert differ.returncode == 1
    assert differ.stdout.strip().splitlines() == [
        f"{ids[1]}: missing-at-provider: the outbox says PAID "
        f"({(await Payout.get(id=ids[1])).provider_reference}) but the provider has no record: "
        "check with the provider before paying again"]

    later = _cli(payout_settings, "reconcile", "--since", (utcnow() + timedelta(days=1)).isoformat())
    assert later.returncode == 0 and "(0 payouts)" in later.stdout

    listed = _cli(payout_settings, "list", "--status", "PAID")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert sorted(line.split()[0] for line in lines) == ids
    assert all("PAID" in line and "5.00 yuan" in line for line in lines)
    assert _cli(payout_settings, "list", "--status", "PENDING").stdout == ""

    idle = _cli(payout_settings, "work", "--once")
    assert idle.returncode == 0, idle.stderr
    assert idle.stdout.startswith("claimed 0:")


async def test_a_payout_whose_purpose_has_no_handler_is_not_sent(payout_settings):
    clock = Clock()
    [pid] = await enqueue(1, clock, prefix="unheard-of")
    async with in_transaction():
        await Payout.filter(id=pid).update(purpose="unheard-of")
    provider = Flaky()
    w = PayoutWorker(provider, payout_settings, clock=clock)  # the outbox's registry
    assert {"order", "settlement"} <= set(outbox.handlers())  # registered at app start
    result = await w.run_once()
    assert (result.claimed, result.skipped, result.paid) == (1, 1, 0)
    assert provider.sends[pid] == 0
    row = await Payout.get(id=pid)
    assert row.status == "PENDING" and row.attempts == 0


async def test_a_worker_given_no_handlers_uses_the_registered_ones(payout_settings):
    clock = Clock()
    [pid] = await enqueue(1, clock, prefix="registered")
    async with in_transaction():
        await Payout.filter(id=pid).update(purpose="registered-in-test")
    handler = RecordingHandler()
    outbox.register("registered-in-test", handler)
    w = PayoutWorker(Flaky(), payout_settings, clock=clock)  # no handlers given: the registry's
    assert (await w.run_once()).paid == 1
    assert (await Payout.get(id=pid)).status == "PAID"
    assert handler.paid_ids == [pid]
