"""The planet game around the pure engine: lock the player's planet row, apply the event,
save the state and post egg rewards through the ledger, all in the caller's transaction."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.errors import ErrorCode, ServiceError, invalid
from app.ledger.service import Asset, credit, post_in_transaction
from app.planet.models import Planet, QuizAnswer
from game.engine import ActivityEvent, Effect, EggFound, Event, PlanetState, QuizEvent, apply
from game.model import Question, Rules


async def lock_planet(player_id: str) -> Planet:
    """The player's planet row, created if new, locked until the transaction ends: one
    upsert, whose DO UPDATE takes the row lock (SQLite runs one writer at a time)."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    now = utcnow()
    rows = await conn.execute_query_dict(
        "INSERT INTO planet (player_id, state, updated_at) VALUES "
        + ("($1, '{}', $2)" if postgres else "(?, '{}', ?)")
        + " ON CONFLICT (player_id) DO UPDATE SET player_id = EXCLUDED.player_id RETURNING *",
        [str(player_id), now if postgres else now.isoformat()],
    )
    return Planet._init_from_db(**rows[0])


async def apply_event(player_id: str, event: Event, rules: Rules) -> list[Effect]:
    """Apply a game event inside the caller's transaction; egg rewards go through the ledger."""
    planet = await lock_planet(player_id)
    state, effects = apply(PlanetState.from_json(planet.state), event, rules)
    for effect in effects:
        if isinstance(effect, EggFound) and effect.reward_growth:
            await post_in_transaction(
                "EGG_REWARD", f"egg:{player_id}:{effect.egg_id}",
                credit(str(player_id), {Asset.GROWTH: effect.reward_growth}),
                reference=f"egg:{effect.egg_id}",
            )
    planet.state = state.to_json()
    await planet.save(update_fields=["state", "updated_at"])
    return effects


async def on_activity(player_id: str, kind: str, growth: int, day: date, count: int,
                      rules: Rules) -> list[Effect]:
    return await apply_event(player_id, ActivityEvent(kind, growth, day, utcnow(), count), rules)


async def planet_state(player_id: str) -> tuple[PlanetState, str | None]:
    planet = await Planet.get_or_none(player_id=player_id)
    if planet is None:
        return PlanetState(), None
    return PlanetState.from_json(planet.state), planet.active_theme


def daily_question(rules: Rules, player_id: str, day: date) -> Question:
    """The same question all day for a player; different players and days vary."""
    digest = hashlib.sha256(f"{player_id}:{day.isoformat()}".encode()).digest()
    return rules.quiz.questions[int.from_bytes(digest[:4], "big") % len(rules.quiz.questions)]


def quiz_id(day: date, question: Question) -> str:
    return f"{day.isoformat()}:{question.id}"


async def answered_today(player_id: str, day: date) -> bool:
    return await QuizAnswer.filter(player_id=player_id, local_date=day).exists()


async def answer_quiz(player_id: str, day: date, given_quiz_id: str, choice_id: str,
                      rules: Rules) -> tuple[bool, Question, int, list[Effect]]:
    question = daily_question(rules, player_id, day)
    if given_quiz_id != quiz_id(day, question):
        raise invalid("quizId", "This is not today's question; ask for dailyQuiz again.")
    if choice_id not in {c.id for c in question.choices}:
        raise invalid("choiceId", "Not one of the question's choices.")
    correct = choice_id == question.answer
    growth = rules.quiz.correct_growth if correct else 0
    try:
        async with in_transaction():
            await QuizAnswer.create(player_id=player_id, local_date=day, question_id=question.id,
                                    choice_id=choice_id, correct=correct)
            if growth:
                await post_in_transaction("QUIZ_REWARD", f"quiz:{player_id}:{day.isoformat()}",
                                          credit(str(player_id), {Asset.GROWTH: growth}),
                                          reference=f"quiz:{question.id}")
            effects = await apply_event(player_id, QuizEvent(correct, growth, day, utcnow()), rules)
    except IntegrityError:
        raise ServiceError(ErrorCode.LIMIT_REACHED, "Today's question is already answered.",
                           "quizId") from None
    return correct, question, growth, effects


async def set_active_theme(player_id: str, theme_id: str, rules: Rules) -> None:
    if rules.theme(theme_id) is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such theme.", "themeId")
    async with in_transaction():
        planet = await lock_planet(player_id)
        if theme_id not in PlanetState.from_json(planet.state).unlocked:
            raise ServiceError(ErrorCode.LOCKED, "This theme is not unlocked yet.", "themeId")
        planet.active_theme = theme_id
        await planet.save(update_fields=["active_theme", "updated_at"])


def unlocked_at(state: PlanetState, theme_id: str) -> datetime | None:
    value = state.unlocked.get(theme_id)
    return datetime.fromisoformat(value) if value else None
