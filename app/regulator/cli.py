"""`carbon-planet report`: the regulator's report of a month or a year, as CSV files or a
printable HTML document, with a progress bar while the months are read."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer


class ReportFormat(StrEnum):
    csv = "csv"
    html = "html"


def report_command(
    period: str = typer.Option(None, help="A month, YYYY-MM (the report is by day)."),
    year: int = typer.Option(None, help="A year (the report is by month)."),
    format: ReportFormat = typer.Option(ReportFormat.csv, "--format",
                                        help="csv: one file per table; html: one printable "
                                             "document."),
    out: Path = typer.Option(Path("."), help="Folder to write into (created if needed)."),
) -> None:
    """The regulator's report: certified batches, manifest figures, grams by scene over
    time, participants, market sales and the ledger check. Aggregates and pseudonyms only.

    CSV files are UTF-8 with a byte order mark (spreadsheets read Chinese correctly):
    report-<period>-<table>.csv for summary, batches, breakdown, series and participants.
    """
    from rich.progress import Progress

    from app.cli_database import with_database
    from app.clock import utcnow
    from app.errors import ServiceError
    from app.regulator.report import build_report, participants, scope_of
    from app.regulator.report_output import BOM, ReportTable, report_html, table_csv
    from app.settings import get_settings

    try:
        scope = scope_of(period, year)
    except ServiceError as exc:
        typer.secho(f"cannot report: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    async def work() -> None:
        with Progress(transient=False) as bar:
            task = bar.add_task(f"report {scope.label}", total=len(scope.periods) + 3)
            found = await build_report(scope, settings.secret_key, settings.default_timezone,
                                       utcnow(),
                                       lambda done, total: bar.update(task, completed=done,
                                                                      total=total))
            if format is ReportFormat.html:
                path = out / f"report-{scope.label}.html"
                path.write_text(report_html(found), encoding="utf-8")
                written.append(path)
                return
            everyone = await participants(scope, found.pseudonym_key)
            tables = bar.add_task("tables", total=len(ReportTable))
            for table in ReportTable:
                path = out / f"report-{scope.label}-{table.value}.csv"
                text = table_csv(found, table, everyone if table is ReportTable.PARTICIPANTS
                                 else None)
                path.write_text(BOM + text, encoding="utf-8", newline="")
                written.append(path)
                bar.advance(tables)
            matches = "equal the ledger" if found.ledger_matches else "DIFFER FROM THE LEDGER"
            bar.console.print(f"{scope.label}: {found.totals.activities} activities, "
                              f"{found.totals.reduction_grams} g, {found.totals.participants} "
                              f"participants; {found.certified.batches} batches, "
                              f"{found.certified.net_grams} g certified; totals {matches}")

    with_database(work)
    for path in written:
        typer.echo(str(path))
