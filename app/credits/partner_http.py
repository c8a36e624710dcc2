"""`POST /partner/v1/activities`: signed batches of activity records from data partners.

The body's size is bounded while it is read (`app.body_limits`, `CARBON_PARTNER_MAX_BODY_BYTES`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from app import ratelimit
from app.business_metrics import count_partner_records
from app.credits import signatures
from app.credits.records import BadRequest, UnreadableRecord, parse_body
from app.i18n.messages import N_, Text
from app.settings import PartnerConfig


def _error(status: int, message: Text) -> JSONResponse:
    return JSONResponse({"error": str(message)}, status_code=status)


def body_too_large(limit: int) -> JSONResponse:
    return _error(413, N_("body larger than %(max)s bytes", max=limit))


def _too_many(decision: ratelimit.Decision, message: Text) -> JSONResponse:
    retry = decision.retry_after_seconds
    return JSONResponse(
        {"error": str(N_("%(why)s; retry in %(seconds)s s", why=message, seconds=retry)),
         "retryAfterSeconds": retry},
        status_code=429,
        headers={"Retry-After": str(retry)},
    )


@dataclass(frozen=True)
class SignedRequest:
    partner: PartnerConfig
    body: bytes

    def json_object(self) -> dict | None:
        """The body as a JSON object, or None when it is not one (or not JSON at all)."""
        try:
            data = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None


async def signed_request(request: Request) -> SignedRequest | JSONResponse:
    """The authentic partner and the body it signed, or the answer refusing the request
    (401 for a bad signature, 429 past the partner's or the address's limit)."""
    services = request.app.state.services
    settings = services.settings
    ip = ratelimit.client_ip(request, settings.trusted_proxies)
    blocked = await ratelimit.peek(
        services.redis, "partner-auth-ip", ip, settings.partner_auth_failure_ip_limit)
    if not blocked.allowed:
        return _too_many(blocked, N_("too many requests with a bad signature from this address"))
    body = await request.body()
    partner, why = signatures.verify(
        services.partners,
        request.headers.get("x-partner-id"),
        request.headers.get("x-timestamp"),
        request.headers.get("x-signature"),
        body,
        time.time(),
        settings.partner_clock_window_seconds,
    )
    if partner is None:
        await ratelimit.hit(
            services.redis, "partner-auth-ip", ip, settings.partner_auth_failure_ip_limit)
        return _error(401, why)
    allowed = await ratelimit.hit(
        services.redis, "partner", partner.id, settings.partner_rate_limit)
    if not allowed.allowed:
        return _too_many(allowed, N_("more than %(max)s requests a minute",
                                      max=settings.partner_rate_limit))
    return SignedRequest(partner, body)


async def receive_activities(request: Request) -> JSONResponse:
    services = request.app.state.services
    settings = services.settings
    signed = await signed_request(request)
    if isinstance(signed, JSONResponse):
        return signed
    partner, body = signed.partner, signed.body
    try:
        records = parse_body(body)
    except BadRequest as exc:
        return _error(400, str(exc))
    if len(records) > settings.partner_max_records:
        return _error(413, N_("at most %(max)s records a request", max=settings.partner_max_records))
    readable = [record for record in records if isinstance(record, dict)]
    outcomes = iter(await services.ingestor.ingest(partner.id, readable))
    results = [record.to_json() if isinstance(record, UnreadableRecord) else next(outcomes).to_json()
               for record in records]
    count_partner_records(partner.id, ((r["status"], r.get("reason")) for r in results))
    return JSONResponse({"results": results})
