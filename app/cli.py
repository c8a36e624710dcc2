"""The `carbon-planet` command."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import typer
from tortoise import Tortoise

from app import database
from app.auth.roles import Role
from app.certification.cli import certify_cli
from app.cli_database import with_database
from app.i18n import set_language
from app.log_cli import log_cli
from app.market.cli import market_cli
from app.merchants.cli import merchants_cli
from app.payouts.cli import payouts_cli
from app.persisted_queries_cli import persisted_queries_cli
from app.regulator.cli import report_command
from app.settings import get_settings
from app.transparency.commands import register as register_log_commands
from schema.cli import schema_cli

cli = typer.Typer(help="carbon-planet: city carbon-inclusive programme backend.", no_args_is_help=True)


@cli.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default CARBON_HOST)."),
    port: int = typer.Option(None, help="Port (default CARBON_PORT)."),
    workers: int = typer.Option(None, help="Worker processes (default CARBON_WORKERS)."),
) -> None:
    """Serve GraphQL (with GraphiQL) at /graphql."""
    from app import serving
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
    serving.run(
        "app.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.workers,
        metrics_port=settings.metrics_port,
        metrics_host=settings.metrics_host,
        metrics_token=settings.metrics_token,
        log_config=None,
        access_log=False,
        lifespan="on",
        # a websocket message is refused past the same size as an HTTP body, by uvicorn
        # before it is buffered whole, and by the app (app.body_limits) on any server
        ws_max_size=settings.graphql_max_body_bytes + 1024,
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

    written = with_database(work)
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

    loaded = with_database(work)
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

    if not with_database(work):
        typer.secho("no account with that phone", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"{phone} now has role {role.value}")


ledger_cli = typer.Typer(help="The credit ledger.", no_args_is_help=True)
cli.add_typer(ledger_cli, name="ledger")


@ledger_cli.command("verify")
def ledger_verify() -> None:
    """Recompute all hash chains and balances; exit 1 naming the first line that does not match."""
    from app.ledger.verify import verify_ledger

    report = with_database(verify_ledger)
    typer.echo(f"checked {report.accounts} accounts, {report.lines} lines")
    if report.log is not None:
        signed = report.log.checkpoint_size
        typer.echo(f"checked {report.log.leaves} transparency log leaves against the ledger"
                   + (f" and the root of its checkpoint of size {signed}" if signed else ""))
        if report.log.unsequenced:
            typer.echo(f"{report.log.unsequenced} transactions were posted with the log off: not in it")
    if not report.ok:
        for problem in report.problems:
            typer.secho(f"MISMATCH {problem}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo("ledger verified: every chain, balance, transaction and log leaf matches")


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

    lines = with_database(work)
    typer.echo(f"leaderboards rebuilt from {lines} ledger lines")


rules_cli = typer.Typer(help="Game designers' rules: validate, diff, simulate, publish, roll back.",
                        no_args_is_help=True)
cli.add_typer(rules_cli, name="rules")


def _known_kinds() -> set[str]:
    from game.model import known_scenes
    from methodology import default_registry

    return known_scenes(default_registry().all())


@rules_cli.command("validate")
def rules_validate(file: Path) -> None:
    """List every problem in a rules file (exit 1), or say it is valid (exit 0)."""
    from app.clock import utcnow
    from game.rules import rules_problems

    _, problems = rules_problems(file.read_text(encoding="utf-8"), _known_kinds(), utcnow().date())
    if problems:
        for problem in problems:
            typer.secho(f"{file.name}: {problem}", fg="red", err=True)
        typer.echo(f"{len(problems)} problem(s) in {file}")
        raise typer.Exit(1)
    typer.echo(f"{file} is valid")


@rules_cli.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of the rules format (for editor completion and checks)."""
    import json

    from game.model import Rules

    typer.echo(json.dumps(Rules.model_json_schema(), indent=2, ensure_ascii=False))


@rules_cli.command("diff")
def rules_diff(old: Path, new: Path) -> None:
    """What changed between two rules files, in words."""
    from game.diff import describe_changes
    from game.rules import RulesError, load_rules

    try:
        # either file may predate bilingual content: a missing language shows the other
        lines = describe_changes(load_rules(old, fill_missing=True), load_rules(new, fill_missing=True))
    except RulesError as exc:
        typer.secho(f"invalid: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo("\n".join(f"- {line}" for line in lines) if lines else "no changes")


@rules_cli.command("simulate")
def rules_simulate(
    files: list[Path] = typer.Argument(..., help="One rules file, or two to compare."),
    players: int = typer.Option(10_000, min=1, help="Synthetic players."),
    days: int = typer.Option(90, min=1, max=3650, help="Days to simulate."),
    seed: int = typer.Option(1, help="Random seed (same seed, same result)."),
    profile: Path = typer.Option(None, help="Behaviour profile (default: game/profiles/default.toml)."),
    out: Path = typer.Option(Path("var/simulation"), help="Folder for simulation.png and .csv."),
) -> None:
    """Run the real engine over a synthetic population; print unlock shares, write a chart."""
    from game.rules import RulesError
    from game.simulate import ProfileError, run_cli

    if len(files) > 2:
        typer.secho("give one rules file, or two to compare", fg="red", err=True)
        raise typer.Exit(2)
    try:
        run_cli(files, players=players, days=days, seed=seed, profile_path=profile, out_dir=out)
    except (RulesError, ProfileError, OSError) as exc:
        typer.secho(f"cannot simulate: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None


@rules_cli.command("publish")
def rules_publish(
    file: Path,
    note: str = typer.Option(..., help="What changed and why."),
    at: datetime = typer.Option(None, help="Effective from (ISO time with zone; default now)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report who would unlock what."),
) -> None:
    """Validate and publish a rules file; every server picks it up within seconds."""
    from app.errors import ServiceError
    from app.rulesets import service

    async def work():
        return await service.publish(file.read_text(encoding="utf-8"), note, "cli", _known_kinds(),
                                     effective_from=at, dry_run=dry_run)

    try:
        result = with_database(work)
    except ServiceError as exc:
        for problem in exc.message.split("; "):
            typer.secho(f"{file.name}: {problem}", fg="red", err=True)
        raise typer.Exit(1) from None
    affected = [(theme_id, count) for theme_id, count in result.newly_unlocked.items() if count]
    for theme_id, count in affected:
        typer.echo(f"  {count} existing players would unlock {theme_id} at once")
    if not affected:
        typer.echo("  no existing player would unlock anything at once")
    if result.ruleset is not None:
        typer.echo(f"published rules v{result.ruleset.version} ({result.ruleset.checksum[:12]}), "
                   f"effective {result.ruleset.effective_from.isoformat()}")


@rules_cli.command("rollback")
def rules_rollback(
    note: str = typer.Option("", help="Why."),
    to: int = typer.Option(None, "--to", help="The version to go back to (0: the shipped file)."),
) -> None:
    """Publish again the content of an earlier version (by default the one before the
    current version), as a new version."""
    from app.errors import ServiceError
    from app.rulesets import service

    try:
        result = with_database(lambda: service.rollback(note, "cli", _known_kinds(), to))
    except ServiceError as exc:
        typer.secho(exc.message, fg="red", err=True)
        raise typer.Exit(1) from None
    assert result.ruleset is not None  # a rollback publishes (never a dry run)
    typer.echo(f"rolled back: rules v{result.ruleset.version} ({result.ruleset.note})")


@rules_cli.command("versions")
def rules_versions() -> None:
    """The published rule sets, newest first."""
    from app.rulesets import service

    for rs in with_database(service.versions):
        typer.echo(f"v{rs.version}  {rs.effective_from.isoformat()}  {rs.checksum[:12]}  {rs.author}  {rs.note}")


def main() -> None:
    # the command's own output, and any service refusal it prints, is in English (a server
    # it starts still answers each request in that request's language)
    set_language("en")
    cli()


# sub-commands in their own modules
cli.add_typer(payouts_cli, name="payouts")
cli.add_typer(persisted_queries_cli, name="persisted-queries")
cli.add_typer(merchants_cli, name="merchants")
cli.add_typer(market_cli, name="market")
cli.add_typer(schema_cli, name="schema")
cli.add_typer(certify_cli, name="certify")
cli.command("report")(report_command)
register_log_commands(log_cli)
cli.add_typer(log_cli, name="log")
