"""Tables of the outreach domain (migration 0006_outreach)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

outreach_sequences = Table(
    "outreach_sequences",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("name", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("steps", JSONB, nullable=False),
    Column("sending_window", JSONB, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    timestamptz("archived_at", nullable=True),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint("channel IN ('sms', 'email')", name="outreach_sequences_channel_check"),
    CheckConstraint(
        "jsonb_typeof(steps) = 'array' AND jsonb_array_length(steps) > 0",
        name="outreach_sequences_steps_check",
    ),
)
Index(
    "outreach_sequences_page_idx",
    outreach_sequences.c.organization_id,
    outreach_sequences.c.created_at.desc(),
    outreach_sequences.c.id.desc(),
    postgresql_where=outreach_sequences.c.archived_at.is_(None),
)

_RUNNING = text("status IN ('active', 'paused')")

# One person in one sequence; next_step is the index of the next step to send.
outreach_enrollments = Table(
    "outreach_enrollments",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("sequence_id", UUID(as_uuid=True), ForeignKey("outreach_sequences.id"), nullable=False),
    Column("lead_id", UUID(as_uuid=True), ForeignKey("leads.id")),
    Column("prospect_id", UUID(as_uuid=True)),
    Column("address", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="active"),
    Column("stop_reason", Text),
    Column("next_step", Integer, nullable=False, server_default=text("0")),
    timestamptz("next_due_at", nullable=True),
    timestamptz("paused_until", nullable=True),
    Column("environment", Text, nullable=False, server_default="live"),
    timestamptz("enrolled_at", default_now=True),
    timestamptz("finished_at", nullable=True),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint(
        "status IN ('active', 'paused', 'completed', 'stopped')",
        name="outreach_enrollments_status_check",
    ),
    CheckConstraint(
        "stop_reason IN ('replied', 'opted_out', 'bounced', 'won', 'lost', 'unenrolled')",
        name="outreach_enrollments_stop_reason_check",
    ),
    CheckConstraint("next_step >= 0", name="outreach_enrollments_next_step_check"),
    CheckConstraint(
        "environment IN ('live', 'test')", name="outreach_enrollments_environment_check"
    ),
    CheckConstraint(
        "lead_id IS NOT NULL OR prospect_id IS NOT NULL", name="outreach_enrollments_person"
    ),
)
Index(
    "outreach_enrollments_lead_idx",
    outreach_enrollments.c.sequence_id,
    outreach_enrollments.c.lead_id,
    unique=True,
    postgresql_where=outreach_enrollments.c.lead_id.isnot(None),
)
Index(
    "outreach_enrollments_prospect_idx",
    outreach_enrollments.c.sequence_id,
    outreach_enrollments.c.prospect_id,
    unique=True,
    postgresql_where=outreach_enrollments.c.prospect_id.isnot(None),
)
Index(
    "outreach_enrollments_page_idx",
    outreach_enrollments.c.sequence_id,
    outreach_enrollments.c.created_at.desc(),
    outreach_enrollments.c.id.desc(),
)
Index(
    "outreach_enrollments_address_idx",
    outreach_enrollments.c.organization_id,
    outreach_enrollments.c.address,
    postgresql_where=_RUNNING,
)
Index(
    "outreach_enrollments_lead_running_idx",
    outreach_enrollments.c.organization_id,
    outreach_enrollments.c.lead_id,
    postgresql_where=_RUNNING,
)
Index(
    "outreach_enrollments_due_idx",
    outreach_enrollments.c.sequence_id,
    outreach_enrollments.c.next_due_at,
    postgresql_where=_RUNNING,
)
Index(
    "outreach_enrollments_sweep_idx",
    outreach_enrollments.c.next_due_at,
    postgresql_where=_RUNNING,
)

outreach_messages = Table(
    "outreach_messages",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("channel", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("purpose", Text, nullable=False, server_default="transactional"),
    Column("to_address", Text, nullable=False),
    Column("from_address", Text),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    timestamptz("scheduled_for", nullable=True),
    Column("provider", Text),
    Column("provider_message_id", Text),
    Column("error", Text),
    Column("error_code", Text),
    Column("lead_id", UUID(as_uuid=True), ForeignKey("leads.id")),
    Column("prospect_id", UUID(as_uuid=True)),
    Column("enrollment_id", UUID(as_uuid=True), ForeignKey("outreach_enrollments.id")),
    Column("step_index", Integer),
    Column("reply_to_message_id", UUID(as_uuid=True), ForeignKey("outreach_messages.id")),
    Column("classification", Text),
    Column("email_message_id", Text),
    Column("job_id", BigInteger),
    timestamptz("opened_at", nullable=True),
    timestamptz("sent_at", nullable=True),
    timestamptz("delivered_at", nullable=True),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint("channel IN ('sms', 'email')", name="outreach_messages_channel_check"),
    CheckConstraint(
        "direction IN ('outbound', 'inbound')", name="outreach_messages_direction_check"
    ),
    CheckConstraint(
        "purpose IN ('transactional', 'marketing')", name="outreach_messages_purpose_check"
    ),
    CheckConstraint(
        "status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'undelivered', "
        "'simulated', 'received')",
        name="outreach_messages_status_check",
    ),
    CheckConstraint(
        "(enrollment_id IS NULL) = (step_index IS NULL)", name="outreach_messages_step"
    ),
)
_OUTBOUND = text("direction = 'outbound'")
Index(
    "outreach_messages_page_idx",
    outreach_messages.c.organization_id,
    outreach_messages.c.created_at.desc(),
    outreach_messages.c.id.desc(),
)
Index(
    "outreach_messages_volume_idx",
    outreach_messages.c.organization_id,
    outreach_messages.c.channel,
    outreach_messages.c.created_at,
    postgresql_where=_OUTBOUND,
)
Index(
    "outreach_messages_recipient_idx",
    outreach_messages.c.organization_id,
    outreach_messages.c.to_address,
    outreach_messages.c.created_at,
    postgresql_where=_OUTBOUND,
)
Index(
    "outreach_messages_lead_idx",
    outreach_messages.c.organization_id,
    outreach_messages.c.lead_id,
    outreach_messages.c.created_at.desc(),
    postgresql_where=outreach_messages.c.lead_id.isnot(None),
)
Index(
    "outreach_messages_provider_idx",
    outreach_messages.c.organization_id,
    outreach_messages.c.provider_message_id,
    postgresql_where=outreach_messages.c.provider_message_id.isnot(None),
)
Index(
    "outreach_messages_email_id_idx",
    outreach_messages.c.organization_id,
    outreach_messages.c.email_message_id,
    postgresql_where=outreach_messages.c.email_message_id.isnot(None),
)
Index(
    "outreach_messages_step_idx",
    outreach_messages.c.enrollment_id,
    outreach_messages.c.step_index,
    unique=True,
    postgresql_where=outreach_messages.c.enrollment_id.isnot(None),
)
Index(
    "outreach_messages_sending_idx",
    outreach_messages.c.job_id,
    postgresql_where=text("status = 'sending'"),
)
Index(
    "outreach_messages_reply_idx",
    outreach_messages.c.reply_to_message_id,
    postgresql_where=outreach_messages.c.reply_to_message_id.isnot(None),
)

outreach_message_events = Table(
    "outreach_message_events",
    metadata,
    uuid_pk(),
    organization_id(),
    Column(
        "message_id",
        UUID(as_uuid=True),
        ForeignKey("outreach_messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("status", Text, nullable=False),
    Column("detail", Text),
    timestamptz("created_at", default_now=True),
)
Index(
    "outreach_message_events_message_idx",
    outreach_message_events.c.message_id,
    outreach_message_events.c.created_at,
    outreach_message_events.c.id,
)

outreach_suppressions = Table(
    "outreach_suppressions",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("channel", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("message_id", UUID(as_uuid=True), ForeignKey("outreach_messages.id")),
    timestamptz("confirmation_sent_at", nullable=True),
    timestamptz("created_at", default_now=True),
    UniqueConstraint("organization_id", "channel", "address"),
    CheckConstraint("channel IN ('sms', 'email')", name="outreach_suppressions_channel_check"),
    CheckConstraint("reason ~ '^[a-z][a-z0-9_]{0,63}$'", name="outreach_suppressions_reason_check"),
)
Index(
    "outreach_suppressions_page_idx",
    outreach_suppressions.c.organization_id,
    outreach_suppressions.c.created_at.desc(),
    outreach_suppressions.c.id.desc(),
)

outreach_inbound_secrets = Table(
    "outreach_inbound_secrets",
    metadata,
    organization_id(primary_key=True),
    Column("secret_hash", BYTEA, nullable=False),
    Column("secret_prefix", Text, nullable=False),
    timestamptz("created_at", default_now=True),
)
