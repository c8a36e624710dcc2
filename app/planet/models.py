"""Planet state per player, daily quiz answers and friendships."""

from __future__ import annotations

import uuid
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Planet(Model):
    """A player's planet: the engine's state (JSON) and the theme they show."""

    id = fields.BigIntField(primary_key=True)
    player: fields.OneToOneRelation = fields.OneToOneField(
        "models.Player", related_name="planet", on_delete=fields.RESTRICT
    )
    player_id: uuid.UUID  # the column behind `player`, for type checkers
    state: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    active_theme = fields.CharField(max_length=40, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "planet"


class QuizAnswer(Model):
    """One answer per player and local day."""

    id = fields.BigIntField(primary_key=True)
    player: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Player", related_name="quiz_answers", on_delete=fields.RESTRICT
    )
    player_id: uuid.UUID  # the column behind `player`, for type checkers
    local_date = fields.DateField()
    question_id = fields.CharField(max_length=60)
    choice_id = fields.CharField(max_length=20)
    correct = fields.BooleanField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "quiz_answer"
        unique_together = (("player", "local_date"),)


class Friendship(Model):
    """`player` follows `friend`: one-way, as the README explains."""

    id = fields.BigIntField(primary_key=True)
    player: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Player", related_name="following", on_delete=fields.CASCADE
    )
    player_id: uuid.UUID  # the column behind `player`, for type checkers
    friend: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Player", related_name="followers", on_delete=fields.CASCADE
    )
    friend_id: uuid.UUID  # the column behind `friend`, for type checkers
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "friendship"
        unique_together = (("player", "friend"),)
