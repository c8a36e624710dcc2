"""`carbon-planet schema export|check`: the SDL clients generate code from, and the check
that a change does not break them (`schema.contract`)."""

from __future__ import annotations

from pathlib import Path

import typer

from schema.contract import (
    CHANGES_FILE,
    SDL_FILE,
    ContractFileError,
    DeclaredChange,
    check,
    committed_versions,
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
    history: bool = typer.Option(
        False, "--history",
        help="Check every committed version of the baseline file against the one before it "
             "(git history), then the live schema against the last: no release ever broke "
             "clients unannounced. This is what CI runs."),
) -> None:
    """Exit 1 when the live schema breaks the baseline (default: schema.graphql).

    Breaking: a change graphql-core finds breaking that schema-changes.toml does not
    declare, or a field or enum value removed without being deprecated first."""
    try:
        declared = load_declarations(changes)
        if history:
            _check_history(against, declared)
            return
        baseline = against.read_text(encoding="utf-8")
        result = check(baseline, live_sdl(), declared)
    except (OSError, ContractFileError) as exc:
        typer.secho(f"cannot check the schema: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    for warning in result.dangerous:
        typer.secho(f"warning: {warning.type.name}: {warning.description}", fg="yellow")
    for unused in result.unused_declarations:
        typer.echo(f"note: declared change not made against {against.name}: "
                   f"{unused.type}: {unused.description}")
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


def _check_history(path: Path, declared: list[DeclaredChange]) -> None:
    """Each committed version of `path` against its predecessor, then the live schema."""
    versions = committed_versions(path)
    steps = [(f"{path}@{a.commit[:10]}", a.sdl, f"{path}@{b.commit[:10]}", b.sdl)
             for a, b in zip(versions, versions[1:])]
    if versions:
        steps.append((f"{path}@{versions[-1].commit[:10]}", versions[-1].sdl,
                      "the live schema", live_sdl()))
    failed = False
    for old_name, old_sdl, new_name, new_sdl in steps:
        result = check(old_sdl, new_sdl, declared)
        for change in result.undeclared:
            typer.secho(f"BREAKING {change.type.name} ({old_name} -> {new_name}): "
                        f"{change.description}", fg="red", err=True)
        for member in result.removed_without_deprecation:
            typer.secho(f"BREAKING {member} removed ({old_name} -> {new_name}) without being "
                        "@deprecated first", fg="red", err=True)
        failed = failed or not result.ok
    if failed:
        typer.secho(f"A change broke clients: deprecate before removing, or declare the "
                    f"change in {CHANGES_FILE.name} with a reason.", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(steps)} schema changes checked ({len(versions)} committed versions of "
               f"{path} and the live schema): none breaks clients unannounced")
