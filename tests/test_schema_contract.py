"""The committed SDL is the schema clients build against: it matches the live schema, and
`carbon-planet schema check` refuses a change that breaks it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from schema.contract import SDL_FILE, live_sdl

LIVE = live_sdl()


def run_check(tmp_path: Path, baseline: str, changes: str = "") -> tuple[int, str]:
    (tmp_path / "baseline.graphql").write_text(baseline, encoding="utf-8")
    (tmp_path / "changes.toml").write_text(changes, encoding="utf-8")
    result = CliRunner().invoke(cli, ["schema", "check",
                                      "--against", str(tmp_path / "baseline.graphql"),
                                      "--changes", str(tmp_path / "changes.toml")])
    return result.exit_code, result.output


def with_query_field(definition: str) -> str:
    """The live SDL as if an earlier release had one more Query field."""
    assert LIVE.count("\ntype Query {\n") == 1
    return LIVE.replace("\ntype Query {\n", "\ntype Query {\n  " + definition + "\n")


def test_committed_schema_matches_the_live_schema():
    assert SDL_FILE.read_text(encoding="utf-8") == LIVE, (
        "schema.graphql differs from the schema the code serves: run "
        "`carbon-planet schema export` and commit schema.graphql")


def test_export_writes_the_sdl(tmp_path):
    out = tmp_path / "out.graphql"
    result = CliRunner().invoke(cli, ["schema", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == LIVE
    assert "type PageInfo" in LIVE and "hasPreviousPage: Boolean!" in LIVE


def test_the_live_schema_does_not_break_the_committed_one(tmp_path):
    code, output = run_check(tmp_path, SDL_FILE.read_text(encoding="utf-8"))
    assert code == 0, output


def test_removing_a_field_that_was_not_deprecated_fails_even_when_declared(tmp_path):
    baseline = with_query_field("retiredCount: Int!")
    code, output = run_check(tmp_path, baseline)
    assert code == 1
    assert "FIELD_REMOVED: Field Query.retiredCount was removed." in output
    assert "Query.retiredCount was removed without being @deprecated" in output
    declared = ('[[change]]\ntype = "FIELD_REMOVED"\n'
                'description = "Field Query.retiredCount was removed."\nreason = "unused"\n')
    code, output = run_check(tmp_path, baseline, declared)
    assert code == 1 and "without being @deprecated" in output


def test_removing_a_deprecated_field_needs_a_declaration(tmp_path):
    baseline = with_query_field('retiredCount: Int! @deprecated(reason: "Use stats.")')
    code, output = run_check(tmp_path, baseline)
    assert code == 1 and "BREAKING FIELD_REMOVED: Field Query.retiredCount was removed." in output
    declared = ('[[change]]\ntype = "FIELD_REMOVED"\n'
                'description = "Field Query.retiredCount was removed."\n'
                'reason = "Deprecated for two releases; every client uses stats."\n')
    code, output = run_check(tmp_path, baseline, declared)
    assert code == 0, output
    assert "declared breaking change: FIELD_REMOVED: Field Query.retiredCount was removed." in output


def test_a_changed_type_is_breaking_and_an_added_enum_value_a_warning(tmp_path):
    assert "\n  me: Player\n" in LIVE and "\nenum Asset {\n  CARBON_POINT\n" in LIVE
    retyped = LIVE.replace("\n  me: Player\n", "\n  me: Player!\n")
    code, output = run_check(tmp_path, retyped)
    assert code == 1 and "FIELD_CHANGED_KIND: Field Query.me changed type from Player! to Player." \
        in output
    fewer_values = LIVE.replace("\nenum Asset {\n  CARBON_POINT\n", "\nenum Asset {\n")
    code, output = run_check(tmp_path, fewer_values)
    assert code == 0, output
    assert "warning: VALUE_ADDED_TO_ENUM: Enum value Asset.CARBON_POINT was added." in output


@pytest.mark.parametrize("changes, problem", [
    ('[[change]]\ntype = "FIELD_REMOVED"\ndescription = "Query.x was removed."\n', "no reason"),
    ('[[change]]\ntype = "FIELD_GONE"\ndescription = "x"\nreason = "y"\n',
     "not a breaking change type"),
    ("change = [", "schema"),
])
def test_a_malformed_declarations_file_is_refused(tmp_path, changes, problem):
    code, output = run_check(tmp_path, LIVE, changes)
    assert code == 2 and problem in output


def test_a_baseline_that_is_no_schema_is_refused(tmp_path):
    code, output = run_check(tmp_path, "type Query {")
    assert code == 2 and "baseline is not a GraphQL schema" in output


def commit_versions(repo: Path, *versions: str) -> Path:
    """A git repository whose schema.graphql went through `versions`, one commit each."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    for n, sdl in enumerate(versions):
        (repo / "schema.graphql").write_text(sdl, encoding="utf-8")
        git("add", "schema.graphql")
        git("commit", "-q", "--allow-empty", "-m", f"version {n}")
    return repo / "schema.graphql"


def without_query_field(sdl: str, name: str) -> str:
    """`sdl` as if an earlier release had not yet added the Query field `name`."""
    head, rest = sdl.split("\ntype Query {\n", 1)
    body, tail = rest.split("\n}\n", 1)
    blocks = [b for b in body.split("\n\n") if not b.splitlines()[-1].startswith(f"  {name}:")]
    assert len(blocks) == body.count("\n\n")  # exactly one dropped
    return head + "\ntype Query {\n" + "\n\n".join(blocks) + "\n}\n" + tail


def run_history(sdl: Path, changes: str = "") -> tuple[int, str]:
    (sdl.parent / "changes.toml").write_text(changes, encoding="utf-8")
    result = CliRunner().invoke(cli, ["schema", "check", "--history", "--against", str(sdl),
                                      "--changes", str(sdl.parent / "changes.toml")])
    return result.exit_code, result.output


def test_history_catches_a_removal_released_in_an_earlier_commit(tmp_path):
    # The field went away two commits ago; the file now equals the live schema, so a check
    # against the committed file alone would see nothing.
    sdl = commit_versions(tmp_path, with_query_field("retiredCount: Int!"), LIVE, LIVE)
    code, output = run_history(sdl)
    assert code == 1, output
    assert "Query.retiredCount removed" in output and "without being @deprecated" in output


def test_history_follows_the_main_line_through_a_merged_branch(tmp_path):
    """Main adds `me` while a branch adds `methodologies`; the branch's commit is dated
    after main's. Checked in date order, the branch's version would seem to remove `me`;
    along the main line, the merge has both and nothing was removed."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    def commit(sdl: str, message: str, date: str) -> None:
        (tmp_path / "schema.graphql").write_text(sdl, encoding="utf-8")
        git("add", "schema.graphql")
        git("commit", "-q", "-m", message, f"--date={date}")

    neither = without_query_field(without_query_field(LIVE, "me"), "methodologies")
    git("init", "-q", "-b", "main")
    commit(neither, "base", "2026-01-01T00:00:00")
    git("checkout", "-q", "-b", "scenes")
    commit(without_query_field(LIVE, "me"), "methodologies on a branch", "2026-01-03T00:00:00")
    git("checkout", "-q", "main")
    commit(without_query_field(LIVE, "methodologies"), "me on main", "2026-01-02T00:00:00")
    git("merge", "-q", "--no-commit", "scenes")
    (tmp_path / "schema.graphql").write_text(LIVE, encoding="utf-8")
    git("add", "schema.graphql")
    git("commit", "-q", "-m", "merge scenes")
    code, output = run_history(tmp_path / "schema.graphql")
    assert code == 0, output
    assert "3 schema changes checked" in output  # base, main, the merge, then the live schema


def test_history_passes_a_deprecated_then_declared_removal(tmp_path):
    deprecated = with_query_field('retiredCount: Int! @deprecated(reason: "unused")')
    sdl = commit_versions(tmp_path, with_query_field("retiredCount: Int!"), deprecated, LIVE)
    declared = ('[[change]]\ntype = "FIELD_REMOVED"\n'
                'description = "Field Query.retiredCount was removed."\nreason = "unused"\n')
    assert run_history(sdl)[0] == 1  # undeclared
    code, output = run_history(sdl, declared)
    assert code == 0, output
    assert "3 schema changes checked" in output
