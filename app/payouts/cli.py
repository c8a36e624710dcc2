"""`carbon-planet payouts …`: run the worker, reconcile with the provider, list payouts."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

payouts_cli = typer.Typer(help="Cash payouts: run the outbox worker, reconcile with the provider.",
                          no_args_is_help=True)


def _parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {since!r}", param_hint="--since") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _fen(amount: int) -> str:
    return f"{'-' if amount < 0 else ''}{abs(amount) // 100}.{abs(amount) % 100:02d}"


@payouts_cli.command("reconcile")
def reconcile_command(
    since: str = typer.Option(None, help="Only payouts from this time (ISO; UTC unless a zone is given)."),
) -> None:
    """List every difference between the outbox and the provider (exit 1 if any)."""
    from app.cli_database import with_database
    from app.payouts.models import Payout
    from app.payouts.provider import load_payout_provider
    from app.payouts.reconcile import reconcile
    from app.settings import get_settings

    moment = _parse_since(since)

    async def work():
        provider = load_payout_provider(get_settings().payout_provider)
        query = Payout.all() if moment is None else Payout.filter(created_at__gte=moment)
        return await reconcile(provider, moment), await query.count()

    differences, count = with_database(work)
    if differences:
        for difference in differences:
            typer.echo(str(difference))
        typer.secho(f"{len(differences)} difference(s) over {count} payouts", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"outbox and provider agree ({count} payouts)")


@payouts_cli.command("work")
def work_command(
    once: bool = typer.Option(False, "--once", help="Send one batch and stop."),
) -> None:
    """Send due payouts (for a process of its own, when servers run with CARBON_PAYOUT_WORKER=false)."""
    import asyncio

    from app.cli_database import with_database
    from app.observability import configure_logging
    from app.payout_handlers import register_payout_handlers
    from app.payouts.provider import load_payout_provider
    from app.payouts.worker import PayoutWorker
    from app.settings import get_settings

    settings = get_settings()
    if not once:
        configure_logging(settings.log_level, settings.log_json)

    register_payout_handlers()

    async def work():
        worker = PayoutWorker(load_payout_provider(settings.payout_provider), settings)
        if once:
            return await worker.run_once()
        try:
            await worker.run_forever()
        except asyncio.CancelledError:
            return None

    try:
        result = with_database(work)
    except KeyboardInterrupt:
        return
    if result is not None:
        typer.echo(f"claimed {result.claimed}: {result.paid} paid, {result.retrying} to retry, "
                   f"{result.failed} failed for good, {result.skipped} skipped")


@payouts_cli.command("list")
def list_command(
    status: str = typer.Option(None, help="PENDING, PAID or FAILED."),
    limit: int = typer.Option(50, min=1, help="Newest first, at most this many."),
) -> None:
    """The newest payouts in the outbox."""
    from app.cli_database import with_database
    from app.payouts.models import Payout, PayoutStatus

    if status is not None and status.upper() not in PayoutStatus.__members__:
        raise typer.BadParameter("PENDING, PAID or FAILED", param_hint="--status")

    async def work():
        query = Payout.all() if status is None else Payout.filter(status=status.upper())
        return await query.order_by("-created_at", "id").limit(limit)

    payouts = with_database(work)
    width = max((len(p.id) for p in payouts), default=0)
    for p in payouts:
        line = (f"{p.id:<{width}}  {p.status:<7}  {_fen(p.amount_fen):>9} yuan  {p.recipient}  "
                f"attempts {p.attempts}  created {p.created_at.isoformat(timespec='seconds')}")
        if p.status == "PENDING":
            line += f"  next {p.next_attempt_at.isoformat(timespec='seconds')}"
        if p.last_error:
            line += f"  last error: {p.last_error}"
        typer.echo(line)
