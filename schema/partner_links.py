"""The player's links to partners (a bank's customer number, a transit card): thin resolvers
over `app.partner_links`."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from app import ratelimit
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.partner_links.models import PartnerLink
from app.partner_links.service import LinkSummary, OfferSummary, PartnerLinks
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
            reference_hint=_hint(ref), since=s.link.created_at,
            removed_at=s.link.removed_at, contribution_grams=s.contribution_grams,
            contribution_points=s.contribution_points)


def _hint(ref: str) -> str:
    return "…" + ref[-4:] if len(ref) > 4 else ref


@strawberry.type(name="PartnerLinkOffer", description=(
    "A partner's offer to link its id for the player, sent with the phone number the partner "
    "holds: accepting it links as a link code does."))
class PartnerLinkOfferType:
    id: strawberry.ID
    partner_id: str
    partner: str = strawberry.field(description="The partner's name.")
    reference_hint: str = strawberry.field(
        description="The last characters of the partner's id for the player.")
    offered_at: datetime
    expires_at: datetime

    @classmethod
    def from_summary(cls, s: OfferSummary) -> PartnerLinkOfferType:
        return cls(id=strawberry.ID(str(s.offer.id)), partner_id=s.offer.partner_id,
                   partner=s.partner_name, reference_hint=_hint(s.offer.external_id),
                   offered_at=s.offer.created_at, expires_at=s.offer.expires_at)


@strawberry.type
class DecidePartnerLinkOfferPayload:
    link: PartnerLinkType | None = strawberry.field(
        default=None, description="The link made (null when the offer was declined).")
    errors: list[UserError] = strawberry.field(default_factory=list)


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


async def partner_link_offers_of(info: Info, player_id: str) -> list[PartnerLinkOfferType]:
    player = await info.context.loaders.players.load(player_id)
    if player is None:
        return []
    links = PartnerLinks(info.context.services.settings)
    return [PartnerLinkOfferType.from_summary(s) for s in await links.offers_for(player)]


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

    @strawberry.mutation(permission_classes=[IsAuthenticated], description=(
        "Accept (accept: true) or decline a partner's offer sent with the phone number the "
        "player verified: accepting links the partner's id to this player, so its records "
        "credit them. Deciding again gives the same answer."))
    async def decide_partner_link_offer(self, info: Info, id: strawberry.ID,
                                        accept: bool) -> DecidePartnerLinkOfferPayload:
        player = await info.context.player()
        links = PartnerLinks(info.context.services.settings)
        try:
            offer = await links.decide_offer(player, str(id), accept)
        except ServiceError as exc:
            return DecidePartnerLinkOfferPayload(errors=user_errors(exc))
        if offer.link_id is None:
            return DecidePartnerLinkOfferPayload()
        link = await PartnerLink.get(id=offer.link_id)
        [summary] = await links.summaries(str(player.id), [link])
        return DecidePartnerLinkOfferPayload(link=PartnerLinkType.from_summary(summary))
