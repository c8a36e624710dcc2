"""`POST /partner/v1/recalls`: a partner recalls a record it sent (a fraudulent trip, a
record sent in error), signed like `/partner/v1/activities`. The record's activity is
withdrawn as an operator's `withdrawActivity` would (`app.certification.withdrawal`); the
same recall again answers `already_withdrawn`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.certification.withdrawal import WithdrawalReason, withdraw
from app.credits.models import PartnerRecord
from app.credits.partner_http import signed_request
from app.errors import ServiceError
from app.i18n.messages import N_, Text


def _refused(status: int, message: Text, reason: str | None = None) -> JSONResponse:
    body = {"error": str(message)} | ({"reason": reason} if reason else {})
    return JSONResponse(body, status_code=status)


async def receive_recall(request: Request) -> JSONResponse:
    signed = await signed_request(request)
    if isinstance(signed, JSONResponse):
        return signed
    data = signed.json_object() or {}
    record_id = data.get("recordId")
    if not isinstance(record_id, str) or not record_id or len(record_id) > 200:
        return _refused(400, N_('body must be a JSON object with "recordId"'))
    reason = data.get("reason", WithdrawalReason.PARTNER_RECALL.value)
    note = data.get("note")
    if reason not in WithdrawalReason.__members__ or not (
            note is None or (isinstance(note, str) and len(note) <= 300)):
        return _refused(400, N_('"reason" is one of %(reasons)s and "note" at most 300 characters',
                                reasons=", ".join(WithdrawalReason.__members__)))
    partner = signed.partner.id
    record = await PartnerRecord.get_or_none(partner_id=partner, record_id=record_id)
    if record is None or record.activity_id is None:
        return _refused(404, N_("no record with this id was credited for this partner"))
    try:
        found = await withdraw(str(record.activity_id), reason, note, f"partner:{partner}",
                               f"recall:{partner}:{record_id}")
    except ServiceError as exc:  # the activity was refused: nothing to withdraw
        return _refused(422, exc.text, "NOT_WITHDRAWABLE")
    return JSONResponse({
        "recordId": record_id, "activityId": str(found.activity.id),
        "status": "withdrawn" if found.created else "already_withdrawn",
        "certified": found.certified,
        "withdrawnAt": found.withdrawal.created_at.isoformat(),
    })
