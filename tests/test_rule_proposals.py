"""Four eyes on rules changes: propose, approve by a second person, reject, retry, simulate."""

from __future__ import annotations

import asyncio

from app.accounts.models import Player
from app.rulesets.models import RuleProposal, RuleSet
from tests.test_rules_publishing import SHIPPED, chinese_themes, renamed

PROPOSE = """mutation($c: String!, $n: String!, $k: String) {
  proposeRules(content: $c, note: $n, idempotencyKey: $k) {
    proposal { id status proposedBy checksum } dryRun { themeId newlyUnlocked }
    errors { code message field } } }"""
APPROVE = """mutation($id: ID!) { approveRuleProposal(id: $id, note: "ok") {
  proposal { id status decidedBy publishedVersion decisionNote }
  version { version author approvedBy active } errors { code message field } } }"""
REJECT = """mutation($id: ID!, $n: String!) { rejectRuleProposal(id: $id, note: $n) {
  proposal { id status decidedBy decisionNote } errors { code message field } } }"""
PROPOSALS = "{ ruleProposals(status: PENDING) { id status note } }"
SIMULATE = """query($c: String!) { simulateRules(content: $c, players: 200, days: 30) {
  players days liveVersion themes { themeId draft live draftMedianDays liveMedianDays }
  levels { level liveGrowth draftGrowth } } }"""


async def staff(gql, phone: str, *roles: str) -> tuple[str, str]:
    session = await gql.login(phone)
    await Player.filter(id=session["player"]["id"]).update(roles=["player", *roles])
    return session["accessToken"], session["player"]["id"]


async def test_a_proposal_goes_live_only_when_a_second_person_approves(gql):
    alice, alice_id = await staff(gql, "+8613800138301", "designer")
    bob, bob_id = await staff(gql, "+8613800138302", "designer")
    content = renamed("审批之城")

    direct = (await gql('mutation($c: String!) { publishRules(content: $c, note: "x") '
                        '{ version { version } errors { code field } } }',
                        {"c": content}, token=alice))["data"]["publishRules"]
    assert direct == {"version": None, "errors": [{"code": "FORBIDDEN", "field": "dryRun"}]}

    proposed = (await gql(PROPOSE, {"c": content, "n": "rename"}, token=alice))["data"]["proposeRules"]
    assert proposed["errors"] == [] and proposed["proposal"]["status"] == "PENDING"
    assert proposed["proposal"]["proposedBy"] == alice_id
    assert {f["themeId"] for f in proposed["dryRun"]} >= {"city-of-sunshine"}
    assert await RuleSet.all().count() == 0  # nothing published yet
    listed = (await gql(PROPOSALS, token=bob))["data"]["ruleProposals"]
    assert [p["id"] for p in listed] == [proposed["proposal"]["id"]]

    own = (await gql(APPROVE, {"id": proposed["proposal"]["id"]}, token=alice))["data"]
    assert own["approveRuleProposal"]["errors"][0]["code"] == "FORBIDDEN"
    assert await RuleSet.all().count() == 0

    approved = (await gql(APPROVE, {"id": proposed["proposal"]["id"]}, token=bob))["data"]
    result = approved["approveRuleProposal"]
    assert result["errors"] == []
    assert result["proposal"]["status"] == "APPROVED" and result["proposal"]["decidedBy"] == bob_id
    assert result["version"] == {"version": 1, "author": alice_id, "approvedBy": bob_id,
                                 "active": True}
    again = (await gql(APPROVE, {"id": proposed["proposal"]["id"]}, token=bob))["data"]
    assert again["approveRuleProposal"]["version"]["version"] == 1  # a retry, not a second version
    assert await RuleSet.all().count() == 1

    player = await gql.login()
    themes = await chinese_themes(gql, player["accessToken"])
    assert "审批之城" in {t["name"] for t in themes}


async def test_an_admin_approves_and_a_rejected_proposal_changes_nothing(gql):
    alice, _ = await staff(gql, "+8613800138303", "designer")
    admin, admin_id = await staff(gql, "+8613800138304", "admin")
    first = (await gql(PROPOSE, {"c": renamed("甲城"), "n": "a"}, token=alice))["data"]
    second = (await gql(PROPOSE, {"c": renamed("乙城"), "n": "b"}, token=alice))["data"]
    rejected = (await gql(REJECT, {"id": first["proposeRules"]["proposal"]["id"], "n": "太难了"},
                          token=admin))["data"]["rejectRuleProposal"]
    assert rejected["proposal"] == {"id": first["proposeRules"]["proposal"]["id"],
                                    "status": "REJECTED", "decidedBy": admin_id,
                                    "decisionNote": "太难了"}
    late = (await gql(APPROVE, {"id": first["proposeRules"]["proposal"]["id"]}, token=admin))
    assert late["data"]["approveRuleProposal"]["errors"][0]["code"] == "CONFLICT"
    assert await RuleSet.all().count() == 0
    ok = (await gql(APPROVE, {"id": second["proposeRules"]["proposal"]["id"]}, token=admin))
    assert ok["data"]["approveRuleProposal"]["version"]["approvedBy"] == admin_id
    missing = (await gql(APPROVE, {"id": "999999"}, token=admin))["data"]["approveRuleProposal"]
    assert (missing["errors"][0]["code"], missing["errors"][0]["field"]) == ("NOT_FOUND", "id")
    no_reason = (await gql(REJECT, {"id": second["proposeRules"]["proposal"]["id"], "n": " "},
                           token=admin))["data"]["rejectRuleProposal"]
    assert no_reason["errors"][0]["field"] == "note"


async def test_proposals_are_validated_and_idempotent(gql):
    alice, _ = await staff(gql, "+8613800138305", "designer")
    bad = (await gql(PROPOSE, {"c": SHIPPED.replace("levels = [0, 100", "levels = [0, 900"),
                               "n": "x"}, token=alice))["data"]["proposeRules"]
    assert bad["proposal"] is None and bad["errors"][0]["field"] == "content"
    same = (await gql(PROPOSE, {"c": SHIPPED, "n": "x"}, token=alice))["data"]["proposeRules"]
    assert same["errors"][0]["code"] == "CONFLICT"  # identical to what is live
    assert await RuleProposal.all().count() == 0

    variables = {"c": renamed("重试城"), "n": "retry", "k": "key-1"}
    results = await asyncio.gather(*(gql(PROPOSE, variables, token=alice) for _ in range(3)))
    ids = {r["data"]["proposeRules"]["proposal"]["id"] for r in results}
    assert len(ids) == 1 and await RuleProposal.all().count() == 1
    other = (await gql(PROPOSE, {**variables, "c": renamed("别的城")}, token=alice))
    assert other["data"]["proposeRules"]["errors"][0]["code"] == "CONFLICT"


async def test_simulating_a_draft_against_the_live_rules(gql):
    alice, _ = await staff(gql, "+8613800138306", "designer")
    easier = SHIPPED.replace("levels = [0, 100, 250", "levels = [0, 50, 250").replace(
        '{ type = "growth", at_least = 100 }', '{ type = "growth", at_least = 10 }', 1)
    result = (await gql(SIMULATE, {"c": easier}, token=alice))["data"]["simulateRules"]
    assert (result["players"], result["days"], result["liveVersion"]) == (200, 30, 0)
    assert result["levels"] == [{"level": 2, "liveGrowth": 100, "draftGrowth": 50}]
    islands = next(t for t in result["themes"] if t["themeId"] == "green-energy-islands")
    assert len(islands["draft"]) == len(islands["live"]) == 30
    assert all(d >= v for d, v in zip(islands["draft"], islands["live"]))
    assert islands["draft"][-1] > islands["live"][-1]  # a lower bar: more players, sooner
    too_big = await gql("{ simulateRules(content: \"x\", players: 100000, days: 3650) { days } }",
                        token=alice)
    assert too_big["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


PROBLEMS = "query($c: String!) { rulesProblems(content: $c) { code field message } }"


async def test_rules_problems_are_read_in_the_designers_language(gql, client):
    token, _ = await staff(gql, "+8613800138791", "designer")
    broken = (SHIPPED.replace("at_least = 3", "at_least = 0", 1)
              .replace("[[themes]]", "[[themes]]\nbogus = 1", 1))
    problems = {}
    for language in ("zh-CN", "en"):
        answer = await client.post("/graphql", json={"query": PROBLEMS, "variables": {"c": broken}},
                                   headers={"Authorization": f"Bearer {token}",
                                            "Accept-Language": language})
        problems[language] = answer.json()["data"]["rulesProblems"]
    assert {p["code"] for p in problems["zh-CN"]} == {"INVALID_INPUT"}
    english = [p["message"] for p in problems["en"]]
    chinese = [p["message"] for p in problems["zh-CN"]]
    assert "themes.0.bogus: Extra inputs are not permitted" in english
    assert "themes.0.bogus: 不允许多余的字段" in chinese
    at_least = next(m for m in chinese if m.endswith(".at_least: 应大于或等于 1"))
    assert at_least.replace("应大于或等于 1", "Input should be greater than or equal to 1") in english
    assert len(chinese) == len(english) == 2

    not_toml = await client.post("/graphql", json={"query": PROBLEMS, "variables": {"c": "levels = ["}},
                                 headers={"Authorization": f"Bearer {token}",
                                          "Accept-Language": "zh-CN"})
    [message] = [p["message"] for p in not_toml.json()["data"]["rulesProblems"]]
    assert message.startswith("不是有效的 TOML：")
