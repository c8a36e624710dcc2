"""Keeping the message catalogues in step with the source, with Babel's own tools.

    .venv/bin/python -m app.i18n.catalogue          # add new msgids, drop unused ones
    .venv/bin/python -m app.i18n.catalogue --check  # exit 1 if the catalogues are not in step

The msgids are extracted from `app/`, `schema/` and `game/` by Babel's Python extractor (the
keywords of `app.i18n.messages.KEYWORDS`: `_(...)` and `N_(...)`) and from the console's
Jinja2 templates (`app/**/templates/**.html`, the same `_(...)`) by Jinja2's Babel
extractor, then merged into each
catalogue with `Catalog.update`: a new msgid gets an empty msgstr, to be translated by
hand (Chinese: required, the test fails without it; English: optional, an empty msgstr
shows the msgid), and a msgid the source no longer uses is removed.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from app.i18n import SUPPORTED_LANGUAGES
from app.i18n.messages import DOMAIN, KEYWORDS, catalogue_path, read_catalogue

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("app", "schema", "game")  # game/: rules-file problems, marked N_ there
COMMENT_TAGS = ("TRANSLATORS:",)  # a `# TRANSLATORS: …` comment above a message reaches the .po


def extract() -> Catalog:
    """Every msgid the source uses, with where (file) it is used."""
    template = Catalog(domain=DOMAIN, project="carbon-planet", fuzzy=False)
    for folder in SOURCE_DIRS:
        for filename, lineno, message, comments, context in extract_from_dir(
                ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS,
                comment_tags=COMMENT_TAGS, strip_comment_tags=True):
            template.add(message, locations=[(f"{folder}/{filename}", lineno)],
                         auto_comments=comments, context=context)
    # console pages: `{{ _("…") }}` in the templates beside the services they show
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / "app", method_map=[("**/templates/**.html", "jinja2")], keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS, strip_comment_tags=True):
        template.add(message, locations=[(f"app/{filename}", lineno)],
                     auto_comments=comments, context=context)
    return template


def updated(language: str, template: Catalog) -> Catalog:
    catalogue = read_catalogue(language)
    catalogue.update(template, no_fuzzy_matching=True, update_creation_date=False)
    return catalogue


def write(language: str, catalogue: Catalog) -> None:
    text = io.BytesIO()  # all of it first: a failure leaves the file as it was
    write_po(text, catalogue, ignore_obsolete=True, include_lineno=False)
    catalogue_path(language).write_bytes(text.getvalue())


def main(argv: list[str]) -> int:
    template = extract()
    out_of_step = False
    for language in SUPPORTED_LANGUAGES:
        before = {m.id for m in read_catalogue(language) if m.id}
        after = {m.id for m in template if m.id}
        added, removed = after - before, before - after
        for msgid in sorted(added):
            print(f"{language}: new msgid {msgid!r}")
        for msgid in sorted(removed):
            print(f"{language}: unused msgid {msgid!r}")
        out_of_step |= bool(added or removed)
        if "--check" not in argv:
            write(language, updated(language, template))
    if "--check" in argv:
        return 1 if out_of_step else 0
    print("Catalogues written; translate each new msgid's msgstr in zh_CN "
          f"({catalogue_path('zh-CN').relative_to(ROOT)}).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
