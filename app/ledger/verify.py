"""Recompute every account's hash chain and balance, and every transaction's zero sum; and
the transparency log's leaves and root from the same rows (app.transparency.audit)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise import connections

from app.ledger.chain import line_hash
from app.ledger.models import LedgerAccount, LedgerLine
from app.transparency.audit import LogAudit, audit_log

BATCH = 5000


@dataclass
class VerifyReport:
    accounts: int = 0
    lines: int = 0
    problems: list[str] = field(default_factory=list)
    log: LogAudit | None = None  # the transparency log's leaves rebuilt from these rows

    @property
    def ok(self) -> bool:
        return not self.problems


async def _verify_account(account: LedgerAccount, report: VerifyReport) -> None:
    prev, balance, seq = "", 0, 0
    where = f"account {account.id} ({account.owner} {account.asset})"
    while True:
        batch = await LedgerLine.filter(account_id=account.id, seq__gt=seq).order_by("seq").limit(BATCH)
        for line in batch:
            report.lines += 1
            balance += line.amount
            if line.seq != seq + 1:
                report.problems.append(f"ledger_line {line.id} of {where}: seq {line.seq} follows {seq}")
                return
            expected = line_hash(prev, account.id, line.seq, str(line.transaction_id), line.asset,
                                 line.amount, line.balance_after, line.created_at)
            if line.hash != expected or line.balance_after != balance or line.asset != account.asset:
                report.problems.append(
                    f"ledger_line {line.id} of {where}, seq {line.seq}: content does not match its hash "
                    f"(or its balance_after {line.balance_after} is not the running balance {balance})"
                )
                return
            prev, seq = line.hash, line.seq
        if len(batch) < BATCH:
            break
    if (account.balance, account.line_count, account.last_hash) != (balance, seq, prev):
        report.problems.append(
            f"{where}: stored balance {account.balance} / {account.line_count} lines does not match "
            f"its lines ({balance} / {seq} lines) or chain head"
        )


async def verify_ledger() -> VerifyReport:
    report = VerifyReport()
    last_id = 0
    while True:
        accounts = await LedgerAccount.filter(id__gt=last_id).order_by("id").limit(BATCH)
        for account in accounts:
            report.accounts += 1
            await _verify_account(account, report)
            last_id = account.id
        if len(accounts) < BATCH:
            break
    _, rows = await connections.get("default").execute_query(
        "SELECT transaction_id, asset, SUM(amount) AS total FROM ledger_line "
        "GROUP BY transaction_id, asset HAVING SUM(amount) <> 0"
    )
    for row in rows:
        report.problems.append(
            f"ledger_transaction {row['transaction_id']}: {row['asset']} lines sum to {row['total']}, not 0"
        )
    report.log = await audit_log()
    report.problems.extend(report.log.problems)
    return report
