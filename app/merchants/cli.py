"""`carbon-planet merchants …`: settle a period."""

from __future__ import annotations

from pathlib import Path

import typer

merchants_cli = typer.Typer(help="Merchants: settle a period, write statements.",
                            no_args_is_help=True)


@merchants_cli.command("settle")
def settle_command(
    period: str = typer.Option(
        ..., help="2026-11 (month), 2026-11-20 (day) or 2026-W47 (ISO week), local time."),
    rate: int = typer.Option(
        None, min=1, help="Points per yuan (default CARBON_SETTLEMENT_POINTS_PER_YUAN)."),
    out: Path = typer.Option(None, help="Statements folder (default CARBON_STATEMENTS_DIR)."),
) -> None:
    """Close a period for every merchant with unsettled payments: payout and CSV statement each.

    Settling a period again pays nothing: those merchants are reported as already settled.
    """
    from app.cli_database import with_database
    from app.clock import utcnow
    from app.errors import ServiceError
    from app.merchants.settlement import settle
    from app.merchants.statements import yuan

    try:
        report = with_database(lambda: settle(period, utcnow(), rate, out))
    except ServiceError as exc:
        typer.secho(f"cannot settle: {exc.message}", fg="red", err=True)
        raise typer.Exit(1) from None
    paid_fen = 0
    for o in report.outcomes:
        s = o.settlement
        if o.status == "settled" and s is not None:
            paid_fen += s.cash_fen
            typer.echo(f"{o.merchant_id}  {o.merchant_name}: settled {s.payments} "
                       f"payment{'' if s.payments == 1 else 's'}, "
                       f"{s.points} points -> ¥{yuan(s.cash_fen)}  {o.statement_file}")
        elif o.status == "already settled" and s is not None:
            late = (f"; {o.late_payments} payments arrived after it (not settled)"
                    if o.late_payments else "")
            typer.echo(f"{o.merchant_id}  {o.merchant_name}: already settled ({s.status}, "
                       f"¥{yuan(s.cash_fen)}){late}")
        else:
            typer.echo(f"{o.merchant_id}  {o.merchant_name}: {o.status}")
    settled = len(report.settled())
    typer.echo(f"{report.period.name}: {settled} merchant(s) settled, ¥{yuan(paid_fen)} to pay; "
               f"{sum(o.status == 'already settled' for o in report.outcomes)} already settled")
