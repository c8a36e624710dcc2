"""Configuration from environment variables (and an optional `.env` file).

Every field has an embedded default so that `make run` works on a fresh machine;
`Settings.production_problems()` lists the defaults that must not reach production.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"
EMBEDDED_DATABASE_URL = "sqlite://var/carbon-planet.sqlite3"


class HostIssuer(BaseModel):
    """A host app (city super-app, mini-program platform) trusted to vouch for its users."""

    issuer: str
    audience: str | None = None
    hs256_secret: str | None = None
    rs256_public_key: str | None = Field(default=None, description="PEM-encoded public key")

    @model_validator(mode="after")
    def _needs_a_key(self) -> HostIssuer:
        if not (self.hs256_secret or self.rs256_public_key):
            raise ValueError(f"host issuer {self.issuer!r} needs hs256_secret or rs256_public_key")
        return self

    @property
    def algorithms(self) -> list[str]:
        return (["HS256"] if self.hs256_secret else []) + (
            ["RS256"] if self.rs256_public_key else []
        )


class WeChatApp(BaseModel):
    """A WeChat mini-program whose users log in with `wx.login` codes."""

    app_id: str = Field(min_length=1, max_length=64)
    secret: str = Field(min_length=1, description="The AppSecret from the WeChat console")


class AlipayApp(BaseModel):
    """An Alipay mini-program whose users log in with `my.getAuthCode` codes."""

    app_id: str = Field(min_length=1, max_length=64)
    private_key_path: str = Field(
        description="PEM file of the app's RSA private key (RSA2 request signing)")
    alipay_public_key_path: str | None = Field(
        default=None, description="PEM file of Alipay's public key, to verify its answers")


class PartnerConfig(BaseModel):
    """A data partner that pushes signed activity records; several secrets allow rotation."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,59}$")
    name: str = ""
    secrets: list[str] = Field(min_length=1)
    # the kinds it may report: a kind ("household_electricity") or every kind of a formula
    # table ("travel", "quantity", "baseline", "event"); others are SCENE_NOT_ALLOWED
    scenes: list[str] = Field(default_factory=lambda: ["travel"], min_length=1)

    def allows(self, kind: str, formula: str | None) -> bool:
        """Whether this partner may report `kind`, computed with the formula `formula`."""
        return kind in self.scenes or (formula is not None and formula in self.scenes)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARBON_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=EMBEDDED_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "CARBON_DATABASE_URL"),
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "CARBON_REDIS_URL")
    )
    redis_max_connections: int = Field(default=200, ge=1)
    redis_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    secret_key: str = DEV_SECRET

    access_token_ttl_seconds: int = Field(default=900, ge=60)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)

    sms_provider: str = "log"
    phone_default_region: str = "CN"
    login_code_ttl_seconds: int = Field(default=300, ge=30)
    login_code_max_attempts: int = Field(default=5, ge=1)
    login_code_resend_seconds: int = Field(default=60, ge=1)
    login_code_ip_limit: int = Field(
        default=20, ge=0,
        description="requestLoginCode calls per client IP per minute (0: no limit)")
    login_attempt_ip_limit: int = Field(
        default=60, ge=0, description="loginWithCode calls per client IP per minute (0: no limit)")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses or CIDR ranges whose X-Forwarded-For is believed")

    host_issuers: list[HostIssuer] = Field(default_factory=list)

    wechat_base_url: str = Field(
        default="https://api.weixin.qq.com", description="WeChat server API base URL")
    wechat_apps: list[WeChatApp] = Field(
        default_factory=list,
        description="WeChat mini-programs (app_id, secret); one unionid is one player across them")
    alipay_base_url: str = Field(
        default="https://openapi.alipay.com", description="Alipay open gateway base URL")
    alipay_apps: list[AlipayApp] = Field(
        default_factory=list, description="Alipay mini-programs (app_id, private_key_path)")
    miniprogram_timeout_seconds: float = Field(
        default=3.0, gt=0, le=30, description="Timeout of each call to WeChat or Alipay")
    miniprogram_login_ip_limit: int = Field(
        default=60, ge=0,
        description="loginWithWeChat and loginWithAlipay calls per client IP per minute (0: no limit)")

    methodology_dir: str | None = None
    partners: list[PartnerConfig] = Field(default_factory=list)
    partner_clock_window_seconds: int = 300
    partner_link_code_ttl_seconds: int = Field(
        default=900, ge=60, le=86400,
        description="How long a link code from createPartnerLinkCode can be given to a partner")
    partner_link_offer_ttl_days: int = Field(
        default=30, ge=1, le=365,
        description="How long a partner's offer to link by phone number waits for the person to accept")
    partner_max_records: int = 1000
    partner_max_body_bytes: int = 4 * 1024 * 1024
    partner_rate_limit: int = Field(
        default=600, ge=0, description="Signed requests per partner per minute (0: no limit)")
    partner_auth_failure_ip_limit: int = Field(
        default=30, ge=0,
        description="Requests with a bad signature per client IP per minute before 429 (0: no limit)")
    activity_max_age_days: int = Field(default=7, ge=1)
    activity_future_tolerance_seconds: int = 300

    rules_refresh_seconds: float = Field(default=2.0, gt=0)
    default_timezone: str = "Asia/Shanghai"
    certification_serial_city: str = Field(
        default="SZ", min_length=1, max_length=8, pattern=r"^[A-Za-z0-9]+$",
        description="The city's code at the head of certified batch codes and serials "
                    "(SZ-2026-11-LOW-CARBON-TRAVEL-V1-000000001)")
    default_language: Literal["zh-CN", "en"] = Field(
        default="zh-CN", description="Language of messages when Accept-Language names none we have")
    cities: list[str] = Field(
        default_factory=lambda: [
            "shenzhen", "beijing", "shanghai", "qingdao", "nanjing", "chengdu", "quzhou",
        ]
    )

    payout_provider: str = Field(
        default="sandbox", description="'sandbox' or 'package.module:Class' (a PayoutProvider)")
    payout_worker: bool = Field(default=True, description="Run the payout worker in each server process")
    payout_poll_seconds: float = Field(default=2.0, gt=0)
    payout_max_attempts: int = Field(default=6, ge=1)
    payout_backoff_seconds: int = Field(default=30, ge=0, description="First retry delay; doubles each time")
    payout_backoff_max_seconds: int = Field(default=3600, ge=0)
    payout_lease_seconds: int = Field(
        default=60, ge=1, description="A claimed payout is retried after this if its worker died")
    payout_batch_size: int = Field(default=50, ge=1)
    market_shop_share_percent: int = Field(
        default=30, ge=0, le=100,
        description="Percent of each market sale's revenue that funds the points shop "
                    "(market:shop-fund), rounded down to whole fen")
    settlement_points_per_yuan: int = Field(default=100, ge=1, description="Merchant settlement rate")
    statements_dir: str = "var/statements"

    transparency_log: bool = Field(
        default=True, description="Sequence every ledger transaction into the transparency log "
                                  "(on|off); off writes no queue rows and runs no sequencer")
    transparency_log_key: str | None = Field(
        default=None, description="The log's Ed25519 signer key (`carbon-planet log keygen`); unset: "
                                  "a development key generated into CARBON_TRANSPARENCY_LOG_KEY_FILE")
    transparency_log_key_file: str = Field(
        default="var/transparency-log.key",
        description="Where the development signer key is kept when CARBON_TRANSPARENCY_LOG_KEY is unset")
    transparency_log_origin: str = Field(
        default="carbon-planet.dev/log", min_length=1,
        description="The origin (first line) of the development key's checkpoints")
    transparency_sequence_seconds: float = Field(
        default=0.5, gt=0, description="How often each server process sequences the log's queue")
    transparency_sequence_batch: int = Field(
        default=5000, ge=1, le=100_000, description="Transactions sequenced per database transaction")
    transparency_checkpoint_seconds: float = Field(
        default=5.0, gt=0, description="Least time between two checkpoints (signed only when the log grew)")

    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 3000
    graphql_max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    graphql_max_fields: int = Field(
        default=5000, ge=1, description="Fields selected after expanding fragments")
    graphiql: bool = True
    ws_session_check_seconds: float = Field(
        default=10.0, gt=0,
        description="How often an open websocket's session is checked again (also at expiry)")
    persisted_queries: Literal["off", "automatic", "allowlist"] = Field(
        default="automatic",
        description="Persisted queries: 'automatic' (Apollo APQ: clients register documents by "
                    "hash), 'allowlist' (only the manifest's operations run), 'off'")
    persisted_query_manifest: str | None = Field(
        default=None, description="Apollo persisted-query manifest of the registered operations "
                                  "(default: the client contract's, schema/persisted-query-manifest.json)")
    persisted_query_ttl_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, description="How long Redis keeps a registered document")
    persisted_query_max_bytes: int = Field(
        default=20_000, ge=1, description="Longer documents run but are not registered")
    persisted_query_public_max_age: int = Field(
        default=60, ge=0,
        description="max-age of a public GET answer of a persisted query (0: never public)")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "INFO"
    log_json: bool = True

    metrics_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="Serve /metrics on this port only (the app's port then has no /metrics)")
    metrics_host: str | None = Field(
        default=None, description="Address of the metrics port (default: CARBON_HOST)")
    metrics_token: str | None = Field(
        default=None, description="Bearer token a scrape of /metrics must send")
    metrics_refresh_seconds: float = Field(
        default=30.0, gt=0, description="How often gauges read from the database are refreshed")
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CARBON_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP base URL; spans go to <it>/v1/traces (unset: no tracing)")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.redis_url

    def production_problems(self) -> list[str]:
        """What stops this configuration from running in production (empty when fine)."""
        if self.env != "production":
            return []
        problems = []
        if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
            problems.append("CARBON_SECRET_KEY is unset or shorter than 32 characters")
        if self.uses_embedded_database:
            problems.append("DATABASE_URL is unset: the embedded SQLite file is for development")
        if self.uses_embedded_redis:
            problems.append("REDIS_URL is unset: the in-process fakeredis is for development")
        if self.sms_provider == "log":
            problems.append(
                "CARBON_SMS_PROVIDER is 'log', which writes login codes to the log; "
                "set it to a real provider ('package.module:Class')"
            )
        if self.payout_provider == "sandbox":
            problems.append(
                "CARBON_PAYOUT_PROVIDER is 'sandbox', which pays nobody; "
                "set it to a real provider ('package.module:Class')"
            )
        if self.transparency_log and not self.transparency_log_key:
            problems.append("CARBON_TRANSPARENCY_LOG_KEY is unset: checkpoints would be signed with a "
                            "development key kept in a file; make one with `carbon-planet log keygen`")
        for app in self.alipay_apps:
            if not app.alipay_public_key_path:
                problems.append(f"Alipay app {app.app_id!r} has no alipay_public_key_path: "
                                "its answers would not be verified")
        for partner in self.partners:
            if any(len(secret) < 32 for secret in partner.secrets):
                problems.append(f"partner {partner.id!r} has a secret shorter than 32 characters")
        return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
