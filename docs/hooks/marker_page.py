"""What the generating hooks share: one page's marker comment replaced by generated
Markdown. A page that lost its marker is a warning, which fails `mkdocs build --strict`.

MkDocs puts this folder on `sys.path` while it loads a hook, so the hooks import this
module by name; it is no hook itself (mkdocs.yml does not list it)."""

from __future__ import annotations

import logging
from collections.abc import Callable


def fill_marker(markdown: str, page, *, source: str, marker: str,
                render: Callable[[], str], log: logging.Logger) -> str:
    """`markdown` with `marker` replaced by `render()` on the page `source`; other pages
    as they are (nothing is rendered for them)."""
    if page.file.src_uri != source:
        return markdown
    if marker not in markdown:
        log.warning("%s lost its %s marker", source, marker)
        return markdown
    return markdown.replace(marker, render())
