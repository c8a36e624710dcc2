"""Four eyes on every rules change: a designer proposes a rules file, a second person
(another designer or an admin) approves it, which publishes it, or rejects it.

Proposing validates the file and forecasts its impact exactly as publishing would, so the
approver decides on what players will get. A proposal is decided once; approving it again
(a retried request) returns the same published version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_
from app.rulesets import service as rulesets
from app.rulesets.models import ProposalStatus, RuleProposal


@dataclass
class ProposalResult:
    proposal: RuleProposal
    newly_unlocked: dict[str, int] = field(default_factory=dict)


def _not_found(proposal_id: int) -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, N_("There is no rules proposal %(id)s.", id=proposal_id),
                        "id")


async def propose(content: str, note: str, proposer: str, known_kinds: set[str],
                  effective_from: datetime | None = None,
                  idempotency_key: str | None = None) -> ProposalResult:
    """Validate, forecast and keep a proposal; nothing is published yet."""
    if idempotency_key:
        earlier = await RuleProposal.get_or_none(proposed_by=proposer,
                                                 idempotency_key=idempotency_key)
        if earlier is not None:
            return await _replayed(earlier, content, known_kinds)
    forecast = await rulesets.publish(content, note, proposer, known_kinds, effective_from,
                                      dry_run=True)
    try:
        proposal = await RuleProposal.create(
            content=content, checksum=rulesets.checksum(content), note=note.strip()[:500],
            effective_from=effective_from, proposed_by=proposer,
            idempotency_key=idempotency_key or None)
    except IntegrityError:  # the same key, concurrently
        earlier = await RuleProposal.get(proposed_by=proposer, idempotency_key=idempotency_key)
        return await _replayed(earlier, content, known_kinds)
    return ProposalResult(proposal, forecast.newly_unlocked)


async def _replayed(earlier: RuleProposal, content: str, known_kinds: set[str]) -> ProposalResult:
    if earlier.checksum != rulesets.checksum(content):
        raise ServiceError(ErrorCode.CONFLICT,
                           N_("This idempotency key was used for a different rules file."),
                           "idempotencyKey")
    counts = await rulesets.newly_unlocked(rulesets.validated(earlier.content, known_kinds))
    return ProposalResult(earlier, counts)


async def approve(proposal_id: int, approver: str, known_kinds: set[str],
                  note: str = "") -> ProposalResult:
    """Publish a pending proposal as the next version; the approver must not be its author."""
    async with in_transaction():
        proposal = await RuleProposal.filter(id=proposal_id).select_for_update().first()
        if proposal is None:
            raise _not_found(proposal_id)
        if proposal.status == ProposalStatus.APPROVED and proposal.decided_by == approver:
            return ProposalResult(proposal)  # a retried approval
        _refuse_unless_pending(proposal)
        if proposal.proposed_by == approver:
            raise ServiceError(ErrorCode.FORBIDDEN,
                               N_("A proposal needs a second person: you proposed this one."),
                               "id")
        published = await rulesets.publish(
            proposal.content, proposal.note, proposal.proposed_by, known_kinds,
            proposal.effective_from, approved_by=approver)
        assert published.ruleset is not None
        proposal.status = ProposalStatus.APPROVED
        proposal.decided_by, proposal.decided_at = approver, utcnow()
        proposal.decision_note = note.strip()[:500]
        proposal.published_version = published.ruleset.version
        await proposal.save()
    return ProposalResult(proposal, published.newly_unlocked)


async def reject(proposal_id: int, decider: str, note: str) -> RuleProposal:
    """Refuse a pending proposal, with the reason its author reads. Its author may withdraw it."""
    if not note.strip():
        raise ServiceError(ErrorCode.INVALID_INPUT, N_("Say why in a note."), "note")
    async with in_transaction():
        proposal = await RuleProposal.filter(id=proposal_id).select_for_update().first()
        if proposal is None:
            raise _not_found(proposal_id)
        _refuse_unless_pending(proposal)
        proposal.status = (ProposalStatus.WITHDRAWN if proposal.proposed_by == decider
                           else ProposalStatus.REJECTED)
        proposal.decided_by, proposal.decided_at = decider, utcnow()
        proposal.decision_note = note.strip()[:500]
        await proposal.save()
    return proposal


def _refuse_unless_pending(proposal: RuleProposal) -> None:
    if proposal.status != ProposalStatus.PENDING:
        raise ServiceError(ErrorCode.CONFLICT,
                           N_("This proposal was already decided (%(status)s).",
                              status=proposal.status.value), "id")


async def proposals(status: ProposalStatus | None = None, limit: int = 50) -> list[RuleProposal]:
    """Newest first."""
    query = RuleProposal.all()
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("-id").limit(limit)


