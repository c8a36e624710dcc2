"""Designer-only GraphQL for the game rules: publish (or dry-run), roll back to any version,
list versions with their content, and what changed between two versions."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.auth.roles import Role
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_, _
from app.rulesets import proposals, simulation
from app.rulesets import service as rulesets
from app.rulesets.models import ProposalStatus as ProposalStatusEnum
from app.rulesets.models import RuleProposal as RuleProposalModel
from app.rulesets.models import RuleSet
from schema.errors import UserError, client_error
from schema.permissions import requires_role

IsDesigner = requires_role(Role.DESIGNER)


@strawberry.type
class RuleVersion:
    version: int
    checksum: str
    author: str
    approved_by: str | None = strawberry.field(
        description="Who approved the proposal this version published (null: published directly).")
    note: str
    created_at: datetime
    effective_from: datetime
    active: bool
    content: str = strawberry.field(description="The rules file (TOML) this version published.")

    @classmethod
    def from_model(cls, rs: RuleSet, active_version: int | None) -> RuleVersion:
        return cls(version=rs.version, checksum=rs.checksum, author=rs.author,
                   approved_by=rs.approved_by, note=rs.note,
                   created_at=rs.created_at, effective_from=rs.effective_from,
                   active=rs.version == active_version, content=rs.content)


strawberry.enum(ProposalStatusEnum, name="RuleProposalStatus")  # marks the class itself (the alias below)
ProposalStatus = ProposalStatusEnum


@strawberry.type
class RuleProposal:
    id: strawberry.ID
    status: ProposalStatus
    note: str
    checksum: str
    content: str = strawberry.field(description="The proposed rules file (TOML).")
    effective_from: datetime | None = strawberry.field(
        description="When the rules take effect once approved (null: at approval).")
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    published_version: int | None

    @classmethod
    def from_model(cls, p: RuleProposalModel) -> RuleProposal:
        return cls(id=strawberry.ID(str(p.id)), status=p.status, note=p.note,
                   checksum=p.checksum, content=p.content, effective_from=p.effective_from,
                   proposed_by=p.proposed_by, proposed_at=p.proposed_at,
                   decided_by=p.decided_by, decided_at=p.decided_at,
                   decision_note=p.decision_note, published_version=p.published_version)


@strawberry.type
class RuleProposalPayload:
    proposal: RuleProposal | None = None
    version: RuleVersion | None = None
    dry_run: list[ThemeUnlockForecast] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ThemeSimulation:
    theme_id: strawberry.ID
    name: str
    draft: list[float] = strawberry.field(
        description="Share of players who unlocked the theme by the end of each day (draft).")
    live: list[float] = strawberry.field(description="The same under the live rules.")
    draft_median_days: float | None
    live_median_days: float | None


@strawberry.type
class LevelThresholdChange:
    level: int
    live_growth: int | None
    draft_growth: int | None


@strawberry.type
class RulesSimulation:
    players: int
    days: int
    live_version: int
    themes: list[ThemeSimulation]
    levels: list[LevelThresholdChange] = strawberry.field(
        description="Level thresholds that differ between the live rules and the draft.")


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
    if isinstance(exc, rulesets.RulesInvalid):
        return [UserError(code=exc.code, message=str(p), field="content") for p in exc.problems]
    return [UserError(code=exc.code, message=exc.message, field=exc.field)]


def _forecast(counts: dict[str, int]) -> list[ThemeUnlockForecast]:
    return [ThemeUnlockForecast(theme_id=strawberry.ID(t), newly_unlocked=n)
            for t, n in counts.items()]


def _proposal_id(value: strawberry.ID) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ServiceError(ErrorCode.NOT_FOUND, N_("There is no rules proposal %(id)s.", id=value),
                           "id") from None


async def _proposal_payload(info: Info, call) -> RuleProposalPayload:
    services = info.context.services
    try:
        result = await call(services)
    except ServiceError as exc:
        return RuleProposalPayload(errors=_errors(exc))
    version = None
    if result.proposal.published_version is not None:
        await services.rules_provider.refresh()
        published = await RuleSet.get(version=result.proposal.published_version)
        version = RuleVersion.from_model(published, services.rules_provider.version)
    return RuleProposalPayload(proposal=RuleProposal.from_model(result.proposal),
                               version=version, dry_run=_forecast(result.newly_unlocked))


async def _payload(info: Info, call) -> PublishRulesPayload:
    services = info.context.services
    try:
        result = await call(services)
    except ServiceError as exc:
        return PublishRulesPayload(errors=_errors(exc))
    await services.rules_provider.refresh()  # this process at once; the others within seconds
    forecast = _forecast(result.newly_unlocked)
    version = (RuleVersion.from_model(result.ruleset, services.rules_provider.version)
               if result.ruleset else None)
    return PublishRulesPayload(version=version, dry_run=forecast)


@strawberry.type
class RulesQuery:
    @strawberry.field(permission_classes=[IsDesigner], description="Published rule sets, newest first.")
    async def rule_versions(self, info: Info, first: int = 20) -> list[RuleVersion]:
        if not 1 <= first <= 100:
            raise client_error(ServiceError(
                ErrorCode.INVALID_INPUT, N_("first is between 1 and %(max)s.", max=100), "first"))
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

    @strawberry.field(permission_classes=[IsDesigner],
                      description="The rules file a version published (0: the shipped file).")
    async def rules_content(self, version: int) -> str:
        try:
            return await rulesets.content_of(version)
        except ServiceError as exc:
            raise client_error(exc) from None

    @strawberry.field(
        permission_classes=[IsDesigner],
        description="What is wrong with a rules file (TOML), one error each, each message "
                    "starting with the path of the value it is about; empty when it is valid. "
                    "Cheap: it forecasts nothing.")
    async def rules_problems(self, info: Info, content: str) -> list[UserError]:
        try:
            rulesets.validated(content, info.context.services.rules_provider.known_kinds)
        except ServiceError as exc:
            return _errors(exc)
        return []

    @strawberry.field(permission_classes=[IsDesigner], description="Rules proposals, newest first.")
    async def rule_proposals(self, status: ProposalStatus | None = None,
                             first: int = 20) -> list[RuleProposal]:
        if not 1 <= first <= 100:
            raise client_error(ServiceError(
                ErrorCode.INVALID_INPUT, N_("first is between 1 and %(max)s.", max=100), "first"))
        return [RuleProposal.from_model(p) for p in await proposals.proposals(status, first)]

    @strawberry.field(
        permission_classes=[IsDesigner],
        description="Run the game simulator over the same synthetic players under a draft "
                    "rules file and under the live rules.")
    async def simulate_rules(self, info: Info, content: str, players: int = 1000,
                             days: int = 60, seed: int = 1) -> RulesSimulation:
        try:
            result = await simulation.compare(
                content, info.context.services.rules_provider.known_kinds, players, days, seed)
        except ServiceError as exc:
            raise client_error(exc) from None
        return RulesSimulation(
            players=result.players, days=result.days, live_version=result.live_version,
            themes=[ThemeSimulation(theme_id=strawberry.ID(t.theme_id), name=t.name,
                                    draft=t.draft, live=t.live,
                                    draft_median_days=t.draft_median_days,
                                    live_median_days=t.live_median_days)
                    for t in result.themes],
            levels=[LevelThresholdChange(level=c.level, live_growth=c.live_growth,
                                         draft_growth=c.draft_growth) for c in result.levels])


@strawberry.type
class RulesMutation:
    @strawberry.mutation(
        permission_classes=[IsDesigner],
        description="Validate a rules file (TOML) and forecast its impact (dryRun). Publishing "
                    "needs a second person: proposeRules, then approveRuleProposal.")
    async def publish_rules(self, info: Info, content: str, note: str,
                            effective_from: datetime | None = None,
                            dry_run: bool = False) -> PublishRulesPayload:
        author = (await info.context.principal()).player_id
        if not dry_run:
            return PublishRulesPayload(errors=[UserError(
                code=ErrorCode.FORBIDDEN, field="dryRun",
                message=_("Publishing needs a second person's approval: propose the rules "
                          "with proposeRules; another designer or an admin approves them."))])
        return await _payload(info, lambda s: rulesets.publish(
            content, note, author, s.rules_provider.known_kinds, effective_from, dry_run))

    @strawberry.mutation(
        permission_classes=[IsDesigner],
        description="Propose a rules file (TOML): validated and forecast now, published when a "
                    "second person approves it. The same idempotencyKey returns the same proposal.")
    async def propose_rules(self, info: Info, content: str, note: str,
                            effective_from: datetime | None = None,
                            idempotency_key: str | None = None) -> RuleProposalPayload:
        author = (await info.context.principal()).player_id
        return await _proposal_payload(info, lambda s: proposals.propose(
            content, note, author, s.rules_provider.known_kinds, effective_from,
            idempotency_key))

    @strawberry.mutation(
        permission_classes=[IsDesigner],
        description="Approve a pending proposal made by someone else: it is published as the "
                    "next version. Approving again returns the same version.")
    async def approve_rule_proposal(self, info: Info, id: strawberry.ID,
                                    note: str = "") -> RuleProposalPayload:
        approver = (await info.context.principal()).player_id
        return await _proposal_payload(info, lambda s: proposals.approve(
            _proposal_id(id), approver, s.rules_provider.known_kinds, note))

    @strawberry.mutation(
        permission_classes=[IsDesigner],
        description="Reject a pending proposal with a reason (its author: withdraw it).")
    async def reject_rule_proposal(self, info: Info, id: strawberry.ID,
                                   note: str) -> RuleProposalPayload:
        decider = (await info.context.principal()).player_id

        async def call(_services):
            return proposals.ProposalResult(
                await proposals.reject(_proposal_id(id), decider, note))
        return await _proposal_payload(info, call)

    @strawberry.mutation(
        permission_classes=[IsDesigner],
        description="Publish again the content of toVersion (0: the shipped rules file); by "
                    "default the rules active before the current version.")
    async def rollback_rules(self, info: Info, note: str = "",
                             to_version: int | None = None) -> PublishRulesPayload:
        author = (await info.context.principal()).player_id
        return await _payload(info, lambda s: rulesets.rollback(
            note, author, s.rules_provider.known_kinds, to_version))
