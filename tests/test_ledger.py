"""The double-entry ledger: balanced, idempotent, never negative, tamper-evident."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from tortoise import connections

from app.errors import ErrorCode, ServiceError
from app.ledger.models import LedgerAccount, LedgerLine, LedgerTransaction
from app.ledger.service import Asset, Posting, balances, credit, player_owner, post
from app.ledger.verify import verify_ledger

P = str(uuid.UUID(int=1))
SHOP = "system:shop"


async def test_credit_updates_balances_and_sums_to_zero(app):
    result = await post("ACTIVITY", "k1", credit(P, {Asset.CARBON_POINT: 12, Asset.CO2E_GRAMS: 96,
                                                     Asset.GROWTH: 0}))
    assert result.created
    assert await balances(P) == {Asset.CARBON_POINT: 12, Asset.GROWTH: 0, Asset.ENERGY: 0,
                                 Asset.CO2E_GRAMS: 96, Asset.CERTIFIED_GRAMS: 0, Asset.CNY_FEN: 0}
    lines = await LedgerLine.filter(transaction_id=result.transaction.id)
    assert len(lines) == 4 and sum(line.amount for line in lines) == 12 - 12 + 96 - 96
    assert (await verify_ledger()).ok


async def test_same_idempotency_key_posts_once(app):
    first = await post("ACTIVITY", "same", credit(P, {Asset.CARBON_POINT: 5}))
    again = await post("ACTIVITY", "same", credit(P, {Asset.CARBON_POINT: 5}))
    assert again.transaction.id == first.transaction.id and not again.created
    assert (await balances(P))[Asset.CARBON_POINT] == 5


async def test_same_key_concurrently_posts_once(app):
    results = await asyncio.gather(
        *[post("ACTIVITY", "race", credit(P, {Asset.CARBON_POINT: 7})) for _ in range(20)]
    )
    assert sum(r.created for r in results) == 1
    assert len({r.transaction.id for r in results}) == 1
    assert (await balances(P))[Asset.CARBON_POINT] == 7
    assert await LedgerTransaction.all().count() == 1


async def test_many_concurrent_credits_sum_exactly(app):
    await asyncio.gather(
        *[post("ACTIVITY", f"c{i}", credit(P, {Asset.CARBON_POINT: i, Asset.CO2E_GRAMS: 10 * i}))
          for i in range(1, 101)]
    )
    assert (await balances(P))[Asset.CARBON_POINT] == sum(range(1, 101))
    assert (await balances(P))[Asset.CO2E_GRAMS] == 10 * sum(range(1, 101))
    report = await verify_ledger()
    assert report.ok, report.problems
    assert report.lines == 400


async def test_a_deadlock_victim_is_posted_again_once(app, monkeypatch):
    """PostgreSQL rolls a deadlock victim back whole; `post` tries it again."""
    import asyncpg

    from app.ledger import service

    real, failures = service.post_in_transaction, []

    async def first_call_deadlocks(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        return await real(*args, **kwargs)

    monkeypatch.setattr(service, "post_in_transaction", first_call_deadlocks)
    result = await post("ACTIVITY", "victim", credit(P, {Asset.CARBON_POINT: 7}))
    assert result.created and failures == [1]
    assert (await balances(P))[Asset.CARBON_POINT] == 7
    assert await LedgerTransaction.filter(idempotency_key="victim").count() == 1


def spend(amount: int) -> list[Posting]:
    return [Posting(player_owner(P), Asset.CARBON_POINT, -amount),
            Posting(SHOP, Asset.CARBON_POINT, amount)]


async def test_overspending_is_refused_and_changes_nothing(app):
    await post("ACTIVITY", "earn", credit(P, {Asset.CARBON_POINT: 10}))
    with pytest.raises(ServiceError) as refused:
        await post("REDEEM", "spend-11", spend(11))
    assert refused.value.code == ErrorCode.INSUFFICIENT_POINTS
    assert (await balances(P))[Asset.CARBON_POINT] == 10
    assert not await LedgerTransaction.filter(idempotency_key="spend-11").exists()
    assert (await verify_ledger()).ok


async def test_concurrent_spending_never_goes_negative(app):
    await post("ACTIVITY", "earn", credit(P, {Asset.CARBON_POINT: 30}))

    async def attempt(i: int) -> bool:
        try:
            await post("REDEEM", f"spend-{i}", spend(3))
            return True
        except ServiceError:
            return False

    outcomes = await asyncio.gather(*[attempt(i) for i in range(25)])
    assert sum(outcomes) == 10
    assert (await balances(P))[Asset.CARBON_POINT] == 0
    assert (await verify_ledger()).ok


async def test_unbalanced_or_fractional_postings_are_refused(app):
    with pytest.raises(ValueError, match="sum to zero"):
        await post("BAD", "b1", [Posting(player_owner(P), Asset.CARBON_POINT, 5)])
    with pytest.raises(ValueError, match="integers"):
        await post("BAD", "b2", [Posting(player_owner(P), Asset.CARBON_POINT, 1.5),
                                 Posting(SHOP, Asset.CARBON_POINT, -1.5)])
    assert await LedgerTransaction.all().count() == 0


async def busy_ledger() -> None:
    for i in range(30):
        await post("ACTIVITY", f"b{i}", credit(str(uuid.UUID(int=i % 4)), {Asset.CARBON_POINT: i + 1,
                                                                            Asset.GROWTH: 2}))


async def test_verify_names_an_edited_line(app):
    await busy_ledger()
    assert (await verify_ledger()).ok
    victim = await LedgerLine.filter(amount=17).first()
    await connections.get("default").execute_query(
        f"UPDATE ledger_line SET amount = 170 WHERE id = {victim.id}"
    )
    report = await verify_ledger()
    assert not report.ok
    assert report.problems[0].startswith(f"ledger_line {victim.id} ")


async def test_verify_names_an_edited_balance_and_a_deleted_line(app):
    await busy_ledger()
    account = await LedgerAccount.get(owner=player_owner(str(uuid.UUID(int=2))), asset="CARBON_POINT")
    await LedgerAccount.filter(id=account.id).update(balance=account.balance + 1000)
    report = await verify_ledger()
    assert any(p.startswith(f"account {account.id} ") for p in report.problems)


async def test_ledger_verify_command_exit_codes(app, settings):
    await busy_ledger()
    command = [str(Path(sys.executable).parent / "carbon-planet"), "ledger", "verify"]
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    ok = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "ledger verified" in ok.stdout
    line = await LedgerLine.filter(seq=3).first()
    await connections.get("default").execute_query(
        f"UPDATE ledger_line SET balance_after = balance_after + 1 WHERE id = {line.id}"
    )
    bad = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert f"ledger_line {line.id} " in bad.stderr
