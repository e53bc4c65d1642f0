"""One Settings class from the environment (and `.env`), cached; tests reset it with `get_settings.cache_clear()`."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "insecure-development-secret-change-me"
_ORIGIN = re.compile(r"^https?://[^/\s]+$")


class Settings(BaseSettings):
    # A refused setting's error names the setting, never the values given (a DATABASE_URL password, a key).
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/matchready.db"
    secret_key: str = DEFAULT_SECRET
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # The bound: a logout, a deactivated or deleted user, a changed password or role ends bearer access on every
    # worker within this many seconds (each worker re-reads a session's state when its copy is this old).
    session_check_seconds: float = Field(default=5.0, gt=0, le=60)
    # Reads, exports and disclosures of candidates' records reach the audit trail within this many seconds (0: only
    # when the audit trail is read, as the tests want it: nothing is written behind their back).
    audit_flush_seconds: float = Field(default=5.0, ge=0, le=60)
    # Refresh tokens (rotated at each use) keep a sign-in going this long without a password.
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    # A password reset link is good this long, once; an invitation this many days, once.
    password_reset_minutes: int = Field(default=60, ge=5, le=24 * 60)
    invitation_days: int = Field(default=7, ge=1, le=60)
    # Outgoing mail (password resets, invitations). No SMTP_HOST: each mail is written as an .eml file under MAIL_DIR
    # (development). SMTP_TLS: `starttls` (submission, port 587), `ssl` (implicit TLS, 465) or `none` (a local relay).
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mail_from: str = "MatchReady <no-reply@matchready.invalid>"
    mail_dir: str = "var/mail"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A request body must arrive at this pace: each part of it within this many seconds, or the answer is 408 and
    # the connection is closed (a client that trickles its body does not hold a worker).
    body_read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # A request's line and headers must arrive within this many seconds of the connection (or of the first byte
    # of the next request on a kept-alive one), or the answer is 408 and the connection closed (app.core.server).
    header_read_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    db_pool_size: int = Field(default=10, ge=1)
    db_echo: bool = False
    demo_password: str | None = Field(default=None, validation_alias="MATCHREADY_DEMO_PASSWORD")
    # Retry-After of a 503 while the database is unavailable.
    retry_after_seconds: int = Field(default=5, ge=1)
    # Database faults answer 503 within these bounds (README: Configuration). Seconds to open a PostgreSQL
    # connection; to wait for a pooled connection (SQLAlchemy's and the read pool's); for a statement to wait on a
    # lock (SQLite's busy timeout, PostgreSQL's lock_timeout); for a PostgreSQL statement to run
    # (statement_timeout; 0: no limit); for a PostgreSQL session to sit idle inside a transaction, holding its
    # locks, before the server ends it (idle_in_transaction_session_timeout; 0: no limit).
    db_connect_timeout: float = Field(default=1.5, gt=0, le=60)
    db_pool_timeout: float = Field(default=2.0, gt=0)
    db_lock_timeout: float = Field(default=3.0, gt=0)
    db_statement_timeout: float = Field(default=15.0, ge=0)
    db_idle_in_transaction_timeout: float = Field(default=60.0, ge=0)
    max_simulation_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # POST /v1/imports: its own body limit, and the most candidates one import takes (413 over either)
    max_import_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    import_max_items: int = Field(default=10_000, ge=1)
    # Rendered answers of the computed views kept per worker (0: compute every request afresh).
    computed_cache_entries: int = Field(default=4096, ge=0)
    # A folder of rule files (<year>.toml) that replace the packaged rule set of each cycle they hold, and may add
    # cycles; empty: the packaged rules only. Check a folder with `python -m app rules check DIR`, then restart.
    rules_dir: str = ""
    # The change feed keeps events this many days at least (GET /v1/events; webhooks retry within it).
    event_retention_days: int = Field(default=30, ge=30)
    # Run the background worker inside each server process (`make run` sets it; production runs `make worker`).
    worker_in_process: bool = False
    # The jobs a worker runs (comma-separated names or `prefix.*`, e.g. `webhooks.*`); empty: all of them. Lets
    # a deployment give webhook delivery its own worker pool.
    worker_jobs: str = ""
    # Browser origins (`scheme://host[:port]`, comma-separated) whose pages may call the API; empty: CORS off.
    cors_origins: Annotated[list[str], NoDecode] = []

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        for origin in value:
            # A browser sends the origin without a path or trailing slash: such an entry would never match.
            if not (isinstance(origin, str) and _ORIGIN.match(origin)):
                raise ValueError(f"CORS_ORIGINS entries are origins like https://app.example.org, not {origin!r}")
        return [origin.lower() for origin in value]  # browsers send the host in lower case
    # Webhooks: seconds to wait after each failed attempt before the next (then the delivery is dead and the
    # endpoint disabled), per-request timeout, requests in flight per worker, and whether to allow internal
    # addresses (loopback, private networks; for development and tests only).
    webhook_retry_schedule: tuple[Annotated[float, Field(ge=0)], ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_concurrency: int = Field(default=50, ge=1, le=500)
    webhook_allow_private_urls: bool = False
    # Logs: the level, and the format (`json` lines, or `console` for a person; default: console in development,
    # json otherwise).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] | None = None
    # The bearer token `/metrics` wants (Prometheus text format); unset: `/metrics` answers 404.
    metrics_token: str | None = Field(default=None, min_length=16)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def resolved_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "console" if self.environment == "development" else "json"
    # Throttling (app.core.throttle), in the `limits` library's notation: "N/unit", several joined by ";".
    # Where the counters live: `memory://` (each worker process its own), or a Redis URL shared by every worker and
    # host (`redis://host:6379/0`); keys start with the prefix.
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = Field(default="matchready", min_length=1, max_length=64)
    # Requests per user or API key, and per client address for the public routes and failed credentials.
    rate_limit_per_principal: str = "3000/minute"
    rate_limit_per_address: str = "600/minute"
    # Failed sign-ins per account (the e-mail as given) and per address; over any of them, sign-in answers 429.
    sign_in_failures_per_account: str = "5/minute;20/hour;100/day"
    sign_in_failures_per_address: str = "30/minute;300/hour"

    @field_validator("rate_limit_per_principal", "rate_limit_per_address")
    @classmethod
    def _one_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)  # ValueError names the notation
        return value

    @field_validator("sign_in_failures_per_account", "sign_in_failures_per_address")
    @classmethod
    def _limits(cls, value: str) -> str:
        from limits import parse_many

        parse_many(value)
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError("RATE_LIMIT_STORAGE_URL is memory:// or a redis:// (rediss://, redis+unix://) URL")
        return value

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        # Only a development run, said so in so many words, takes the published key: a server started without
        # ENVIRONMENT (a bare `uvicorn app.main:app`), or with ENVIRONMENT=test or production, needs a real one.
        explicit_development = self.environment == "development" and "environment" in self.model_fields_set
        if not explicit_development and (self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "SECRET_KEY must be set to a random value of at least 32 characters (e.g. `python -c 'import "
                "secrets; print(secrets.token_urlsafe(48))'`); only ENVIRONMENT=development runs with the "
                "development default"
            )
        if self.environment == "production":
            if not self.smtp_host:  # mails hold one-time tokens: in production they never go to files
                raise ValueError(
                    "SMTP_HOST must be set when ENVIRONMENT=production: invitation and password-reset mails hold "
                    "one-time tokens, and without a server they would be written to MAIL_DIR"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
