"""Themes and eggs on the scenes beyond travel: a designer's rules with activity_amount and
activity_days requirements validate (an unknown kind or a misfit unit refused at its field),
simulate, read in both languages, and unlock when partners send matching records (or the
game hooks are fed the activities crediting hands them)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
from tortoise.transactions import in_transaction

from app.planet.service import PlanetActivity
from game.engine import ActivityEvent, PlanetState, apply, progress
from game.model import ActivityAmount
from game.rules import RULES_FILE, parse_rules
from game.simulate import load_profile, simulate
from tests.conftest import ENGLISH, GraphQLClient
from tests.test_rule_proposals import SIMULATE, staff
from tests.test_rules_publishing import publish

SHIPPED = RULES_FILE.read_text(encoding="utf-8")
SCENE_THEME = """
[[themes]]
id = "recycling-reef"
name = "再生珊瑚礁"
name_en = "Recycling Reef"
description = "回收的纸张与塑料化作一片珊瑚礁。"
description_en = "Recycled paper and plastic grow into a reef."
art = "themes/recycling-reef"
order = 10
requirements = [
  { type = "activity_amount", kind = "recycling", at_least = 5, unit = "kg" },
  { type = "activity_days", kind = "garbage_sorting", days = 3 },
]

[[eggs]]
id = "first-kilowatt-hour"
theme = "recycling-reef"
name = "省下第一度电"
name_en = "The first kWh saved"
description = "家里省下了一度电。"
description_en = "Your home saved a kilowatt-hour."
condition = { type = "activity_amount", kind = "household_electricity", at_least = 1, unit = "kWh" }
reward_growth = 15
"""
DESIGNED = SHIPPED.replace("\n[quiz]\n", SCENE_THEME + "\n[quiz]\n", 1)
PROBLEMS = "query($c: String!) { rulesProblems(content: $c) { code field message } }"
THEMES = """{ me { planet { themes { id unlocked requirements { description progress target met } }
  eggs { id } } } }"""
DAY = date(2026, 11, 20)


async def problems(client, token: str, content: str, language: str) -> list[str]:
    answer = await client.post("/graphql", json={"query": PROBLEMS, "variables": {"c": content}},
                               headers={"Authorization": f"Bearer {token}",
                                        "Accept-Language": language})
    return [p["message"] for p in answer.json()["data"]["rulesProblems"]]


async def test_a_designers_scene_theme_validates_and_wrong_kinds_and_units_are_refused_at_their_field(
        gql, client):
    token, _ = await staff(gql, "+8613800138801", "designer")
    assert await problems(client, token, DESIGNED, "en") == []

    wrong = (DESIGNED.replace('kind = "recycling"', 'kind = "recycling_bottles"', 1)
             .replace('"garbage_sorting", days = 3 }',
                      '"garbage_sorting", days = 3 },\n'
                      '  { type = "activity_amount", kind = "ev_charging", at_least = 2, unit = "kg" },\n'
                      '  { type = "activity_amount", kind = "reusable_cup", at_least = 2, unit = "item" }', 1)
             .replace('at_least = 1, unit = "kWh"', 'at_least = 1, unit = "MWh"', 1))
    english = await problems(client, token, wrong, "en")
    chinese = await problems(client, token, wrong, "zh-CN")
    where = "themes.9.requirements"
    assert (f"{where}.0.kind: no methodology credits 'recycling_bottles', so recycling-reef can "
            "never be unlocked") in english
    assert f"{where}.2.unit: 'kg' does not fit 'ev_charging', which is measured in kWh" in english
    assert any(m.startswith(f"{where}.3.kind: 'reusable_cup' is credited per trip or event")
               for m in english)
    assert any(m.startswith("eggs.3.condition.activity_amount.unit: Input should be ")
               for m in english)  # MWh is no unit the game knows
    assert f"{where}.2.unit: 'kg' 与 'ev_charging' 的计量单位 kWh 不符" in chinese
    assert any(m.startswith(f"{where}.0.kind: 没有方法学为 'recycling_bottles' 记减排量")
               for m in chinese)
    assert len(english) == len(chinese) == 4

    egg_on_nothing = DESIGNED.replace('kind = "household_electricity"', 'kind = "tidal_power"', 1)
    assert await problems(client, token, egg_on_nothing, "en") == [
        "eggs.3.condition.kind: no methodology credits 'tidal_power', so egg first-kilowatt-hour "
        "can never be found"]


async def test_the_simulator_reports_the_scene_theme_and_unlocks_it_when_players_do_the_scenes(gql):
    token, _ = await staff(gql, "+8613800138802", "designer")
    answer = (await gql(SIMULATE, {"c": DESIGNED}, token=token))["data"]["simulateRules"]
    reef = next(t for t in answer["themes"] if t["themeId"] == "recycling-reef")
    assert reef["draft"][-1] == 0  # the default profile does no scene beyond travel
    assert reef["live"] == []  # not in the live rules

    rules = parse_rules(DESIGNED, "designed.toml")
    scenes = simulate(rules, load_profile(RULES_FILE.parent.parent / "profiles" /
                                          "everyday-scenes.toml"),
                      players=2_500, days=90, seed=3, workers=1)
    assert "recycling-reef" in scenes.theme_ids
    assert scenes.share("recycling-reef", 90) > 0.01
    assert scenes.share("recycling-reef", 7) < scenes.share("recycling-reef", 90)
    # the theme's own kinds are sent on their own events: the same unlocks as unfolded
    unfolded = simulate(rules, load_profile(RULES_FILE.parent.parent / "profiles" /
                                            "everyday-scenes.toml"),
                        players=500, days=40, seed=3, workers=1, fold=False)
    folded = simulate(rules, load_profile(RULES_FILE.parent.parent / "profiles" /
                                          "everyday-scenes.toml"),
                      players=500, days=40, seed=3, workers=1)
    assert (folded.first_unlock_day == unfolded.first_unlock_day).all()


async def feed(app, activities: list[PlanetActivity]) -> None:
    """What crediting does for each credited record: the game's part, then its ledger step."""
    async with in_transaction():
        await app.state.services.ingestor.play_then_post(activities, [])


async def themes(gql, token: str) -> dict:
    planet = (await gql(THEMES, token=token))["data"]["me"]["planet"]
    return {t["id"]: t for t in planet["themes"]} | {"eggs": {e["id"] for e in planet["eggs"]}}


async def test_published_scene_rules_unlock_the_theme_when_the_hooks_are_fed_matching_activities(
        gql, client, app):
    designer, _ = await staff(gql, "+8613800138803", "designer")
    published = await publish(gql, designer, DESIGNED, "recycling reef")
    assert published["errors"] == [], published
    session = await gql.login("+8613800138804")
    token, pid = session["accessToken"], session["player"]["id"]

    reef = (await themes(gql, token))["recycling-reef"]
    assert not reef["unlocked"]
    assert [(r["description"], r["target"]) for r in reef["requirements"]] == [
        ("Recycle 5 kg", 5), ("Check in at a sorting station on 3 days", 3)]
    chinese = await client.post("/graphql", json={"query": THEMES}, headers={
        "Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"})
    reef_zh = next(t for t in chinese.json()["data"]["me"]["planet"]["themes"]
                   if t["id"] == "recycling-reef")
    assert [r["description"] for r in reef_zh["requirements"]] == ["回收 5 公斤", "垃圾分类打卡 3 天"]

    # 4.5 kg weighed in grams, two check-ins on one day and one on the next: not yet
    await feed(app, [PlanetActivity(pid, "recycling", 240, DAY, 1, 3000, "g"),
                     PlanetActivity(pid, "garbage_sorting", 2, DAY, 1),
                     PlanetActivity(pid, "garbage_sorting", 2, DAY, 1),
                     PlanetActivity(pid, "recycling", 180, DAY + timedelta(days=1), 1, 1500, "g"),
                     PlanetActivity(pid, "garbage_sorting", 2, DAY + timedelta(days=1), 1)])
    reef = (await themes(gql, token))["recycling-reef"]
    assert [(r["progress"], r["met"]) for r in reef["requirements"]] == [(4, False), (2, False)]
    assert not reef["unlocked"]

    # a late check-in for a day already counted changes nothing; a third day and 500 g do it
    await feed(app, [PlanetActivity(pid, "garbage_sorting", 2, DAY, 1)])
    assert [r["progress"] for r in (await themes(gql, token))["recycling-reef"]["requirements"]] \
        == [4, 2]
    await feed(app, [PlanetActivity(pid, "garbage_sorting", 2, DAY + timedelta(days=3), 1),
                     (pid, "recycling", 60, DAY + timedelta(days=3), 1, 500, "g")])  # the tuple form
    seen = await themes(gql, token)
    assert seen["recycling-reef"]["unlocked"]
    assert all(r["met"] for r in seen["recycling-reef"]["requirements"])
    assert "first-kilowatt-hour" not in seen["eggs"]

    # a bill saving 1 kWh against its baseline finds the egg
    await feed(app, [PlanetActivity(pid, "household_electricity", 64, DAY + timedelta(days=4), 1,
                                    1, "kWh")])
    assert "first-kilowatt-hour" in (await themes(gql, token))["eggs"]


def test_old_states_load_amounts_are_exact_and_a_day_is_never_counted_twice():
    old = {"growth": 90, "level": 1, "counts": {"recycling": 2}, "quiz_correct": 0,
           "last_active": "2026-11-19", "streak": 1, "best_streak": 1, "unlocked": {}, "eggs": {}}
    state = PlanetState.from_json(old)
    assert (state.amounts, state.days, state.recent_days) == ({}, {}, {})
    rules = parse_rules(DESIGNED, "designed.toml")
    at = datetime(2026, 11, 20, 12)
    need = ActivityAmount(type="activity_amount", kind="recycling", at_least=5, unit="kg")
    for grams in (2_000, 2_999):
        state, _ = apply(state, ActivityEvent("recycling", 0, DAY, at, 1, grams, "g"), rules)
    bar = progress(state, need, rules, DAY, "en")
    assert (bar.progress, bar.met, bar.description) == (4, False, "Recycle 5 kg")  # 4,999 g
    state, _ = apply(state, ActivityEvent("recycling", 0, DAY, at, 1, 1, "g"), rules)
    assert progress(state, need, rules, DAY).met and state.amounts == {"recycling": 5_000}
    # distinct days, late records included: days within the recent window are known
    for offset in (0, 9, 3, 9, 0, 12, 1, 2, 4, 5, 6, 7, 3):
        state, _ = apply(state, ActivityEvent("garbage_sorting", 0, DAY + timedelta(days=offset),
                                              at, 1), rules)
    assert state.days["garbage_sorting"] == 10  # days 0 to 7, 9 and 12, each once
    assert state.recent_days["garbage_sorting"] == sorted(
        (DAY + timedelta(days=d)).isoformat() for d in (3, 4, 5, 6, 7, 9, 12))
    assert PlanetState.from_json(state.to_json()) == state


async def test_partner_records_of_the_scenes_unlock_the_published_theme(make_app):
    """The same theme, unlocked by what a city-services partner sends: weighed recycling
    drop-offs (grams summed) and verified garbage-sorting check-ins on three days."""
    from tests.test_partner_scenes import PARTNERS, post, scene

    application = await make_app(partners=PARTNERS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                 base_url="http://testserver", headers=ENGLISH) as http:
        gql = GraphQLClient(http, application)
        designer, _ = await staff(gql, "+8613800138805", "designer")
        assert (await publish(gql, designer, DESIGNED, "recycling reef"))["errors"] == []
        session = await gql.login("+8613800138806")
        token, pid = session["accessToken"], session["player"]["id"]

        def check_in(n: int, hours_ago: int) -> dict:
            return scene(f"ck-{n}", pid, "garbage_sorting", timedelta(hours=hours_ago),
                         station_id="G-1", checkin_id=f"CK-{n}", verified=True)

        results = await post(http, [
            scene("r-1", pid, "recycling", timedelta(hours=50), station_id="S-1", receipt_no="R-1",
                  material="paper", weight_g=3000),
            check_in(1, 49), check_in(2, 48), check_in(3, 25)])
        assert [r["status"] for r in results] == ["accepted"] * 4, results
        reef = (await themes(gql, token))["recycling-reef"]
        assert [r["progress"] for r in reef["requirements"]] == [3, 2] and not reef["unlocked"]

        results = await post(http, [
            scene("r-2", pid, "recycling", timedelta(hours=1), station_id="S-1", receipt_no="R-2",
                  material="plastic", weight_g=2000), check_in(4, 1)])
        assert [r["status"] for r in results] == ["accepted"] * 2, results
        reef = (await themes(gql, token))["recycling-reef"]
        assert reef["unlocked"] and [r["progress"] for r in reef["requirements"]] == [5, 3]


def test_the_console_editor_offers_the_new_types_and_places_their_problems_at_their_fields():
    from game import document

    data = document.parse(DESIGNED.replace('unit = "kWh"', 'unit = "MWh"', 1))
    paths = {f.path for f in document.fields(data)}
    assert {"themes.9.requirements.0.unit", "themes.9.requirements.1.days"} <= paths
    assert document.field_of("eggs.3.condition.activity_amount.unit: Input should be 'kWh'",
                             paths) == ("eggs.3.condition.unit", "Input should be 'kWh'")
    switched = document.apply(data, "type:themes.0.requirements.0=activity_days")
    assert switched["themes"][0]["requirements"][0] == {
        "type": "activity_days", "kind": "garbage_sorting", "days": 1}
