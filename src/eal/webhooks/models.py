"""Tables of the webhooks domain (the schema itself is in migration 0003_webhooks)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from eal.db.base import metadata, timestamptz, uuid_pk

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("description", Text),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("secret_encrypted", Text, nullable=False),
    Column("secret_prefix", Text, nullable=False),
    Column("previous_secret_encrypted", Text),
    timestamptz("previous_secret_expires_at", nullable=True),
    timestamptz("last_delivery_at", nullable=True),
    Column("last_delivery_status", Integer),
    timestamptz("failing_since", nullable=True),
    timestamptz("created_at"),
    timestamptz("updated_at"),
    timestamptz("deleted_at", nullable=True),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("endpoint_id", UUID(as_uuid=True), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("retry_step", Integer, nullable=False),
    timestamptz("next_attempt_at", nullable=True),
    timestamptz("leased_until", nullable=True),
    Column("leased_by", Text),
    Column("response_status", Integer),
    Column("latency_ms", Integer),
    Column("error", Text),
    timestamptz("delivered_at", nullable=True),
    timestamptz("queued_at"),
    timestamptz("created_at"),
    timestamptz("updated_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("delivery_id", UUID(as_uuid=True), nullable=False),
    Column("endpoint_id", UUID(as_uuid=True), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("response_status", Integer),
    Column("latency_ms", Integer),
    Column("error", Text),
    Column("worker_id", Text),
    timestamptz("next_attempt_at", nullable=True),
    timestamptz("delivered_at", nullable=True),
    timestamptz("created_at"),
)
