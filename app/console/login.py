"""Logging in to the console with the phone code, as players do; then the session rides
in Secure, HttpOnly, SameSite=Strict cookies limited to /console."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.console.api import ConsoleApi
from app.console.web import (
    ACCESS_COOKIE,
    COOKIE_PATH,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    clear_session,
    csrf_ok,
    field_errors,
    new_csrf_token,
    set_cookie,
    templates,
)
from app.i18n.middleware import LANGUAGE_COOKIE

REQUEST_CODE = """mutation($phone: String!) { requestLoginCode(phone: $phone) {
  retryAfterSeconds errors { code message field } } }"""
LOGIN = """mutation($phone: String!, $code: String!) { loginWithCode(phone: $phone, code: $code) {
  session { accessToken refreshToken } errors { code message field } } }"""
LOGOUT = "mutation { logout { ok } }"


def _login_page(request: Request, status_code: int = 200, **values) -> Response:
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    response = templates.TemplateResponse(
        request, "console/login.html", status_code=status_code,
        context={"csrf": csrf, "viewer": None, "errors": {}, "general": [], **values})
    set_cookie(response, CSRF_COOKIE, csrf)
    return response


async def login(request: Request) -> Response:
    """GET: the phone form. POST step=phone: send a code; POST step=code: log in."""
    if request.method == "GET":
        return _login_page(request)
    form = await request.form(max_files=0, max_fields=10)
    if not csrf_ok(request, form):
        return _login_page(request, 403, general=[
            "表单已过期，请重试。 The form expired; please try again."])
    phone = str(form.get("phone") or "")
    api = ConsoleApi(request, None)
    if form.get("step") == "code":
        result = await api(LOGIN, {"phone": phone, "code": str(form.get("code") or "")})
        session = ((result.data or {}).get("loginWithCode") or {}).get("session")
        if not session:
            errors, general = field_errors(result, "loginWithCode")
            return _login_page(request, 400, phone=phone, step="code", errors=errors,
                               general=general)
        response = RedirectResponse(f"{COOKIE_PATH}/", status_code=303)
        set_cookie(response, ACCESS_COOKIE, session["accessToken"])
        set_cookie(response, REFRESH_COOKIE, session["refreshToken"])
        set_cookie(response, CSRF_COOKIE, new_csrf_token())  # a new session, a new token
        return response
    result = await api(REQUEST_CODE, {"phone": phone})
    errors, general = field_errors(result, "requestLoginCode")
    if errors or general:
        return _login_page(request, 400, phone=phone, errors=errors, general=general)
    return _login_page(request, phone=phone, step="code")


async def logout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    response = RedirectResponse(f"{COOKIE_PATH}/login", status_code=303)
    if csrf_ok(request, form):
        await ConsoleApi(request, request.cookies.get(ACCESS_COOKIE))(LOGOUT)
        clear_session(response)
    return response


async def switch_language(request: Request) -> Response:
    """Remember the reader's choice (zh-CN or en) and go back to the page they were on."""
    chosen = request.query_params.get("to")
    back = request.query_params.get("next") or f"{COOKIE_PATH}/"
    if not back.startswith(f"{COOKIE_PATH}/") or back.startswith("//"):
        back = f"{COOKIE_PATH}/"
    response = RedirectResponse(back, status_code=303)
    if chosen in ("zh-CN", "en"):
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, path="/",
                            secure=True, httponly=True, samesite="lax")
    return response
