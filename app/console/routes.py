"""The console's URL table: shared pages here, each domain's pages from its own module."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.accounts import pages as player_pages
from app.console.home import home
from app.console.login import login, logout, switch_language
from app.credits import pages as partner_pages
from app.market import pages as market_pages
from app.merchants import pages as merchant_pages
from app.payouts import pages as payout_pages
from app.regulator import pages as regulator_pages
from app.rulesets import pages as rules_pages
from app.shop import pages as shop_pages

DOMAIN_ROUTES = (rules_pages.routes, regulator_pages.routes, shop_pages.routes,
                 merchant_pages.routes, payout_pages.routes, partner_pages.routes,
                 player_pages.routes, market_pages.routes)


def console_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", switch_language),
        Mount("/static", StaticFiles(packages=[("app.console", "static")]), name="console-static"),
    ]
    for domain in DOMAIN_ROUTES:
        routes.extend(domain)
    return [Mount("/console", routes=routes)]
