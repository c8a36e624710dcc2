"""`carbon-planet persisted-queries …`: the manifest of registered operations."""

from __future__ import annotations

from pathlib import Path

import typer

persisted_queries_cli = typer.Typer(
    help="Persisted queries: the manifest of the operations clients may run by hash.",
    no_args_is_help=True)


@persisted_queries_cli.command("manifest")
def manifest_command(
    files: list[Path] = typer.Argument(..., help="Operation files (.graphql), e.g. "
                                                 "tests/contract/*.graphql."),
    output: Path = typer.Option(None, "--output", "-o",
                                help="Where to write it (default: the manifest the server "
                                     "loads, CARBON_PERSISTED_QUERY_MANIFEST)."),
    check: bool = typer.Option(False, "--check",
                               help="Write nothing; exit 1 if the file differs from the "
                                    "operations (for CI)."),
) -> None:
    """Build an Apollo persisted-query manifest from operation files, each operation
    validated against the schema."""
    from app.settings import get_settings
    from schema import build_schema
    from schema.query_manifest import DEFAULT_MANIFEST, ManifestError, build_manifest, manifest_text

    settings = get_settings()
    target = output or Path(settings.persisted_query_manifest or DEFAULT_MANIFEST)
    try:
        text = manifest_text(build_manifest(files, build_schema(settings)._schema))
    except ManifestError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    count = text.count('"id":')
    if check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            typer.secho(f"{target} is not the manifest of these files: run "
                        "`carbon-planet persisted-queries manifest` without --check",
                        fg="red", err=True)
            raise typer.Exit(1)
        typer.echo(f"{target}: {count} operations, up to date")
        return
    target.write_text(text, encoding="utf-8")
    typer.echo(f"{target}: {count} operations")


@persisted_queries_cli.command("list")
def list_command(
    manifest: Path = typer.Option(None, help="A manifest file (default: the one the server "
                                             "loads)."),
) -> None:
    """The manifest's operations: hash, type and name, one a line."""
    from app.settings import get_settings
    from schema.query_manifest import DEFAULT_MANIFEST, ManifestError, load_manifest

    path = manifest or Path(get_settings().persisted_query_manifest or DEFAULT_MANIFEST)
    try:
        operations = load_manifest(path)
    except ManifestError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    for operation in operations.values():
        typer.echo(f"{operation.id}  {operation.type:12}  {operation.name}")
