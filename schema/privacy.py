"""The player's own data: exporting it and closing the account. Thin resolvers over
`app.privacy`."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry
from strawberry.types import Info

from app import ratelimit
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.privacy.closing import close_account
from app.privacy.export import export_player
from schema.errors import UserError, user_errors
from schema.permissions import IsAuthenticated

EXPORTS_PER_HOUR = 5  # an export reads every row of the player's: not for polling


@strawberry.type
class ExportMyDataPayload:
    data: str | None = strawberry.field(default=None, description=(
        "JSON: everything held about the player (profile, identities, sessions, partner "
        "links, balances, ledger lines, activities with provenance, certified reductions, "
        "withdrawals, planet, friends by id, orders, merchant payments). No secrets, and "
        "nobody else's data."))
    generated_at: datetime | None = None
    retry_after_seconds: int | None = strawberry.field(
        default=None, description="Set with RATE_LIMITED: seconds until another export.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CloseMyAccountPayload:
    closed_at: datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated], description=(
        f"All the logged-in player's data as one JSON document; at most {EXPORTS_PER_HOUR} "
        "an hour."))
    async def export_my_data(self, info: Info) -> ExportMyDataPayload:
        player = await info.context.player()
        try:
            allowed = await ratelimit.hit(info.context.services.redis, "data-export",
                                          str(player.id), EXPORTS_PER_HOUR, window_seconds=3600)
            if not allowed.allowed:
                raise ServiceError(ErrorCode.RATE_LIMITED, N_(
                    "Too many exports; try again in %(seconds)s s.",
                    seconds=allowed.retry_after_seconds),
                    retry_after_seconds=allowed.retry_after_seconds)
        except ServiceError as exc:
            return ExportMyDataPayload(retry_after_seconds=exc.retry_after_seconds,
                                       errors=user_errors(exc))
        document = await export_player(player, info.context.services.methodologies)
        return ExportMyDataPayload(data=json.dumps(document, ensure_ascii=False),
                                   generated_at=datetime.fromisoformat(document["generatedAt"]))

    @strawberry.mutation(permission_classes=[IsAuthenticated], description=(
        "Close the logged-in player's account for good: the phone number, nickname, city, "
        "avatar, app identities and partner links are erased and every session ends; ledger "
        "lines and activities stay under the player's id. Logging in again with the same "
        "phone number makes a new account. A retry whose session already ended gets "
        "UNAUTHENTICATED with 'This account was closed.'"))
    async def close_my_account(self, info: Info, confirm: bool,
                               idempotency_key: str) -> CloseMyAccountPayload:
        player = await info.context.player()
        try:
            services = info.context.services
            closed = await close_account(str(player.id), confirm, idempotency_key,
                                         services.settings, services.redis)
        except ServiceError as exc:
            return CloseMyAccountPayload(errors=user_errors(exc))
        return CloseMyAccountPayload(closed_at=closed.closed_at)
