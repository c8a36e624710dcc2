"""A player's data export and account closing, end to end over GraphQL, the partner HTTP
endpoint and the console."""
# ruff: noqa: F811  (the partner-link tests' fixtures, imported by name, are parameters here)

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx

from app.accounts.models import Player
from app.clock import utcnow
from app.leaderboards.rebuild import rebuild_from_ledger
from app.ledger.models import LedgerLine
from app.ledger.service import player_owner
from app.ledger.verify import verify_ledger
from app.privacy.closing import CLOSED_NICKNAME
from tests import test_certification as certification
from tests import test_host_token_login as host
from tests import test_miniprogram_login as mp
from tests import test_partner_link_offers as offers
from tests.conftest import ENGLISH, GraphQLClient
from tests.partner_client import CST, send, trip
from tests.test_console import console_login, csrf_of
from tests.test_miniprogram_login import alipay_keys, platforms, stub  # noqa: F401  (fixtures)
from tests.test_partner_links import (  # noqa: F401  (banks_app, gql, http: fixtures)
    SECRETS,
    bank_send,
    banks_app,
    by_ref,
    gql,
    http,
    link,
)

ALICE_PHONE, BOB_PHONE = "+8613900139001", "+8613900139002"
OPERATOR_PHONE, REGULATOR_PHONE = "+8613900139091", "+8613900139093"
ALICE_NICK, BOB_NICK = "绿色出行的阿丽", "步行者Bob"
ALICE_CARD = "6222-0200-9988-7766"
AVATAR = "https://img.example.cn/alice.png"

PROFILE = """mutation($input: ProfileInput!) { updateProfile(input: $input) {
  player { nickname } errors { code message field } } }"""
EXPORT = """mutation { exportMyData { data generatedAt retryAfterSeconds
  errors { code message field } } }"""
CLOSE = """mutation($confirm: Boolean!, $key: String!) {
  closeMyAccount(confirm: $confirm, idempotencyKey: $key) { closedAt errors { code message field } } }"""
ADD_FRIEND = """mutation($id: ID!) { addFriend(playerId: $id) { ok errors { code message } } }"""
ME = """{ me { id nickname city avatarUrl closedAt balances { carbonPoints reductionGrams }
  friends { id nickname } partnerLinks { id partnerId referenceHint } } }"""
BOARDS = """query($scope: LeaderboardScope!) { leaderboard(scope: $scope, period: ALL_TIME, first: 50) {
  entries { rank score player { id nickname } } around { player { id nickname } } } }"""
OPERATOR_VIEW = """query($id: ID!, $phone: String!) {
  playerByPhone(phone: $phone) { id nickname }
  player(id: $id) { id nickname city avatarUrl closedAt roles
    balances { carbonPoints growth energy reductionGrams }
    ledger(first: 100) { edges { node { amount asset } } }
    activities(first: 100) { edges { node { id reductionGrams } } }
    friends { id nickname } partnerLinks { referenceHint } } }"""
FIGURES = """query($since: Date!, $until: Date!) { programmeFigures(since: $since, until: $until) {
  csv days { date participants reductionGrams } } }"""
RECORDS = """{ partnerRecords(first: 50) { edges { node { payload } } } }"""
REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) {
  session { accessToken } errors { code message } } }"""


async def staff(gql: GraphQLClient, phone: str, role: str) -> str:
    session = await gql.login(phone)
    await Player.filter(id=session["player"]["id"]).update(roles=["player", role])
    return session["accessToken"]


async def two_players(gql: GraphQLClient, http: httpx.AsyncClient) -> tuple[dict, dict]:
    """Alice (profile, a bank card linked, a bank trip and a metro trip, follows Bob) and
    Bob (a metro trip, follows Alice)."""
    alice, bob = await gql.login(ALICE_PHONE), await gql.login(BOB_PHONE)
    for session, nick, city in ((alice, ALICE_NICK, "shenzhen"), (bob, BOB_NICK, "beijing")):
        changed = await gql(PROFILE, {"input": {"nickname": nick, "city": city,
                                                "avatarUrl": AVATAR if session is alice else None}},
                            token=session["accessToken"])
        assert changed["data"]["updateProfile"]["errors"] == [], changed
    assert (await link(gql, http, alice["accessToken"], "cmb", ALICE_CARD))["status"] == "linked"
    assert [r["status"] for r in await bank_send(http, "cmb", [by_ref("c-1", ALICE_CARD)])] \
        == ["accepted"]
    sent = await send(http, [trip("m-a", alice["player"]["id"], ago=timedelta(hours=2)),
                             trip("m-b", bob["player"]["id"], kind="bus", meters=10000, minutes=40)])
    assert [r["status"] for r in sent.json()["results"]] == ["accepted", "accepted"]
    for me, other in ((alice, bob), (bob, alice)):
        added = await gql(ADD_FRIEND, {"id": other["player"]["id"]}, token=me["accessToken"])
        assert added["data"]["addFriend"]["errors"] == [], added
    return alice, bob


async def test_the_export_holds_the_players_data_and_nobody_elses(gql, http):
    alice, bob = await two_players(gql, http)
    result = await gql(EXPORT, token=alice["accessToken"])
    payload = result["data"]["exportMyData"]
    assert payload["errors"] == [] and payload["generatedAt"], result
    raw = payload["data"]
    data = json.loads(raw)

    assert data["profile"] == {**data["profile"], "id": alice["player"]["id"], "phone": ALICE_PHONE,
                               "nickname": ALICE_NICK, "city": "shenzhen", "avatarUrl": AVATAR}
    assert [s["method"] for s in data["sessions"]] == ["phone"]
    assert not any("token" in key.lower() or "hash" in key.lower()
                   for s in data["sessions"] for key in s)
    assert [(p["partnerId"], p["externalId"], p["active"]) for p in data["partnerLinks"]] \
        == [("cmb", ALICE_CARD, True)]
    # metro 12850 m = 600 g and 75 points (travel-v1), once from the bank, once from the metro
    assert [(a["reductionGrams"], a["status"]) for a in data["activities"]] \
        == [(600, "accepted"), (600, "accepted")]
    assert all(a["provenance"]["factors"] for a in data["activities"])
    # each factor with its source, from the methodology version the activity names
    assert all(set(a["provenance"]["sources"]) == set(a["provenance"]["factors"])
               and a["provenance"]["sources"]["metro.mode"] for a in data["activities"])
    grams = sum(line["amount"] for line in data["ledgerLines"] if line["asset"] == "CO2E_GRAMS")
    points = sum(line["amount"] for line in data["ledgerLines"] if line["asset"] == "CARBON_POINT")
    assert (grams, points) == (1200, 150) == (data["balances"]["CO2E_GRAMS"],
                                             data["balances"]["CARBON_POINT"])
    assert data["certifiedReductions"] == [] and data["withdrawals"] == []  # no period closed
    assert data["planet"]["state"]
    assert data["friends"] == [{"playerId": bob["player"]["id"], "since": data["friends"][0]["since"]}]
    # nothing of Bob's but the id Alice follows: not his phone, nickname, city or trip
    for secret in (BOB_PHONE, BOB_PHONE[3:], BOB_NICK, "beijing"):
        assert secret not in raw
    assert "code_hash" not in raw and "token_hash" not in raw

    # at most five an hour: the sixth is refused, with the wait
    for _ in range(4):
        assert (await gql(EXPORT, token=alice["accessToken"]))["data"]["exportMyData"]["data"]
    refused = (await gql(EXPORT, token=alice["accessToken"]))["data"]["exportMyData"]
    assert refused["data"] is None and refused["errors"][0]["code"] == "RATE_LIMITED"
    assert refused["retryAfterSeconds"] > 0
    # Bob's allowance is his own
    assert (await gql(EXPORT, token=bob["accessToken"]))["data"]["exportMyData"]["errors"] == []


async def test_closing_erases_the_person_everywhere_and_keeps_the_ledger(gql, http, banks_app):
    alice, bob = await two_players(gql, http)
    alice_id = alice["player"]["id"]
    operator = await staff(gql, OPERATOR_PHONE, "operator")
    regulator = await staff(gql, REGULATOR_PHONE, "regulator")
    before = (await gql(OPERATOR_VIEW, {"id": alice_id, "phone": ALICE_PHONE},
                        token=operator))["data"]
    assert before["playerByPhone"]["nickname"] == ALICE_NICK
    lines_before = sorted((line.asset, line.amount) for line in await LedgerLine.filter(
        account__owner=player_owner(alice_id)))
    board = (await gql(BOARDS, {"scope": "GLOBAL"}, token=bob["accessToken"]))["data"]
    assert alice_id in {e["player"]["id"] for e in board["leaderboard"]["entries"]}

    unconfirmed = await gql(CLOSE, {"confirm": False, "key": "close-1"}, token=alice["accessToken"])
    assert unconfirmed["data"]["closeMyAccount"]["errors"][0]["field"] == "confirm"
    assert (await Player.get(id=alice_id)).closed_at is None
    closed = (await gql(CLOSE, {"confirm": True, "key": "close-1"},
                        token=alice["accessToken"]))["data"]["closeMyAccount"]
    assert closed["errors"] == [] and closed["closedAt"], closed

    # the old tokens are refused, a retry of the closing too, with the reason
    for query, variables in ((ME, None), (CLOSE, {"confirm": True, "key": "close-1"})):
        refused = await gql(query, variables, token=alice["accessToken"])
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert refused["errors"][0]["message"] == "This account was closed."
    renewed = (await gql(REFRESH, {"t": alice["refreshToken"]}))["data"]["refreshSession"]
    assert renewed["session"] is None and renewed["errors"][0]["code"] == "UNAUTHENTICATED"

    # every query and page that shows players: no phone number, no nickname
    seen: list[str] = []
    bob_view = await gql(ME, token=bob["accessToken"])
    seen.append(json.dumps(bob_view, ensure_ascii=False))
    assert bob_view["data"]["me"]["friends"] == []
    for scope in ("GLOBAL", "CITY", "FRIENDS"):
        board = await gql(BOARDS, {"scope": scope}, token=bob["accessToken"])
        assert "errors" not in board, board
        seen.append(json.dumps(board, ensure_ascii=False))
        assert alice_id not in seen[-1]
    refollow = await gql(ADD_FRIEND, {"id": alice_id}, token=bob["accessToken"])
    assert refollow["data"]["addFriend"]["errors"][0]["code"] == "NOT_FOUND"
    after = (await gql(OPERATOR_VIEW, {"id": alice_id, "phone": ALICE_PHONE}, token=operator))
    seen.append(json.dumps(after, ensure_ascii=False))
    view = after["data"]
    assert view["playerByPhone"] is None
    assert view["player"]["nickname"] == CLOSED_NICKNAME and view["player"]["closedAt"]
    assert (view["player"]["city"], view["player"]["avatarUrl"]) == (None, None)
    assert view["player"]["friends"] == [] and view["player"]["partnerLinks"] == []
    seen.append(json.dumps(await gql(RECORDS, token=operator), ensure_ascii=False))
    today = utcnow().astimezone(CST).date()
    figures = await gql(FIGURES, {"since": str(today - timedelta(days=1)), "until": str(today)},
                        token=regulator)
    assert "errors" not in figures, figures
    seen.append(json.dumps(figures, ensure_ascii=False))

    # the history stays, under the pseudonymous id: the same lines, the same sums
    assert view["player"]["balances"] == before["player"]["balances"]
    assert view["player"]["ledger"] == before["player"]["ledger"]
    assert view["player"]["activities"] == before["player"]["activities"]
    assert sorted((line.asset, line.amount) for line in await LedgerLine.filter(
        account__owner=player_owner(alice_id))) == lines_before
    assert (await verify_ledger()).ok
    redis = banks_app.state.services.redis
    async for key in redis.scan_iter(match="lb:*"):
        assert await redis.zscore(key, alice_id) is None, key
    # a rebuild from the ledger leaves the closed account out too, and Bob in
    settings = banks_app.state.services.settings
    assert await rebuild_from_ledger(redis, settings.default_timezone) == 1  # Bob's one line
    members = {m async for key in redis.scan_iter(match="lb:*") for m in await redis.zrange(key, 0, -1)}
    assert members == {bob["player"]["id"]}

    # the console's player pages, as an operator
    transport = httpx.ASGITransport(app=banks_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test",
                                 headers={"Accept-Language": "en"}) as console:
        await console_login(console, banks_app, "+8613900139094", "operator", "regulator")
        page = await console.get(f"/console/players/{alice_id}")
        assert page.status_code == 200 and CLOSED_NICKNAME in page.text
        assert 'id="closed"' in page.text and "closed this account" in page.text
        seen.append(page.text)
        for path in ("/console/partners", "/console/figures", "/console/shop/orders", "/console/"):
            page = await console.get(path)
            assert page.status_code == 200, (path, page.status_code)
            seen.append(page.text)
        csrf = csrf_of((await console.get("/console/players")).text)
        found = await console.post("/console/players", data={"csrf": csrf, "phone": ALICE_PHONE})
        assert found.status_code == 404
    everything = "\n".join(seen)
    for secret in (ALICE_PHONE, ALICE_PHONE[3:], ALICE_NICK, ALICE_CARD, AVATAR):
        assert secret not in everything, secret

    # the partners' later records name nobody: no more credit for a closed account
    [by_card] = await bank_send(http, "cmb", [by_ref("c-2", ALICE_CARD)])
    [by_id] = (await send(http, [trip("m-a2", alice_id)])).json()["results"]
    assert by_card["status"] != "accepted" and by_id["status"] != "accepted"
    assert by_id["reason"] == "UNKNOWN_SUBJECT"

    # the same phone number logs in to a new, empty account
    again = await gql.login(ALICE_PHONE)
    assert again["player"]["id"] != alice_id and again["player"]["nickname"] != ALICE_NICK
    fresh = (await gql(ME, token=again["accessToken"]))["data"]["me"]
    assert fresh["balances"] == {"carbonPoints": 0, "reductionGrams": 0}
    assert fresh["partnerLinks"] == [] and fresh["closedAt"] is None


async def test_a_staff_account_is_not_closed(gql):
    operator = await staff(gql, OPERATOR_PHONE, "operator")
    refused = (await gql(CLOSE, {"confirm": True, "key": "k"}, token=operator))["data"]
    assert refused["closeMyAccount"]["errors"][0]["code"] == "CONFLICT"
    assert (await gql(ME, token=operator))["data"]["me"]["closedAt"] is None
    empty_key = (await gql(CLOSE, {"confirm": True, "key": ""}, token=operator))["data"]
    assert empty_key["closeMyAccount"]["errors"][0]["field"] == "idempotencyKey"


async def test_two_closings_at_once_close_once(gql):
    session = await gql.login(ALICE_PHONE)
    variables = {"confirm": True, "key": "close-twice"}
    results = await asyncio.gather(*(gql(CLOSE, variables, token=session["accessToken"])
                                     for _ in range(2)))
    closed_at = set()
    for result in results:
        if result.get("errors"):  # authenticated after the other closing had ended the session
            assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", result
        else:
            payload = result["data"]["closeMyAccount"]
            assert payload["errors"] == [], payload
            closed_at.add(payload["closedAt"])
    player = await Player.get(id=session["player"]["id"])
    assert len(closed_at) == 1 and player.closed_at is not None
    assert (player.phone, player.nickname, player.close_key) == (None, CLOSED_NICKNAME, "close-twice")


async def test_closing_leaves_the_certified_batches_as_sealed(make_app):
    """A certified gram is counted once: the batch, its participants and its hash stay."""
    app = await make_app(activity_max_age_days=400)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver", headers=ENGLISH) as http:
        gql = GraphQLClient(http, app)
        month = certification.month_start(1)
        period = month.strftime("%Y-%m")
        alice = await gql.login(ALICE_PHONE)
        ids = await certification.accepted(http, [
            trip("old-1", alice["player"]["id"], start=certification.at(month + timedelta(days=1), 8)),
            trip("old-2", alice["player"]["id"], start=certification.at(month + timedelta(days=4), 18))])
        operator = await staff(gql, OPERATOR_PHONE, "operator")
        sealed = await certification.close(gql, operator, period, "seal-1")
        assert sealed["errors"] == [] and sealed["batch"]["grams"] == 1200, sealed
        before = (await gql(certification.BATCHES, {"period": period}))["data"]

        exported = json.loads((await gql(EXPORT, token=alice["accessToken"]))
                              ["data"]["exportMyData"]["data"])
        part = exported["certifiedReductions"]
        assert sorted(p["activityId"] for p in part) == sorted(ids)
        assert {p["batch"] for p in part} == {sealed["batch"]["code"]}
        assert sum(p["lastSerial"] - p["firstSerial"] + 1 for p in part) == 1200

        closed = await gql(CLOSE, {"confirm": True, "key": "close-c"}, token=alice["accessToken"])
        assert closed["data"]["closeMyAccount"]["errors"] == []
        assert (await gql(certification.BATCHES, {"period": period}))["data"] == before
        again = await certification.close(gql, operator, period, "seal-2")
        assert again["errors"] == [] and again["batch"] == sealed["batch"], again


async def test_a_host_app_player_closes_and_the_same_host_login_is_a_new_player(gql):
    token = host.hs_token(sub="host-user-77", nickname="小绿的宿主名", city="shenzhen")
    first = await host.login(gql, token)
    assert first["errors"] == [], first
    session = first["session"]
    exported = json.loads((await gql(EXPORT, token=session["accessToken"]))
                          ["data"]["exportMyData"]["data"])
    assert [(h["issuer"], h["subject"]) for h in exported["identities"]["hostApps"]] \
        == [(host.HS_ISSUER, "host-user-77")]
    assert exported["profile"]["phone"] is None and exported["profile"]["nickname"] == "小绿的宿主名"

    closed = await gql(CLOSE, {"confirm": True, "key": "host-close"}, token=session["accessToken"])
    assert closed["data"]["closeMyAccount"]["errors"] == []
    again = (await host.login(gql, token))["session"]
    assert again["player"]["id"] != session["player"]["id"]
    old = await Player.get(id=session["player"]["id"])
    assert (old.nickname, old.city, old.closed_at is not None) == (CLOSED_NICKNAME, None, True)


async def test_partners_link_offers_for_the_phone_go_with_the_account(gql, http):
    alice = await gql.login(ALICE_PHONE)
    for bank, ref in (("pingan", "PA-ALICE-1"), ("icbc-sz", "ICBC-ALICE-1")):
        answer = await offers.offer(http, bank, ref, ALICE_PHONE)
        assert answer["status"] == "offered", answer
    shown = {o["partnerId"]: o for o in await offers.offers(gql, alice["accessToken"])}
    accepted = await gql(offers.DECIDE, {"id": shown["icbc-sz"]["id"], "accept": True},
                         token=alice["accessToken"])
    assert accepted["data"]["decidePartnerLinkOffer"]["errors"] == []
    exported = json.loads((await gql(EXPORT, token=alice["accessToken"]))
                          ["data"]["exportMyData"]["data"])
    assert [p["externalId"] for p in exported["partnerLinks"]] == ["ICBC-ALICE-1"]

    closed = await gql(CLOSE, {"confirm": True, "key": "close-o"}, token=alice["accessToken"])
    assert closed["data"]["closeMyAccount"]["errors"] == []
    # the new account with the number sees neither the pending offer nor the accepted one
    fresh = await gql.login(ALICE_PHONE)
    assert await offers.offers(gql, fresh["accessToken"]) == []
    # the partner's id is gone from every link and offer: its records name nobody
    [refused] = await bank_send(http, "icbc-sz", [by_ref("i-1", "ICBC-ALICE-1")])
    assert (refused["status"], refused["reason"]) == ("rejected", "UNKNOWN_SUBJECT")
    # a partner offering again makes a new offer, for the person's new account
    assert (await offers.offer(http, "pingan", "PA-ALICE-1", ALICE_PHONE))["status"] == "offered"
    [renewed] = await offers.offers(gql, fresh["accessToken"])
    assert renewed["partnerId"] == "pingan" and renewed["id"] != shown["pingan"]["id"]


async def test_a_mini_program_player_closes_and_the_same_openid_is_a_new_player(
        make_app, platforms, alipay_keys, stub):  # noqa: F811  (the imported fixtures)
    app = await make_app(**mp.platform_settings(platforms[1], alipay_keys))
    gql = await mp.client_of(app)
    first = await mp.wechat(gql, mp.CITY_APP, stub.wechat_code(mp.CITY_APP, "o-close-1", "u-close-1"))
    token = first["session"]["accessToken"]
    exported = json.loads((await gql(EXPORT, token=token))["data"]["exportMyData"]["data"])
    assert [(m["platform"], m["appId"], m["openid"], m["unionid"])
            for m in exported["identities"]["miniPrograms"]] \
        == [("wechat", mp.CITY_APP, "o-close-1", "u-close-1")]

    closed = await gql(CLOSE, {"confirm": True, "key": "close-mp"}, token=token)
    assert closed["data"]["closeMyAccount"]["errors"] == []
    again = await mp.wechat(gql, mp.CITY_APP, stub.wechat_code(mp.CITY_APP, "o-close-1", "u-close-1"))
    assert again["errors"] == [] and again["session"]["player"]["id"] != first["session"]["player"]["id"]
    # the unionid, from another app of the city, finds the new player, not the closed one
    other = await mp.wechat(gql, mp.METRO_APP, stub.wechat_code(mp.METRO_APP, "o-metro-9", "u-close-1"))
    assert other["session"]["player"]["id"] == again["session"]["player"]["id"]
    await gql.http.aclose()
