"""The `api_keys` table (migration 0001_core)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Index, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

api_keys = Table(
    "api_keys",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("name", Text),
    Column("prefix", Text, nullable=False),
    Column("key_hash", BYTEA, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("environment", Text, nullable=False),
    timestamptz("created_at", default_now=True),
    timestamptz("last_used_at", nullable=True),
    timestamptz("revoked_at", nullable=True),
    UniqueConstraint("key_hash"),
    CheckConstraint("environment IN ('live', 'test')", name="api_keys_environment_check"),
)
Index("api_keys_org_idx", api_keys.c.organization_id, api_keys.c.created_at, api_keys.c.id)
