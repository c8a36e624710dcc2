"""The player's links to partners (a bank's customer number, a transit card): thin resolvers
over `app.partner_links`."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from app import ratelimit
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.partner_links.service import LinkSummary, PartnerLinks
from schema.errors import UserError, user_errors
from schema.permissions import IsAuthenticated

LINK_CODES_PER_MINUTE = 10  # a player links a few institutions, not hundreds


@strawberry.type(name="PartnerLink", description="The player's id at one partner, linked to them.")
class PartnerLinkType:
    id: strawberry.ID
    partner_id: str
    partner: str = strawberry.field(description="The partner's name.")
    reference_hint: str = strawberry.field(
        description="The last characters of the partner's id for the player, to tell cards apart.")
    since: datetime
    removed_at: datetime | None
    contribution_grams: int = strawberry.field(
        description="CO2e grams credited to the player from this partner's records.")
    contribution_points: int = strawberry.field(
        description="Carbon points credited to the player from this partner's records.")

    @classmethod
    def from_summary(cls, s: LinkSummary) -> PartnerLinkType:
        ref = s.link.external_id
        return cls(
            id=strawberry.ID(str(s.link.id)), partner_id=s.link.partner_id, partner=s.partner_name,
            reference_hint="…" + ref[-4:] if len(ref) > 4 else ref, since=s.link.created_at,
            removed_at=s.link.removed_at, contribution_grams=s.contribution_grams,
            contribution_points=s.contribution_points)


@strawberry.type
class PartnerLinkCodePayload:
    code: str | None = strawberry.field(
        default=None, description="Give it to the partner (once, before expiresAt).")
    partner_id: str | None = None
    expires_at: datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RemovePartnerLinkPayload:
    link: PartnerLinkType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def partner_links_of(info: Info, player_id: str) -> list[PartnerLinkType]:
    links = PartnerLinks(info.context.services.settings)
    return [PartnerLinkType.from_summary(s) for s in await links.of_player(player_id)]


@strawberry.type
class PartnerLinksMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated], description=(
        "A one-time code the player gives the partner (bank, utility, transit card) so that it "
        "can link its own id for them: records it sends with that id then credit this player."))
    async def create_partner_link_code(self, info: Info, partner_id: str) -> PartnerLinkCodePayload:
        player = await info.context.player()
        services = info.context.services
        try:
            allowed = await ratelimit.hit(services.redis, "partner-link-code", str(player.id),
                                          LINK_CODES_PER_MINUTE)
            if not allowed.allowed:
                raise ServiceError(ErrorCode.RATE_LIMITED, N_(
                    "Too many link codes; try again in %(seconds)s s.",
                    seconds=allowed.retry_after_seconds),
                    retry_after_seconds=allowed.retry_after_seconds)
            made = await PartnerLinks(services.settings).create_code(str(player.id), partner_id)
        except ServiceError as exc:
            return PartnerLinkCodePayload(errors=user_errors(exc))
        return PartnerLinkCodePayload(code=made.code, partner_id=made.partner_id,
                                      expires_at=made.expires_at)

    @strawberry.mutation(permission_classes=[IsAuthenticated], description=(
        "End one of the player's partner links (again: no change). The partner's later records "
        "with that id are refused (LINK_REMOVED); what was credited stays."))
    async def remove_partner_link(self, info: Info, id: strawberry.ID) -> RemovePartnerLinkPayload:
        player = await info.context.player()
        links = PartnerLinks(info.context.services.settings)
        try:
            link = await links.remove(str(player.id), str(id))
        except ServiceError as exc:
            return RemovePartnerLinkPayload(errors=user_errors(exc))
        [summary] = await links.summaries(str(player.id), [link])
        return RemovePartnerLinkPayload(link=PartnerLinkType.from_summary(summary))
