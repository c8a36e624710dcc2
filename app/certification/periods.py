"""A certification period: a calendar month in the city's time zone, and the codes and
serials of its batches."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SERIAL_DIGITS = 9


@dataclass(frozen=True)
class Period:
    """A month: local days start (included) to end (excluded)."""

    text: str  # YYYY-MM
    start: date
    end: date


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The month's first day and the first day of the next."""
    return date(year, month, 1), date(year + (month == 12), month % 12 + 1, 1)


def parse_period(text: str, now: datetime, timezone: str) -> Period:
    """The month `text` names, refused unless it is over in the city's time zone at `now`."""
    found = PERIOD.match(text.strip())
    if not found:
        raise ServiceError(ErrorCode.INVALID_INPUT,
                           N_("A period is a month written YYYY-MM, like 2026-11."), "period")
    year, month = int(found.group(1)), int(found.group(2))
    start, end = month_bounds(year, month)
    today = now.astimezone(ZoneInfo(timezone)).date()
    if end > today:
        raise ServiceError(ErrorCode.INVALID_INPUT, N_(
            "%(period)s is not over yet: a month can be closed from the first day of the next.",
            period=found.group(0)), "period")
    return Period(found.group(0), start, end)


def methodology_code(methodology_id: str) -> str:
    """The methodology's part of a serial: its id without the country prefix, in capitals
    (cn-low-carbon-travel -> LOW-CARBON-TRAVEL)."""
    return methodology_id.removeprefix("cn-").upper()


def serial_prefix(city: str, period: str, methodology_id: str, version: int) -> str:
    """SZ-2026-11-LOW-CARBON-TRAVEL-V1: every serial and batch code of the period starts so."""
    return f"{city.upper()}-{period}-{methodology_code(methodology_id)}-V{version}"


def serial(prefix: str, number: int) -> str:
    """Serial `number` printed in full: SZ-2026-11-LOW-CARBON-TRAVEL-V1-000000001."""
    return f"{prefix}-{number:0{SERIAL_DIGITS}d}"
