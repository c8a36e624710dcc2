"""Designer-only GraphQL for the game rules: publish (or dry-run), roll back to any version,
list versions with their content, and what changed between two versions."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.auth.roles import Role
from app.errors import ErrorCode, ServiceError
from app.rulesets import service as rulesets
from app.rulesets.models import RuleSet
from schema.errors import UserError, client_error
from schema.permissions import requires_role

IsDesigner = requires_role(Role.DESIGNER)


@strawberry.type
class RuleVersion:
    version: int
    checksum: str
    author: str
    note: str
    created_at: datetime
    effective_from: datetime
    active: bool
    content: str = strawberry.field(description="The rules file (TOML) this version published.")

    @classmethod
    def from_model(cls, rs: RuleSet, active_version: int | None) -> RuleVersion:
        return cls(version=rs.version, checksum=rs.checksum, author=rs.author, note=rs.note,
                   created_at=rs.created_at, effective_from=rs.effective_from,
                   active=rs.version == active_version, content=rs.content)


@strawberry.type
class RulesDiff:
    from_version: int
    to_version: int
    changes: list[str] = strawberry.field(
        description="What changed, a line each in a designer's words; empty when nothing did.")


@strawberry.type
class ThemeUnlockForecast:
    theme_id: strawberry.ID
    newly_unlocked: int = strawberry.field(description="Existing players who would unlock it at once.")


@strawberry.type
class PublishRulesPayload:
    version: RuleVersion | None = None
    dry_run: list[ThemeUnlockForecast] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


def _errors(exc: ServiceError) -> list[UserError]:
    """A refused rule set lists every problem, one error each."""
    if exc.code == ErrorCode.INVALID_INPUT and exc.field == "content":
        return [UserError(code=exc.code, message=p, field="content") for p in exc.message.split("; ")]
    return [UserError(code=exc.code, message=exc.message, field=exc.field)]


async def _payload(info: Info, call) -> PublishRulesPayload:
    services = info.context.services
    try:
        result = await call(services)
    except ServiceError as exc:
        return PublishRulesPayload(errors=_errors(exc))
    await services.rules_provider.refresh()  # this process at once; the others within seconds
    forecast = [ThemeUnlockForecast(theme_id=strawberry.ID(t), newly_unlocked=n)
                for t, n in result.newly_unlocked.items()]
    version = (RuleVersion.from_model(result.ruleset, services.rules_provider.version)
               if result.ruleset else None)
    return PublishRulesPayload(version=version, dry_run=forecast)


@strawberry.type
class RulesQuery:
    @strawberry.field(permission_classes=[IsDesigner], description="Published rule sets, newest first.")
    async def rule_versions(self, info: Info, first: int = 20) -> list[RuleVersion]:
        if not 1 <= first <= 100:
            raise client_error(ServiceError(ErrorCode.INVALID_INPUT, "first is between 1 and 100.",
                                            "first"))
        current = await rulesets.active_ruleset()  # the database's view; processes follow within seconds
        active = current.version if current else None
        return [RuleVersion.from_model(rs, active) for rs in await rulesets.versions(first)]

    @strawberry.field(permission_classes=[IsDesigner],
                      description="What changed from one version to another (0: the shipped file).")
    async def rules_diff(self, from_version: int, to_version: int) -> RulesDiff:
        try:
            changes = await rulesets.changes_between(from_version, to_version)
        except ServiceError as exc:
            raise client_error(exc) from None
        return RulesDiff(from_version=from_version, to_version=to_version, changes=changes)


@strawberry.type
class RulesMutation:
    @strawberry.mutation(permission_classes=[IsDesigner],
                         description="Validate and publish a rules file (TOML). dryRun only forecasts.")
    async def publish_rules(self, info: Info, content: str, note: str,
                            effective_from: datetime | None = None,
                            dry_run: bool = False) -> PublishRulesPayload:
        author = (await info.context.principal()).player_id
        return await _payload(info, lambda s: rulesets.publish(
            content, note, author, s.rules_provider.known_kinds, effective_from, dry_run))

    @strawberry.mutation(
        permission_classes=[IsDesigner],
        description="Publish again the content of toVersion (0: the shipped rules file); by "
                    "default the rules active before the current version.")
    async def rollback_rules(self, info: Info, note: str = "",
                             to_version: int | None = None) -> PublishRulesPayload:
        author = (await info.context.principal()).player_id
        return await _payload(info, lambda s: rulesets.rollback(
            note, author, s.rules_provider.known_kinds, to_version))
