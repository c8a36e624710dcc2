"""What text the service accepts from outside: one rule for GraphQL arguments and partner
records alike.

Refused: control characters (NUL, C0 and C1 controls, DEL; tab, CR and LF are allowed in
multi-line text only), unpaired surrogates (JSON can carry "\\ud800", which no database
stores) and text over its length limit.
"""

from __future__ import annotations

import re

from app.i18n.messages import N_, LazyMessage

_SINGLE_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTILINE_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(name: str, value: str, *, max_chars: int,
                 multiline: bool = False) -> LazyMessage | None:
    """Why `value`, given as `name`, is refused (None when it is fine)."""
    if len(value) > max_chars:
        return N_("%(name)s is longer than %(max)s characters.", name=name, max=max_chars)
    bad = (_MULTILINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
    if bad is None:
        return None
    char = ord(bad.group())
    code_point = f"U+{char:04X}"
    if 0xD800 <= char <= 0xDFFF:
        return N_("%(name)s contains an unpaired surrogate (%(char)s): not valid Unicode text.",
                  name=name, char=code_point)
    return N_("%(name)s contains a control character (%(char)s), which is not allowed here.",
              name=name, char=code_point)
