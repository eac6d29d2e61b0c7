"""Tables of the claims domain (migration 0010_claims)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

claims = Table(
    "claims",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("loss_type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("source_vendor", Text, nullable=False),
    Column("source_project_id", Text),
    Column("job_external_ref", Text),
    Column("water_category", SmallInteger),
    Column("water_class", SmallInteger),
    Column("date_of_loss", Date),
    Column("address", Text),
    Column("loss_lat", Float),
    Column("loss_lon", Float),
    Column("rooms", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("drying_log", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("extraction", JSONB),
    Column("import_error", Text),
    Column("photo_count", Integer, nullable=False, server_default=text("0")),
    Column("scope_item_count", Integer, nullable=False, server_default=text("0")),
    timestamptz("estimated_ready_at", nullable=True),
    timestamptz("imported_at", nullable=True),
    timestamptz("extracted_at", nullable=True),
    timestamptz("reviewed_at", nullable=True),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint(
        "loss_type IN ('water', 'fire', 'mold', 'biohazard', 'storm')",
        name="claims_loss_type_check",
    ),
    CheckConstraint(
        "status IN ('collecting', 'extracting', 'ready_for_review', 'partially_reviewed', "
        "'reviewed')",
        name="claims_status_check",
    ),
    CheckConstraint("source_vendor IN ('companycam', 'upload')", name="claims_source_vendor_check"),
    CheckConstraint("water_category BETWEEN 1 AND 3", name="claims_water_category_check"),
    CheckConstraint("water_class BETWEEN 1 AND 4", name="claims_water_class_check"),
    CheckConstraint("loss_lat BETWEEN -90 AND 90", name="claims_loss_lat_check"),
    CheckConstraint("loss_lon BETWEEN -180 AND 180", name="claims_loss_lon_check"),
)
# Keyset pages (newest first) for the unfiltered list and each list filter.
Index("claims_page_idx", claims.c.organization_id, claims.c.created_at.desc(), claims.c.id.desc())
for _name, _column in (
    ("claims_status_page_idx", claims.c.status),
    ("claims_loss_type_page_idx", claims.c.loss_type),
):
    Index(_name, claims.c.organization_id, _column, claims.c.created_at.desc(), claims.c.id.desc())

claim_photos = Table(
    "claim_photos",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("claim_id", UUID(as_uuid=True), ForeignKey("claims.id"), nullable=False),
    Column("source", Text, nullable=False),
    Column("external_id", Text),
    Column("filename", Text),
    Column("room", Text),
    timestamptz("captured_at", nullable=True),
    Column("gps_lat", Float),
    Column("gps_lon", Float),
    Column("orientation", SmallInteger),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("description", Text),
    Column("content_type", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("phash", Text, nullable=False),
    Column("storage_key", Text, nullable=False),
    Column("thumbnail_key", Text, nullable=False),
    Column("duplicate_of", UUID(as_uuid=True), ForeignKey("claim_photos.id")),
    Column("near_duplicate_of", UUID(as_uuid=True), ForeignKey("claim_photos.id")),
    Column("far_from_loss", Boolean),
    timestamptz("created_at", default_now=True),
    CheckConstraint("source IN ('companycam', 'upload')", name="claim_photos_source_check"),
    CheckConstraint("size_bytes > 0", name="claim_photos_size_bytes_check"),
)
# A re-import adds only photos CompanyCam has not given before.
Index(
    "claim_photos_external_idx",
    claim_photos.c.claim_id,
    claim_photos.c.external_id,
    unique=True,
    postgresql_where=claim_photos.c.external_id.isnot(None),
)
Index(
    "claim_photos_claim_idx",
    claim_photos.c.claim_id,
    claim_photos.c.created_at,
    claim_photos.c.id,
)
Index("claim_photos_sha_idx", claim_photos.c.claim_id, claim_photos.c.sha256)

claim_scope_items = Table(
    "claim_scope_items",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("claim_id", UUID(as_uuid=True), ForeignKey("claims.id"), nullable=False),
    Column("line_key", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("room", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("catalog_code", Text),
    Column("description", Text, nullable=False),
    Column("qty", Float, nullable=False),
    Column("unit", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("needs_measurement", Boolean, nullable=False, server_default=text("false")),
    Column("evidence", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("units", Integer),
    Column("days", Integer),
    Column("estimated", Boolean),
    Column("note", Text),
    Column("decision", Text),
    Column("decided_qty", Float),
    Column("decision_note", Text),
    Column("decision_reason", Text),
    timestamptz("decided_at", nullable=True),
    Column("decided_by", UUID(as_uuid=True)),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint("origin IN ('extracted', 'manual')", name="claim_scope_items_origin_check"),
    CheckConstraint("qty >= 0", name="claim_scope_items_qty_check"),
    CheckConstraint("unit IN ('SF', 'LF', 'EA', 'DAY', 'HR')", name="claim_scope_items_unit_check"),
    CheckConstraint("confidence BETWEEN 0 AND 1", name="claim_scope_items_confidence_check"),
    CheckConstraint(
        "decision IN ('approve', 'edit', 'reject')", name="claim_scope_items_decision_check"
    ),
    CheckConstraint("decided_qty >= 0", name="claim_scope_items_decided_qty_check"),
)
# Decisions survive a re-run: a line is found again by its room and catalog code.
Index(
    "claim_scope_items_key_idx",
    claim_scope_items.c.claim_id,
    claim_scope_items.c.line_key,
    unique=True,
)
