"""Console wording in the reader's language (the API's message catalogues)."""

from __future__ import annotations


def gettext(message: str, **values: object) -> str:
    return message % values if values else message
