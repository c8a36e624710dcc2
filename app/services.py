"""The long-lived objects one server process shares between requests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from app.auth.host_tokens import HostTokenVerifier
from app.auth.login_codes import LoginCodes
from app.auth.miniprogram import MiniProgramLogin
from app.auth.sessions import Sessions
from app.auth.sms import SmsProvider, load_sms_provider
from app.credits.ingest import Ingestor
from app.credits.steps import StepSync
from app.leaderboards.boards import Leaderboards
from app.payouts.provider import PayoutProvider, load_payout_provider
from app.planet.events import PlanetEvents
from app.planet.hooks import GameHooks
from app.redis import create_redis
from app.rulesets.service import RulesProvider
from app.settings import PartnerConfig, Settings
from game.model import Rules, known_scenes
from game.rules import default_rules
from methodology import MethodologyRegistry, default_registry, load_directory


@dataclass
class Services:
    settings: Settings
    redis: Redis | RedisCluster
    sms: SmsProvider
    login_codes: LoginCodes
    sessions: Sessions
    host_tokens: HostTokenVerifier
    miniprograms: MiniProgramLogin
    methodologies: MethodologyRegistry
    partners: dict[str, PartnerConfig]
    ingestor: Ingestor
    steps: StepSync
    rules_provider: RulesProvider
    planet_events: PlanetEvents
    leaderboards: Leaderboards
    game: GameHooks
    payouts: PayoutProvider

    @classmethod
    def build(cls, settings: Settings, sms: SmsProvider | None = None) -> Services:
        sms = sms or load_sms_provider(settings.sms_provider)
        registry = (
            MethodologyRegistry(load_directory(Path(settings.methodology_dir)))
            if settings.methodology_dir
            else default_registry()
        )
        redis = create_redis(settings)
        known_kinds = known_scenes(registry.all())  # each kind with its quantity unit
        provider = RulesProvider(default_rules(), known_kinds)
        events = PlanetEvents(redis)
        boards = Leaderboards(redis, settings.default_timezone)
        game = GameHooks(provider, events, boards)
        return cls(
            settings=settings,
            redis=redis,
            sms=sms,
            login_codes=LoginCodes(settings, sms),
            sessions=Sessions(settings),
            host_tokens=HostTokenVerifier(settings.host_issuers),
            miniprograms=MiniProgramLogin(settings, redis),
            methodologies=registry,
            partners={p.id: p for p in settings.partners},
            ingestor=Ingestor(settings, registry, game),
            steps=StepSync(settings, registry, game),
            rules_provider=provider,
            planet_events=events,
            leaderboards=boards,
            game=game,
            payouts=load_payout_provider(settings.payout_provider),
        )

    @property
    def rules(self) -> Rules:
        """The game rules in force in this process right now."""
        return self.rules_provider.rules

    async def close(self) -> None:
        await self.miniprograms.close()
        await self.redis.aclose()
