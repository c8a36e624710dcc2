"""The operators' shop pages: the whole catalogue (withdrawn and past items too) with its
stock, creating and editing items, stock adjustments, coupon code imports, every player's
orders and cancelling (refunding) them. Everything goes through the GraphQL API
(`page.api`): a refused change shows the API's message at its field and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from app.console.forms import city_time, errors_at_fields, integer, local_input, safe_next
from app.console.text import gettext as _
from app.console.web import Page, console_page

ITEM_FIELDS = """id kind title titleEn description descriptionEn pricePoints remaining sold
  perPlayerLimit limitPeriod availableFrom availableUntil cities cashFen usesCodes active"""
ORDER_FIELDS = """id status quantity pointsSpent couponCodes cashFen cancelReason createdAt
  playerId item { id title titleEn kind }"""
ERRORS = "errors { code message field }"
ITEMS = f"""query($after: String) {{ allShopItems(first: 50, after: $after) {{
  edges {{ node {{ {ITEM_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
ITEM = f"""query($id: ID!, $target: String!) {{ shopItem(id: $id) {{ {ITEM_FIELDS} }}
  shopOrders(itemId: $id, first: 20) {{ edges {{ node {{ {ORDER_FIELDS} }} }} }}
  auditLog(targetType: "shop_item", targetId: $target, first: 20) {{
    edges {{ node {{ id actorId action before after note createdAt }} }} }} }}"""
CREATE = f"""mutation($input: ShopItemInput!, $key: String!) {{
  createShopItem(input: $input, idempotencyKey: $key) {{ item {{ id }} {ERRORS} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: ShopItemInput!) {{
  updateShopItem(itemId: $id, input: $input) {{ item {{ id }} {ERRORS} }} }}"""
STOCK = f"""mutation($id: ID!, $delta: Int!, $note: String) {{
  adjustShopItemStock(itemId: $id, delta: $delta, note: $note) {{ item {{ id }} {ERRORS} }} }}"""
CODES = f"""mutation($id: ID!, $codes: [String!]!) {{
  importCouponCodes(itemId: $id, codes: $codes) {{ imported duplicates {ERRORS} }} }}"""
ORDERS = f"""query($status: OrderStatus, $after: String) {{
  shopOrders(status: $status, first: 50, after: $after) {{
  edges {{ node {{ {ORDER_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
CANCEL = f"""mutation($id: ID!, $reason: String!) {{ cancelOrder(orderId: $id, reason: $reason) {{
  order {{ id status }} {ERRORS} }} }}"""

KINDS = ("COUPON", "PHYSICAL_GIFT", "CASH_RED_PACKET", "DONATION", "TRANSIT_RIDE")
PERIODS = ("TOTAL", "DAY", "WEEK", "MONTH")
ORDER_STATUSES = ("CONFIRMED", "PENDING_PAYOUT", "PAID_OUT", "CANCELLED", "REFUNDED")
INPUT_FIELDS = ("kind", "title", "titleEn", "description", "descriptionEn", "pricePoints",
                "stock", "perPlayerLimit", "limitPeriod", "availableFrom", "availableUntil",
                "cities", "cashFen", "usesCodes", "active")


def _errors(result, payload: str) -> dict[str, Any]:
    fields, general = errors_at_fields(result, payload, (*INPUT_FIELDS, "delta", "codes",
                                                         "reason", "note"))
    return {"errors": fields, "general": general}


def _input(page: Page, creating: bool) -> dict[str, Any]:
    """ShopItemInput from the form. Empty fields are left out (the API keeps their value;
    it has no way to clear a limit or a time), but for the descriptions, which an empty
    field clears; the item's kind, code pool and first stock are set only when it is
    created."""
    values: dict[str, Any] = {
        "title": page.text("title") or None, "titleEn": page.text("titleEn") or None,
        "description": page.text("description"), "descriptionEn": page.text("descriptionEn"),
        "pricePoints": integer(page.text("pricePoints")),
        "perPlayerLimit": integer(page.text("perPlayerLimit")),
        "limitPeriod": page.text("limitPeriod") or None,
        "availableFrom": city_time(page.text("availableFrom"), page.zone),
        "availableUntil": city_time(page.text("availableUntil"), page.zone),
        "cities": page.texts("cities"),
        "cashFen": integer(page.text("cashFen")),
        "active": page.text("active") == "on",
    }
    if creating:
        values |= {"kind": page.text("kind") or None, "stock": integer(page.text("stock")),
                   "usesCodes": page.text("usesCodes") == "on"}
    return {k: v for k, v in values.items() if v is not None}


def _form_values(page: Page) -> dict[str, Any]:
    """What the operator typed, to show again beside the API's refusal."""
    values: dict[str, Any] = {name: page.text(name) for name in INPUT_FIELDS}
    values["cities"] = page.texts("cities")
    values["active"] = page.text("active") == "on"
    values["usesCodes"] = page.text("usesCodes") == "on"
    return values


def _item_values(item: dict, zone: str) -> dict[str, Any]:
    """An item as the form shows it (times in the city's zone)."""
    values = {name: "" if item.get(name) is None else item[name] for name in INPUT_FIELDS}
    values["availableFrom"] = local_input(item.get("availableFrom"), zone)
    values["availableUntil"] = local_input(item.get("availableUntil"), zone)
    return values


def _options(page: Page) -> dict[str, Any]:
    return {"kinds": KINDS, "periods": PERIODS,
            "cities": page.request.app.state.settings.cities}


@console_page("operator")
async def catalogue(page: Page) -> Response:
    after = page.request.query_params.get("after") or None
    result = await page.api(ITEMS, {"after": after})
    found = (result.data or {}).get("allShopItems") or {"edges": [], "pageInfo": {}}
    return page.render("shop/catalogue.html", items=[e["node"] for e in found["edges"]],
                       page_info=found["pageInfo"], general=[e["message"] for e in result.errors],
                       notice=page.request.query_params.get("done"))


@console_page("operator")
async def new_item(page: Page) -> Response:
    if page.request.method == "GET":
        return page.render("shop/item_form.html", item=None, key=str(uuid.uuid4()),
                           values={"active": True, "limitPeriod": "TOTAL", "cities": []},
                           errors={}, general=[], **_options(page))
    key = page.text("idempotency_key")
    result = await page.api(CREATE, {"input": _input(page, creating=True), "key": key})
    created = ((result.data or {}).get("createShopItem") or {}).get("item")
    if not created:
        return page.render("shop/item_form.html", status_code=400, item=None, key=key,
                           values=_form_values(page), **_errors(result, "createShopItem"),
                           **_options(page))
    return page.redirect(f"/console/shop/items/{created['id']}?done=created")


async def _item_page(page: Page, item_id: str, status_code: int = 200,
                     **values: Any) -> Response:
    result = await page.api(ITEM, {"id": item_id, "target": item_id})
    data = result.data or {}
    item = data.get("shopItem")
    if item is None:
        return page.render("console/forbidden.html", status_code=404,
                           reason=_("There is no shop item %(id)s.", id=item_id))
    orders = [e["node"] for e in (data.get("shopOrders") or {}).get("edges", [])]
    audit = [e["node"] for e in (data.get("auditLog") or {}).get("edges", [])]
    values.setdefault("values", _item_values(item, page.zone))
    values.setdefault("errors", {})
    values.setdefault("general", [e["message"] for e in result.errors])
    return page.render("shop/item_form.html", status_code=status_code, item=item, orders=orders,
                       audit=audit, notice=page.request.query_params.get("done"),
                       statuses=ORDER_STATUSES, **_options(page), **values)


@console_page("operator")
async def item(page: Page) -> Response:
    item_id = page.request.path_params["id"]
    if page.request.method == "GET":
        return await _item_page(page, item_id)
    result = await page.api(UPDATE, {"id": item_id, "input": _input(page, creating=False)})
    if ((result.data or {}).get("updateShopItem") or {}).get("item"):
        return page.redirect(f"/console/shop/items/{item_id}?done=saved")
    return await _item_page(page, item_id, 400, values=_form_values(page),
                            **_errors(result, "updateShopItem"))


@console_page("operator")
async def stock(page: Page) -> Response:
    item_id = page.request.path_params["id"]
    result = await page.api(STOCK, {"id": item_id, "delta": integer(page.text("delta")) or 0,
                                    "note": page.text("note") or None})
    if ((result.data or {}).get("adjustShopItemStock") or {}).get("item"):
        return page.redirect(f"/console/shop/items/{item_id}?done=stock")
    return await _item_page(page, item_id, 400, stock_form={"delta": page.text("delta"),
                                                            "note": page.text("note")},
                            **_errors(result, "adjustShopItemStock"))


@console_page("operator")
async def codes(page: Page) -> Response:
    item_id = page.request.path_params["id"]
    lines = [line.strip() for line in page.text("codes").splitlines() if line.strip()]
    result = await page.api(CODES, {"id": item_id, "codes": lines})
    body = (result.data or {}).get("importCouponCodes") or {}
    errors = _errors(result, "importCouponCodes")
    if errors["errors"] or errors["general"]:
        return await _item_page(page, item_id, 400, codes_text=page.text("codes"), **errors)
    return await _item_page(page, item_id, imported=body["imported"],
                            duplicates=body["duplicates"])


async def _orders_page(page: Page, status_code: int = 200, **values: Any) -> Response:
    params = page.request.query_params
    status = params.get("status") if params.get("status") in ORDER_STATUSES else None
    result = await page.api(ORDERS, {"status": status, "after": params.get("after") or None})
    found = (result.data or {}).get("shopOrders") or {"edges": [], "pageInfo": {}}
    values.setdefault("general", [e["message"] for e in result.errors])
    return page.render("shop/orders.html", status_code=status_code,
                       orders=[e["node"] for e in found["edges"]], page_info=found["pageInfo"],
                       status=status, statuses=ORDER_STATUSES, notice=params.get("done"),
                       **values)


@console_page("operator")
async def orders(page: Page) -> Response:
    return await _orders_page(page)


@console_page("operator")
async def cancel(page: Page) -> Response:
    """Cancel an order (its points, stock and limit go back); from the orders list, an
    item's page or a player's page, which the form names in `next`."""
    order_id = page.request.path_params["id"]
    back = safe_next(page.text("next"), "/console/shop/orders")
    result = await page.api(CANCEL, {"id": order_id, "reason": page.text("reason")})
    if ((result.data or {}).get("cancelOrder") or {}).get("order"):
        return page.redirect(back + ("&" if "?" in back else "?") + "done=cancelled")
    errors = _errors(result, "cancelOrder")
    return await _orders_page(page, 400, refused=order_id, reason=page.text("reason"),
                              cancel_errors=errors["errors"], general=errors["general"])


routes = [
    Route("/shop", catalogue, name="shop"),
    Route("/shop/items/new", new_item, methods=["GET", "POST"]),
    Route("/shop/items/{id}", item, methods=["GET", "POST"]),
    Route("/shop/items/{id}/stock", stock, methods=["POST"]),
    Route("/shop/items/{id}/codes", codes, methods=["POST"]),
    Route("/shop/orders", orders),
    Route("/shop/orders/{id}/cancel", cancel, methods=["POST"]),
]
