"""`POST /partner/v1/links`: a partner links its own id for a person to the player who gave
it a link code, or offers it to whoever proves the phone number it holds for the person
(signed like `/partner/v1/activities`, same secrets, same limits)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.credits.partner_http import signed_request
from app.i18n.messages import N_
from app.partner_links.service import LinkRefused, PartnerLinks


async def receive_link(request: Request) -> JSONResponse:
    signed = await signed_request(request)
    if isinstance(signed, JSONResponse):
        return signed
    data = signed.json_object()
    if data is None:
        return JSONResponse({"error": str(N_('body must be a JSON object with "subjectRef" and "code" or "phone"'))},
                            status_code=400)
    links = PartnerLinks(request.app.state.services.settings)
    if "code" not in data and "phone" in data:  # an offer to whoever proves that phone
        try:
            offered = await links.offer(signed.partner.id, data.get("phone"), data.get("subjectRef"))
        except LinkRefused as refused:
            return JSONResponse({"reason": refused.reason, "error": str(refused.message)},
                                status_code=422)
        return JSONResponse({"subjectRef": offered.offer.external_id, "status": "offered",
                             "expiresAt": offered.offer.expires_at.isoformat()})
    try:
        linked = await links.link(signed.partner.id, data.get("code"), data.get("subjectRef"))
    except LinkRefused as refused:
        return JSONResponse({"reason": refused.reason, "error": str(refused.message)}, status_code=422)
    return JSONResponse({
        "subjectRef": linked.link.external_id,
        "status": "linked" if linked.created else "already_linked",
        "linkedAt": linked.link.created_at.isoformat(),
    })
