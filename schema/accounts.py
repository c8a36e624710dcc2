"""Players, login and sessions: thin resolvers over `app.accounts` and `app.auth`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import strawberry
from strawberry.types import Info

from app import ratelimit
from app.accounts import service as accounts
from app.accounts.models import Player as PlayerModel
from app.auth.phones import normalise_phone
from app.auth.roles import Role as RoleEnum
from app.auth.sessions import IssuedSession
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_, LazyMessage
from schema.activities import Activity, activities_of
from schema.certification import CertifiedReduction, certified_reductions_of
from schema.credits import Balances, LedgerEntry, balances_of, ledger_of
from schema.errors import UserError, client_error, user_errors
from schema.pagination import Connection
from schema.partner_links import (
    PartnerLinkOfferType,
    PartnerLinkType,
    partner_link_offers_of,
    partner_links_of,
)
from schema.permissions import IsAdmin, IsAuthenticated, Public, SelfOrStaff, requires_role
from schema.planet import Planet, planet_of
from schema.shop import Order, orders_of

strawberry.enum(RoleEnum, name="Role")  # marks the class itself (the alias below)
Role = RoleEnum
IsOperator = requires_role(RoleEnum.OPERATOR)


@strawberry.type(name="Player")
class PlayerType:
    id: strawberry.ID
    nickname: str
    city: str | None
    avatar_url: str | None
    created_at: datetime
    closed_at: datetime | None = strawberry.field(default=None, description=(
        "When the player closed the account (their personal data is erased); null while open."))

    @strawberry.field(permission_classes=[SelfOrStaff])
    async def balances(self, info: Info) -> Balances:
        return await balances_of(info.context.loaders, str(self.id))

    @strawberry.field(permission_classes=[SelfOrStaff], description="Newest first.")
    async def ledger(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LedgerEntry]:
        return await ledger_of(info.context.loaders, str(self.id), first, after)

    @strawberry.field(permission_classes=[SelfOrStaff])
    async def planet(self, info: Info) -> Planet:
        return await planet_of(info, str(self.id))

    @strawberry.field(permission_classes=[SelfOrStaff], description="Players this player follows.")
    async def friends(self, info: Info) -> list[PlayerType]:
        return [PlayerType.from_model(p) for p in await info.context.loaders.friends.load(
            str(self.id))]

    @strawberry.field(permission_classes=[SelfOrStaff], description="Newest first.")
    async def activities(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Activity]:
        return await activities_of(info.context.loaders, str(self.id), first, after)

    @strawberry.field(permission_classes=[SelfOrStaff], description=(
        "Which of the player's activities were certified, in which batch and with which "
        "serials (and withdrawn again, if so), newest first."))
    async def certified_reductions(self, first: int | None = None,
                                   after: str | None = None) -> Connection[CertifiedReduction]:
        return await certified_reductions_of(str(self.id), first, after)

    @strawberry.field(permission_classes=[SelfOrStaff], description=(
        "The player's active links to partners, oldest first, each with what that partner's "
        "records credited."))
    async def partner_links(self, info: Info) -> list[PartnerLinkType]:
        return await partner_links_of(info, str(self.id))

    @strawberry.field(permission_classes=[SelfOrStaff], description=(
        "Partners' open offers to link their id for this person, sent with the phone number "
        "the partner holds: shown to the player whose verified phone it is, oldest first."))
    async def partner_link_offers(self, info: Info) -> list[PartnerLinkOfferType]:
        return await partner_link_offers_of(info, str(self.id))

    @strawberry.field(permission_classes=[SelfOrStaff], description="Shop orders, newest first.")
    async def orders(self, info: Info, first: int | None = None,
                     after: str | None = None) -> Connection[Order]:
        return await orders_of(info.context.loaders, str(self.id), first, after)

    @strawberry.field(permission_classes=[SelfOrStaff],
                      description="What the account may do besides playing (staff roles).")
    async def roles(self, info: Info) -> list[Role]:
        player = await info.context.loaders.players.load(str(self.id))
        return [RoleEnum(r) for r in player.roles] if player else []

    @classmethod
    def from_model(cls, player: PlayerModel) -> PlayerType:
        return cls(
            id=strawberry.ID(str(player.id)),
            nickname=player.nickname,
            city=player.city,
            avatar_url=player.avatar_url,
            created_at=player.created_at,
            closed_at=player.closed_at,
        )


@strawberry.type
class Session:
    access_token: str
    refresh_token: str
    expires_at: datetime = strawberry.field(description="When the access token expires.")
    player: PlayerType

    @classmethod
    def from_issued(cls, issued: IssuedSession) -> Session:
        return cls(
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_at=issued.expires_at,
            player=PlayerType.from_model(issued.player),
        )


@strawberry.type
class RequestLoginCodePayload:
    retry_after_seconds: int | None = strawberry.field(
        default=None, description="Seconds until another code may be requested for this phone."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SessionPayload:
    session: Session | None = None
    retry_after_seconds: int | None = strawberry.field(
        default=None, description="Set with RATE_LIMITED: seconds until another try is accepted.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ok: bool
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateProfilePayload:
    player: PlayerType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetPlayerRolesPayload:
    player: PlayerType | None = None
    roles: list[Role] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ProfileInput:
    nickname: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    avatar_url: str | None = strawberry.UNSET


async def limit_per_ip(info: Info, bucket: str, limit: int, refusal: LazyMessage) -> None:
    """Raise RATE_LIMITED once this client IP sent more than `limit` of these a minute;
    `refusal` says so, with a `%(seconds)s` placeholder for the wait."""
    services = info.context.services
    ip = ratelimit.client_ip(info.context.request, services.settings.trusted_proxies)
    decision = await ratelimit.hit(services.redis, bucket, ip, limit)
    if not decision.allowed:
        raise ServiceError(
            ErrorCode.RATE_LIMITED,
            refusal.with_params(seconds=decision.retry_after_seconds),
            retry_after_seconds=decision.retry_after_seconds,
        )


@strawberry.type
class AccountQuery:
    @strawberry.field(permission_classes=[IsAuthenticated], description="The logged-in player.")
    async def me(self, info: Info) -> PlayerType | None:
        return PlayerType.from_model(await info.context.player())

    @strawberry.field(permission_classes=[IsOperator], description=(
        "The player with this phone number, written as at login (operators); null when "
        "nobody has logged in with it."))
    async def player_by_phone(self, info: Info, phone: str) -> PlayerType | None:
        try:
            region = info.context.services.settings.phone_default_region
            normalised = normalise_phone(phone, region)
        except ServiceError as exc:
            raise client_error(exc) from None
        player = await PlayerModel.get_or_none(phone=normalised)
        return PlayerType.from_model(player) if player else None

    @strawberry.field(permission_classes=[IsOperator],
                      description="A player by id (operators); null when there is none.")
    async def player(self, id: strawberry.ID) -> PlayerType | None:
        try:
            return PlayerType.from_model(await accounts.get_player(str(id), "id"))
        except ServiceError:
            return None


async def _miniprogram_login(info: Info, method: str,
                             player: Callable[[], Awaitable[PlayerModel]]) -> SessionPayload:
    """A mini-program login: the per-network limit, the platform's exchange, a session."""
    services = info.context.services
    try:
        await limit_per_ip(info, "miniprogram-login-ip",
                           services.settings.miniprogram_login_ip_limit,
                           N_("Too many logins from this network; try again in %(seconds)s s."))
        issued = await services.sessions.start(await player(), method)
    except ServiceError as exc:
        return SessionPayload(retry_after_seconds=exc.retry_after_seconds,
                              errors=user_errors(exc))
    return SessionPayload(session=Session.from_issued(issued))

@strawberry.type
class AccountMutation:
    @strawberry.mutation(permission_classes=[Public])
    async def request_login_code(self, info: Info, phone: str) -> RequestLoginCodePayload:
        try:
            settings = info.context.services.settings
            await limit_per_ip(info, "login-code-ip", settings.login_code_ip_limit,
                               N_("Too many login codes requested from this network; try "
                                  "again in %(seconds)s s."))
            retry = await info.context.services.login_codes.request(phone)
        except ServiceError as exc:
            return RequestLoginCodePayload(
                retry_after_seconds=exc.retry_after_seconds, errors=user_errors(exc)
            )
        return RequestLoginCodePayload(retry_after_seconds=retry)

    @strawberry.mutation(permission_classes=[Public])
    async def login_with_code(self, info: Info, phone: str, code: str) -> SessionPayload:
        services = info.context.services
        try:
            await limit_per_ip(info, "login-attempt-ip", services.settings.login_attempt_ip_limit,
                               N_("Too many login attempts from this network; try again in "
                                  "%(seconds)s s."))
            verified_phone = await services.login_codes.verify(phone, code)
            player = await accounts.player_for_phone(verified_phone)
            issued = await services.sessions.start(player, "phone")
        except ServiceError as exc:
            return SessionPayload(retry_after_seconds=exc.retry_after_seconds,
                                  errors=user_errors(exc))
        return SessionPayload(session=Session.from_issued(issued))

    @strawberry.mutation(permission_classes=[Public])
    async def login_with_host_token(self, info: Info, token: str) -> SessionPayload:
        services = info.context.services
        try:
            claims = services.host_tokens.verify(token)
            player = await accounts.player_for_host(claims, services.settings)
            issued = await services.sessions.start(player, "host")
        except ServiceError as exc:
            return SessionPayload(errors=user_errors(exc))
        return SessionPayload(session=Session.from_issued(issued))

    @strawberry.mutation(permission_classes=[Public], name="loginWithWeChat", description=(
        "Log in from a WeChat mini-program with the code of wx.login; with the code of a "
        "getPhoneNumber button also, the account with that phone number is the one logged "
        "into (or gets the number)."))
    async def login_with_wechat(self, info: Info, app_id: str, code: str,
                                phone_code: str | None = None) -> SessionPayload:
        miniprograms = info.context.services.miniprograms
        return await _miniprogram_login(
            info, "wechat", lambda: miniprograms.wechat_player(app_id, code, phone_code))

    @strawberry.mutation(permission_classes=[Public], description=(
        "Log in from an Alipay mini-program with the code of my.getAuthCode."))
    async def login_with_alipay(self, info: Info, app_id: str, code: str) -> SessionPayload:
        miniprograms = info.context.services.miniprograms
        return await _miniprogram_login(
            info, "alipay", lambda: miniprograms.alipay_player(app_id, code))

    @strawberry.mutation(permission_classes=[Public])
    async def refresh_session(self, info: Info, refresh_token: str) -> SessionPayload:
        try:
            issued = await info.context.services.sessions.refresh(refresh_token)
        except ServiceError as exc:
            return SessionPayload(errors=user_errors(exc))
        return SessionPayload(session=Session.from_issued(issued))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def logout(self, info: Info) -> LogoutPayload:
        principal = await info.context.principal()
        await info.context.services.sessions.revoke(principal.session_id, "logout")
        return LogoutPayload(ok=True)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def update_profile(self, info: Info, input: ProfileInput) -> UpdateProfilePayload:
        changes = {
            key: value
            for key, value in (
                ("nickname", input.nickname),
                ("city", input.city),
                ("avatar_url", input.avatar_url),
            )
            if value is not strawberry.UNSET
        }
        player = await info.context.player()
        try:
            player = await accounts.update_profile(player, changes, info.context.services.settings)
        except ServiceError as exc:
            return UpdateProfilePayload(errors=user_errors(exc))
        return UpdateProfilePayload(player=PlayerType.from_model(player))

    @strawberry.mutation(permission_classes=[IsAdmin], description="Admin only.")
    async def set_player_roles(
        self, info: Info, player_id: strawberry.ID, roles: list[Role]
    ) -> SetPlayerRolesPayload:
        try:
            player = await accounts.set_roles(str(player_id), list(roles))
        except ServiceError as exc:
            return SetPlayerRolesPayload(errors=user_errors(exc))
        return SetPlayerRolesPayload(
            player=PlayerType.from_model(player), roles=[RoleEnum(r) for r in player.roles]
        )
