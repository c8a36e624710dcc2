"""`POST /partner/v1/activities`: signed batches of activity records from data partners."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse

from app import ratelimit
from app.credits import signatures
from app.credits.records import BadRequest, parse_body


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _too_many(decision: ratelimit.Decision, message: str) -> JSONResponse:
    retry = decision.retry_after_seconds
    return JSONResponse(
        {"error": f"{message}; retry in {retry} s", "retryAfterSeconds": retry},
        status_code=429,
        headers={"Retry-After": str(retry)},
    )


async def receive_activities(request: Request) -> JSONResponse:
    services = request.app.state.services
    settings = services.settings
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.partner_max_body_bytes:
        return _error(413, f"body larger than {settings.partner_max_body_bytes} bytes")
    ip = ratelimit.client_ip(request, settings.trusted_proxies)
    blocked = await ratelimit.peek(
        services.redis, "partner-auth-ip", ip, settings.partner_auth_failure_ip_limit)
    if not blocked.allowed:
        return _too_many(blocked, "too many requests with a bad signature from this address")
    body = await request.body()
    if len(body) > settings.partner_max_body_bytes:
        return _error(413, f"body larger than {settings.partner_max_body_bytes} bytes")
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
        return _too_many(allowed, f"more than {settings.partner_rate_limit} requests a minute")
    try:
        records = parse_body(body)
    except BadRequest as exc:
        return _error(400, str(exc))
    if len(records) > settings.partner_max_records:
        return _error(413, f"at most {settings.partner_max_records} records a request")
    outcomes = await services.ingestor.ingest(partner.id, records)
    return JSONResponse({"results": [o.to_json() for o in outcomes]})
