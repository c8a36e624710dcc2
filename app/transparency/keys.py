"""The log's signer key: CARBON_TRANSPARENCY_LOG_KEY, or on a development machine a key
generated once into CARBON_TRANSPARENCY_LOG_KEY_FILE (like the other embedded defaults,
refused in production by `Settings.production_problems`)."""

from __future__ import annotations

import os
from pathlib import Path

from app.settings import Settings
from transparency.note import Signer, generate_signer, parse_signer


def log_signer(settings: Settings) -> Signer:
    if settings.transparency_log_key:
        return parse_signer(settings.transparency_log_key)
    path = Path(settings.transparency_log_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        signer = generate_signer(settings.transparency_log_origin)
        # written aside, then linked into place: two processes starting together keep one key
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(signer.key_string + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return parse_signer(path.read_text().strip())
