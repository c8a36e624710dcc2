"""The docs site builds with `mkdocs build --strict` (every link, anchor and page checked),
its generated pages cover every setting, command and root field, it loads nothing from
another origin, and the README and docs name no issue numbers or work still to come."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from graphql import build_schema as build_sdl

from app.cli import cli
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text("utf-8")


def test_configuration_page_lists_every_setting(site):
    html = page(site, "operators/configuration")
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if alias is not None else f"CARBON_{name.upper()}"
        assert f"<code>{env}</code>" in html, env


def test_cli_page_lists_every_command(site):
    html = page(site, "operators/cli")

    def leaves(command, path=()):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from leaves(sub, (*path, name))
        else:
            yield " ".join(("carbon-planet", *path))

    for usage in leaves(typer.main.get_command(cli)):
        assert f"<code>{usage}" in html, usage


def test_api_reference_has_every_root_field_of_the_sdl(site):
    # schema.graphql is the live schema (tests/test_schema_contract.py fails on drift)
    sdl = build_sdl((ROOT / "schema.graphql").read_text("utf-8"))
    for kind, root in (("queries", sdl.query_type), ("mutations", sdl.mutation_type),
                       ("subscriptions", sdl.subscription_type)):
        html = page(site, f"clients/api/{kind}")
        for name in root.fields:
            assert f'id="{name.lower()}"' in html, (kind, name)
    enums = page(site, "clients/api/enums")
    assert 'id="errorcode"' in enums and "INSUFFICIENT_POINTS" in enums


def test_partner_api_page_renders_the_openapi_document(site):
    html = page(site, "partners/api")
    assert "POST /partner/v1/activities" in html and "IMPLAUSIBLE_SPEED" in html
    assert (site / "partners" / "openapi.yaml").is_file()


def test_the_site_loads_nothing_from_another_origin(site):
    outside = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.IGNORECASE)
    for html_file in site.rglob("*.html"):
        html = html_file.read_text("utf-8")
        found = outside.findall(html)
        assert not found, (html_file, found)
    assert "fonts.googleapis" not in "".join(
        f.read_text("utf-8", errors="ignore") for f in site.rglob("*.css"))
    # what Material's bundle fetches on demand (a polyfill, Mermaid) comes from the site too
    cdn = re.compile(r"https?://[a-z0-9.-]*(unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com)")
    for built in site.rglob("*"):
        if built.suffix in (".html", ".js", ".css", ".map"):
            assert not cdn.search(built.read_text("utf-8", errors="ignore")), built
    assert (site / "assets/vendor/resize-observer-polyfill-1.5.1.js").is_file()
    assert (site / "assets/vendor/mermaid-11.17.2.min.js").is_file()


def test_readme_and_docs_name_no_issues_or_later_work():
    pattern = re.compile(r"later issue|issue [0-9]+|(?<![A-Za-z])#[0-9]+|comes? later", re.IGNORECASE)
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    hits = [f"{f.relative_to(ROOT)}:{n}: {line}" for f in files
            for n, line in enumerate(f.read_text("utf-8").splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text("utf-8").splitlines()) < 250
