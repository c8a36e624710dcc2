"""Console wording in the reader's language, from the API's message catalogues."""

from __future__ import annotations

from app.i18n.messages import _ as gettext

__all__ = ["gettext"]
