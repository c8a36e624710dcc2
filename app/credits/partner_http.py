"""`POST /partner/v1/activities`: signed batches of activity records from data partners."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.credits import signatures
from app.credits.records import BadRequest, parse_body


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def receive_activities(request: Request) -> JSONResponse:
    services = request.app.state.services
    settings = services.settings
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.partner_max_body_bytes:
        return _error(413, f"body larger than {settings.partner_max_body_bytes} bytes")
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
        return _error(401, why)
    try:
        records = parse_body(body)
    except BadRequest as exc:
        return _error(400, str(exc))
    if len(records) > settings.partner_max_records:
        return _error(413, f"at most {settings.partner_max_records} records a request")
    outcomes = await services.ingestor.ingest(partner.id, records)
    return JSONResponse({"results": [o.to_json() for o in outcomes]})
