"""mkdocs hook: the command table on operators/cli.md, generated from the typer app.

Every command of `carbon-planet` (walked through click's command tree) becomes a row with
its arguments and options; what it does comes from `cli.yml` beside this file, or else
from the command's own help. An entry in `cli.yml` for a command that no longer exists is
a warning, which fails `mkdocs build --strict`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import yaml
from marker_page import fill_marker

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- cli-table -->"
PAGE = "operators/cli.md"

log = logging.getLogger("mkdocs.hooks.cli_reference")


def walk(command, path: tuple[str, ...] = ()):
    """(path, command) for every leaf command, in the order the app declares them."""
    if hasattr(command, "commands"):  # a group (typer brings its own copy of click)
        for name, sub in command.commands.items():
            if not sub.hidden:
                yield from walk(sub, (*path, name))
    else:
        yield path, command


def usage(path: tuple[str, ...], command) -> str:
    parts = ["carbon-planet", *path]
    for param in command.params:
        if param.param_type_name == "argument":
            name = (param.metavar or param.name).upper()
            parts.append(f"{name}..." if param.nargs == -1 else name)
        elif param.param_type_name == "option" and param.name != "help":
            flag = max(param.opts, key=len)
            parts.append(f"[{flag}]" if param.is_flag else f"[{flag} {param.name.upper()}]")
    return " ".join(parts)


def cell(text: str) -> str:
    """One table cell: one line, pipes escaped, angle brackets outside code shown as text."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(part if n % 2 else part.replace("<", "&lt;").replace(">", "&gt;")
                    for n, part in enumerate(parts))


def table() -> str:
    sys.path.insert(0, str(ROOT))
    import typer.main

    from app.cli import cli

    described = yaml.safe_load(Path(__file__).with_name("cli.yml").read_text("utf-8"))
    root = typer.main.get_command(cli)
    rows = ["| Command | What it does |", "|---|---|"]
    seen = set()
    for path, command in walk(root):
        key = " ".join(path)
        seen.add(key)
        text = described.get(key) or (command.help or "").strip().split("\n\n")[0]
        if not text:
            log.warning("command %r has no help and no entry in docs/hooks/cli.yml", key)
        rows.append(f"| `{usage(path, command)}` | {cell(text)} |")
    for stale in sorted(set(described) - seen):
        log.warning("docs/hooks/cli.yml describes %r, which carbon-planet no longer has", stale)
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:
    return fill_marker(markdown, page, source=PAGE, marker=MARKER, render=table, log=log)
