"""Tables of the organizations domain (migrations 0001_core and 0004_hot_path)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Table, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

organizations = Table(
    "organizations",
    metadata,
    uuid_pk(),
    Column("parent_organization_id", UUID(as_uuid=True), ForeignKey("organizations.id")),
    Column("name", Text, nullable=False),
    Column("industry", Text, nullable=False, server_default="restoration"),
    Column("settings", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    timestamptz("created_at", default_now=True),
    timestamptz("updated_at", default_now=True),
    # Raised by triggers whenever settings, weather events or webhook
    # endpoints change: the key of every cache derived from them.
    Column("config_revision", BigInteger, nullable=False, server_default=text("0")),
)
Index(
    "organizations_parent_idx",
    organizations.c.parent_organization_id,
    organizations.c.created_at,
    organizations.c.id,
)

# A child organization's grant letting its parent read its data until expires_at.
org_grants = Table(
    "org_grants",
    metadata,
    uuid_pk(),
    organization_id(),
    Column(
        "parent_organization_id",
        UUID(as_uuid=True),
        ForeignKey("organizations.id"),
        nullable=False,
    ),
    Column("scopes", ARRAY(Text), nullable=False),
    timestamptz("expires_at"),
    timestamptz("created_at", default_now=True),
)
Index(
    "org_grants_parent_idx",
    org_grants.c.parent_organization_id,
    org_grants.c.organization_id,
    org_grants.c.expires_at,
)
Index("org_grants_org_idx", org_grants.c.organization_id, org_grants.c.created_at)

org_invites = Table(
    "org_invites",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("token_hash", BYTEA, nullable=False),
    Column("primary_admin_email", Text),
    timestamptz("expires_at"),
    timestamptz("accepted_at", nullable=True),
    timestamptz("created_at", default_now=True),
    UniqueConstraint("token_hash"),
)
