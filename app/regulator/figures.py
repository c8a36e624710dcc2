"""Programme figures by day: participants, activities, grams and points, overall and by
scene (activity kind) and methodology version.

Only accepted activities count (a refused record credits nothing). Days are the city's
local days, the same `local_date` daily caps use. The figures are aggregates: no player
appears in them, by id or otherwise.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from tortoise.functions import Count, Sum

from app.credits.models import Activity
from app.database import row_date
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_

MAX_DAYS = 366


# Field names are the GraphQL type's (schema/regulator.py builds it from these).
@dataclass(frozen=True)
class DayFigures:
    date: date
    participants: int  # players with at least one accepted activity that day
    activities: int
    reduction_grams: int
    points: int


@dataclass(frozen=True)
class SceneDayFigures:
    date: date
    scene: str  # the activity kind
    methodology_id: str
    methodology_version: int
    participants: int
    activities: int
    reduction_grams: int
    points: int


@dataclass(frozen=True)
class ProgrammeFigures:
    since: date
    until: date
    days: list[DayFigures]
    scenes: list[SceneDayFigures]

    def csv(self) -> str:
        """One row per day, scene and methodology version, then one total row per day
        (scene `*`): what a spreadsheet sums."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["date", "scene", "methodology", "methodology_version", "participants",
                         "activities", "reduction_grams", "points"])
        for s in self.scenes:
            writer.writerow([s.date.isoformat(), s.scene, s.methodology_id, s.methodology_version,
                             s.participants, s.activities, s.reduction_grams, s.points])
        for d in self.days:
            writer.writerow([d.date.isoformat(), "*", "*", "", d.participants, d.activities,
                             d.reduction_grams, d.points])
        return out.getvalue()


def _checked_range(since: date, until: date) -> None:
    if until < since:
        raise ServiceError(ErrorCode.INVALID_INPUT, N_("until is before since."), "until")
    if (until - since).days >= MAX_DAYS:
        raise ServiceError(ErrorCode.INVALID_INPUT,
                           N_("At most %(max)s days at a time.", max=MAX_DAYS), "until")


async def programme_figures(since: date, until: date) -> ProgrammeFigures:
    """Figures for each local day from `since` to `until`, both included."""
    _checked_range(since, until)
    # participants are distinct players, so a day's count is not the sum of its scenes':
    # one grouped query per level
    day_rows = await grouped_totals(since, until, "local_date")
    scene_rows = await grouped_totals(since, until, "local_date", "kind", "methodology_id",
                               "methodology_version")
    return ProgrammeFigures(
        since=since, until=until,
        days=[DayFigures(row_date(r["local_date"]), *_amounts(r)) for r in day_rows],
        scenes=[SceneDayFigures(row_date(r["local_date"]), r["kind"], r["methodology_id"] or "",
                                r["methodology_version"] or 0, *_amounts(r))
                for r in scene_rows],
    )


async def grouped_totals(since: date, until: date, *keys: str) -> list[dict]:
    """Accepted activities from `since` to `until`, grouped by `keys`, in their order (no
    key: one row of totals): participants, activities, grams, total_points."""
    query = Activity.filter(
        status="accepted", local_date__gte=since, local_date__lte=until,
    ).annotate(
        participants=Count("player_id", distinct=True), activities=Count("id"),
        grams=Sum("reduction_grams"), total_points=Sum("points"),
    )
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    return await query.values(*keys, "participants", "activities", "grams", "total_points")


def _amounts(row: dict) -> tuple[int, int, int, int]:
    """participants, activities, grams, points (a sum over no rows is NULL)."""
    return (row["participants"], row["activities"], int(row["grams"] or 0),
            int(row["total_points"] or 0))
