"""The operators' player pages: find a player by the phone they log in with, then their
balances, ledger, activities and orders (paged), and their staff roles: read only for
operators, a form for admins (only admins may set roles in the API)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from app.console.forms import errors_at_fields
from app.console.text import gettext as _
from app.console.web import Page, console_page

FIND = "query($phone: String!) { playerByPhone(phone: $phone) { id } }"
PLAYER = """query($id: ID!, $ledger: String, $activities: String) { player(id: $id) {
  id nickname city avatarUrl createdAt closedAt roles
  balances { carbonPoints growth energy reductionGrams }
  ledger(first: 20, after: $ledger) {
    edges { node { id txId type asset amount balanceAfter createdAt } }
    pageInfo { hasNextPage endCursor } }
  activities(first: 20, after: $activities) { edges { node { id kind source occurredAt
    distanceMeters steps reductionGrams pointsAwarded growthAwarded energyAwarded status
    rejectReason rejectReasonText methodology { id version } } } pageInfo { hasNextPage endCursor } }
  orders(first: 20) { edges { node { id status quantity pointsSpent couponCodes cashFen
    cancelReason createdAt playerId item { id title titleEn kind } } } } } }"""
SET_ROLES = """mutation($id: ID!, $roles: [Role!]!) { setPlayerRoles(playerId: $id, roles: $roles) {
  roles errors { code message field } } }"""
STAFF_ROLES = ("DESIGNER", "OPERATOR", "MERCHANT", "REGULATOR", "ADMIN")


@console_page("operator")
async def find(page: Page) -> Response:
    """GET: the phone form. POST: the player with that phone (a POST keeps the number out
    of addresses and logs)."""
    if page.request.method == "GET":
        return page.render("players/find.html", phone="", errors={}, general=[])
    phone = page.text("phone")
    result = await page.api(FIND, {"phone": phone})
    found = (result.data or {}).get("playerByPhone")
    if found:
        return page.redirect(f"/console/players/{found['id']}")
    errors, general = errors_at_fields(result, "playerByPhone", ("phone",))
    for error in result.errors:  # the API's refusal of the number names its field
        if (error.get("extensions") or {}).get("field") == "phone":
            errors.setdefault("phone", []).append(error["message"])
            general.remove(error["message"])
    if result.errors:
        return page.render("players/find.html", status_code=400, phone=phone, errors=errors,
                           general=general)
    return page.render("players/find.html", status_code=404, phone=phone, general=[], errors={
        "phone": [_("Nobody has logged in with this phone number yet.")]})


async def _player_page(page: Page, player_id: str, status_code: int = 200,
                       **values: Any) -> Response:
    params = page.request.query_params
    ledger, activities = params.get("ledger") or None, params.get("activities") or None
    result = await page.api(PLAYER, {"id": player_id, "ledger": ledger,
                                     "activities": activities})
    player = (result.data or {}).get("player")
    if player is None:
        if result.errors:
            return page.render("players/find.html", status_code=400, phone="", errors={},
                               general=[e["message"] for e in result.errors])
        return page.render("console/forbidden.html", status_code=404,
                           reason=_("There is no player %(id)s.", id=player_id))

    def more(name: str, cursor: str) -> str:
        kept = {k: v for k, v in {"ledger": ledger, "activities": activities}.items() if v}
        return f"/console/players/{player_id}?" + urlencode({**kept, name: cursor})

    values.setdefault("errors", {})
    values.setdefault("general", [e["message"] for e in result.errors])
    return page.render(
        "players/player.html", status_code=status_code, player=player,
        ledger=[e["node"] for e in player["ledger"]["edges"]],
        activities=[e["node"] for e in player["activities"]["edges"]],
        orders=[e["node"] for e in player["orders"]["edges"]],
        ledger_more=more("ledger", player["ledger"]["pageInfo"]["endCursor"])
        if player["ledger"]["pageInfo"]["hasNextPage"] else None,
        activities_more=more("activities", player["activities"]["pageInfo"]["endCursor"])
        if player["activities"]["pageInfo"]["hasNextPage"] else None,
        paged=bool(ledger or activities), staff_roles=STAFF_ROLES,
        notice=params.get("done"), **values)


@console_page("operator")
async def player(page: Page) -> Response:
    return await _player_page(page, page.request.path_params["id"])


@console_page("admin")
async def roles(page: Page) -> Response:
    player_id = page.request.path_params["id"]
    chosen = [r for r in page.texts("roles") if r in STAFF_ROLES]
    result = await page.api(SET_ROLES, {"id": player_id, "roles": chosen})
    errors, general = errors_at_fields(result, "setPlayerRoles", ("roles",))
    if not errors and not general:
        return page.redirect(f"/console/players/{player_id}?done=roles")
    return await _player_page(page, player_id, 400, errors=errors, general=general)


routes = [
    Route("/players", find, methods=["GET", "POST"], name="players"),
    Route("/players/{id}", player),
    Route("/players/{id}/roles", roles, methods=["POST"]),
]
