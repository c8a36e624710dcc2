"""Designers' workflow: validate, diff, publish, pick up in another process, roll back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from app.accounts.models import Player
from app.clock import utcnow
from app.rulesets.models import RuleSet
from app.rulesets.service import RulesProvider, checksum
from game.rules import RULES_FILE, default_rules
from tests.conftest import ENGLISH, GraphQLClient
from tests.partner_client import CST, send, trip

SHIPPED = RULES_FILE.read_text(encoding="utf-8")
PUBLISH = """mutation($content: String!, $note: String!, $dryRun: Boolean!) {
  publishRules(content: $content, note: $note, dryRun: $dryRun) {
    version { version note active checksum } dryRun { themeId newlyUnlocked }
    errors { code message field } } }"""
ROLLBACK = "mutation { rollbackRules(note: \"back\") { version { version note active } errors { code message } } }"
THEME_NAMES = "{ me { planet { themes { id name unlocked } } } }"
COMMAND = str(Path(sys.executable).parent / "carbon-planet")


async def designer(gql) -> dict:
    session = await gql.login("+8613800138090")
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "designer"])
    return session


def renamed(name: str) -> str:
    return SHIPPED.replace('name = "阳光之城"', f'name = "{name}"')


async def chinese_themes(gql, token: str) -> list[dict]:
    """The player's themes read in Chinese: `renamed` changes the Chinese name."""
    response = await gql.http.post("/graphql", json={"query": THEME_NAMES}, headers={
        "Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"})
    return response.json()["data"]["me"]["planet"]["themes"]


PROPOSE = """mutation($content: String!, $note: String!) {
  proposeRules(content: $content, note: $note) {
    proposal { id status } version { version } dryRun { themeId newlyUnlocked }
    errors { code message field } } }"""
APPROVE = """mutation($id: ID!) { approveRuleProposal(id: $id) {
  proposal { id status publishedVersion } version { version note active checksum }
  errors { code message field } } }"""


async def second_designer(gql) -> str:
    """Another designer's token (one per client), to approve what the first proposes."""
    if not hasattr(gql, "approver_token"):
        session = await gql.login("+8613800138099")
        await Player.filter(id=session["player"]["id"]).update(roles=["player", "designer"])
        gql.approver_token = session["accessToken"]
    return gql.approver_token


async def publish(gql, token: str, content: str, note: str = "tune", dry_run: bool = False) -> dict:
    """Dry run, or propose and have a second designer approve: what publishing is now."""
    if dry_run:
        return (await gql(PUBLISH, {"content": content, "note": note, "dryRun": True},
                          token=token))["data"]["publishRules"]
    proposed = (await gql(PROPOSE, {"content": content, "note": note},
                          token=token))["data"]["proposeRules"]
    if proposed["errors"]:
        return proposed
    return (await gql(APPROVE, {"id": proposed["proposal"]["id"]},
                      token=await second_designer(gql)))["data"]["approveRuleProposal"]


async def test_an_invalid_rule_set_is_refused_with_all_its_problems(gql):
    token = (await designer(gql))["accessToken"]
    bad = (SHIPPED.replace("levels = [0, 100, 250", "levels = [0, 300, 250")
           .replace('kind = "bike_share", at_least = 10', 'kind = "rocket", at_least = 10')
           .replace("reward_growth = 20", "reward_growth = 5000"))
    result = await publish(gql, token, bad)
    assert result["version"] is None
    messages = [e["message"] for e in result["errors"]]
    assert len(messages) == 3 and all(e["code"] == "INVALID_INPUT" for e in result["errors"])
    assert any(m.startswith("eggs.0.reward_growth") for m in messages)
    assert any(m.startswith("levels.2") for m in messages)
    assert any("rocket" in m and "wind-plains can never be unlocked" in m for m in messages)
    assert await RuleSet.all().count() == 0


async def test_only_designers_publish(gql):
    player = await gql.login()
    result = await gql(PUBLISH, {"content": SHIPPED, "note": "x", "dryRun": False}, token=player["accessToken"])
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_published_set_reaches_a_second_process_and_rolls_back(make_app):
    first = await make_app(rules_refresh_seconds=0.2)
    second = await make_app(rules_refresh_seconds=0.2)  # another server process on the same database
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a",
                                 headers=ENGLISH) as a, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b",
                              headers=ENGLISH) as b:
        gql_a, gql_b = GraphQLClient(a, first), GraphQLClient(b, second)
        token = (await designer(gql_a))["accessToken"]
        player_b = await gql_b.login()

        async def sunshine_name() -> str:
            themes = await chinese_themes(gql_b, player_b["accessToken"])
            return next(t["name"] for t in themes if t["id"] == "city-of-sunshine")

        assert await sunshine_name() == "阳光之城"
        v1 = await publish(gql_a, token, renamed("晴空之城"), "rename sunshine")
        assert v1["errors"] == [] and v1["version"]["version"] == 1 and v1["version"]["active"]
        for _ in range(50):  # no restart: the second process polls every 0.2 s
            if await sunshine_name() == "晴空之城":
                break
            await asyncio.sleep(0.1)
        assert await sunshine_name() == "晴空之城"

        v2 = await publish(gql_a, token, renamed("阳光新城"), "again")
        assert v2["version"]["version"] == 2
        back = (await gql_a(ROLLBACK, token=token))["data"]["rollbackRules"]
        assert back["errors"] == [] and back["version"]["version"] == 3
        stored = await RuleSet.get(version=3)
        assert stored.content == renamed("晴空之城")  # v1's content is active again
        for _ in range(50):
            if await sunshine_name() == "晴空之城":
                break
            await asyncio.sleep(0.1)
        assert await sunshine_name() == "晴空之城"
        versions = (await gql_a("{ ruleVersions { version active note } }", token=token))["data"]["ruleVersions"]
        assert [(v["version"], v["active"]) for v in versions] == [(3, True), (2, False), (1, False)]


async def test_unlocks_are_kept_under_a_stricter_rule_set(gql, client):
    token = (await designer(gql))["accessToken"]
    player = await gql.login()
    start = datetime.now(CST).date() - timedelta(days=1)
    for i in range(3):
        await send(client, [trip(f"s{i}", player["player"]["id"],
                                 start=datetime(start.year, start.month, start.day, 7 + i, tzinfo=CST))])
    stricter = SHIPPED.replace('kind = "metro", at_least = 3', 'kind = "metro", at_least = 300')
    assert (await publish(gql, token, stricter, "harder"))["errors"] == []
    planet = (await gql(THEME_NAMES, token=player["accessToken"]))["data"]["me"]["planet"]
    assert next(t for t in planet["themes"] if t["id"] == "city-of-sunshine")["unlocked"] is True
    await send(client, [trip("s9", player["player"]["id"],
                             start=datetime(start.year, start.month, start.day, 15, tzinfo=CST))])
    planet = (await gql(THEME_NAMES, token=player["accessToken"]))["data"]["me"]["planet"]
    assert next(t for t in planet["themes"] if t["id"] == "city-of-sunshine")["unlocked"] is True


async def test_dry_run_counts_who_would_unlock_and_publishes_nothing(gql, client):
    token = (await designer(gql))["accessToken"]
    player = await gql.login()
    start = datetime.now(CST).date() - timedelta(days=1)
    await send(client, [trip("d1", player["player"]["id"],
                             start=datetime(start.year, start.month, start.day, 8, tzinfo=CST))])
    easier = SHIPPED.replace('kind = "metro", at_least = 3', 'kind = "metro", at_least = 1')
    result = await publish(gql, token, easier, "easier", dry_run=True)
    assert result["version"] is None and result["errors"] == []
    forecast = {f["themeId"]: f["newlyUnlocked"] for f in result["dryRun"]}
    assert forecast["city-of-sunshine"] == 1 and forecast["glacier-watch"] == 0
    assert await RuleSet.all().count() == 0


def test_validate_and_diff_commands(tmp_path):
    good = subprocess.run([COMMAND, "rules", "validate", str(RULES_FILE)], capture_output=True, text=True)
    assert good.returncode == 0 and "is valid" in good.stdout
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text(SHIPPED.replace("levels = [0, 100, 250", "levels = [0, 300, 250")
                        .replace('theme = "green-energy-islands" }', 'theme = "atlantis" }'))
    bad = subprocess.run([COMMAND, "rules", "validate", str(bad_file)], capture_output=True, text=True)
    assert bad.returncode == 1 and "2 problem(s)" in bad.stdout
    assert "levels.2" in bad.stderr and "unknown theme 'atlantis'" in bad.stderr
    new_file = tmp_path / "new.toml"
    new_file.write_text(SHIPPED.replace('kind = "metro", at_least = 3', 'kind = "metro", at_least = 5')
                        .replace("reward_growth = 20", "reward_growth = 25"))
    diff = subprocess.run([COMMAND, "rules", "diff", str(RULES_FILE), str(new_file)], capture_output=True, text=True)
    assert diff.returncode == 0
    assert "City of Sunshine: requirements Take the metro 3 times -> Take the metro 5 times" in diff.stdout
    assert "Egg First metro ride: reward 20 -> 25 growth" in diff.stdout
    schema = subprocess.run([COMMAND, "rules", "schema"], capture_output=True, text=True)
    assert '"themes"' in schema.stdout and '"$defs"' in schema.stdout


async def test_a_lagging_process_follows_a_rollback_to_content_it_already_plays(app):
    """v1 → v2 → v3 (= v1's content) published while a process still plays v1: it must
    report v3 as its version, not stay on v1 because the checksum matches."""
    provider = RulesProvider(default_rules(), {"metro", "bus", "walking"})
    first = renamed("晴空之城")
    for version, content in ((1, first), (2, renamed("阳光新城")), (3, first)):
        await RuleSet.create(version=version, content=content, checksum=checksum(content),
                             author="t", note=f"v{version}", effective_from=utcnow())
        if version == 1:
            assert await provider.refresh() and provider.version == 1
    rules_before = provider.rules
    assert await provider.refresh()
    assert provider.version == 3 and provider.rules is rules_before  # same content, not reparsed
    assert not await provider.refresh()


# ---------------------------------------------------------------- history: content, diff, any rollback

VERSIONS = "{ ruleVersions(first: 10) { version active content } }"
DIFF = ("query($a: Int!, $b: Int!) { rulesDiff(fromVersion: $a, toVersion: $b) "
        "{ fromVersion toVersion changes } }")
ROLLBACK_TO = ("mutation($v: Int) { rollbackRules(toVersion: $v, note: \"back\") "
               "{ version { version note active } errors { code message field } } }")


async def test_publishing_what_is_live_is_refused(gql):
    token = (await designer(gql))["accessToken"]
    for dry_run in (True, False):
        same = await publish(gql, token, SHIPPED, "no change", dry_run=dry_run)
        assert same["version"] is None
        [error] = same["errors"]
        assert (error["code"], error["field"]) == ("CONFLICT", "content")
        assert "shipped rules file" in error["message"]
    assert (await publish(gql, token, renamed("阳光城"), "rename"))["version"]["version"] == 1
    again = await publish(gql, token, renamed("阳光城"), "rename again")
    assert again["errors"][0]["code"] == "CONFLICT" and "v1" in again["errors"][0]["message"]
    assert await RuleSet.all().count() == 1


async def test_any_version_can_be_read_compared_and_rolled_back_to(gql, app):
    token = (await designer(gql))["accessToken"]
    for number, name in enumerate(("一号城", "二号城", "三号城"), start=1):
        assert (await publish(gql, token, renamed(name), name))["version"]["version"] == number
    versions = (await gql(VERSIONS, token=token))["data"]["ruleVersions"]
    assert [(v["version"], v["active"]) for v in versions] == [(3, True), (2, False), (1, False)]
    assert versions[2]["content"] == renamed("一号城")

    diff = (await gql(DIFF, {"a": 0, "b": 2}, token=token))["data"]["rulesDiff"]
    assert diff["changes"] == ["City of Sunshine: name '阳光之城' -> '二号城'"]
    assert (await gql(DIFF, {"a": 2, "b": 2}, token=token))["data"]["rulesDiff"]["changes"] == []
    missing = await gql(DIFF, {"a": 0, "b": 9}, token=token)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    back = (await gql(ROLLBACK_TO, {"v": 1}, token=token))["data"]["rollbackRules"]
    assert back["errors"] == [] and back["version"] == {"version": 4, "note": "back", "active": True}
    assert (await RuleSet.get(version=4)).content == renamed("一号城")
    assert app.state.services.rules_provider.version == 4
    player = await gql.login()
    themes = await chinese_themes(gql, player["accessToken"])
    assert "一号城" in {t["name"] for t in themes}

    live = (await gql(ROLLBACK_TO, {"v": 1}, token=token))["data"]["rollbackRules"]
    assert live["errors"][0]["code"] == "CONFLICT"  # v1's content is what is live now
    nowhere = (await gql(ROLLBACK_TO, {"v": 99}, token=token))["data"]["rollbackRules"]
    assert (nowhere["errors"][0]["code"], nowhere["errors"][0]["field"]) == ("NOT_FOUND", "version")
    shipped = (await gql(ROLLBACK_TO, {"v": 0}, token=token))["data"]["rollbackRules"]
    assert shipped["version"]["version"] == 5
    assert (await RuleSet.get(version=5)).content == SHIPPED


def test_cli_dry_run_says_when_no_player_is_affected(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CARBON_") and k not in ("DATABASE_URL", "REDIS_URL")}
    assert subprocess.run([COMMAND, "migrate"], cwd=tmp_path, env=env, capture_output=True,
                          timeout=60).returncode == 0
    changed = tmp_path / "rules.toml"
    changed.write_text(renamed("新城"), encoding="utf-8")
    dry = subprocess.run([COMMAND, "rules", "publish", str(changed), "--note", "n", "--dry-run"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "no existing player would unlock anything at once" in dry.stdout
    same = tmp_path / "same.toml"
    same.write_text(SHIPPED, encoding="utf-8")
    refused = subprocess.run([COMMAND, "rules", "publish", str(same), "--note", "n"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "identical to the shipped rules file" in refused.stderr
