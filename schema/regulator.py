"""Programme figures and the report for the regulator (and operators): aggregates by day
and scene, certified batches, pseudonyms at most."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import strawberry
from strawberry.types import Info

from app.auth.roles import Role
from app.errors import ServiceError
from app.regulator import figures as service
from schema.errors import client_error
from schema.permissions import requires_role
from schema.regulator_report import RegulatorReport, regulator_report

IsRegulatorOrOperator = requires_role(Role.REGULATOR, Role.OPERATOR)


@strawberry.type
class DayFigures:
    date: date
    participants: int = strawberry.field(description="Players with an accepted activity that day.")
    activities: int
    reduction_grams: int
    points: int


@strawberry.type
class SceneFigures:
    date: date
    scene: str = strawberry.field(description="The activity kind (metro, bus, walking, …).")
    methodology_id: str
    methodology_version: int
    participants: int
    activities: int
    reduction_grams: int
    points: int


@strawberry.type
class ProgrammeFigures:
    since: date
    until: date
    days: list[DayFigures]
    scenes: list[SceneFigures]
    csv: str = strawberry.field(description="The same figures as CSV: a row per day, scene "
                                            "and methodology version, then a total row per day.")


@strawberry.type
class RegulatorQuery:
    @strawberry.field(
        permission_classes=[IsRegulatorOrOperator],
        description="Accepted activities by local day, overall and by scene and methodology "
                    "version, from since to until (both included, at most 366 days). "
                    "Aggregates only: no player appears.")
    async def programme_figures(self, since: date, until: date) -> ProgrammeFigures:
        try:
            found = await service.programme_figures(since, until)
        except ServiceError as exc:
            raise client_error(exc) from None
        return ProgrammeFigures(
            since=found.since, until=found.until, csv=found.csv(),
            days=[DayFigures(**asdict(d)) for d in found.days],
            scenes=[SceneFigures(**asdict(s)) for s in found.scenes],
        )

    @strawberry.field(
        permission_classes=[IsRegulatorOrOperator],
        description="The regulator's report for a period (a month, YYYY-MM, by day) or a year "
                    "(by month): certified batches and their manifest figures, adjustments, "
                    "grams by scene and participants over time, market sales, the ledger "
                    "check, and each table as CSV. Aggregates and pseudonyms only.")
    async def regulator_report(self, info: Info, period: str | None = None,
                               year: int | None = None) -> RegulatorReport:
        return await regulator_report(info, period, year)
