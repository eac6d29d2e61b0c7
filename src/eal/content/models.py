"""Tables of the content domain (migration 0009_content)."""

from __future__ import annotations

from sqlalchemy import (
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
from sqlalchemy.dialects.postgresql import JSONB, UUID

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

content_items = Table(
    "content_items",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("title", Text),
    Column("body", Text),
    Column("meta_description", Text),
    Column("slug", Text),
    Column("target_keyword", Text),
    Column("outline", JSONB),
    Column("scenes", JSONB),
    Column("seo_checks", JSONB),
    Column("word_count", Integer),
    Column("estimated_read_time_min", Integer),
    Column("format", Text),
    Column("duration_seconds", Integer),
    Column("platform", Text),
    Column("external_review_id", Text),
    Column("rating", Integer),
    Column("sentiment", Text),
    Column("provider", Text),
    Column("parent_id", UUID(as_uuid=True), ForeignKey("content_items.id")),
    Column("request", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("environment", Text, nullable=False, server_default="live"),
    Column("revision", Integer, nullable=False, server_default=text("1")),
    Column("channel", Text),
    Column("url", Text),
    timestamptz("published_at", nullable=True),
    timestamptz("approved_at", nullable=True),
    Column("approved_by", UUID(as_uuid=True)),
    Column("error", Text),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint(
        "type IN ('blog', 'video', 'social', 'review_response')", name="content_items_type_check"
    ),
    CheckConstraint(
        "status IN ('generating', 'draft', 'pending_owner_approval', 'scheduled', 'published', "
        "'failed')",
        name="content_items_status_check",
    ),
    CheckConstraint("word_count >= 0", name="content_items_word_count_check"),
    CheckConstraint(
        "estimated_read_time_min >= 0", name="content_items_estimated_read_time_min_check"
    ),
    CheckConstraint("duration_seconds > 0", name="content_items_duration_seconds_check"),
    CheckConstraint("rating >= 1 AND rating <= 5", name="content_items_rating_check"),
    CheckConstraint(
        "sentiment IN ('positive', 'neutral', 'negative', 'mixed')",
        name="content_items_sentiment_check",
    ),
    CheckConstraint("environment IN ('live', 'test')", name="content_items_environment_check"),
    CheckConstraint("revision >= 1", name="content_items_revision_check"),
)
Index(
    "content_items_page_idx",
    content_items.c.organization_id,
    content_items.c.created_at.desc(),
    content_items.c.id.desc(),
)
Index(
    "content_items_parent_idx",
    content_items.c.parent_id,
    postgresql_where=content_items.c.parent_id.isnot(None),
)

content_revisions = Table(
    "content_revisions",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("content_id", UUID(as_uuid=True), ForeignKey("content_items.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("title", Text),
    Column("body", Text),
    Column("meta_description", Text),
    Column("edited_by", UUID(as_uuid=True)),
    timestamptz("created_at", default_now=True),
    CheckConstraint("revision >= 1", name="content_revisions_revision_check"),
    UniqueConstraint("content_id", "revision"),
)

content_publications = Table(
    "content_publications",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("content_id", UUID(as_uuid=True), ForeignKey("content_items.id"), nullable=False),
    Column("channel", Text, nullable=False),
    Column("status", Text, nullable=False),
    timestamptz("scheduled_for", nullable=True),
    Column("url", Text),
    Column("external_id", Text),
    Column("error", Text),
    timestamptz("published_at", nullable=True),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    CheckConstraint(
        "status IN ('scheduled', 'publishing', 'published', 'simulated', 'failed', "
        "'not_configured')",
        name="content_publications_status_check",
    ),
    UniqueConstraint("content_id", "channel"),
)
Index(
    "content_publications_due_idx",
    content_publications.c.scheduled_for,
    postgresql_where=content_publications.c.status == "scheduled",
)
