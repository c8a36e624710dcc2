"""The link from a partner's own id for a person (a card, customer or account number) to a player."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model


class PartnerLink(Model):
    """A partner-scoped id linked to a player, until the player removes the link.

    `active` is true while the link holds and null once removed: (partner, external id,
    active) is unique, so one active link per partner-scoped id, while removed links
    (nulls never collide) stay as history and keep refusing that id's records.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    partner_id = fields.CharField(max_length=60)
    external_id = fields.CharField(max_length=200)
    player: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Player", related_name="partner_links", on_delete=fields.RESTRICT)
    player_id: uuid.UUID  # the column behind `player`, for type checkers
    active = fields.BooleanField(null=True, default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    removed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "partner_link"
        unique_together = (("partner_id", "external_id", "active"),)
        indexes = (("player_id", "created_at"),)


class PartnerLinkCode(Model):
    """A one-time code the player asked for in the app and gives one partner, which sends it
    with its own id for the player: proof that the person agreed to this link. Only its
    SHA-256 is kept, and `link` is the link it made (a partner's retry gets the same answer)."""

    id = fields.BigIntField(primary_key=True)
    code_hash = fields.CharField(max_length=64, unique=True)
    partner_id = fields.CharField(max_length=60)
    player: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Player", related_name="partner_link_codes", on_delete=fields.CASCADE)
    player_id: uuid.UUID  # the column behind `player`, for type checkers
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    link: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.PartnerLink", related_name=False, null=True, on_delete=fields.RESTRICT)
    link_id: uuid.UUID | None  # the column behind `link`, for type checkers

    class Meta:
        table = "partner_link_code"


class PartnerLinkOffer(Model):
    """A partner's offer to link its id for a person to whoever proves the phone number the
    partner holds for them. Only a keyed hash of the number is kept (the partner's number is
    not stored, and a leaked table cannot be reversed by trying every number): the player whose
    verified phone has that hash sees the offer and accepts or declines it."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    partner_id = fields.CharField(max_length=60)
    external_id = fields.CharField(max_length=200)
    phone_hash = fields.CharField(max_length=64, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    link: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.PartnerLink", related_name=False, null=True, on_delete=fields.RESTRICT)
    link_id: uuid.UUID | None  # the column behind `link`, for type checkers

    class Meta:
        table = "partner_link_offer"
        unique_together = (("partner_id", "external_id", "phone_hash"),)
