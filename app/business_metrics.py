"""Business metrics: partner records by outcome, the payout outbox, the rules version live.

Counters are counted where the event happens. Figures that live in the database are
gauges read by each server process every `CARBON_METRICS_REFRESH_SECONDS` (one grouped
query each), never during a scrape: a scrape stays as fast as reading memory however large
the tables grow. Such a gauge is a `DatabaseGauge`: a prometheus Gauge and an async
function reading its values; adding one to `DATABASE_GAUGES` is all it takes. Gauges use
`livemostrecent` so that with several workers the freshest reading of a live worker wins.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from tortoise.functions import Count

from app.payouts.models import Payout, PayoutStatus

log = logging.getLogger("carbon_planet.metrics")
LABEL = re.compile(r"[A-Za-z0-9_.-]{1,64}")

PARTNER_RECORDS = Counter(
    "carbon_partner_records_total",
    "Partner activity records received, by partner, outcome (accepted, rejected, duplicate) "
    "and refusal reason (empty unless rejected)",
    ["partner", "status", "reason"],
)
PAYOUTS = Gauge(
    "carbon_payouts",
    "Payouts in the outbox by status: PENDING (waiting for a first or further attempt) "
    "and FAILED (failed for good, the value given back)",
    ["status"],
    multiprocess_mode="livemostrecent",
)
RULES_VERSION = Gauge(
    "carbon_rules_version",
    "The published rules version the server plays by (several workers: the lowest any "
    "live worker plays by)",
    multiprocess_mode="livemin",
)

Readings = Mapping[tuple[str, ...], float]  # label values -> value


@dataclass(frozen=True)
class DatabaseGauge:
    gauge: Gauge
    read: Callable[[], Awaitable[Readings]]


def bounded(label: object) -> str:
    text = str(label) if label is not None else ""
    return text if text == "" or LABEL.fullmatch(text) else "other"


def count_partner_records(partner_id: str, outcomes: Iterable[tuple[str, str | None]]) -> None:
    """Each record's (status, reason) as the partner was answered."""
    partner = bounded(partner_id)
    for status, reason in outcomes:
        PARTNER_RECORDS.labels(partner, bounded(status), bounded(reason)).inc()


async def payouts_by_status() -> Readings:
    shown = (PayoutStatus.PENDING.value, PayoutStatus.FAILED.value)
    rows = await (Payout.filter(status__in=shown).annotate(n=Count("id"))
                  .group_by("status").values("status", "n"))
    counts = {row["status"]: row["n"] for row in rows}
    return {(status,): counts.get(status, 0) for status in shown}


DATABASE_GAUGES: list[DatabaseGauge] = [
    DatabaseGauge(PAYOUTS, payouts_by_status),
]


async def refresh_database_gauges(gauges: Iterable[DatabaseGauge] = DATABASE_GAUGES) -> None:
    for entry in gauges:
        for labels, value in (await entry.read()).items():
            (entry.gauge.labels(*labels) if labels else entry.gauge).set(value)


async def keep_database_gauges_fresh(interval: float) -> None:
    while True:
        try:
            await refresh_database_gauges()
        except Exception as exc:  # noqa: BLE001 - keep the last readings, try again
            log.warning("metrics from the database not refreshed: %s", exc)
        await asyncio.sleep(interval)
