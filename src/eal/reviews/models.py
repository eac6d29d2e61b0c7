"""Tables of the reviews domain (migration 0009_content)."""

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
)
from sqlalchemy.dialects.postgresql import UUID

from eal.content.models import content_items
from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

reviews = Table(
    "reviews",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("platform", Text, nullable=False),
    Column("review_id", Text, nullable=False),
    Column("rating", Integer),
    Column("text", Text),
    Column("author", Text),
    Column("url", Text),
    timestamptz("review_created_at", nullable=True),
    Column("sentiment", Text, nullable=False),
    Column("reply_content_id", UUID(as_uuid=True), ForeignKey(content_items.c.id)),
    timestamptz("created_at", default_now=True),
    CheckConstraint("rating >= 1 AND rating <= 5", name="reviews_rating_check"),
    CheckConstraint(
        "sentiment IN ('positive', 'neutral', 'negative', 'mixed')", name="reviews_sentiment_check"
    ),
    UniqueConstraint("organization_id", "platform", "review_id"),
)
Index(
    "reviews_page_idx", reviews.c.organization_id, reviews.c.created_at.desc(), reviews.c.id.desc()
)
