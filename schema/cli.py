"""`carbon-planet schema export|check`: the SDL clients generate code from, and the check
that a change does not break them (`schema.contract`)."""

from __future__ import annotations

from pathlib import Path

import typer

from schema.contract import (
    CHANGES_FILE,
    SDL_FILE,
    ContractFileError,
    check,
    live_sdl,
    load_declarations,
)

schema_cli = typer.Typer(help="The GraphQL schema as a contract with clients.",
                         no_args_is_help=True)


@schema_cli.command("export")
def schema_export(
    output: Path = typer.Option(SDL_FILE, "--output", "-o",
                                help="Where to write the SDL ('-' for standard output)."),
) -> None:
    """Write the live schema's SDL (by default to schema.graphql at the repository root)."""
    sdl = live_sdl()
    if str(output) == "-":
        typer.echo(sdl, nl=False)
        return
    output.write_text(sdl, encoding="utf-8")
    typer.echo(f"schema written to {output}")


@schema_cli.command("check")
def schema_check(
    against: Path = typer.Option(SDL_FILE, "--against",
                                 help="The baseline SDL (default: the committed schema.graphql)."),
    changes: Path = typer.Option(CHANGES_FILE, "--changes",
                                 help="Breaking changes declared on purpose, with reasons."),
) -> None:
    """Exit 1 when the live schema breaks the baseline (default: schema.graphql).

    Breaking: a change graphql-core finds breaking that schema-changes.toml does not
    declare, or a field or enum value removed without being deprecated first."""
    try:
        baseline = against.read_text(encoding="utf-8")
        result = check(baseline, live_sdl(), load_declarations(changes))
    except (OSError, ContractFileError) as exc:
        typer.secho(f"cannot check the schema: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    for warning in result.dangerous:
        typer.secho(f"warning: {warning.type.name}: {warning.description}", fg="yellow")
    for declared in result.unused_declarations:
        typer.echo(f"note: declared change not made (remove it from {changes.name} once "
                   f"released): {declared.type}: {declared.description}")
    for change in result.breaking:
        if change not in result.undeclared:
            typer.echo(f"declared breaking change: {change.type.name}: {change.description}")
    for change in result.undeclared:
        typer.secho(f"BREAKING {change.type.name}: {change.description}", fg="red", err=True)
    for member in result.removed_without_deprecation:
        typer.secho(f"BREAKING {member} was removed without being @deprecated in the baseline "
                    "first", fg="red", err=True)
    if not result.ok:
        typer.secho(
            f"The schema breaks {against}. Keep the field (mark it @deprecated and remove it "
            f"in a later release), or declare the change in {changes.name} with a reason.",
            fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"no undeclared breaking change against {against}")
