"""A payout worker process SIGKILLed mid-batch and restarted pays every red packet exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.ledger.verify import verify_ledger
from app.payouts.models import Payout, SandboxPayment
from tests.test_shop import MY_ORDERS, create_item, funded_player, redeem, staff

ROOT = Path(__file__).resolve().parents[1]
COMMAND = str(Path(sys.executable).parent / "carbon-planet")
ORDERS = 30


def worker_env(settings) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": settings.database_url, "PYTHONPATH": str(ROOT),
            "CARBON_PAYOUT_PROVIDER": "tests.payout_stub:SlowSandbox",
            "CARBON_PAYOUT_BATCH_SIZE": "10", "CARBON_PAYOUT_LEASE_SECONDS": "2",
            "CARBON_PAYOUT_POLL_SECONDS": "0.2", "CARBON_LOG_JSON": "false"}


async def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "the worker made no progress"
        await asyncio.sleep(0.05)


async def test_worker_killed_mid_batch_then_restarted_pays_each_once(gql, settings):
    op = await staff(gql, "+8613800138031")
    player = await funded_player(gql, "+8613800138032", 200 * ORDERS)
    item = await create_item(gql, op["accessToken"], kind="CASH_RED_PACKET", pricePoints=200,
                             cashFen=100, stock=ORDERS)
    for n in range(ORDERS):
        assert (await redeem(gql, player["accessToken"], item["id"], key=f"rp-{n}"))["errors"] == []

    env = worker_env(settings)
    first = subprocess.Popen([COMMAND, "payouts", "work"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async def some_paid_at_provider() -> bool:
            return await SandboxPayment.all().count() >= 5
        await wait_until(some_paid_at_provider)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    paid_before = await Payout.filter(status="PAID").count()
    assert paid_before < ORDERS  # killed mid-way
    claimed = await Payout.filter(status="PENDING", claimed_by__isnull=False).count()
    assert claimed > 0  # the rest of its batch is left claimed until the lease runs out

    second = subprocess.Popen([COMMAND, "payouts", "work"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async def all_paid() -> bool:
            return await Payout.filter(status="PAID").count() == ORDERS
        await wait_until(all_paid)
    finally:
        second.terminate()
        second.wait(timeout=30)

    assert await SandboxPayment.all().count() == ORDERS  # nothing paid twice at the provider
    assert sorted(await SandboxPayment.all().values_list("payout_id", flat=True)) == sorted(
        await Payout.all().values_list("id", flat=True))
    result = await gql(MY_ORDERS, {"first": 50}, token=player["accessToken"])
    statuses = [e["node"]["status"] for e in result["data"]["me"]["orders"]["edges"]]
    assert statuses == ["PAID_OUT"] * ORDERS
    reconcile = subprocess.run([COMMAND, "payouts", "reconcile"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    assert (await verify_ledger()).ok
