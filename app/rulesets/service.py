"""Publishing and rolling back game rules without a deploy.

The active rule set is the highest version whose `effective_from` has passed (the
rules file shipped in `game/rules/` until anything is published). Every server process
polls for it and swaps its rules in place: nothing restarts, and players keep what they
unlocked, because the engine never takes an unlock back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.business_metrics import RULES_VERSION
from app.clock import utcnow
from app.errors import ErrorCode, ServiceError
from app.i18n.messages import N_, LazyMessage, MessageList
from app.planet.models import Planet
from app.rulesets.models import RuleSet
from game.diff import describe_changes
from game.engine import PlanetState, progress
from game.model import Rules
from game.problems import Problem
from game.rules import RULES_FILE, parse_rules, rules_problems

log = logging.getLogger("carbon_planet.rules")


def checksum(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


async def active_ruleset(at: datetime | None = None) -> RuleSet | None:
    return await RuleSet.filter(effective_from__lte=at or utcnow()).order_by("-version").first()


class RulesProvider:
    """The rules this process plays by, refreshed from the published versions."""

    def __init__(self, fallback: Rules, known_kinds: set[str]) -> None:
        self.rules = fallback
        self.known_kinds = known_kinds
        self.version: int | None = None
        self.checksum: str | None = None

    async def refresh(self) -> bool:
        active = await active_ruleset()
        if active is None or active.version == self.version:
            return False
        if active.checksum != self.checksum:  # a rollback republishes known content: no reparse
            self.rules = parse_rules(active.content, f"rules v{active.version}",
                                     fill_missing=True)  # may predate bilingual content
        self.version, self.checksum = active.version, active.checksum
        RULES_VERSION.set(active.version)
        log.info("now playing by rules v%d (%s)", active.version, active.note)
        return True

    async def keep_fresh(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - keep the current rules, try again
                log.warning("rules refresh failed: %s", exc)


@dataclass
class PublishResult:
    ruleset: RuleSet | None
    newly_unlocked: dict[str, int] = field(default_factory=dict)


class RulesInvalid(ServiceError):
    """Rules content refused (INVALID_INPUT at `content`) with every problem, each read in
    the reader's language: `path: reason`."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = [problem_message(p) for p in problems]
        super().__init__(ErrorCode.INVALID_INPUT, MessageList(self.problems), "content")


def problem_message(problem: Problem) -> LazyMessage:
    reason = LazyMessage(problem.text, problem.params)
    return LazyMessage("%(path)s: %(reason)s", {"path": problem.path, "reason": reason}) \
        if problem.path else reason


def validated(content: str, known_kinds: set[str], *, published_before: bool = False) -> Rules:
    """The rules in `content`, or INVALID_INPUT listing every problem. Content that was
    `published_before` may predate bilingual text: a missing language shows the other."""
    rules, problems = rules_problems(content, known_kinds, utcnow().date(),
                                     fill_missing=published_before)
    if problems or rules is None:
        raise RulesInvalid(problems)
    return rules


async def newly_unlocked(rules: Rules) -> dict[str, int]:
    """How many existing players would unlock each theme at once under `rules`."""
    counts = {t.id: 0 for t in rules.themes}
    today = utcnow().date()
    async for planet in _planets():
        state = PlanetState.from_json(planet.state)
        for theme in rules.themes:
            if theme.id not in state.unlocked and all(
                progress(state, r, rules, today).met for r in theme.requirements
            ):
                counts[theme.id] += 1
    return counts


async def _planets(batch: int = 2000):
    last = 0
    while True:
        rows = await Planet.filter(id__gt=last).order_by("id").limit(batch)
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        last = rows[-1].id


SHIPPED = 0  # the version number that names the rules file shipped with the service


def shipped_content() -> str:
    return RULES_FILE.read_text(encoding="utf-8")


async def live_version_and_checksum() -> tuple[int, str]:
    """The version players play by now (SHIPPED before any publish) and its checksum."""
    active = await active_ruleset()
    if active is None:
        return SHIPPED, checksum(shipped_content())
    return active.version, active.checksum


async def refuse_if_live(content: str) -> None:
    """Publishing what players already play by would make a version that changes nothing."""
    live, live_checksum = await live_version_and_checksum()
    if checksum(content) == live_checksum:
        if live == SHIPPED:
            message = N_("This content is identical to the shipped rules file: there is "
                         "nothing to publish.")
        else:
            message = N_("This content is identical to the live rules v%(version)s: there is "
                         "nothing to publish.", version=live)
        raise ServiceError(ErrorCode.CONFLICT, message, "content")


async def content_of(version: int) -> str:
    """A version's content (SHIPPED: the shipped rules file), or NOT_FOUND."""
    if version == SHIPPED:
        return shipped_content()
    ruleset = await RuleSet.get_or_none(version=version)
    if ruleset is None:
        raise ServiceError(ErrorCode.NOT_FOUND, N_("There is no rules version %(version)s.",
                                                   version=version), "version")
    return ruleset.content


async def publish(content: str, note: str, author: str, known_kinds: set[str],
                  effective_from: datetime | None = None, dry_run: bool = False,
                  approved_by: str | None = None, published_before: bool = False) -> PublishResult:
    rules = validated(content, known_kinds, published_before=published_before)
    if not note.strip():
        raise ServiceError(ErrorCode.INVALID_INPUT, N_("Say what changed in a note."), "note")
    await refuse_if_live(content)
    counts = await newly_unlocked(rules)
    if dry_run:
        return PublishResult(None, counts)
    for _ in range(5):  # versions are numbered in order; a concurrent publish retries
        latest = await RuleSet.all().order_by("-version").first()
        try:
            async with in_transaction():  # a savepoint when called inside a transaction
                ruleset = await RuleSet.create(
                    version=(latest.version if latest else 0) + 1, content=content,
                    checksum=checksum(content), author=author, note=note.strip()[:500],
                    effective_from=effective_from or utcnow(), approved_by=approved_by,
                )
            return PublishResult(ruleset, counts)
        except IntegrityError:
            continue
    raise ServiceError(ErrorCode.CONFLICT, N_("Another publish is in progress; try again."))


async def rollback(note: str, author: str, known_kinds: set[str],
                   to_version: int | None = None) -> PublishResult:
    """Publish again the content of `to_version` (SHIPPED: the shipped rules file), by
    default what was active before the active version. History is kept: a rollback is a
    new version with the old content."""
    if to_version is None:
        active = await active_ruleset()
        if active is None:
            raise ServiceError(ErrorCode.NOT_FOUND,
                               N_("Nothing is published: the shipped rules are active."))
        before = await RuleSet.filter(version__lt=active.version, effective_from__lte=utcnow()) \
            .order_by("-version").first()
        to_version = before.version if before else SHIPPED
    content = await content_of(to_version)
    label = f"v{to_version}" if to_version != SHIPPED else "the shipped rules file"
    return await publish(content, note or f"rollback to {label}", author, known_kinds,
                         published_before=True)


async def changes_between(from_version: int, to_version: int) -> list[str]:
    """What changed from one version to another, in a designer's words (empty: nothing)."""
    old = parse_rules(await content_of(from_version), f"rules v{from_version}", fill_missing=True)
    new = parse_rules(await content_of(to_version), f"rules v{to_version}", fill_missing=True)
    return describe_changes(old, new)


async def versions(limit: int = 50) -> list[RuleSet]:
    return await RuleSet.all().order_by("-version").limit(limit)
