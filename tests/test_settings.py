"""Configuration: embedded defaults, real-server switches, and production refusals."""

from __future__ import annotations

import fakeredis
import pytest
from redis.asyncio import Redis

from app.redis import create_redis
from app.server import ConfigurationError, create_app
from app.settings import Settings
from transparency.note import generate_signer


@pytest.fixture
def no_env(monkeypatch):
    """Settings as a fresh machine sees them, whatever the test run was given."""
    for name in ("DATABASE_URL", "REDIS_URL", "CARBON_ENV", "CARBON_SECRET_KEY",
                 "CARBON_SMS_PROVIDER", "CARBON_PAYOUT_PROVIDER", "CARBON_TRANSPARENCY_LOG_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_embedded_defaults(no_env):
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("sqlite://var/")
    assert settings.redis_url is None
    assert isinstance(create_redis(settings), fakeredis.FakeAsyncRedis)
    assert settings.production_problems() == []


async def test_embedded_redis_clients_share_one_server(no_env):
    settings = Settings(_env_file=None, redis_url=None)
    a, b = create_redis(settings), create_redis(settings)
    await a.set("shared-key-test", "1")
    assert await b.get("shared-key-test") == "1"
    await a.delete("shared-key-test")


def test_environment_switches_to_real_servers(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.internal:5432/carbon")
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgres://u@db.internal:5432/carbon"
    client = create_redis(settings)
    assert isinstance(client, Redis) and not isinstance(client, fakeredis.FakeAsyncRedis)


def test_host_issuers_from_json(monkeypatch):
    monkeypatch.setenv(
        "CARBON_HOST_ISSUERS", '[{"issuer": "https://a.example", "hs256_secret": "s3cret"}]'
    )
    [issuer] = Settings(_env_file=None).host_issuers
    assert issuer.algorithms == ["HS256"]
    monkeypatch.setenv("CARBON_HOST_ISSUERS", '[{"issuer": "https://a.example"}]')
    with pytest.raises(ValueError, match="needs hs256_secret or rs256_public_key"):
        Settings(_env_file=None)


def test_production_refuses_embedded_defaults_and_unset_secrets(no_env):
    settings = Settings(_env_file=None, env="production", redis_url=None)
    problems = "\n".join(settings.production_problems())
    for name in ("CARBON_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CARBON_SMS_PROVIDER",
                 "CARBON_PAYOUT_PROVIDER", "CARBON_TRANSPARENCY_LOG_KEY"):
        assert name in problems
    with pytest.raises(ConfigurationError, match="will not start"):
        create_app(settings)


def test_production_accepts_a_complete_configuration():
    settings = Settings(
        _env_file=None,
        env="production",
        secret_key="p" * 48,
        database_url="postgres://carbon@db:5432/carbon",
        redis_url="redis://cache:6379/0",
        sms_provider="tests.sms_stub:RecordingSms",
        payout_provider="tests.payout_stub:RecordingPayouts",
        transparency_log_key=generate_signer("log.carbon-planet.example").key_string,
    )
    assert settings.production_problems() == []
    assert create_app(settings) is not None


def test_the_transparency_log_is_switched_on_and_off(monkeypatch):
    assert Settings(_env_file=None).transparency_log is True
    monkeypatch.setenv("CARBON_TRANSPARENCY_LOG", "off")
    assert Settings(_env_file=None).transparency_log is False
    monkeypatch.setenv("CARBON_TRANSPARENCY_LOG", "on")
    assert Settings(_env_file=None).transparency_log is True
