"""Benchmark: selling certified grams, one sale after another and many at once.

    .venv/bin/python -m bench.market_bench [--sales 1000] [--concurrency 50]
        [--database-url postgres://postgres@127.0.0.1:5432/carbon_marketbench]

On a new database (a temporary SQLite file, or the PostgreSQL database named in the URL,
dropped and created afresh), certifies 20 batches of 5,000,000 grams (batch rows and their
ledger issuance, as a close writes them), then times, in one run:

- the floor: the same number of ledger transactions with a sale's postings (grams from
  `inventory:certified` to the buyer, the revenue to `market:revenue` and
  `market:shop-fund`) through `app.ledger.service.post`, `--concurrency` at a time: what a
  sale costs without its cursor lock, serial allocation, sale row and audit entry;
- the sales (`app.market.service.sell`, what GraphQL and the CLI run), one at a time;
- the sales again, `--concurrency` at a time (they queue on the cursor row).

Prints sales/s for each and the ratios to the floor, then checks that the allocations are
disjoint, cover exactly the first serials of the stream and add up to the ledger's sold
grams; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from bench.database import bench_database

BATCHES, BATCH_GRAMS = 20, 5_000_000
PRICE = 4_000  # fen a tonne: ¥40/t


async def certify() -> None:
    from app.certification.models import CertifiedBatch
    from app.ledger.service import Asset, Entry, post_many_in_transaction, transfer

    closed = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(BATCHES):
        code = f"SZ-2026-{i + 1:02d}-BENCH-V1"
        async with in_transaction():
            await CertifiedBatch.create(
                code=code, period=f"2026-{i % 12 + 1:02d}", methodology_id="bench",
                methodology_version=1, kind="sealed", serial_prefix=code, first_serial=1,
                last_serial=BATCH_GRAMS, grams=BATCH_GRAMS, activity_count=1, participants=1,
                manifest={}, content_hash="0" * 64, closed_at=closed + timedelta(days=i),
                closed_by="bench")
            await post_many_in_transaction([Entry(
                "certification.seal", f"certification:{code}",
                transfer("system:certification", "inventory:certified", Asset.CERTIFIED_GRAMS,
                         BATCH_GRAMS), reference=code)])


async def gathered(count: int, concurrency: int, work) -> float:
    """Seconds to run work(0..count-1), `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await work(i)

    started = time.perf_counter()
    await asyncio.gather(*[one(i) for i in range(count)])
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> int:
    from app.ledger.models import LedgerAccount
    from app.ledger.service import Asset, Posting, post
    from app.market import service as market
    from app.market.models import Buyer, MarketAllocation, SaleMode

    async with bench_database(args.database_url, "marketbench-") as postgres:
        await certify()
        buyer = await Buyer.create(name="bench buyer", kind="COMPANY", idempotency_key="bench",
                                   created_by="bench")
        rng = random.Random(16)
        sizes = [rng.randint(1, 20_000) for _ in range(args.sales * 2)]
        print(f"database: {'PostgreSQL' if postgres else 'SQLite'}; {BATCHES} batches of "
              f"{BATCH_GRAMS:,} g; {args.sales:,} sales each way, concurrency {args.concurrency}")

        async def floor(i: int) -> None:
            grams, total = sizes[i], market.revenue_fen(sizes[i], PRICE)
            shop = market.shop_fund_fen(total, 30)
            await post("bench.floor", f"floor:{i}", [
                Posting(market.INVENTORY, Asset.CERTIFIED_GRAMS, -grams),
                Posting(f"buyer:{buyer.id}", Asset.CERTIFIED_GRAMS, grams),
                Posting(market.SALES, Asset.CNY_FEN, -total),
                Posting(market.REVENUE, Asset.CNY_FEN, total - shop),
                Posting(market.SHOP_FUND, Asset.CNY_FEN, shop)])

        async def sale(i: int) -> None:
            await market.sell("bench", SaleMode.SALE, str(buyer.id), sizes[i], PRICE,
                              f"sale:{i}:{uuid.uuid4()}", datetime.now(UTC), 30)

        floor_s = await gathered(args.sales, args.concurrency, floor)
        one_by_one = await gathered(args.sales, 1, sale)
        concurrent = await gathered(args.sales, args.concurrency,
                                    lambda i: sale(args.sales + i))
        rate = args.sales / floor_s
        print(f"floor (ledger post, concurrency {args.concurrency}): {rate:,.0f}/s")
        for label, seconds in (("sales one at a time", one_by_one),
                               (f"sales, concurrency {args.concurrency}", concurrent)):
            per_s = args.sales / seconds
            print(f"{label}: {per_s:,.0f}/s, {seconds * 1000 / args.sales:.2f} ms a sale, "
                  f"{per_s / rate:.2f} of the floor")

        # checks: disjoint, contiguous from serial 1 of the oldest batch, equal to the ledger
        from app.certification.models import CertifiedBatch

        order = {b.id: n * BATCH_GRAMS for n, b in enumerate(
            await CertifiedBatch.all().order_by("closed_at", "id"))}
        spans = sorted((order[a.batch_id] + a.first_serial, order[a.batch_id] + a.last_serial)
                       for a in await MarketAllocation.all())
        sold = sum(sizes[: 2 * args.sales])
        problems = []
        if spans[0][0] != 1 or spans[-1][1] != sold:
            problems.append(f"the ranges cover {spans[0][0]}..{spans[-1][1]}, not 1..{sold}")
        problems += [f"gap or overlap at {a} / {b}" for a, b in zip(spans, spans[1:], strict=False)
                     if b[0] != a[1] + 1][:5]
        inventory = await LedgerAccount.get(owner=market.INVENTORY, asset="CERTIFIED_GRAMS")
        floor_grams = sum(sizes[: args.sales])
        if inventory.balance != BATCHES * BATCH_GRAMS - sold - floor_grams:
            problems.append(f"inventory {inventory.balance} is not what was certified minus sold")
        print("checks: " + ("; ".join(problems) if problems else
                            f"{len(spans):,} ranges disjoint and contiguous, {sold:,} g sold"))
        return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL (its database is dropped and created afresh); "
                             "default: a temporary SQLite file")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
