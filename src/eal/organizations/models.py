"""Tables of the organizations domain."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID

from eal.db.base import metadata, timestamptz, uuid_pk

organizations = Table(
    "organizations",
    metadata,
    uuid_pk(),
    Column("parent_organization_id", UUID(as_uuid=True), ForeignKey("organizations.id")),
    Column("name", Text, nullable=False),
    Column("industry", Text, nullable=False),
    Column("settings", JSONB, nullable=False),
    timestamptz("created_at"),
    timestamptz("updated_at"),
)

org_grants = Table(
    "org_grants",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("parent_organization_id", UUID(as_uuid=True), nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    timestamptz("expires_at"),
    timestamptz("created_at"),
)

org_invites = Table(
    "org_invites",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("token_hash", BYTEA, nullable=False),
    Column("primary_admin_email", Text),
    timestamptz("expires_at"),
    timestamptz("accepted_at", nullable=True),
    timestamptz("created_at"),
)
