"""Settings: every environment variable the service reads, in one place.

The README's configuration table mirrors this module.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_WEBHOOK_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "console")
DEFAULT_STT_MODEL = "whisper-1"
DEFAULT_LLM_MODEL = "gpt-4o-mini"


class Settings(BaseSettings):
    """Runtime configuration, read from the environment (and an optional `.env`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "EAL_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "EAL_REDIS_URL")
    )
    data_dir: Path = Field(default=Path(".eal"), validation_alias="EAL_DATA_DIR")
    storage_url: str | None = Field(
        default=None,
        validation_alias="EAL_STORAGE_URL",
        description="Where photos and files go: s3://bucket/prefix (any S3-compatible "
        "server; ?endpoint=URL for one that is not AWS), or the data directory when unset.",
    )
    secret_key: str | None = Field(default=None, validation_alias="EAL_SECRET_KEY")
    public_url: str = Field(default="http://127.0.0.1:8000", validation_alias="EAL_PUBLIC_URL")

    rate_limit_per_minute: int = Field(
        default=60, ge=1, validation_alias="EAL_RATE_LIMIT_PER_MINUTE"
    )
    rate_limit_burst: int = Field(default=120, ge=1, validation_alias="EAL_RATE_LIMIT_BURST")

    db_pool_size: int = Field(default=10, ge=1, validation_alias="EAL_DB_POOL_SIZE")
    db_max_overflow: int = Field(default=10, ge=0, validation_alias="EAL_DB_MAX_OVERFLOW")

    allow_private_webhook_urls: bool = Field(
        default=False, validation_alias="EAL_ALLOW_PRIVATE_WEBHOOK_URLS"
    )
    # NoDecode: the variable is "5,300,1800", not JSON; the validator below parses it.
    webhook_retry_schedule: Annotated[tuple[int, ...], NoDecode] = Field(
        default=DEFAULT_WEBHOOK_RETRY_SCHEDULE, validation_alias="EAL_WEBHOOK_RETRY_SCHEDULE"
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, validation_alias="EAL_WEBHOOK_TIMEOUT"
    )

    job_concurrency: int = Field(default=10, ge=1, le=1000, validation_alias="EAL_JOB_CONCURRENCY")
    job_heartbeat_seconds: float = Field(
        default=30.0, gt=0, validation_alias="EAL_JOB_HEARTBEAT_SECONDS"
    )

    log_level: str = Field(default="INFO", validation_alias="EAL_LOG_LEVEL")
    log_format: str = Field(default="json", validation_alias="EAL_LOG_FORMAT")
    # One line per request (method, route template, status, duration, ids), at INFO.
    access_log: bool = Field(default=True, validation_alias="EAL_ACCESS_LOG")

    # Prometheus metrics: off by default, since /metrics tells anyone who reaches it how
    # busy each tenant-facing route is. With a port, `eal serve` and `eal worker` each serve
    # them on a listener of their own (never the API's port), reachable only where bound.
    metrics: bool = Field(default=False, validation_alias="EAL_METRICS")
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, validation_alias="EAL_METRICS_PORT"
    )
    metrics_host: str = Field(default="127.0.0.1", validation_alias="EAL_METRICS_HOST")

    # Speech-to-text for calls with a recording but no transcript: an OpenAI-compatible
    # server (POST {base}/v1/audio/transcriptions). Unset: such calls go to owner review.
    stt_base_url: str | None = Field(default=None, validation_alias="EAL_STT_BASE_URL")
    stt_api_key: SecretStr | None = Field(default=None, validation_alias="EAL_STT_API_KEY")
    stt_model: str = Field(default=DEFAULT_STT_MODEL, validation_alias="EAL_STT_MODEL")

    # Call classification by an OpenAI-compatible chat server
    # (POST {base}/v1/chat/completions). Unset: only the embedded classifier runs.
    llm_base_url: str | None = Field(default=None, validation_alias="EAL_LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(default=None, validation_alias="EAL_LLM_API_KEY")
    llm_model: str = Field(default=DEFAULT_LLM_MODEL, validation_alias="EAL_LLM_MODEL")
    # One classification is one short completion: a server slower than this is better
    # skipped (the embedded classifier answers) than waited on.
    llm_timeout_seconds: float = Field(
        default=20.0, gt=0, le=300, validation_alias="EAL_LLM_TIMEOUT_SECONDS"
    )

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            if not parts:
                raise ValueError("EAL_WEBHOOK_RETRY_SCHEDULE must list at least one delay")
            delays = tuple(int(float(p)) for p in parts)
            if any(d < 0 for d in delays):
                raise ValueError("EAL_WEBHOOK_RETRY_SCHEDULE delays must be >= 0 seconds")
            return delays
        return value

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _empty_port(cls, value: object) -> object:
        # `EAL_METRICS_PORT=` (set but empty) means unset, as an env file often leaves it.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("storage_url", mode="before")
    @classmethod
    def _check_storage(cls, value: object) -> object:
        # An env file often leaves it empty: unset. Anything else must name a backend.
        if isinstance(value, str):
            value = value.strip() or None
            if value is not None and not value.startswith(("s3://", "file:///")):
                raise ValueError(
                    "EAL_STORAGE_URL must be s3://bucket/prefix or file:///absolute/path"
                )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_level(cls, value: object) -> object:
        # uvicorn and logging both need a real level name; fail at start-up, not mid-serve.
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in LOG_LEVELS:
                raise ValueError(f"EAL_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _check_format(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in LOG_FORMATS:
                raise ValueError(f"EAL_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        return value

    @field_validator("stt_base_url", mode="before")
    @classmethod
    def _check_stt_url(cls, value: object) -> object:
        return _server_url(value, "EAL_STT_BASE_URL", "https://stt.example.com")

    @field_validator("stt_api_key", mode="before")
    @classmethod
    def _check_stt_key(cls, value: object) -> object:
        return _api_key(value, "EAL_STT_API_KEY")

    @field_validator("stt_model", mode="before")
    @classmethod
    def _check_stt_model(cls, value: object) -> object:
        return _model_name(value, "EAL_STT_MODEL")

    @field_validator("llm_base_url", mode="before")
    @classmethod
    def _check_llm_url(cls, value: object) -> object:
        return _server_url(value, "EAL_LLM_BASE_URL", "https://llm.example.com")

    @field_validator("llm_api_key", mode="before")
    @classmethod
    def _check_llm_key(cls, value: object) -> object:
        return _api_key(value, "EAL_LLM_API_KEY")

    @field_validator("llm_model", mode="before")
    @classmethod
    def _check_llm_model(cls, value: object) -> object:
        return _model_name(value, "EAL_LLM_MODEL")

    @model_validator(mode="after")
    def _keys_need_urls(self) -> Self:
        # A key with nowhere to send it is a configuration mistake, not a choice.
        if self.stt_api_key is not None and self.stt_base_url is None:
            raise ValueError("EAL_STT_API_KEY is set but EAL_STT_BASE_URL is not")
        if self.llm_api_key is not None and self.llm_base_url is None:
            raise ValueError("EAL_LLM_API_KEY is set but EAL_LLM_BASE_URL is not")
        return self

    @property
    def stt_enabled(self) -> bool:
        """True when a speech-to-text server is configured (EAL_STT_BASE_URL)."""
        return self.stt_base_url is not None

    @property
    def llm_enabled(self) -> bool:
        """True when an LLM server for call classification is configured (EAL_LLM_BASE_URL)."""
        return self.llm_base_url is not None

    @property
    def metrics_enabled(self) -> bool:
        """True when metrics are collected: EAL_METRICS=1 or an EAL_METRICS_PORT."""
        return self.metrics or self.metrics_port is not None

    @property
    def metrics_on_api(self) -> bool:
        """True when the API itself answers GET /metrics (enabled, and no port of their own)."""
        return self.metrics and self.metrics_port is None

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is set and the embedded PostgreSQL is used."""
        return not self.database_url


def _server_url(value: object, name: str, example: str) -> object:
    """An OpenAI-compatible server's root URL, stripped of a trailing slash; empty is unset."""
    if not isinstance(value, str):
        return value
    url = value.strip().rstrip("/")
    if not url:
        return None
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or any(ch.isspace() or ord(ch) < 0x20 for ch in url)
    ):
        raise ValueError(
            f"{name} must be an http(s) URL such as {example}, "
            "without credentials, query or fragment"
        )
    return url


def _api_key(value: object, name: str) -> object:
    """A bearer key, stripped; empty is unset. It goes into a header, hence no whitespace."""
    if not isinstance(value, str):
        return value
    key = value.strip()
    if not key:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 for ch in key):
        raise ValueError(f"{name} must not contain spaces or control characters")
    return key


def _model_name(value: object, name: str) -> object:
    """A model name as the server knows it, stripped."""
    if isinstance(value, str):
        value = value.strip()
        if not value or len(value) > 200 or any(ch.isspace() for ch in value):
            raise ValueError(f"{name} must be a model name of 1 to 200 characters")
    return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own `Settings`)."""
    return Settings()
