"""Every message a person reads, in Chinese (the default) and English, from the catalogues.

The catalogue tests extract the msgids from the source with Babel (`_()` and `N_()` in
the Python source and the console's templates, as `python -m app.i18n.catalogue` does)
and fail on a msgid without a Chinese translation, on placeholders that differ between a
msgid and its translation, on catalogue entries the source no longer uses, and on a
refusal written as a bare string instead of a message.
The API tests read the same refusals over HTTP and websockets in each language.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from babel.messages.catalog import PYTHON_FORMAT
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from app.errors import ErrorCode, ServiceError, invalid
from app.i18n import language
from app.i18n.catalogue import ROOT, SOURCE_DIRS, extract
from app.i18n.messages import N_, _, read_catalogue, translate
from tests.conftest import LOGIN_WITH_CODE, REQUEST_CODE, GraphQLClient
from tests.test_shop import REDEEM, create_item, funded_player, staff

CHINESE = re.compile("[\u4e00-\u9fff]")
LANGUAGES = ("zh-CN", "en")


def placeholders(text: str) -> set[str]:
    """The `%(name)s` placeholders of a message, as Babel reads python-format strings."""
    return {m.group(1) for m in PYTHON_FORMAT.finditer(text) if m.group(1)}


@pytest.fixture(scope="module")
def source_messages():
    return extract()


def _where(message) -> str:
    return ", ".join(sorted({path for path, _ in message.locations}))


# --- the catalogues -----------------------------------------------------------------------

def test_every_message_has_a_chinese_translation(source_messages):
    chinese = read_catalogue("zh-CN")
    missing = [f"{message.id!r} ({_where(message)})" for message in source_messages
               if message.id and not (chinese.get(message.id) and chinese[message.id].string
                                      and not chinese[message.id].fuzzy)]
    assert not missing, ("msgids without a Chinese msgstr: run `.venv/bin/python -m "
                         "app.i18n.catalogue`, then translate them in "
                         "app/i18n/locales/zh_CN/LC_MESSAGES/messages.po:\n" + "\n".join(missing))


def test_every_message_is_in_the_english_catalogue(source_messages):
    english = read_catalogue("en")
    missing = [repr(message.id) for message in source_messages
               if message.id and english.get(message.id) is None]
    assert not missing, ("msgids missing from the English catalogue: run `.venv/bin/python "
                         "-m app.i18n.catalogue`:\n" + "\n".join(missing))


def test_the_catalogues_hold_no_message_the_source_no_longer_uses(source_messages):
    used = {message.id for message in source_messages if message.id}
    for tag in LANGUAGES:
        stale = sorted(m.id for m in read_catalogue(tag) if m.id and m.id not in used)
        assert not stale, (f"{tag}: entries nobody uses (`.venv/bin/python -m "
                           f"app.i18n.catalogue` removes them):\n" + "\n".join(map(repr, stale)))


@pytest.mark.parametrize("tag", LANGUAGES)
def test_translations_keep_the_placeholders_of_their_msgid(tag):
    catalogue = read_catalogue(tag)
    wrong = []
    for message in catalogue:
        if message.id and message.string:
            if placeholders(message.id) != placeholders(message.string):
                wrong.append(f"{message.id!r} -> {message.string!r}")
    # and Babel's own checks (python-format types, plural forms)
    wrong += [f"{message.id!r}: {'; '.join(map(str, errors))}"
              for message, errors in catalogue.check()]
    assert not wrong, "\n".join(wrong)


# What takes a refusal's message, and at which argument (0-based).
REFUSALS = {"ServiceError": 1, "invalid": 1, "AuthenticationError": 0, "GraphQLError": 0,
            "HTTPException": 1, "refusal": 1, "too_complex": 0, "unauthenticated": 0,
            "refused_request": 1, "BadRequest": 0, "_refused": 0, "_error": 1, "_too_many": 1}


def _bare_text(node: ast.expr) -> bool:
    """A message written as text (a literal, an f-string, text + text), not as `_()`/`N_()`."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    return isinstance(node, ast.BinOp) and (_bare_text(node.left) or _bare_text(node.right))


def test_refusals_are_written_as_messages_not_bare_text():
    """A new `ServiceError(code, "text")` would reach readers untranslated (and unnoticed by
    the extraction, which only sees `_()` and `N_()`)."""
    bare = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "cli.py":  # command-line output stays English
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                position = REFUSALS.get(name or "")
                if position is not None and len(node.args) > position \
                        and _bare_text(node.args[position]):
                    bare.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}(…)")
    assert not bare, "wrap these messages in N_(...) or _(...):\n" + "\n".join(bare)


# --- rendering ----------------------------------------------------------------------------

def test_a_service_error_is_rendered_in_the_language_current_where_it_is_read():
    with language("en"):
        error = ServiceError(ErrorCode.OUT_OF_STOCK, N_("Only %(left)s left.", left=2), "quantity")
    with language("zh-CN"):
        assert error.message == "库存不足，仅剩 2 件。" == str(error)
    with language("en"):
        assert error.message == "Only 2 left."
    assert invalid("x", "already words").message == "already words"  # text stays as it is


def test_a_message_missing_from_the_catalogues_reads_as_its_english_msgid():
    with language("zh-CN"):
        assert _("Nobody translated %(what)s.", what="this") == "Nobody translated this."
    assert translate("Wrong code; %(left)s tries left.", {"left": 1}, "zh-CN") == \
        "验证码错误，还可尝试 1 次。"


# --- over the API -------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def reader(app, accept_language: str | None) -> AsyncIterator[GraphQLClient]:
    """A client sending `Accept-Language: accept_language` (nothing when None)."""
    headers = {"Accept-Language": accept_language} if accept_language else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers=headers) as http:
        yield GraphQLClient(http, app)


# (Accept-Language, the language the API answers in)
READERS = [("zh-CN", "zh-CN"), ("en", "en"), (None, "zh-CN"), ("en-GB,en;q=0.9,zh;q=0.5", "en"),
           ("zh-Hans-CN,zh;q=0.9", "zh-CN"), ("fr-FR", "zh-CN")]


def in_language(message: str, tag: str) -> bool:
    return bool(CHINESE.search(message)) == (tag == "zh-CN")


@pytest.mark.parametrize(("accept_language", "tag"), READERS)
async def test_a_wrong_login_code_is_refused_in_the_readers_language(app, accept_language, tag):
    phone = "+8613800138000"
    async with reader(app, accept_language) as gql:
        assert (await gql(REQUEST_CODE, {"phone": phone}))["data"]["requestLoginCode"]["errors"] == []
        wrong = "000000" if gql.sent_code(phone) != "000000" else "111111"
        result = await gql(LOGIN_WITH_CODE, {"phone": phone, "code": wrong})
    [error] = result["data"]["loginWithCode"]["errors"]
    assert (error["code"], error["field"]) == ("INVALID_CODE", "code")
    assert error["message"] == N_("Wrong code; %(left)s tries left.", left=4).render(tag)
    assert in_language(error["message"], tag), error
    if tag == "zh-CN":
        assert error["message"] == "验证码错误，还可尝试 4 次。"


async def test_an_out_of_stock_redemption_is_refused_in_the_readers_language(gql, app):
    operator = await staff(gql, "+8613800138001")
    player = await funded_player(gql, "+8613800138002", 1000)
    item = await create_item(gql, operator["accessToken"], stock=1)
    key = 0
    for accept_language, tag in READERS[:3]:
        async with reader(app, accept_language) as http:
            key += 1
            first = await http(REDEEM, {"itemId": item["id"], "quantity": 2,
                                        "idempotencyKey": f"k{key}"}, token=player["accessToken"])
            [short] = first["data"]["redeem"]["errors"]
            assert short["code"] == "OUT_OF_STOCK"
            assert short["message"] == N_("Only %(left)s left.", left=1).render(tag)
            assert in_language(short["message"], tag), short
    async with reader(app, "zh-CN") as http:
        taken = await http(REDEEM, {"itemId": item["id"], "quantity": 1, "idempotencyKey": "last"},
                           token=player["accessToken"])
        assert taken["data"]["redeem"]["errors"] == []
    for accept_language, tag in READERS[:3]:
        async with reader(app, accept_language) as http:
            key += 1
            again = await http(REDEEM, {"itemId": item["id"], "quantity": 1,
                                        "idempotencyKey": f"k{key}"}, token=player["accessToken"])
            [sold_out] = again["data"]["redeem"]["errors"]
            assert sold_out["code"] == "OUT_OF_STOCK"
            assert sold_out["message"] == {"zh-CN": "该商品已兑完。", "en": "Sold out."}[tag]


async def test_document_limits_are_refused_in_the_readers_language(make_app):
    app = await make_app(graphql_max_depth=2, graphql_max_aliases=3)
    deep = 'mutation { loginWithCode(phone: "1", code: "1") { session { player { id } } } }'
    aliased = "{ " + " ".join(f"a{i}: __typename" for i in range(5)) + " }"
    for accept_language, tag in READERS[:3]:
        async with reader(app, accept_language) as gql:
            result = await gql(deep)
            [error] = result["errors"]
            assert result.get("data") is None and error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
            assert error["message"] == N_("The operation exceeds the maximum depth of %(max)s.",
                                          max=2).render(tag)
            assert in_language(error["message"], tag), error
            [too_many] = (await gql(aliased))["errors"]
            assert too_many["extensions"]["code"] == "QUERY_TOO_COMPLEX"
            assert in_language(too_many["message"], tag), too_many
    async with reader(app, "zh-CN") as gql:
        assert (await gql(deep))["errors"][0]["message"] == "请求的操作超过最大查询深度 2。"


async def test_the_token_limit_is_refused_in_the_readers_language(app):
    query = "{ me { " + " ".join("id" for _ in range(5000)) + " } }"
    for accept_language, tag in READERS[:3]:
        async with reader(app, accept_language) as gql:
            [error] = (await gql(query))["errors"]
            assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
            assert error["message"] == N_("The operation has more than %(max)s tokens.",
                                          max=3000).render(tag)


async def test_graphql_cores_own_messages_stay_english_and_keep_their_codes(app):
    async with reader(app, "zh-CN") as gql:
        unknown = await gql("{ nope }")
        syntax = await gql("{ me { id ")
        logged_out = await gql("{ me { id } }")
    assert "Cannot query field" in unknown["errors"][0]["message"]
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert syntax["errors"][0]["message"].startswith("Syntax Error")
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    [error] = logged_out["errors"]  # ours, beside them: Chinese
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and CHINESE.search(error["message"])


async def test_refused_http_requests_are_in_the_readers_language(app):
    for accept_language, tag in READERS[:3]:
        async with reader(app, accept_language) as gql:
            response = await gql.http.post("/graphql", content=b"{not json",
                                           headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.json()["errors"][0]["message"] == \
            N_("The request body is not valid JSON.").render(tag)


async def test_the_language_cookie_beats_accept_language(app):
    async with reader(app, "zh-CN") as gql:
        response = await gql.http.post("/graphql", json={"query": "{ me { id } }"},
                                       headers={"Cookie": "carbon_lang=en"})
    [error] = response.json()["errors"]
    assert error["message"] == "Log in first: send Authorization: Bearer <accessToken>."


@pytest.mark.parametrize(("accept_language", "tag"), READERS[:3])
async def test_websocket_operations_are_refused_in_the_connections_language(
        app, accept_language, tag):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app), base_url="http://t",
                                 headers=headers) as client, \
            aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init"})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ me { id } }"}})
        refused = await ws.receive_json(timeout=10)
        assert (await ws.receive_json(timeout=10)) == {"id": "1", "type": "complete"}
        aliased = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
        await ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": aliased}})
        too_many = await ws.receive_json(timeout=10)
    assert (refused["id"], refused["type"]) == ("1", "next")
    [error] = refused["payload"]["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == N_("Log in first: send Authorization: Bearer <accessToken>.") \
        .render(tag)
    assert (too_many["id"], too_many["type"]) == ("2", "error")
    [limit] = too_many["payload"]
    assert limit["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert limit["message"] == N_("The operation uses more than %(max)s aliases.",
                                  max=30).render(tag)
