"""HMAC-SHA256 request signatures for partner ingestion (see the partner contract)."""

from __future__ import annotations

import hashlib
import hmac

from app.i18n.messages import N_, Text
from app.settings import PartnerConfig


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    partners: dict[str, PartnerConfig],
    partner_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window_seconds: int,
) -> tuple[PartnerConfig | None, Text]:
    """(partner, "") when the request is authentic, else (None, why it is not)."""
    partner = partners.get(partner_id or "")
    if partner is None:
        return None, N_("unknown partner")
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return None, N_("X-Timestamp must be unix seconds")
    sent_at = int(timestamp)
    if abs(now - sent_at) > window_seconds:
        return None, N_("X-Timestamp is more than %(seconds)s s from the server's clock",
                        seconds=window_seconds)
    # compared as bytes: a header may carry any byte, and compare_digest refuses a str
    # that is not ASCII (a TypeError, not a mismatch)
    sent = (signature or "").encode("utf-8", "surrogateescape")
    if not sent or not any(
        hmac.compare_digest(sign(secret, timestamp, body).encode(), sent)
        for secret in partner.secrets
    ):
        return None, N_("signature does not verify")
    return partner, ""
