"""The operators' merchant pages: merchants with their unsettled balance, creating one,
taking one out of (or back into) service, adding staff, and each merchant's payments and
settlements with the CSV statements. Settling a period is the `carbon-planet merchants
settle` command's job; the API, and so the console, only shows its results."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from app.console.forms import errors_at_fields
from app.console.text import gettext as _
from app.console.web import Page, console_page

ERRORS = "errors { code message field }"
SETTLEMENT_FIELDS = """id period periodStart periodEnd paymentCount points cashFen pointsPerYuan
  status createdAt"""
MERCHANTS = f"""query($after: String) {{ merchants(first: 50, after: $after) {{
  edges {{ node {{ id name city active createdAt balancePoints
    settlements(first: 1) {{ {SETTLEMENT_FIELDS} }} }} }}
  pageInfo {{ hasNextPage endCursor }} }} }}"""
MERCHANT = f"""query($id: ID!, $after: String) {{ merchant(id: $id) {{
  id name city active createdAt balancePoints
  payments(first: 50, after: $after) {{ edges {{ node {{ id points createdAt settled }} }}
    pageInfo {{ hasNextPage endCursor }} }}
  settlements(first: 100) {{ {SETTLEMENT_FIELDS} }} }} }}"""
STATEMENTS = """query($id: ID!) { merchant(id: $id) { name settlements(first: 100) {
  id period statement } } }"""
CREATE = f"""mutation($name: String!, $city: String, $key: String!) {{
  createMerchant(name: $name, city: $city, idempotencyKey: $key) {{
    merchant {{ id }} {ERRORS} }} }}"""
SET_ACTIVE = f"""mutation($id: ID!, $active: Boolean!) {{
  setMerchantActive(merchantId: $id, active: $active) {{ merchant {{ id active }} {ERRORS} }} }}"""
PLAYER = "query($phone: String!) { playerByPhone(phone: $phone) { id nickname } }"
ADD_STAFF = f"""mutation($id: ID!, $player: ID!) {{
  addMerchantStaff(merchantId: $id, playerId: $player) {{
  merchant {{ id }} {ERRORS} }} }}"""


async def _list_page(page: Page, status_code: int = 200, **values: Any) -> Response:
    after = page.request.query_params.get("after") or None
    result = await page.api(MERCHANTS, {"after": after})
    found = (result.data or {}).get("merchants") or {"edges": [], "pageInfo": {}}
    values.setdefault("general", [e["message"] for e in result.errors])
    values.setdefault("values", {})
    return page.render("merchants/merchants.html", status_code=status_code,
                       merchants=[e["node"] for e in found["edges"]],
                       page_info=found["pageInfo"], cities=page.request.app.state.settings.cities,
                       key=values.pop("key", str(uuid.uuid4())),
                       notice=page.request.query_params.get("done"), **values)


@console_page("operator")
async def merchants(page: Page) -> Response:
    if page.request.method == "GET":
        return await _list_page(page)
    key = page.text("idempotency_key")
    result = await page.api(CREATE, {"name": page.text("name"), "city": page.text("city") or None,
                                     "key": key})
    created = ((result.data or {}).get("createMerchant") or {}).get("merchant")
    if created:
        return page.redirect(f"/console/merchants/{created['id']}?done=created")
    errors, general = errors_at_fields(result, "createMerchant", ("name", "city"))
    return await _list_page(page, 400, errors=errors, general=general, key=key,
                            values={"name": page.text("name"), "city": page.text("city")})


async def _merchant_page(page: Page, merchant_id: str, status_code: int = 200,
                         **values: Any) -> Response:
    after = page.request.query_params.get("after") or None
    result = await page.api(MERCHANT, {"id": merchant_id, "after": after})
    merchant = (result.data or {}).get("merchant")
    if merchant is None:
        if result.errors:
            return page.render("console/forbidden.html", status_code=400,
                               reason=" ".join(e["message"] for e in result.errors))
        return page.render("console/forbidden.html", status_code=404,
                           reason=_("There is no merchant %(id)s.", id=merchant_id))
    values.setdefault("errors", {})
    values.setdefault("general", [])
    return page.render("merchants/merchant.html", status_code=status_code, merchant=merchant,
                       payments=[e["node"] for e in merchant["payments"]["edges"]],
                       page_info=merchant["payments"]["pageInfo"],
                       notice=page.request.query_params.get("done"), **values)


@console_page("operator")
async def merchant(page: Page) -> Response:
    return await _merchant_page(page, page.request.path_params["id"])


@console_page("operator")
async def set_active(page: Page) -> Response:
    merchant_id = page.request.path_params["id"]
    result = await page.api(SET_ACTIVE, {"id": merchant_id,
                                         "active": page.text("active") == "true"})
    if ((result.data or {}).get("setMerchantActive") or {}).get("merchant"):
        return page.redirect(f"/console/merchants/{merchant_id}?done=saved")
    errors, general = errors_at_fields(result, "setMerchantActive")
    return await _merchant_page(page, merchant_id, 400, errors=errors, general=general)


@console_page("operator")
async def add_staff(page: Page) -> Response:
    """Staff are found by the phone they log in with, then added by their player id."""
    merchant_id = page.request.path_params["id"]
    phone = page.text("phone")
    found = await page.api(PLAYER, {"phone": phone})
    player = (found.data or {}).get("playerByPhone")
    if player is None:
        messages = [e["message"] for e in found.errors] or [
            _("Nobody has logged in with this phone number yet.")]
        return await _merchant_page(page, merchant_id, 400, errors={"phone": messages},
                                    phone=phone)
    result = await page.api(ADD_STAFF, {"id": merchant_id, "player": player["id"]})
    if ((result.data or {}).get("addMerchantStaff") or {}).get("merchant"):
        return page.redirect(f"/console/merchants/{merchant_id}?done=staff")
    errors, general = errors_at_fields(result, "addMerchantStaff")
    if "playerId" in errors:
        errors["phone"] = errors.pop("playerId")
    return await _merchant_page(page, merchant_id, 400, errors=errors, general=general,
                                phone=phone)


@console_page("operator")
async def statement(page: Page) -> Response:
    merchant_id = page.request.path_params["id"]
    settlement_id = page.request.path_params["settlement"]
    result = await page.api(STATEMENTS, {"id": merchant_id})
    found = (result.data or {}).get("merchant") or {}
    chosen = next((s for s in found.get("settlements") or [] if s["id"] == settlement_id), None)
    if chosen is None:
        return page.render("console/forbidden.html", status_code=404,
                           reason=_("There is no such settlement."))
    return page.finish(Response(
        chosen["statement"], media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="statement-{chosen["period"]}-{merchant_id}.csv"'}))


routes = [
    Route("/merchants", merchants, methods=["GET", "POST"], name="merchants"),
    Route("/merchants/{id}", merchant),
    Route("/merchants/{id}/active", set_active, methods=["POST"]),
    Route("/merchants/{id}/staff", add_staff, methods=["POST"]),
    Route("/merchants/{id}/settlements/{settlement}.csv", statement),
]
