"""What every console page shares: the viewer from the session cookies, the CSRF check,
the templates (with the reader's language and the city's time zone), form reading."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import wraps
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from app.console.api import ApiResult, ConsoleApi
from app.console.text import gettext
from app.i18n import current_language

ACCESS_COOKIE = "carbon_console"
REFRESH_COOKIE = "carbon_console_refresh"
CSRF_COOKIE = "carbon_csrf"
COOKIE_PATH = "/console"
STAFF_ROLES = frozenset({"designer", "operator", "merchant", "regulator", "admin"})

# Packages whose `templates/` folder holds console pages (beside the services they show).
TEMPLATE_PACKAGES = ("app.console", "app.rulesets", "app.regulator", "app.shop",
                     "app.merchants", "app.payouts", "app.credits", "app.accounts", "app.market")


def _template_dirs(packages: Iterable[str]) -> list[str]:
    found = []
    for package in packages:
        folder = resources.files(package) / "templates"
        if folder.is_dir():
            found.append(str(folder))
    return found


templates = Jinja2Templates(directory=_template_dirs(TEMPLATE_PACKAGES))
templates.env.globals["_"] = gettext
templates.env.globals["language"] = current_language


def local_time(value: str | datetime | None, zone: str = "Asia/Shanghai",
               with_seconds: bool = False) -> str:
    """A time as people of the city read it: local date and time, UTC offset named."""
    if value in (None, ""):
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(ZoneInfo(zone))
    offset = local.utcoffset()
    hours = int(offset.total_seconds() // 3600) if offset is not None else 0
    pattern = "%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M"
    return f"{local.strftime(pattern)} (UTC{hours:+d})"


@dataclass
class Viewer:
    id: str
    nickname: str
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)


@dataclass
class Page:
    """One console request: the API as the viewer, and rendering with the shared layout."""

    request: Request
    api: ConsoleApi
    viewer: Viewer
    form: FormData | None = None
    json: Any = None  # the body of a page script's fetch
    cookies: dict[str, str] = field(default_factory=dict)  # renewed tokens to send back

    @property
    def zone(self) -> str:
        return self.request.app.state.settings.default_timezone

    def csrf_token(self) -> str:
        return self.request.cookies.get(CSRF_COOKIE, "")

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        response = templates.TemplateResponse(
            self.request, template, status_code=status_code,
            context={"viewer": self.viewer, "csrf": self.csrf_token(), "page": self,
                     "local": lambda v, s=False: local_time(v, self.zone, s), **values})
        return self.finish(response)

    def fragment(self, template: str, **values: Any) -> str:
        """A part of a page as HTML, for a page script to put in place."""
        return templates.get_template(template).render(
            viewer=self.viewer, csrf=self.csrf_token(), page=self,
            local=lambda v, s=False: local_time(v, self.zone, s), **values)

    def period(self, default_days: int) -> tuple[str, str]:
        """The `since` and `until` query dates (ISO), by default the last `default_days`
        local days of the city up to today."""
        today = datetime.now(ZoneInfo(self.zone)).date()
        params = self.request.query_params
        since, until = params.get("since", ""), params.get("until", "")
        try:
            date.fromisoformat(since)
        except ValueError:
            since = (today - timedelta(days=default_days - 1)).isoformat()
        try:
            date.fromisoformat(until)
        except ValueError:
            until = today.isoformat()
        return since, until

    def text(self, name: str) -> str:
        """A form field as text ('' when absent)."""
        value = self.form.get(name) if self.form else None
        return value if isinstance(value, str) else ""

    def texts(self, name: str) -> list[str]:
        """A repeated form field's text values (none when absent)."""
        values = self.form.getlist(name) if self.form else []
        return [v for v in values if isinstance(v, str)]

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        for name, value in self.cookies.items():
            set_cookie(response, name, value)
        return response


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, secure=True,
                        httponly=True, samesite="strict")


def clear_session(response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path=COOKIE_PATH, secure=True, httponly=True,
                               samesite="strict")


ME = "{ me { id nickname roles } }"
REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) {
  session { accessToken refreshToken } errors { code message } } }"""


async def viewer_of(request: Request) -> tuple[ConsoleApi, Viewer | None, dict[str, str]]:
    """The console user from the cookies, renewing an expired access token once."""
    api = ConsoleApi(request, request.cookies.get(ACCESS_COOKIE))
    renewed: dict[str, str] = {}
    if not api.access_token and not request.cookies.get(REFRESH_COOKIE):
        return api, None, renewed
    me = await api(ME)
    if me.error_code == "UNAUTHENTICATED" and request.cookies.get(REFRESH_COOKIE):
        refreshed = await api(REFRESH, {"t": request.cookies[REFRESH_COOKIE]})
        session = ((refreshed.data or {}).get("refreshSession") or {}).get("session")
        if session:
            api.access_token = session["accessToken"]
            renewed = {ACCESS_COOKIE: session["accessToken"],
                       REFRESH_COOKIE: session["refreshToken"]}
            me = await api(ME)
    player = (me.data or {}).get("me")
    if not player:
        return api, None, renewed
    roles = frozenset(r.lower() for r in player["roles"])  # GraphQL enum names: DESIGNER
    return api, Viewer(player["id"], player["nickname"], roles), renewed


def csrf_ok(request: Request, form: FormData | None) -> bool:
    """Double submit: the form (or X-CSRF-Token header) repeats the HttpOnly cookie's value,
    which another site can neither read nor set; cookies are also SameSite=Strict."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get("x-csrf-token") or (form.get("csrf") if form else None) or ""
    return bool(expected) and isinstance(sent, str) and hmac.compare_digest(expected, sent)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


Handler = Callable[[Page], Awaitable[Response]]


def console_page(*roles: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A page for staff with one of `roles` (any staff role when none is named). Others are
    sent to log in, or see that the console is not for them; a POST needs the CSRF token."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            api, viewer, renewed = await viewer_of(request)
            if viewer is None:
                response = RedirectResponse(f"{COOKIE_PATH}/login", status_code=303)
                clear_session(response)
                return response
            page = Page(request, api, viewer, cookies=renewed)
            allowed = roles or tuple(STAFF_ROLES)
            if not viewer.has(*allowed):
                return page.render("console/forbidden.html", status_code=403)
            if request.method == "POST":
                if request.headers.get("content-type", "").startswith("application/json"):
                    try:
                        page.json = await request.json()
                    except ValueError:
                        page.json = None
                    if not isinstance(page.json, dict):
                        return JSONResponse({"error": "a JSON object"}, status_code=400)
                else:
                    page.form = await request.form(max_files=0, max_fields=2000)
                if not csrf_ok(request, page.form):
                    return page.render("console/forbidden.html", status_code=403,
                                       reason=gettext("The form expired; reload the page and try again."))
            return await handler(page)

        return endpoint

    return decorate


def field_errors(result: ApiResult, payload: str) -> tuple[dict[str, list[str]], list[str]]:
    """A mutation's `errors { code message field }` by field, and those without a field
    (with top-level GraphQL errors), for showing each at its place in a form."""
    by_field: dict[str, list[str]] = {}
    general = [e.get("message", "") for e in result.errors]
    body = (result.data or {}).get(payload) or {}
    for error in body.get("errors") or []:
        if error.get("field"):
            by_field.setdefault(error["field"], []).append(error["message"])
        else:
            general.append(error["message"])
    return by_field, general
