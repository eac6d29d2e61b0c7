"""Tables of the prospects domain (migration 0008_prospects)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Index, Integer, SmallInteger, Table, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk
from eal.outreach.models import outreach_enrollments

prospects = Table(
    "prospects",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("company_name", Text, nullable=False),
    Column("company_key", Text, nullable=False),
    Column("contact_name", Text),
    Column("contact_email", Text),
    Column("contact_phone", Text),
    Column("vertical", Text),
    Column("website", Text),
    Column("postal_code", Text),
    Column("buildings_managed", Integer),
    Column("units", Integer),
    Column("incumbent_vendor", Text),
    Column("notes", Text),
    Column("qualification_status", Text, nullable=False, server_default="pending"),
    Column("outreach_status", Text, nullable=False, server_default="none"),
    Column("fit_score", SmallInteger),
    Column("engagement_score", SmallInteger),
    Column("rationale", JSONB),
    Column("qualification_provider", Text),
    timestamptz("qualified_at", nullable=True),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint("length(company_name) > 0", name="prospects_company_name_check"),
    CheckConstraint(
        "vertical IN ('property_management', 'multifamily', 'hoa', 'healthcare', 'education', "
        "'hospitality', 'restaurant', 'office', 'retail', 'industrial', 'government', 'other')",
        name="prospects_vertical_check",
    ),
    CheckConstraint("buildings_managed >= 0", name="prospects_buildings_managed_check"),
    CheckConstraint("units >= 0", name="prospects_units_check"),
    CheckConstraint(
        "qualification_status IN ('pending', 'qualified', 'disqualified', 'needs_review')",
        name="prospects_qualification_status_check",
    ),
    CheckConstraint(
        "outreach_status IN ('none', 'sequence_active', 'replied', 'opted_out', 'completed')",
        name="prospects_outreach_status_check",
    ),
    CheckConstraint("fit_score BETWEEN 0 AND 100", name="prospects_fit_score_check"),
    CheckConstraint("engagement_score BETWEEN 0 AND 100", name="prospects_engagement_score_check"),
)
# The duplicate rules: one prospect per email, one per company in a postal code.
Index(
    "prospects_email_idx",
    prospects.c.organization_id,
    prospects.c.contact_email,
    unique=True,
    postgresql_where=prospects.c.contact_email.isnot(None),
)
Index(
    "prospects_company_idx",
    prospects.c.organization_id,
    prospects.c.company_key,
    prospects.c.postal_code,
    unique=True,
    postgresql_where=prospects.c.postal_code.isnot(None),
)
# Keyset pages (newest first) for the unfiltered list and each list filter.
Index(
    "prospects_page_idx",
    prospects.c.organization_id,
    prospects.c.created_at.desc(),
    prospects.c.id.desc(),
)
for _name, _column in (
    ("prospects_qualification_page_idx", prospects.c.qualification_status),
    ("prospects_vertical_page_idx", prospects.c.vertical),
    ("prospects_outreach_page_idx", prospects.c.outreach_status),
):
    Index(
        _name,
        prospects.c.organization_id,
        _column,
        prospects.c.created_at.desc(),
        prospects.c.id.desc(),
    )

# One batch qualification; results maps each prospect id to its verdict or error.
prospect_qualify_batches = Table(
    "prospect_qualify_batches",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("prospect_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("status", Text, nullable=False, server_default="queued"),
    Column("results", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    timestamptz("finished_at", nullable=True),
    CheckConstraint(
        "cardinality(prospect_ids) BETWEEN 1 AND 500",
        name="prospect_qualify_batches_prospect_ids_check",
    ),
    CheckConstraint(
        "status IN ('queued', 'running', 'completed')",
        name="prospect_qualify_batches_status_check",
    ),
)

# A prospect's enrollments, read by the trigger that keeps prospects.outreach_status
# (migration 0008_prospects) and by engagement scoring.
Index(
    "outreach_enrollments_prospect_person_idx",
    outreach_enrollments.c.prospect_id,
    postgresql_where=outreach_enrollments.c.prospect_id.isnot(None),
)
