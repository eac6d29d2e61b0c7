"""Tables of the leads domain (the schema itself is migration 0002_leads)."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, Index, SmallInteger, Table, Text, text

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

leads = Table(
    "leads",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("name", Text),
    Column("company", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("source", Text),
    Column("lead_score", SmallInteger, nullable=False, server_default=text("0")),
    Column("pipeline_stage", Text, nullable=False, server_default="new"),
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
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    Column("phone_valid", Boolean),
    CheckConstraint("lead_score BETWEEN 0 AND 100", name="leads_lead_score_check"),
    CheckConstraint(
        "pipeline_stage IN ('new', 'contacted', 'qualified', 'proposal', 'won', 'lost')",
        name="leads_pipeline_stage_check",
    ),
    CheckConstraint("crm_status IN ('ok', 'simulated', 'error')", name="leads_crm_status_check"),
    # A lead is reachable: by e-mail, by phone (a lead made from a call) or by name
    # and company. POST /leads asks more (check_contact); calls may bring a phone only.
    CheckConstraint(
        "email IS NOT NULL OR phone IS NOT NULL OR (name IS NOT NULL AND company IS NOT NULL)",
        name="leads_contact_required",
    ),
)
# Keyset pages (newest first) for the unfiltered list and each list filter.
Index("leads_page_idx", leads.c.organization_id, leads.c.created_at.desc(), leads.c.id.desc())
Index(
    "leads_stage_page_idx",
    leads.c.organization_id,
    leads.c.pipeline_stage,
    leads.c.created_at.desc(),
    leads.c.id.desc(),
)
Index(
    "leads_source_page_idx",
    leads.c.organization_id,
    leads.c.source,
    leads.c.created_at.desc(),
    leads.c.id.desc(),
)
# A call is linked to the caller's lead by phone number (migration 0007_calls).
Index(
    "leads_phone_idx",
    leads.c.organization_id,
    leads.c.phone,
    postgresql_where=leads.c.phone.isnot(None),
)
