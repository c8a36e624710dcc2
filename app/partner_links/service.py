"""Linking a partner's own id for a person to a player, and resolving records by that id.

The partner alone cannot attach a person. Either the player asks the app for a one-time
code for that partner (`create_code`) and gives it to the partner, which sends it with its
own id for the person (`link`); or the partner offers its id with the phone number it holds
(`offer`) and the player whose verified phone it is accepts the offer (`decide_offer`).
Using the code (or the offer), creating the link and marking the code used happen in one
transaction, so a refusal changes nothing and a code links at most once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from app.accounts.models import Player
from app.auth.phones import normalise_phone
from app.clock import utcnow
from app.credits.models import Activity
from app.credits.records import MAX_ID_LENGTH, SubjectRef
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_, LazyMessage
from app.partner_links.models import PartnerLink, PartnerLinkCode, PartnerLinkOffer
from app.settings import Settings
from app.text import text_problem

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed
CODE_LENGTH = 8  # 40 bits, tried only by a signed partner, for its own codes


@dataclass(frozen=True)
class LinkCode:
    code: str
    partner_id: str
    expires_at: datetime


class LinkRefused(Exception):
    """The partner's link request is refused: `reason` for its program, `message` for people."""

    def __init__(self, reason: str, message: str | LazyMessage) -> None:
        super().__init__(reason)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Linked:
    link: PartnerLink
    created: bool  # false: the same link was already there (a retry, or a second code)


@dataclass(frozen=True)
class LinkRefusal:
    """Why a record's subjectRef finds nobody (the record is refused with this reason)."""

    reason: str
    message: str


@dataclass(frozen=True)
class LinkSummary:
    link: PartnerLink
    partner_name: str
    contribution_grams: int
    contribution_points: int


@dataclass(frozen=True)
class Offered:
    offer: PartnerLinkOffer
    created: bool  # false: the partner sent the same offer again


@dataclass(frozen=True)
class OfferSummary:
    offer: PartnerLinkOffer
    partner_name: str


def checked_subject_ref(external_id: object) -> str:
    """A partner's id for a person as sent, or the refusal naming what is wrong with it."""
    if not isinstance(external_id, str) or not external_id:
        raise LinkRefused("INVALID_FIELD", N_('"subjectRef" must be a non-empty string.'))
    problem = text_problem("subjectRef", external_id, max_chars=MAX_ID_LENGTH)
    if problem is not None:
        raise LinkRefused("INVALID_FIELD", problem)
    return external_id


def normalise_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


class PartnerLinks:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.partners = {p.id: p for p in settings.partners}

    async def create_code(self, player_id: str, partner_id: str) -> LinkCode:
        if partner_id not in self.partners:
            raise ServiceError(ErrorCode.NOT_FOUND, N_("No partner has this id."), "partnerId")
        expires_at = utcnow() + timedelta(seconds=self.settings.partner_link_code_ttl_seconds)
        while True:  # a clash of two random codes meets the unique index: draw again
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                await PartnerLinkCode.create(code_hash=code_hash(code), partner_id=partner_id,
                                             player_id=player_id, expires_at=expires_at)
            except IntegrityError:
                continue
            return LinkCode(code, partner_id, expires_at)

    async def link(self, partner_id: str, code: object, external_id: object) -> Linked:
        """Link `external_id` at `partner_id` to the player who asked for `code`."""
        if not isinstance(code, str) or not 0 < len(code) <= 40:
            raise LinkRefused("INVALID_FIELD", N_('"code" must be the link code the person got in the app.'))
        external_id = checked_subject_ref(external_id)
        try:
            async with in_transaction():
                return await self._link(partner_id, code_hash(code), external_id)
        except IntegrityError:  # a concurrent link of the same id, through another code
            raise LinkRefused("LINK_TAKEN", N_("This id is already linked to another person.")) from None

    async def _link(self, partner_id: str, hashed: str, external_id: str) -> Linked:
        row = await PartnerLinkCode.filter(code_hash=hashed).select_for_update().first()
        if row is None or row.partner_id != partner_id:
            raise LinkRefused("INVALID_CODE", N_("No link code like this was given for this partner."))
        if row.used_at is not None:
            made = await PartnerLink.get_or_none(id=row.link_id) if row.link_id else None
            if made is not None and made.active and made.external_id == external_id:
                return Linked(made, created=False)  # the partner's retry
            raise LinkRefused("CODE_USED", N_("This link code has already been used."))
        now = utcnow()
        if row.expires_at <= now:
            raise LinkRefused("CODE_EXPIRED", N_(
                "This link code has expired; the person can get a new one in the app."))
        link = await PartnerLink.filter(partner_id=partner_id, external_id=external_id,
                                        active=True).select_for_update().first()
        created = link is None
        if link is None:
            link = await PartnerLink.create(partner_id=partner_id, external_id=external_id,
                                            player_id=row.player_id)
        elif link.player_id != row.player_id:
            raise LinkRefused("LINK_TAKEN", N_("This id is already linked to another person."))
        await PartnerLinkCode.filter(id=row.id).update(used_at=now, link_id=link.id)
        return Linked(link, created)

    def phone_hash(self, e164: str) -> str:
        """A keyed hash of a phone number: equal numbers meet, the table reveals none."""
        return hmac.new(self.settings.secret_key.encode(), b"partner-link-phone:" + e164.encode(),
                        hashlib.sha256).hexdigest()

    async def offer(self, partner_id: str, phone: object, external_id: object) -> Offered:
        """Offer to link `external_id` at `partner_id` to whoever proves `phone`.

        The answer is the same whether or not any player has that number, so a partner
        learns nothing about who uses the app; a repeated offer is renewed, not doubled."""
        if not isinstance(phone, str) or not 0 < len(phone) <= 40:
            raise LinkRefused("INVALID_FIELD", N_('"phone" must be the person\'s mobile number.'))
        external_id = checked_subject_ref(external_id)
        try:
            e164 = normalise_phone(phone, self.settings.phone_default_region)
        except ServiceError as exc:
            raise LinkRefused("INVALID_FIELD", exc.text) from None
        expires_at = utcnow() + timedelta(days=self.settings.partner_link_offer_ttl_days)
        hashed = self.phone_hash(e164)
        try:
            offer, created = await PartnerLinkOffer.get_or_create(
                partner_id=partner_id, external_id=external_id, phone_hash=hashed,
                defaults={"expires_at": expires_at})
        except IntegrityError:  # the same offer, sent twice at once
            offer, created = await PartnerLinkOffer.get(
                partner_id=partner_id, external_id=external_id, phone_hash=hashed), False
        if not created and offer.decided_at is None:
            await PartnerLinkOffer.filter(id=offer.id).update(expires_at=expires_at)
            offer.expires_at = expires_at
        return Offered(offer, created)

    async def offers_for(self, player: Player) -> list[OfferSummary]:
        """Open offers for the player's verified phone number, oldest first."""
        if not player.phone:
            return []
        offers = await PartnerLinkOffer.filter(
            phone_hash=self.phone_hash(player.phone), decided_at=None, expires_at__gt=utcnow(),
        ).order_by("created_at", "id")
        return [OfferSummary(o, self._partner_name(o.partner_id)) for o in offers]

    async def decide_offer(self, player: Player, offer_id: str, accept: bool) -> PartnerLinkOffer:
        """Accept (the link is made, as by a link code) or decline an offer for the player's phone.

        Deciding again gives the same answer; an offer for another number is not found."""
        try:
            wanted: uuid.UUID | None = uuid.UUID(offer_id)
        except ValueError:
            wanted = None
        not_found = ServiceError(ErrorCode.NOT_FOUND, N_("You have no link offer with this id."), "id")
        if wanted is None or not player.phone:
            raise not_found
        try:
            async with in_transaction():
                offer = await PartnerLinkOffer.filter(
                    id=wanted, phone_hash=self.phone_hash(player.phone)).select_for_update().first()
                if offer is None:
                    raise not_found
                if offer.decided_at is not None:
                    return offer
                if offer.expires_at <= utcnow():
                    raise ServiceError(ErrorCode.CONFLICT, N_(
                        "This link offer has expired; ask the partner to send it again."), "id")
                if accept:
                    link = await PartnerLink.filter(partner_id=offer.partner_id,
                                                    external_id=offer.external_id,
                                                    active=True).select_for_update().first()
                    if link is None:
                        link = await PartnerLink.create(partner_id=offer.partner_id,
                                                        external_id=offer.external_id,
                                                        player_id=player.id)
                    elif link.player_id != player.id:
                        raise ServiceError(ErrorCode.CONFLICT, N_(
                            "This id is already linked to another person."), "id")
                    offer.link_id = link.id
                offer.decided_at = utcnow()
                await PartnerLinkOffer.filter(id=offer.id).update(decided_at=offer.decided_at,
                                                                  link_id=offer.link_id)
                return offer
        except IntegrityError:  # a concurrent link of the same id
            raise ServiceError(ErrorCode.CONFLICT, N_("This id is already linked to another person."),
                               "id") from None

    def _partner_name(self, partner_id: str) -> str:
        partner = self.partners.get(partner_id)
        return partner.name or partner.id if partner else partner_id

    async def remove(self, player_id: str, link_id: str) -> PartnerLink:
        """End the player's link (again: no change). Records of its id are refused from now on."""
        try:
            wanted = uuid.UUID(link_id)
        except ValueError:
            wanted = None
        link = await PartnerLink.get_or_none(id=wanted, player_id=player_id) if wanted else None
        if link is None:
            raise ServiceError(ErrorCode.NOT_FOUND, N_("You have no partner link with this id."), "id")
        if link.active:
            await PartnerLink.filter(id=link.id, active=True).update(active=None, removed_at=utcnow())
            await link.refresh_from_db()
        return link

    async def of_player(self, player_id: str) -> list[LinkSummary]:
        """The player's active links, oldest first, each with what its partner's records credited."""
        links = await PartnerLink.filter(player_id=player_id, active=True).order_by("created_at", "id")
        return await self.summaries(player_id, links)

    async def summaries(self, player_id: str, links: list[PartnerLink]) -> list[LinkSummary]:
        """Each link with its partner's name and what that partner's records credited the player."""
        sources = sorted({f"partner:{link.partner_id}" for link in links})
        sums = {row["source"]: row for row in await Activity.filter(
            player_id=player_id, status="accepted", source__in=sources,
        ).group_by("source").annotate(grams=Sum("reduction_grams"), points=Sum("points")).values(
            "source", "grams", "points")} if sources else {}
        summaries = []
        for link in links:
            found = sums.get(f"partner:{link.partner_id}", {})
            summaries.append(LinkSummary(link, self._partner_name(link.partner_id),
                                         int(found.get("grams") or 0), int(found.get("points") or 0)))
        return summaries


async def resolve_refs(partner_id: str, refs: list[object]
                       ) -> dict[str | SubjectRef, Player | LinkRefusal]:
    """subjectRef -> the player its active link names, or why it names nobody (keyed by
    SubjectRef only: typed to merge with the subjects' players)."""
    wanted = {r for r in refs if isinstance(r, str) and 0 < len(r) <= MAX_ID_LENGTH}
    if not wanted:
        return {}
    found: dict[str | SubjectRef, Player | LinkRefusal] = {
        SubjectRef(r): LinkRefusal("UNKNOWN_SUBJECT", "no person is linked to this subjectRef")
        for r in wanted}
    links = await PartnerLink.filter(partner_id=partner_id, external_id__in=list(wanted)
                                     ).prefetch_related("player")
    for link in sorted(links, key=lambda k: k.active is True):  # the active one last: it wins
        found[SubjectRef(link.external_id)] = link.player if link.active else LinkRefusal(
            "LINK_REMOVED", "the person removed the link of this subjectRef")
    return found
