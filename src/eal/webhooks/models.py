"""Tables of the webhooks domain (the schema itself is in migration 0003_webhooks)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    and_,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("description", Text),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("disabled_reason", Text),
    Column("secret_encrypted", Text, nullable=False),
    Column("secret_prefix", Text, nullable=False),
    Column("previous_secret_encrypted", Text),
    timestamptz("previous_secret_expires_at", nullable=True),
    timestamptz("last_delivery_at", nullable=True),
    Column("last_delivery_status", Integer),
    timestamptz("failing_since", nullable=True),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    timestamptz("deleted_at", nullable=True),
    CheckConstraint("cardinality(events) > 0", name="webhook_endpoints_events_check"),
)
Index(
    "webhook_endpoints_page_idx",
    webhook_endpoints.c.organization_id,
    webhook_endpoints.c.created_at.desc(),
    webhook_endpoints.c.id.desc(),
    postgresql_where=webhook_endpoints.c.deleted_at.is_(None),
)
# The fan-out in events.record reads this on every audit entry.
Index(
    "webhook_endpoints_fanout_idx",
    webhook_endpoints.c.organization_id,
    postgresql_where=and_(webhook_endpoints.c.enabled, webhook_endpoints.c.deleted_at.is_(None)),
)

# The outbox: one row per (event, endpoint). `body` is fixed at enqueue so
# every retry sends identical bytes; a claim leases the row by moving
# next_attempt_at to the lease's end.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("endpoint_id", UUID(as_uuid=True), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("retry_step", Integer, nullable=False, server_default=text("0")),
    timestamptz("next_attempt_at", nullable=True, default_now=True),
    timestamptz("leased_until", nullable=True),
    Column("leased_by", Text),
    Column("response_status", Integer),
    Column("latency_ms", Integer),
    Column("error", Text),
    timestamptz("delivered_at", nullable=True),
    timestamptz("queued_at", default_now=True),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint(
        "status IN ('pending', 'retrying', 'delivered', 'failed', 'cancelled')",
        name="webhook_deliveries_status_check",
    ),
)
_open = webhook_deliveries.c.status.in_(["pending", "retrying"])
Index("webhook_deliveries_due_idx", webhook_deliveries.c.next_attempt_at, postgresql_where=_open)
Index("webhook_deliveries_open_idx", webhook_deliveries.c.endpoint_id, postgresql_where=_open)
Index(
    "webhook_deliveries_queued_idx",
    webhook_deliveries.c.endpoint_id,
    webhook_deliveries.c.queued_at.desc(),
    webhook_deliveries.c.id.desc(),
    postgresql_where=webhook_deliveries.c.status.in_(["pending", "cancelled"]),
)
Index("webhook_deliveries_event_idx", webhook_deliveries.c.event_id)
Index(
    "webhook_deliveries_finished_idx",
    webhook_deliveries.c.updated_at,
    postgresql_where=webhook_deliveries.c.status.in_(["delivered", "failed", "cancelled"]),
)

# One row per HTTP attempt (what GET /webhooks/{id}/deliveries lists).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    uuid_pk(),
    organization_id(),
    Column(
        "delivery_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("endpoint_id", UUID(as_uuid=True), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("response_status", Integer),
    Column("latency_ms", Integer),
    Column("error", Text),
    Column("worker_id", Text),
    timestamptz("next_attempt_at", nullable=True),
    timestamptz("delivered_at", nullable=True),
    timestamptz("created_at", default_now=True),
    CheckConstraint(
        "status IN ('delivered', 'retrying', 'failed')", name="webhook_attempts_status_check"
    ),
)
Index(
    "webhook_attempts_page_idx",
    webhook_attempts.c.endpoint_id,
    webhook_attempts.c.created_at.desc(),
    webhook_attempts.c.id.desc(),
)
Index("webhook_attempts_delivery_idx", webhook_attempts.c.delivery_id)
