"""Keyed hashes for stored secrets.

Login codes have a small space (10^6), so a plain hash could be reversed by
enumeration; an HMAC keyed with the server secret cannot be without that secret.
Refresh tokens are 256-bit random values, hashed the same way for uniformity.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def keyed_hash(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def new_login_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)
