"""The long-lived objects one server process shares between requests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from app.auth.host_tokens import HostTokenVerifier
from app.auth.login_codes import LoginCodes
from app.auth.sessions import Sessions
from app.auth.sms import SmsProvider, load_sms_provider
from app.credits.ingest import Ingestor
from app.credits.steps import StepSync
from app.redis import create_redis
from app.settings import PartnerConfig, Settings
from methodology import MethodologyRegistry, default_registry, load_directory


@dataclass
class Services:
    settings: Settings
    redis: Redis
    sms: SmsProvider
    login_codes: LoginCodes
    sessions: Sessions
    host_tokens: HostTokenVerifier
    methodologies: MethodologyRegistry
    partners: dict[str, PartnerConfig]
    ingestor: Ingestor
    steps: StepSync

    @classmethod
    def build(cls, settings: Settings, sms: SmsProvider | None = None) -> Services:
        sms = sms or load_sms_provider(settings.sms_provider)
        registry = (
            MethodologyRegistry(load_directory(Path(settings.methodology_dir)))
            if settings.methodology_dir
            else default_registry()
        )
        return cls(
            settings=settings,
            redis=create_redis(settings),
            sms=sms,
            login_codes=LoginCodes(settings, sms),
            sessions=Sessions(settings),
            host_tokens=HostTokenVerifier(settings.host_issuers),
            methodologies=registry,
            partners={p.id: p for p in settings.partners},
            ingestor=Ingestor(settings, registry),
            steps=StepSync(settings, registry),
        )

    async def close(self) -> None:
        await self.redis.aclose()
