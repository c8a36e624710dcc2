"""The console's first page: what this viewer's roles let them do."""

from __future__ import annotations

from starlette.responses import Response

from app.console.web import Page, console_page


@console_page()
async def home(page: Page) -> Response:
    return page.render("console/home.html")
