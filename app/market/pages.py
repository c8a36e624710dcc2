"""The market's console pages: the inventory, the certificates and a printable certificate
(operators and the regulator), and for operators the forms that create a buyer and sell or
retire certified grams. Each is a client of the GraphQL API run in process."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from app.console.forms import errors_at_fields
from app.console.text import gettext as _
from app.console.web import Page, console_page

ERRORS = "errors { code message field }"
CERTIFICATE = """number mode buyerId buyerName buyerKind grams priceFenPerTonne totalFen
  shopSharePercent shopFundFen periods methodologies { methodologyId version }
  ranges { batchCode period methodologyId methodologyVersion firstSerial lastSerial grams }
  note createdAt digest"""
MARKET = f"""query($after: String) {{
  marketInventory {{ certifiedGrams adjustedGrams soldGrams retiredGrams availableGrams
    revenueFen shopFundFen shopSharePercent }}
  certificates(first: 50, after: $after) {{ edges {{ node {{ {CERTIFICATE} }} }}
    pageInfo {{ hasNextPage endCursor }} }} }}"""
BUYERS = "{ buyers(first: 100) { edges { node { id name kind } } } }"
LOOKUP = f"query($number: String!) {{ certificate(number: $number) {{ {CERTIFICATE} }} }}"
CREATE_BUYER = f"""mutation($name: String!, $kind: BuyerKind!, $contact: String, $key: String!) {{
  createBuyer(name: $name, kind: $kind, contact: $contact, idempotencyKey: $key) {{
    buyer {{ id }} {ERRORS} }} }}"""
SELL = f"""mutation($buyer: ID!, $grams: Long!, $price: Int!, $key: String!, $note: String) {{
  MODE(buyerId: $buyer, grams: $grams, priceFenPerTonne: $price, idempotencyKey: $key,
       note: $note) {{ certificate {{ number }} {ERRORS} }} }}"""
KINDS = ("COMPANY", "EVENT", "ORGANISATION", "INDIVIDUAL")
MODES = {"SALE": "sellCertifiedGrams", "RETIREMENT": "retireCertifiedGrams"}


def _whole(text: str) -> int | None:
    try:
        return int(text.replace(",", "").strip())
    except ValueError:
        return None


async def _market_page(page: Page, status_code: int = 200, **values: Any) -> Response:
    after = page.request.query_params.get("after") or None
    result = await page.api(MARKET, {"after": after})
    data = result.data or {}
    found = data.get("certificates") or {"edges": [], "pageInfo": {}}
    buyers: list[dict] = []
    if page.viewer.has("operator"):
        listed = await page.api(BUYERS)
        buyers = [e["node"] for e in ((listed.data or {}).get("buyers") or {}).get("edges", [])]
    values.setdefault("general", [e["message"] for e in result.errors])
    values.setdefault("errors", {})
    values.setdefault("values", {})
    return page.render("market/market.html", status_code=status_code,
                       inventory=data.get("marketInventory"),
                       certificates=[e["node"] for e in found["edges"]],
                       page_info=found["pageInfo"], buyers=buyers, kinds=KINDS,
                       buyer_key=values.pop("buyer_key", str(uuid.uuid4())),
                       sale_key=values.pop("sale_key", str(uuid.uuid4())),
                       notice=page.request.query_params.get("done"), **values)


@console_page("operator", "regulator")
async def market(page: Page) -> Response:
    return await _market_page(page)


@console_page("operator")
async def create_buyer(page: Page) -> Response:
    key = page.text("idempotency_key")
    form = {name: page.text(name) for name in ("name", "kind", "contact")}
    kind = form["kind"] if form["kind"] in KINDS else "COMPANY"
    result = await page.api(CREATE_BUYER, {"name": form["name"], "kind": kind,
                                           "contact": form["contact"] or None, "key": key})
    if ((result.data or {}).get("createBuyer") or {}).get("buyer"):
        return page.redirect("/console/market?done=buyer")
    errors, general = errors_at_fields(result, "createBuyer", ("name", "contact"))
    return await _market_page(page, 400, errors=errors, general=general, buyer_key=key,
                              values=form)


@console_page("operator")
async def sell(page: Page) -> Response:
    key = page.text("idempotency_key")
    form = {name: page.text(name) for name in ("buyer", "grams", "price", "mode", "note")}
    mode = MODES.get(form["mode"], MODES["SALE"])
    grams, price = _whole(form["grams"]), _whole(form["price"])
    errors: dict[str, list[str]] = {}
    if grams is None:
        errors["grams"] = [_("A whole number of grams.")]
    if price is None:
        errors["priceFenPerTonne"] = [_("A whole number of fen per tonne.")]
    if not form["buyer"]:
        errors["buyerId"] = [_("Choose a buyer.")]
    if errors:
        return await _market_page(page, 400, errors=errors, sale_key=key, values=form)
    result = await page.api(SELL.replace("MODE", mode), {
        "buyer": form["buyer"], "grams": grams, "price": price, "key": key,
        "note": form["note"] or None})
    made = ((result.data or {}).get(mode) or {}).get("certificate")
    if made:
        return page.redirect(f"/console/market/certificates/{made['number']}")
    errors, general = errors_at_fields(result, mode, ("buyerId", "grams", "priceFenPerTonne",
                                                      "note"))
    return await _market_page(page, 400, errors=errors, general=general, sale_key=key,
                              values=form)


@console_page("operator", "regulator")
async def certificate(page: Page) -> Response:
    number = page.request.path_params["number"]
    result = await page.api(LOOKUP, {"number": number})
    found = (result.data or {}).get("certificate")
    if found is None:
        return page.render("console/forbidden.html", status_code=404,
                           reason=_("There is no certificate %(number)s.", number=number))
    return page.render("market/certificate.html", c=found)


routes = [
    Route("/market", market, name="market"),
    Route("/market/buyers", create_buyer, methods=["POST"]),
    Route("/market/sales", sell, methods=["POST"]),
    Route("/market/certificates/{number}", certificate),
]
