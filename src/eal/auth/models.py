"""The `api_keys` table."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, UUID

from eal.db.base import metadata, timestamptz, uuid_pk

api_keys = Table(
    "api_keys",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), ForeignKey("organizations.id"), nullable=False),
    Column("name", Text),
    Column("prefix", Text, nullable=False),
    Column("key_hash", BYTEA, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("environment", Text, nullable=False),
    timestamptz("created_at"),
    timestamptz("last_used_at", nullable=True),
    timestamptz("revoked_at", nullable=True),
)
