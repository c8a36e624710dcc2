"""What text the service accepts from outside: one rule for GraphQL arguments and partner
records alike.

Refused: control characters (NUL, C0 and C1 controls, DEL; tab, CR and LF are allowed in
multi-line text only), unpaired surrogates (JSON can carry "\\ud800", which no database
stores) and text over its length limit.
"""

from __future__ import annotations

import re

_SINGLE_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTILINE_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(name: str, value: str, *, max_chars: int, multiline: bool = False) -> str | None:
    """Why `value`, given as `name`, is refused (None when it is fine)."""
    if len(value) > max_chars:
        return f"{name} is longer than {max_chars} characters."
    bad = (_MULTILINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
    if bad is None:
        return None
    char = ord(bad.group())
    if 0xD800 <= char <= 0xDFFF:
        return f"{name} contains an unpaired surrogate (U+{char:04X}): not valid Unicode text."
    return f"{name} contains a control character (U+{char:04X}), which is not allowed here."
