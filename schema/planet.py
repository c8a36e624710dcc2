"""The planet game, quiz, friends, leaderboards and live events: thin resolvers."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

import strawberry
from graphql import GraphQLError
from redis.exceptions import RedisError
from strawberry.types import Info

from app.accounts.models import Player as PlayerModel
from app.clock import utcnow
from app.errors import ServiceError
from app.i18n import current_language
from app.i18n.messages import _
from app.planet import friends as friendship
from app.planet import service as planet
from game.engine import progress
from game.model import in_language
from schema.errors import UserError, user_errors
from schema.permissions import IsAuthenticated

log = logging.getLogger("carbon_planet.graphql.planet")


@strawberry.type
class Requirement:
    description: str = strawberry.field(
        description="The requirement in words, in the reader's language (Accept-Language).")
    progress: int
    target: int
    met: bool


@strawberry.type
class Theme:
    id: strawberry.ID
    name: str = strawberry.field(description="In the reader's language (Accept-Language; "
                                             "Chinese by default).")
    name_en: str = strawberry.field(description="Always English, whatever the reader's language.")
    description: str = strawberry.field(description="In the reader's language.")
    art: str
    order: int
    unlocked: bool
    unlocked_at: datetime | None
    requirements: list[Requirement]


@strawberry.type
class ThemeRef:
    id: strawberry.ID


@strawberry.type
class Egg:
    id: strawberry.ID
    theme_id: strawberry.ID
    name: str = strawberry.field(description="In the reader's language.")
    description: str = strawberry.field(description="In the reader's language.")
    found_at: datetime


@strawberry.type
class Planet:
    level: int
    growth: int
    next_level_growth: int | None = strawberry.field(description="Growth where the next level starts.")
    active_theme: ThemeRef | None
    themes: list[Theme]
    eggs: list[Egg]


def local_today(info: Info):
    return utcnow().astimezone(ZoneInfo(info.context.services.settings.default_timezone)).date()


async def planet_of(info: Info, player_id: str) -> Planet:
    rules = info.context.services.rules
    language = current_language()
    state, active = await info.context.loaders.planets.load(player_id)
    today = local_today(info)
    themes = []
    for t in rules.themes_in_order:
        bars = [progress(state, r, rules, today, language) for r in t.requirements]
        themes.append(Theme(
            id=strawberry.ID(t.id), name=in_language(t, "name", language), name_en=t.name_en,
            description=in_language(t, "description", language),
            art=t.art, order=t.order, unlocked=t.id in state.unlocked,
            unlocked_at=planet.unlocked_at(state, t.id),
            requirements=[Requirement(description=b.description, progress=b.progress,
                                      target=b.target, met=b.met) for b in bars],
        ))
    eggs_by_id = {e.id: e for e in rules.eggs}
    eggs = [Egg(id=strawberry.ID(egg_id), theme_id=strawberry.ID(eggs_by_id[egg_id].theme),
                name=in_language(eggs_by_id[egg_id], "name", language),
                description=in_language(eggs_by_id[egg_id], "description", language),
                found_at=datetime.fromisoformat(at))
            for egg_id, at in state.eggs.items() if egg_id in eggs_by_id]
    later = [threshold for threshold in rules.levels if threshold > state.growth]
    return Planet(level=state.level, growth=state.growth, next_level_growth=later[0] if later else None,
                  active_theme=ThemeRef(id=strawberry.ID(active)) if active else None,
                  themes=themes, eggs=eggs)


@strawberry.type
class QuizChoice:
    id: strawberry.ID
    text: str


@strawberry.type
class DailyQuiz:
    id: strawberry.ID
    question: str = strawberry.field(description="In the reader's language; so are the choices.")
    choices: list[QuizChoice]
    answered: bool


@strawberry.type
class SetActiveThemePayload:
    planet: Planet | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AnswerQuizPayload:
    correct: bool | None = None
    explanation: str | None = None
    growth_awarded: int | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OkPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.enum
class LeaderboardScope(Enum):
    GLOBAL = "GLOBAL"
    CITY = "CITY"
    FRIENDS = "FRIENDS"


@strawberry.enum
class LeaderboardPeriod(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    ALL_TIME = "ALL_TIME"


@strawberry.type
class LeaderboardPlayer:
    id: strawberry.ID
    nickname: str


@strawberry.type
class LeaderboardEntry:
    rank: int
    score: int = strawberry.field(description="Grams of CO2e reduced in the period.")
    player: LeaderboardPlayer


@strawberry.type
class MyRank:
    rank: int | None
    score: int


@strawberry.type
class Leaderboard:
    entries: list[LeaderboardEntry]
    me: MyRank
    around: list[LeaderboardEntry]


@strawberry.enum
class PlanetEventKind(Enum):
    THEME_UNLOCKED = "THEME_UNLOCKED"
    EGG_FOUND = "EGG_FOUND"
    LEVEL_UP = "LEVEL_UP"


@strawberry.type
class PlanetEvent:
    kind: PlanetEventKind
    theme_id: strawberry.ID | None
    egg_id: strawberry.ID | None
    level: int | None
    at: datetime


async def _entries(rows) -> list[LeaderboardEntry]:
    players = {str(p.id): p for p in await PlayerModel.filter(  # closed accounts show on no board
        id__in=[r.player_id for r in rows], closed_at=None)}
    return [LeaderboardEntry(rank=r.rank, score=r.score, player=LeaderboardPlayer(
                id=strawberry.ID(r.player_id), nickname=players[r.player_id].nickname))
            for r in rows if r.player_id in players]


@strawberry.type
class PlanetQuery:
    @strawberry.field(permission_classes=[IsAuthenticated],
                      description="Today's question (the same all day for a player).")
    async def daily_quiz(self, info: Info) -> DailyQuiz:
        player = await info.context.player()
        today = local_today(info)
        question = planet.daily_question(info.context.services.rules, str(player.id), today)
        language = current_language()
        return DailyQuiz(
            id=strawberry.ID(planet.quiz_id(today, question)),
            question=in_language(question, "question", language),
            choices=[QuizChoice(id=strawberry.ID(c.id), text=in_language(c, "text", language))
                     for c in question.choices],
            answered=await planet.answered_today(str(player.id), today),
        )

    @strawberry.field(permission_classes=[IsAuthenticated],
                      description="score = grams of CO2e reduced in the period; ties rank first "
                                  "who got there first. Null with an error when Redis is down.")
    async def leaderboard(self, info: Info, scope: LeaderboardScope, period: LeaderboardPeriod,
                          first: int = 10) -> Leaderboard | None:
        player = await info.context.player()
        if not 1 <= first <= 100:
            raise GraphQLError(_("first is between 1 and %(max)s.", max=100),
                               extensions={"code": "INVALID_INPUT"})
        if scope == LeaderboardScope.CITY and not player.city:
            raise GraphQLError(_("Set your city in your profile first."),
                               extensions={"code": "INVALID_INPUT"})
        friend_ids = None
        if scope == LeaderboardScope.FRIENDS:
            friend_ids = [str(f.id) for f in await friendship.friends_of(str(player.id))] + [str(player.id)]
        boards = info.context.services.leaderboards
        where = {"city": player.city, "friend_ids": friend_ids}
        try:
            top = await boards.top(scope.value, period.value, first, **where)
            mine = await boards.me(str(player.id), scope.value, period.value, **where)
            around = await boards.around(str(player.id), scope.value, period.value, **where)
        except (RedisError, OSError) as exc:
            log.warning("leaderboard unavailable: %s", exc)
            raise GraphQLError(_("Leaderboards are unavailable right now; try again soon."),
                               extensions={"code": "NOT_AVAILABLE"}) from None
        return Leaderboard(entries=await _entries(top),
                           me=MyRank(rank=mine.rank if mine else None, score=mine.score if mine else 0),
                           around=await _entries(around))


@strawberry.type
class PlanetMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def set_active_theme(self, info: Info, theme_id: strawberry.ID) -> SetActiveThemePayload:
        player = await info.context.player()
        try:
            await planet.set_active_theme(str(player.id), str(theme_id), info.context.services.rules)
        except ServiceError as exc:
            return SetActiveThemePayload(errors=user_errors(exc))
        return SetActiveThemePayload(planet=await planet_of(info, str(player.id)))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def answer_quiz(self, info: Info, quiz_id: strawberry.ID,
                          choice_id: strawberry.ID) -> AnswerQuizPayload:
        player = await info.context.player()
        services = info.context.services
        try:
            correct, question, growth, effects = await planet.answer_quiz(
                str(player.id), local_today(info), str(quiz_id), str(choice_id), services.rules)
        except ServiceError as exc:
            return AnswerQuizPayload(errors=user_errors(exc))
        await services.planet_events.publish(str(player.id), effects, utcnow())
        return AnswerQuizPayload(correct=correct, growth_awarded=growth,
                                 explanation=in_language(question, "explanation", current_language()))

    @strawberry.mutation(permission_classes=[IsAuthenticated],
                         description="Follow a player on your friends board (one-way).")
    async def add_friend(self, info: Info, player_id: strawberry.ID) -> OkPayload:
        player = await info.context.player()
        try:
            await friendship.add_friend(str(player.id), str(player_id))
        except ServiceError as exc:
            return OkPayload(errors=user_errors(exc))
        return OkPayload(ok=True)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def remove_friend(self, info: Info, player_id: strawberry.ID) -> OkPayload:
        player = await info.context.player()
        try:
            await friendship.remove_friend(str(player.id), str(player_id))
        except ServiceError as exc:
            return OkPayload(errors=user_errors(exc))
        return OkPayload(ok=True)


@strawberry.type
class PlanetSubscription:
    @strawberry.subscription(permission_classes=[IsAuthenticated],
                             description="The caller's own unlocks, eggs and level-ups, live.")
    async def planet_events(self, info: Info) -> AsyncGenerator[PlanetEvent, None]:
        player = await info.context.player()
        async for event in info.context.services.planet_events.listen(str(player.id)):
            yield PlanetEvent(kind=PlanetEventKind(event.kind),
                              theme_id=strawberry.ID(event.theme_id) if event.theme_id else None,
                              egg_id=strawberry.ID(event.egg_id) if event.egg_id else None,
                              level=event.level, at=event.at)



