"""The planet game around the pure engine: lock the player's planet row, apply the event,
save the state, all in the caller's transaction, and hand back the egg rewards as ledger
entries for the caller to post.

Every crediting path takes its locks in one order: the day's totals, then planets, then
ledger accounts. The accounts come last because the issuance shards are shared by all
players: held from the ledger step to commit, they should be held as briefly as possible."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.database import update_rows
from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.ledger.service import Asset, Entry, credit, post_many_in_transaction
from app.planet.models import Planet, QuizAnswer
from game.engine import ActivityEvent, Effect, EggFound, Event, PlanetState, QuizEvent, apply
from game.model import Question, Rules


async def lock_planets(player_ids: list[str]) -> dict[str, Planet]:
    """The players' planet rows, created if new, locked until the transaction ends: one
    upsert, whose DO UPDATE takes the row locks in player order (SQLite runs one writer
    at a time)."""
    ids = sorted({str(p) for p in player_ids})
    if not ids:  # SQLite has no empty VALUES list
        return {}
    conn = connections.get("default")
    upsert = ("INSERT INTO planet (player_id, state, updated_at) {rows} ON CONFLICT (player_id) "
              "DO UPDATE SET player_id = EXCLUDED.player_id RETURNING *")
    if conn.capabilities.dialect == "postgres":  # one statement text for any batch size
        rows = await conn.execute_query_dict(
            upsert.format(rows="SELECT p, '{}'::jsonb, $2::timestamptz FROM unnest($1::uuid[]) "
                               "WITH ORDINALITY AS v(p, i) ORDER BY i"), [ids, utcnow()])
    else:
        now = utcnow()
        rows = await conn.execute_query_dict(
            upsert.format(rows="VALUES " + ", ".join("(?, '{}', ?)" for _ in ids)),
            [v for pid in ids for v in (pid, now)])
    planets = [Planet._init_from_db(**row) for row in rows]
    return {str(planet.player_id): planet for planet in planets}


async def lock_planet(player_id: str) -> Planet:
    return (await lock_planets([player_id]))[str(player_id)]


async def apply_events(events: list[tuple[str, Event]], rules: Rules
                       ) -> tuple[list[list[Effect]], list[Entry]]:
    """Apply game events in order inside the caller's transaction (a player may have
    several). The effects of each event, in order, and the egg rewards as ledger entries,
    which the caller posts, after this, in the same transaction."""
    planets = await lock_planets([player_id for player_id, _ in events])
    states = {pid: PlanetState.from_json(planet.state) for pid, planet in planets.items()}
    results: list[list[Effect]] = []
    rewards: list[Entry] = []
    for player_id, event in events:
        pid = str(player_id)
        states[pid], effects = apply(states[pid], event, rules)
        results.append(effects)
        rewards.extend(
            Entry("EGG_REWARD", f"egg:{pid}:{effect.egg_id}",
                  credit(pid, {Asset.GROWTH: effect.reward_growth}), reference=f"egg:{effect.egg_id}")
            for effect in effects if isinstance(effect, EggFound) and effect.reward_growth)
    conn = connections.get("default")
    now = utcnow()
    await update_rows(conn, "planet", "id", {"state": "jsonb", "updated_at": "timestamptz"},
                      [(planet.id, json.dumps(states[pid].to_json(), separators=(",", ":")), now)
                       for pid, planet in planets.items()])
    return results, rewards


@dataclass(frozen=True)
class PlanetActivity:
    """A credited activity as the game sees it. `quantity` is what the methodology credited
    for a scene measured by quantity, in its `quantity_unit` (`unit`): a weighed recycling
    drop-off's grams, a meter's kWh saved against the baseline; it feeds `activity_amount`
    requirements. Trips, steps and events leave it 0."""

    player_id: str
    kind: str
    growth: int
    day: date
    count: int = 1
    quantity: int = 0
    unit: str | None = None


async def on_activities(activities: Sequence[PlanetActivity | tuple], rules: Rules
                        ) -> tuple[list[list[Effect]], list[Entry]]:
    """`apply_events` for several activities, in one lock of the planets. Each is a
    `PlanetActivity` or its fields as a tuple: (player, kind, growth, day, count[, quantity,
    unit])."""
    now = utcnow()
    items = [a if isinstance(a, PlanetActivity) else PlanetActivity(*a) for a in activities]
    return await apply_events([(a.player_id, ActivityEvent(a.kind, a.growth, a.day, now, a.count,
                                                           a.quantity, a.unit))
                               for a in items], rules)


async def planet_state(player_id: str) -> tuple[PlanetState, str | None]:
    return (await planet_states([player_id]))[player_id]


async def planet_states(player_ids: Sequence[str]) -> dict[str, tuple[PlanetState, str | None]]:
    """Each player's planet and active theme (a fresh planet before the first growth)."""
    planets = {str(p.player_id): p for p in await Planet.filter(player_id__in=list(player_ids))}
    return {p: (PlanetState.from_json(planets[p].state), planets[p].active_theme)
            if p in planets else (PlanetState(), None) for p in player_ids}


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
        raise invalid("quizId", N_("This is not today's question; ask for dailyQuiz again."))
    if choice_id not in {c.id for c in question.choices}:
        raise invalid("choiceId", N_("Not one of the question's choices."))
    correct = choice_id == question.answer
    growth = rules.quiz.correct_growth if correct else 0
    try:
        async with in_transaction():
            await QuizAnswer.create(player_id=player_id, local_date=day, question_id=question.id,
                                    choice_id=choice_id, correct=correct)
            [effects], rewards = await apply_events(
                [(player_id, QuizEvent(correct, growth, day, utcnow()))], rules)
            if growth:
                rewards.insert(0, Entry("QUIZ_REWARD", f"quiz:{player_id}:{day.isoformat()}",
                                        credit(str(player_id), {Asset.GROWTH: growth}),
                                        reference=f"quiz:{question.id}"))
            await post_many_in_transaction(rewards)
    except IntegrityError:
        raise ServiceError(ErrorCode.LIMIT_REACHED, N_("Today's question is already answered."),
                           "quizId") from None
    return correct, question, growth, effects


async def set_active_theme(player_id: str, theme_id: str, rules: Rules) -> None:
    if rules.theme(theme_id) is None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("No such theme."), "themeId")
    async with in_transaction():
        planet = await lock_planet(player_id)
        if theme_id not in PlanetState.from_json(planet.state).unlocked:
            raise ServiceError(ErrorCode.LOCKED, N_("This theme is not unlocked yet."), "themeId")
        planet.active_theme = theme_id
        await planet.save(update_fields=["active_theme", "updated_at"])


def unlocked_at(state: PlanetState, theme_id: str) -> datetime | None:
    value = state.unlocked.get(theme_id)
    return datetime.fromisoformat(value) if value else None
