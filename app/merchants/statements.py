"""A merchant's settlement statement as CSV, and writing it to the statements folder.

Every row has the same five columns, the first naming what the row is, so the file
opens cleanly in a spreadsheet: `merchant`, `period`, one `payment` row per payment
(id, local time, masked player, points), then `total`, `carried_in`, `settled`,
`carried_forward`, `rate_points_per_yuan`, `cash_fen` and `cash_yuan`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from app.merchants.models import MerchantPayment

HEADER = ["line", "id", "time", "player", "points"]


@dataclass(frozen=True)
class StatementFigures:
    period: str
    period_start: datetime
    period_end: datetime
    payments_points: int
    carried_in: int
    settled_points: int
    points_per_yuan: int
    cash_fen: int


def yuan(fen: int) -> str:
    """Integer fen as yuan text (12345 -> "123.45"), no floats."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def mask_player(player_id: object) -> str:
    """Enough of the player id to match a receipt, not the whole id."""
    return f"{str(player_id)[:8]}…"


def render(merchant_id: str, merchant_name: str, figures: StatementFigures,
           payments: Sequence[MerchantPayment], tz: ZoneInfo) -> str:
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\n")
    f = figures
    rows.writerow(HEADER)
    rows.writerow(["merchant", merchant_id, "", "", merchant_name])
    rows.writerow(["period", f.period, f.period_start.astimezone(tz).isoformat(),
                   f.period_end.astimezone(tz).isoformat(), ""])
    for p in payments:
        when = p.created_at.astimezone(tz).isoformat(timespec="seconds")
        rows.writerow(["payment", str(p.id), when, mask_player(p.player_id), p.points])
    rows.writerow(["total", len(payments), "", "", f.payments_points])
    rows.writerow(["carried_in", "", "", "", f.carried_in])
    rows.writerow(["settled", "", "", "", f.settled_points])
    carried_forward = f.payments_points + f.carried_in - f.settled_points
    rows.writerow(["carried_forward", "", "", "", carried_forward])
    rows.writerow(["rate_points_per_yuan", "", "", "", f.points_per_yuan])
    rows.writerow(["cash_fen", "", "", "", f.cash_fen])
    rows.writerow(["cash_yuan", "", "", "", yuan(f.cash_fen)])
    return out.getvalue()


def statement_path(statements_dir: str | Path, period: str, merchant_id: str) -> Path:
    return Path(statements_dir) / period / f"{merchant_id}.csv"


def write(path: Path, text: str) -> Path:
    """Write whole or not at all (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path
