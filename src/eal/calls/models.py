"""Tables of the calls domain (migration 0007_calls)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

calls = Table(
    "calls",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("source", Text, nullable=False),
    Column("external_id", Text),
    Column("tracking_number", Text),
    Column("caller_number", Text, nullable=False),
    Column("caller_number_valid", Boolean, nullable=False),
    Column("caller_name", Text),
    Column("caller_postal_code", Text),
    Column("caller_city", Text),
    Column("caller_state", Text),
    Column("duration_seconds", Integer, nullable=False),
    Column("answered", Boolean),
    Column("voicemail", Boolean),
    timestamptz("received_at"),
    Column("transcript", Text),
    Column("transcript_source", Text),
    timestamptz("transcript_at", nullable=True),
    Column("transcription_error", Text),
    Column("recording_url", Text),
    Column("environment", Text, nullable=False, server_default="live"),
    Column("dispatch_allowed", Boolean, nullable=False, server_default=text("true")),
    Column("status", Text, nullable=False, server_default="received"),
    Column("intent", Text),
    Column("urgency", Text),
    Column("qualified", Boolean),
    Column("confidence", Float),
    Column("model_classification", JSONB),
    Column("corrected", Boolean, nullable=False, server_default=text("false")),
    Column("correction_note", Text),
    timestamptz("corrected_at", nullable=True),
    timestamptz("first_classified_at", nullable=True),
    timestamptz("classified_at", nullable=True),
    Column("decision", JSONB),
    Column("dispatch_action", Text),
    Column("dispatch_error", Text),
    Column("lead_id", UUID(as_uuid=True), ForeignKey("leads.id")),
    Column("callback_message_id", UUID(as_uuid=True)),
    Column("crm_job_id", Text),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint("duration_seconds >= 0", name="calls_duration_seconds_check"),
    CheckConstraint(
        "transcript_source IN ('tracker', 'speech_to_text')", name="calls_transcript_source_check"
    ),
    CheckConstraint("environment IN ('live', 'test')", name="calls_environment_check"),
    CheckConstraint(
        "status IN ('received', 'classified', 'dispatched', 'dispatch_failed')",
        name="calls_status_check",
    ),
    CheckConstraint(
        "intent IN ('water', 'fire', 'mold', 'biohazard', 'sales_pitch', 'wrong_number', 'other')",
        name="calls_intent_check",
    ),
    CheckConstraint("urgency IN ('high', 'medium', 'low')", name="calls_urgency_check"),
    CheckConstraint("confidence >= 0 AND confidence <= 1", name="calls_confidence_check"),
    CheckConstraint(
        "dispatch_action IN ('auto_dispatch', 'owner_review', 'callback_queue', 'ignore')",
        name="calls_dispatch_action_check",
    ),
)
# One row per tracker call: a second delivery of the same call updates it.
Index(
    "calls_external_idx",
    calls.c.organization_id,
    calls.c.source,
    calls.c.external_id,
    unique=True,
    postgresql_where=calls.c.external_id.isnot(None),
)
Index("calls_page_idx", calls.c.organization_id, calls.c.received_at.desc(), calls.c.id.desc())
Index("calls_caller_idx", calls.c.organization_id, calls.c.caller_number)
Index(
    "calls_corrected_idx",
    calls.c.organization_id,
    calls.c.corrected_at,
    postgresql_where=calls.c.corrected,
)
