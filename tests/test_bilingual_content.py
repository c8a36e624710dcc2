"""Game content in the reader's language: the rules file carries Chinese and English for
every text, the API answers in the language the request asks for, and versions published
before the content was bilingual still load, compare and roll back."""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, timedelta

import httpx
import pytest

from app.accounts.models import Player
from app.clock import utcnow
from app.planet.service import daily_question
from app.rulesets.models import RuleSet
from app.rulesets.service import checksum
from game.describe import ACTIVITY_KINDS, describe_requirement
from game.model import (
    TEXT_FIELDS,
    ActivityCount,
    DateWindow,
    GrowthAtLeast,
    QuizCorrect,
    Streak,
    ThemeUnlocked,
)
from game.rules import RULES_FILE, RulesError, default_rules, parse_rules, rules_problems
from tests.partner_client import CST, send, trip

SHIPPED = RULES_FILE.read_text(encoding="utf-8")
CJK = re.compile(r"[\u4e00-\u9fff]")

PLANET = """{ me { planet {
  themes { id name nameEn description requirements { description progress target met } }
  eggs { id name description } } } }"""
QUIZ = "{ dailyQuiz { id question choices { id text } } }"
ANSWER = """mutation($quizId: ID!, $choiceId: ID!) { answerQuiz(quizId: $quizId, choiceId: $choiceId) {
  correct explanation errors { code } } }"""
DRY_RUN = """mutation($content: String!) { publishRules(content: $content, note: "n", dryRun: true) {
  errors { code message field } } }"""
DIFF = ("query($a: Int!, $b: Int!) { rulesDiff(fromVersion: $a, toVersion: $b) { changes } }")
ROLLBACK_TO = ("mutation($v: Int) { rollbackRules(toVersion: $v, note: \"back\") "
               "{ version { version active } errors { code message field } } }")


@pytest.fixture
async def reader(app):
    """A client that sends Accept-Language only when a request says so."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def ask(reader, query: str, token: str, language: str | None, variables: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    if language:
        headers["Accept-Language"] = language
    response = await reader.post("/graphql", json={"query": query, "variables": variables or {}},
                                 headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _texts(table: dict, where: str):
    for key, value in table.items():
        if key in TEXT_FIELDS:
            yield f"{where}.{key}", value, table.get(f"{key}_en")


def test_the_shipped_file_carries_chinese_and_english_for_every_text():
    data = tomllib.loads(SHIPPED)
    found = []
    for i, theme in enumerate(data["themes"]):
        found += _texts(theme, f"themes.{i}")
    for i, egg in enumerate(data["eggs"]):
        found += _texts(egg, f"eggs.{i}")
    for i, question in enumerate(data["quiz"]["questions"]):
        found += _texts(question, f"quiz.questions.{i}")
        for j, choice in enumerate(question["choices"]):
            found += _texts(choice, f"quiz.questions.{i}.choices.{j}")
    # 9 themes × 2, 3 eggs × 2, 5 questions × 2 + their 14 choices
    assert len(found) == 18 + 6 + 10 + 14
    for where, chinese, english in found:
        assert CJK.search(chinese), f"{where} is not Chinese: {chinese!r}"
        assert english and english.strip() and not CJK.search(english), f"{where}_en: {english!r}"


@pytest.mark.parametrize("field", ["name_en", "name", "description_en"])
def test_a_rules_file_missing_a_language_is_refused_naming_the_field(field):
    line = {"name_en": 'name_en = "City of Sunshine"\n', "name": 'name = "阳光之城"\n',
            "description_en": 'description_en = "A city that runs on clean transit."\n'}[field]
    with pytest.raises(RulesError) as error:
        parse_rules(SHIPPED.replace(line, "", 1), "draft.toml")
    language = "English" if field.endswith("_en") else "Chinese"
    assert f"themes.1.{field}: the {language} text is missing" in str(error.value)


def test_blank_text_is_refused_too():
    _, found = rules_problems(SHIPPED.replace('text_en = "46.7 g"', 'text_en = "  "'))
    problems = [str(p) for p in found]
    assert problems == ["quiz.questions.0.choices.1.text_en: is blank: write the text a player reads"]


def test_requirements_are_described_in_both_languages_from_their_data():
    rules = default_rules()
    cases = [
        (ActivityCount(type="activity_count", kind="metro", at_least=3), "乘坐地铁 3 次", "Take the metro 3 times"),
        (ActivityCount(type="activity_count", kind="bus", at_least=1), "乘坐公交 1 次", "Take the bus once"),
        (ActivityCount(type="activity_count", kind="walking", at_least=2), "步行出行 2 次", "Make 2 trips on foot"),
        (ActivityCount(type="activity_count", kind="ferry", at_least=4), "完成「ferry」4 次", "Log ferry 4 times"),
        (GrowthAtLeast(type="growth", at_least=10000), "成长值达到 10,000", "Reach 10,000 growth"),
        (Streak(type="streak", days=3), "连续活跃 3 天", "Be active 3 days in a row"),
        (QuizCorrect(type="quiz_correct", at_least=1), "答对 1 道问答题", "Answer 1 quiz question right"),
        (ThemeUnlocked(type="theme", theme="green-energy-islands"), "先解锁「绿能群岛」",
         "Unlock Green Energy Islands first"),
        (DateWindow(type="date_window", start=date(2026, 12, 1), end=date(2026, 12, 31)),
         "2026-12-01 至 2026-12-31 期间开放", "Open from 2026-12-01 to 2026-12-31"),
    ]
    for requirement, chinese, english in cases:
        assert describe_requirement(requirement, rules, "zh-CN") == chinese
        assert describe_requirement(requirement, rules, "en") == english
    # every kind a shipped methodology credits has its own words
    from methodology.registry import default_registry
    kinds = {kind for m in default_registry().all() for kind in m.kinds}
    assert kinds <= ACTIVITY_KINDS.keys()


async def test_the_same_query_answers_in_chinese_or_english(gql, client, reader):
    session = await gql.login()
    token, pid = session["accessToken"], session["player"]["id"]
    yesterday = datetime.now(CST).date() - timedelta(days=1)
    await send(client, [trip("b1", pid, start=datetime(yesterday.year, yesterday.month, yesterday.day,
                                                       8, tzinfo=CST))])
    chinese = (await ask(reader, PLANET, token, "zh-CN"))["me"]["planet"]
    english = (await ask(reader, PLANET, token, "en-GB,en;q=0.9"))["me"]["planet"]
    default = (await ask(reader, PLANET, token, None))["me"]["planet"]
    assert default == chinese

    def sunshine(planet: dict) -> dict:
        return next(t for t in planet["themes"] if t["id"] == "city-of-sunshine")

    assert sunshine(chinese)["name"] == "阳光之城" and sunshine(english)["name"] == "City of Sunshine"
    assert sunshine(chinese)["nameEn"] == sunshine(english)["nameEn"] == "City of Sunshine"
    assert sunshine(chinese)["description"] == "一座靠清洁公共交通运转的城市。"
    assert sunshine(english)["description"] == "A city that runs on clean transit."
    assert sunshine(chinese)["requirements"] == [
        {"description": "乘坐地铁 3 次", "progress": 1, "target": 3, "met": False}]
    assert sunshine(english)["requirements"] == [
        {"description": "Take the metro 3 times", "progress": 1, "target": 3, "met": False}]
    eco = [next(t for t in p["themes"] if t["id"] == "eco-oxygen-realm") for p in (chinese, english)]
    assert [r["description"] for r in eco[0]["requirements"]] == ["成长值达到 500", "先解锁「绿能群岛」"]
    assert [r["description"] for r in eco[1]["requirements"]] == [
        "Reach 500 growth", "Unlock Green Energy Islands first"]
    egg = next(e for e in chinese["eggs"] if e["id"] == "first-metro")
    assert (egg["name"], egg["description"]) == ("首次乘坐地铁", "第一次坐地铁出行。")
    egg_en = next(e for e in english["eggs"] if e["id"] == "first-metro")
    assert (egg_en["name"], egg_en["description"]) == ("First metro ride", "Your first trip by metro.")

    question = daily_question(default_rules(), pid, datetime.now(CST).date())
    quiz_zh = (await ask(reader, QUIZ, token, "zh-CN"))["dailyQuiz"]
    quiz_en = (await ask(reader, QUIZ, token, "en"))["dailyQuiz"]
    assert quiz_zh["id"] == quiz_en["id"]
    assert quiz_zh["question"] == question.question and CJK.search(quiz_zh["question"])
    assert quiz_en["question"] == question.question_en and not CJK.search(quiz_en["question"])
    assert [c["text"] for c in quiz_en["choices"]] == [c.text_en for c in question.choices]
    assert [c["text"] for c in quiz_zh["choices"]] == [c.text for c in question.choices]
    answered = (await ask(reader, ANSWER, token, "en",
                          {"quizId": quiz_en["id"], "choiceId": question.answer}))["answerQuiz"]
    assert answered == {"correct": True, "explanation": question.explanation_en, "errors": []}


async def designer(gql) -> str:
    session = await gql.login("+8613800138090")
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "designer"])
    return session["accessToken"]


async def test_publishing_a_file_without_an_english_name_is_refused_naming_the_field(gql):
    token = await designer(gql)
    draft = SHIPPED.replace('name_en = "Clearwater Bay"\n', "", 1)
    errors = (await gql(DRY_RUN, {"content": draft}, token=token))["data"]["publishRules"]["errors"]
    assert errors == [{"code": "INVALID_INPUT", "field": "content", "message":
                       "themes.3.name_en: the English text is missing "
                       "(every text is written in Chinese and English)"}]


# A rules file as published before content was bilingual: English theme descriptions,
# egg names and quiz text in the plain keys, no `_en` but the theme names.
BEFORE_BILINGUAL = """
levels = [0, 100]

[[themes]]
id = "green-energy-islands"
name = "绿能群岛"
name_en = "Green Energy Islands"
description = "Wind and sun power a chain of islands."
art = "themes/green-energy-islands"
order = 1
requirements = [{ type = "growth", at_least = 100 }]

[[themes]]
id = "city-of-sunshine"
name = "阳光之城"
name_en = "City of Sunshine"
art = "themes/city-of-sunshine"
order = 2
requirements = [{ type = "activity_count", kind = "metro", at_least = 3 }]

[[eggs]]
id = "first-metro"
theme = "city-of-sunshine"
name = "First metro ride"
condition = { type = "activity_count", kind = "metro", at_least = 1 }
reward_growth = 20

[quiz]
correct_growth = 10

[[quiz.questions]]
id = "standby"
question = "Which saves power at home?"
choices = [{ id = "a", text = "Leaving chargers plugged in" }, { id = "b", text = "Switching devices off at the wall" }]
answer = "b"
explanation = "Standby draw adds up: switching off at the wall removes it."
"""


def test_a_file_from_before_bilingual_content_is_refused_as_new_but_loads_as_published():
    _, found = rules_problems(BEFORE_BILINGUAL)
    problems = [str(p) for p in found]
    assert "themes.0.description_en: the English text is missing (every text is written in Chinese and English)" \
        in problems
    assert any(p.startswith("eggs.0.name_en: the English text is missing") for p in problems)
    assert any(p.startswith("quiz.questions.0.choices.0.text_en") for p in problems)
    rules = parse_rules(BEFORE_BILINGUAL, "v1", fill_missing=True)
    islands, sunshine = rules.themes
    assert (islands.name, islands.name_en) == ("绿能群岛", "Green Energy Islands")
    assert islands.description == islands.description_en == "Wind and sun power a chain of islands."
    assert (sunshine.description, sunshine.description_en) == ("阳光之城", "City of Sunshine")
    assert rules.eggs[0].name_en == rules.eggs[0].name == "First metro ride"
    assert rules.eggs[0].description_en == "First metro ride"
    assert rules.quiz.questions[0].question_en == "Which saves power at home?"
    assert rules.quiz.questions[0].choices[1].text_en == "Switching devices off at the wall"


@pytest.fixture
async def no_versions_left():
    """The next test's app reads the active rules before the tables are emptied: leave none
    of these two-theme versions behind."""
    yield
    await RuleSet.all().delete()


async def test_a_version_published_before_bilingual_content_still_plays_compares_and_rolls_back(
        gql, reader, app, no_versions_left):
    await RuleSet.create(version=1, content=BEFORE_BILINGUAL, checksum=checksum(BEFORE_BILINGUAL),
                         author="t", note="before bilingual content", effective_from=utcnow())
    provider = app.state.services.rules_provider
    assert await provider.refresh() and provider.version == 1
    player = await gql.login()
    english = (await ask(reader, PLANET, player["accessToken"], "en"))["me"]["planet"]
    assert [(t["name"], t["description"]) for t in english["themes"]] == [
        ("Green Energy Islands", "Wind and sun power a chain of islands."),
        ("City of Sunshine", "City of Sunshine")]
    assert english["themes"][1]["requirements"][0]["description"] == "Take the metro 3 times"
    chinese = (await ask(reader, PLANET, player["accessToken"], "zh-CN"))["me"]["planet"]
    assert [t["name"] for t in chinese["themes"]] == ["绿能群岛", "阳光之城"]

    token = await designer(gql)
    changes = (await gql(DIFF, {"a": 1, "b": 0}, token=token))["data"]["rulesDiff"]["changes"]
    assert "Green Energy Islands: description 'Wind and sun power a chain of islands.' -> " \
           "'风和阳光点亮了一串海岛。'" in changes
    to_shipped = (await gql(ROLLBACK_TO, {"v": 0}, token=token))["data"]["rollbackRules"]
    assert to_shipped["errors"] == [] and to_shipped["version"]["version"] == 2
    back = (await gql(ROLLBACK_TO, {"v": 1}, token=token))["data"]["rollbackRules"]
    assert back["errors"] == [] and back["version"] == {"version": 3, "active": True}
    assert (await RuleSet.get(version=3)).content == BEFORE_BILINGUAL
    assert provider.version == 3 and [t.id for t in provider.rules.themes] == [
        "green-energy-islands", "city-of-sunshine"]
