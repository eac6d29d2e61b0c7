"""Request and response bodies of the webhooks endpoints."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.config import JsonDict

from eal.events import EVENT_TYPES
from eal.kit.paging import Page
from eal.kit.schemas import HTTPS_URL_PATTERN, StrictBody, Timestamp, omittable

Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        json_schema_extra={
            "format": "uri",
            # A host, no credentials, no whitespace; checked with its addresses on save.
            "pattern": HTTPS_URL_PATTERN,
            "description": "An https:// URL whose host resolves to public addresses only "
            "(http:// and private addresses only with EAL_ALLOW_PRIVATE_WEBHOOK_URLS=1).",
        },
    ),
]
Description = Annotated[str, Field(max_length=500)]
#: The document's form of an events list: known names, at least one, none twice.
EVENTS_SCHEMA: JsonDict = {
    "items": {"type": "string", "enum": list(EVENT_TYPES)},
    "minItems": 1,
    "uniqueItems": True,
}
DELIVERY_ID_PATTERN = r"^whd_[0-9a-fA-F]{32}$"
SECRET_WARNING = "Save this signing_secret now. It will not be shown again."
DELIVERY_ID_PREFIX = "whd_"


class DeliveryStatus(StrEnum):
    """Where a delivery (one event for one endpoint) stands."""

    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """The endpoint was disabled or deleted before the delivery was sent."""


OPEN_STATUSES = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)
"""Deliveries still to be sent."""
FINISHED_STATUSES = (
    DeliveryStatus.DELIVERED.value,
    DeliveryStatus.FAILED.value,
    DeliveryStatus.CANCELLED.value,
)


def public_delivery_id(delivery_id: uuid.UUID) -> str:
    """A delivery's public id (`X-EAL-Delivery`, `webhook-id`): `whd_` + 32 hex digits."""
    return DELIVERY_ID_PREFIX + delivery_id.hex


def parse_delivery_id(value: str) -> uuid.UUID | None:
    """The uuid behind a public delivery id, or None when `value` is not one."""
    if not value.startswith(DELIVERY_ID_PREFIX):
        return None
    digits = value[len(DELIVERY_ID_PREFIX) :]
    if len(digits) != 32:
        return None
    try:
        return uuid.UUID(hex=digits)
    except ValueError:
        return None


ROTATE_WARNING = SECRET_WARNING + " The previous secret remains valid for 24 hours."


def check_events(value: list[str]) -> list[str]:
    """Event names must be known, non-empty and not repeated (order is kept)."""
    if not value:
        raise ValueError("must list at least one event")
    unknown = [name for name in value if name not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event {unknown[0]!r}; valid events: {', '.join(EVENT_TYPES)}")
    if len(set(value)) != len(value):
        raise ValueError("events must not repeat")
    return value


class WebhookCreate(StrictBody):
    """POST /webhooks."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm-bridge.example.com/webhook",
                    "events": ["call.qualified", "lead.created", "claim.scope.ready"],
                    "description": "Production CRM bridge",
                }
            ]
        }
    )

    url: Url
    events: list[str] = Field(max_length=len(EVENT_TYPES), json_schema_extra=EVENTS_SCHEMA)
    description: Description | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return check_events(value)


class WebhookUpdate(StrictBody):
    """PATCH /webhooks/{id}: only the fields sent change (`events` and `enabled` may not be null)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"events": ["lead.created", "lead.updated"], "enabled": True}]
        }
    )

    events: Annotated[list[str], Field(max_length=len(EVENT_TYPES))] | None = omittable(
        schema=EVENTS_SCHEMA
    )
    description: Description | None = None
    enabled: StrictBool | None = omittable()

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str]:
        if value is None:
            raise ValueError("must be a list of events, not null")
        return check_events(value)

    @field_validator("enabled")
    @classmethod
    def _enabled(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("must be true or false, not null")
        return value


class WebhookOut(BaseModel):
    """A webhook endpoint as the API shows it (never the secret itself)."""

    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    signing_secret_prefix: str
    enabled: bool
    created_at: Timestamp
    last_delivery_at: Timestamp | None
    last_delivery_status: int | None


class WebhookPage(Page[WebhookOut]):
    """GET /webhooks."""


class WebhookCreated(BaseModel):
    """The response to a registration: the only time the secret is shown (with rotation)."""

    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    signing_secret_prefix: str
    enabled: bool
    created_at: Timestamp
    signing_secret: str
    warning: str = Field(default=SECRET_WARNING, serialization_alias="_warning")


class WebhookDeleted(BaseModel):
    id: uuid.UUID
    deleted: bool


class SecretRotated(BaseModel):
    """The new secret, shown once; the previous one stays valid until the given time."""

    id: uuid.UUID
    url: str
    signing_secret_prefix: str
    signing_secret: str
    previous_secret_expires_at: Timestamp
    warning: str = Field(default=ROTATE_WARNING, serialization_alias="_warning")


class DeliveryOut(BaseModel):
    """One delivery attempt (or a delivery still waiting for its attempt)."""

    id: str = Field(json_schema_extra={"pattern": DELIVERY_ID_PATTERN})
    event: str
    status: str
    response_status: int | None
    latency_ms: int | None
    attempt: int
    delivered_at: Timestamp | None
    next_attempt_at: Timestamp | None
    error: str | None
    created_at: Timestamp


class DeliveryPage(Page[DeliveryOut]):
    """GET /webhooks/{id}/deliveries."""
