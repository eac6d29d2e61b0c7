"""Tables of the leads domain (the schema itself is migration 0002_leads)."""

from __future__ import annotations

from sqlalchemy import Column, SmallInteger, Table, Text
from sqlalchemy.dialects.postgresql import UUID

from eal.db.base import metadata, timestamptz, uuid_pk

leads = Table(
    "leads",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text),
    Column("company", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("source", Text),
    Column("lead_score", SmallInteger, nullable=False),
    Column("pipeline_stage", Text, nullable=False),
    Column("industry", Text),
    Column("company_size", Text),
    Column("pain_points", Text),
    Column("timeline", Text),
    Column("budget_range", Text),
    Column("ai_reasoning", Text),
    timestamptz("qualification_completed_at", nullable=True),
    timestamptz("scored_at", nullable=True),
    Column("postal_code", Text),
    Column("address", Text),
    Column("message", Text),
    timestamptz("form_started_at", nullable=True),
    timestamptz("form_submitted_at", nullable=True),
    Column("crm_vendor", Text),
    Column("crm_external_id", Text),
    Column("crm_status", Text),
    Column("crm_error", Text),
    timestamptz("crm_last_synced_at", nullable=True),
    timestamptz("created_at"),
    timestamptz("updated_at"),
)
