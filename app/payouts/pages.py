"""The operators' payout queue: cash payouts (red packets, merchant settlements) waiting,
being retried after a failed attempt, failed for good and paid, each with the provider's
last answer. Read only: the worker sends and retries on its own, and the API offers no
way to push a payout by hand (a failed payout's value has already gone back)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from app.console.web import Page, console_page

PAYOUTS = """query($status: PayoutStatus, $after: String) {
  payouts(status: $status, first: 50, after: $after) {
  edges { node { id purpose reference recipient amountFen status attempts retrying
    nextAttemptAt lastError providerReference createdAt finishedAt } }
  pageInfo { hasNextPage endCursor } } }"""
STATUSES = ("PENDING", "FAILED", "PAID")


@console_page("operator")
async def payouts(page: Page) -> Response:
    params = page.request.query_params
    status = params.get("status") if params.get("status") in STATUSES else "PENDING"
    result = await page.api(PAYOUTS, {"status": status, "after": params.get("after") or None})
    found = (result.data or {}).get("payouts") or {"edges": [], "pageInfo": {}}
    rows = [e["node"] for e in found["edges"]]
    return page.render("payouts/payouts.html", status=status, statuses=STATUSES, payouts=rows,
                       page_info=found["pageInfo"], general=[e["message"] for e in result.errors],
                       retrying=sum(1 for p in rows if p["retrying"]))


routes = [
    Route("/payouts", payouts, name="payouts"),
]
