"""Persistence for players and authentication state.

Secrets (login codes, refresh tokens) are stored only as keyed hashes.
"""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model


class Player(Model):
    """Anyone with an account: a citizen, and staff (designer, operator, merchant, admin)."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    phone = fields.CharField(max_length=20, unique=True, null=True)
    nickname = fields.CharField(max_length=40)
    city = fields.CharField(max_length=40, null=True)
    avatar_url = fields.CharField(max_length=500, null=True)
    roles: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # set when the player closed the account: its personal data is erased, the row stays
    # as the pseudonymous owner of ledger lines and activities
    closed_at = fields.DatetimeField(null=True)
    close_key = fields.CharField(max_length=200, null=True)  # the closing's idempotency key

    class Meta:
        table = "player"


class HostIdentity(Model):
    """A player's (issuer, subject) at a host app that logs them in with a signed token."""

    id = fields.IntField(primary_key=True)
    issuer = fields.CharField(max_length=200)
    subject = fields.CharField(max_length=200)
    player: fields.ForeignKeyRelation[Player] = fields.ForeignKeyField(
        "models.Player", related_name="host_identities", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "host_identity"
        unique_together = (("issuer", "subject"),)
        indexes = (("subject",),)  # a partner names the person by subject alone


class MiniProgramIdentity(Model):
    """A player's openid in one WeChat or Alipay mini-program, with WeChat's unionid.

    The unionid is the same in every app of one WeChat developer account: it links a
    city's apps to one player."""

    id = fields.IntField(primary_key=True)
    platform = fields.CharField(max_length=10)
    app_id = fields.CharField(max_length=64)
    openid = fields.CharField(max_length=128)
    unionid = fields.CharField(max_length=128, null=True, db_index=True)
    player: fields.ForeignKeyRelation[Player] = fields.ForeignKeyField(
        "models.Player", related_name="miniprogram_identities", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "miniprogram_identity"
        unique_together = (("platform", "app_id", "openid"),)


class LoginCode(Model):
    """The current one-time code of a phone: one row per phone, replaced on each request."""

    phone = fields.CharField(max_length=20, primary_key=True)
    code_hash = fields.CharField(max_length=64)
    sent_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    attempts = fields.IntField(default=0)
    consumed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "login_code"


class AuthSession(Model):
    """A login: the family of rotating refresh tokens, revoked as one."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    player: fields.ForeignKeyRelation[Player] = fields.ForeignKeyField(
        "models.Player", related_name="sessions", on_delete=fields.CASCADE
    )
    player_id: uuid.UUID  # the column behind `player`, for type checkers
    method = fields.CharField(max_length=20)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.CharField(max_length=40, null=True)

    class Meta:
        table = "auth_session"


class RefreshToken(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[AuthSession] = fields.ForeignKeyField(
        "models.AuthSession", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_token"
