"""The `carbon-planet` command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from tortoise import Tortoise

from app import database
from app.auth.roles import Role
from app.settings import get_settings

cli = typer.Typer(help="carbon-planet: city carbon-inclusive programme backend.", no_args_is_help=True)
T = TypeVar("T")


def _with_database(work: Callable[[], Awaitable[T]]) -> T:
    async def run() -> T:
        await Tortoise.init(config=database.tortoise_config(get_settings()))
        try:
            return await work()
        finally:
            await Tortoise.close_connections()

    return asyncio.run(run())


@cli.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default CARBON_HOST)."),
    port: int = typer.Option(None, help="Port (default CARBON_PORT)."),
    workers: int = typer.Option(None, help="Worker processes (default CARBON_WORKERS)."),
) -> None:
    """Serve GraphQL (with GraphiQL) at /graphql."""
    import uvicorn

    from app.observability import configure_logging
    from app.server import ConfigurationError, refuse_unsafe_production

    settings = get_settings()
    try:
        refuse_unsafe_production(settings)
    except ConfigurationError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    host, port = host or settings.host, port or settings.port
    typer.echo(f"carbon-planet on http://{host}:{port}/graphql")
    uvicorn.run(
        "app.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.workers,
        log_config=None,
        access_log=False,
        lifespan="on",
    )


@cli.command()
def migrate() -> None:
    """Apply pending database migrations."""
    asyncio.run(database.migrate(get_settings()))
    typer.echo("migrations applied")


@cli.command()
def makemigrations() -> None:
    """Write a migration for model changes (developers)."""
    from tortoise.migrations.autodetector import MigrationAutodetector

    settings = get_settings()

    async def work() -> list[str]:
        apps = database.tortoise_config(settings)["apps"]
        return await MigrationAutodetector(Tortoise.apps, apps).write()

    written = _with_database(work)
    typer.echo("\n".join(written) if written else "no changes")


@cli.command("check-migrations")
def check_migrations() -> None:
    """Exit 1 when the models have changes that no migration covers."""
    pending = asyncio.run(database.pending_model_changes(get_settings()))
    if pending:
        typer.echo("pending model changes:\n" + "\n".join(pending))
        raise typer.Exit(1)
    typer.echo("models and migrations agree")


@cli.command("seed-demo")
def seed_demo() -> None:
    """Load demo players (and each domain's demo content) into an empty database."""
    from app import demo

    async def work() -> list[str] | None:
        if not await demo.database_is_empty():
            return None
        return await demo.seed_demo()

    loaded = _with_database(work)
    if loaded is None:
        typer.echo("database already has content; demo not loaded")
    else:
        typer.echo("demo content loaded:\n" + "\n".join(f"  - {line}" for line in loaded))


@cli.command("grant-role")
def grant_role(phone: str, role: Role) -> None:
    """Give the account with this phone a role (creating nothing)."""
    from app.accounts.models import Player
    from app.auth.phones import normalise_phone

    settings = get_settings()

    async def work() -> bool:
        player = await Player.get_or_none(phone=normalise_phone(phone, settings.phone_default_region))
        if player is None:
            return False
        player.roles = sorted({*player.roles, Role.PLAYER.value, role.value})
        await player.save(update_fields=["roles"])
        return True

    if not _with_database(work):
        typer.secho("no account with that phone", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"{phone} now has role {role.value}")


ledger_cli = typer.Typer(help="The credit ledger.", no_args_is_help=True)
cli.add_typer(ledger_cli, name="ledger")


@ledger_cli.command("verify")
def ledger_verify() -> None:
    """Recompute all hash chains and balances; exit 1 naming the first line that does not match."""
    from app.ledger.verify import verify_ledger

    report = _with_database(verify_ledger)
    typer.echo(f"checked {report.accounts} accounts, {report.lines} lines")
    if not report.ok:
        for problem in report.problems:
            typer.secho(f"MISMATCH {problem}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo("ledger verified: every chain, balance and transaction matches")


leaderboard_cli = typer.Typer(help="Redis leaderboards (derived from the ledger).",
                               no_args_is_help=True)
cli.add_typer(leaderboard_cli, name="leaderboard")


@leaderboard_cli.command("rebuild")
def leaderboard_rebuild() -> None:
    """Recompute every board from the ledger's CO2e lines, with a progress bar."""
    from rich.progress import Progress

    from app.leaderboards.rebuild import rebuild_from_ledger
    from app.redis import create_redis

    settings = get_settings()

    async def work() -> int:
        redis = create_redis(settings)
        try:
            with Progress() as bar:
                task = bar.add_task("rebuilding leaderboards", total=None)
                return await rebuild_from_ledger(
                    redis, settings.default_timezone,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            await redis.aclose()

    lines = _with_database(work)
    typer.echo(f"leaderboards rebuilt from {lines} ledger lines")


def main() -> None:
    cli()
