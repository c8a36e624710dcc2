"""`carbon-planet certify …`: close a certification period, list the batches."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from app.cli_database import with_database
from app.errors import ServiceError
from app.settings import get_settings

if TYPE_CHECKING:
    from app.certification.models import CertifiedBatch
    from methodology import MethodologyRegistry

certify_cli = typer.Typer(help="Certification periods: seal a month's reductions into batches "
                               "with serials.", no_args_is_help=True)


def _registry() -> MethodologyRegistry:
    from methodology import MethodologyRegistry, default_registry, load_directory

    settings = get_settings()
    if settings.methodology_dir:
        return MethodologyRegistry(load_directory(Path(settings.methodology_dir)))
    return default_registry()


def _methodology_id(name: str) -> str:
    """The methodology's id, or the id of the methodology file named so (travel-v1)."""
    from methodology import load_methodology
    from methodology.registry import FILES

    settings = get_settings()
    path = Path(settings.methodology_dir or FILES) / f"{name}.toml"
    return load_methodology(path).id if path.exists() else name


@certify_cli.command("close")
def close(
    period: str = typer.Option(..., help="The month, YYYY-MM (over in the city's time zone)."),
    methodology: str = typer.Option(..., help="Methodology id (cn-low-carbon-travel) or its "
                                              "file's name (travel-v1)."),
    version: int = typer.Option(..., help="Methodology version."),
    idempotency_key: str = typer.Option(None, help="Default: certify:<period>:<methodology>:"
                                                   "<version>:<now>, a new close each call."),
    closed_by: str = typer.Option("cli", help="Who closes it, kept on the batch."),
) -> None:
    """Seal the month's accepted activities of a methodology version not yet certified."""
    from app.certification import service

    settings = get_settings()
    methodology_id = _methodology_id(methodology)
    key = idempotency_key or f"certify:{period}:{methodology_id}:{version}:{time.time_ns()}"
    started = time.perf_counter()

    def progress(stage: str) -> None:
        typer.echo(f"  {time.perf_counter() - started:7.1f} s  {stage}", err=True)

    try:
        result = with_database(lambda: service.close_period(
            period, methodology_id, version, closed_by, key,
            timezone=settings.default_timezone, serial_city=settings.certification_serial_city,
            methodologies=_registry(), progress=progress))
    except ServiceError as exc:
        typer.secho(exc.message, fg="red", err=True)
        raise typer.Exit(1) from None
    for batch in filter(None, [result.batch, result.adjustment]):
        typer.echo(_line(batch))
    if not result.created:
        typer.echo("nothing new: no batch written")


def _line(b: CertifiedBatch) -> str:
    from app.certification.periods import serial

    serials = (f"{serial(b.serial_prefix, b.first_serial)} .. "
               f"{serial(b.serial_prefix, b.last_serial)}"
               if b.kind != "adjustment" and b.last_serial >= b.first_serial else "no serials")
    return (f"{b.code}  {b.kind}  {b.grams:,} g  {b.activity_count:,} activities  "
            f"{b.participants:,} participants  {serials}  sha256 {b.content_hash}")


@certify_cli.command("list")
def list_batches(
    period: str = typer.Option(None, help="Only this month's batches (YYYY-MM)."),
    methodology: str = typer.Option(None, help="Only this methodology's."),
    as_json: bool = typer.Option(False, "--json", help="The batches with their manifests, JSON."),
) -> None:
    """The certified batches, oldest first."""
    from app.certification import service

    methodology_id = _methodology_id(methodology) if methodology else None
    found = with_database(lambda: service.batches(period, methodology_id))
    if as_json:
        typer.echo(json.dumps([{
            "code": b.code, "period": b.period, "kind": b.kind,
            "methodology_id": b.methodology_id, "methodology_version": b.methodology_version,
            "first_serial": b.first_serial, "last_serial": b.last_serial, "grams": b.grams,
            "activity_count": b.activity_count, "participants": b.participants,
            "content_hash": b.content_hash, "closed_at": b.closed_at.isoformat(),
            "closed_by": b.closed_by, "manifest": b.manifest} for b in found],
            ensure_ascii=False, indent=2))
        return
    for b in found:
        typer.echo(_line(b))
    if not found:
        typer.echo("no batches")
