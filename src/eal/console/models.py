"""Tables of the operator console (migration 0011_console)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Table, Text
from sqlalchemy.dialects.postgresql import BYTEA, UUID

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

console_users = Table(
    "console_users",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("email", Text, nullable=False),
    Column("role", Text, nullable=False),
    timestamptz("created_at", default_now=True),
    timestamptz("disabled_at", nullable=True),
    CheckConstraint("email = lower(email)", name="console_users_email_check"),
    CheckConstraint("role IN ('owner', 'manager', 'staff')", name="console_users_role_check"),
)
Index(
    "console_users_email_idx",
    console_users.c.organization_id,
    console_users.c.email,
    unique=True,
)

console_links = Table(
    "console_links",
    metadata,
    Column("token_hash", BYTEA, primary_key=True),
    organization_id(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("console_users.id"), nullable=False),
    timestamptz("created_at"),
    timestamptz("expires_at"),
    timestamptz("used_at", nullable=True),
)
Index("console_links_user_idx", console_links.c.user_id)

console_sessions = Table(
    "console_sessions",
    metadata,
    uuid_pk(),
    Column("token_hash", BYTEA, nullable=False, unique=True),
    organization_id(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("console_users.id")),
    Column("api_key_id", UUID(as_uuid=True), ForeignKey("api_keys.id")),
    Column("role", Text, nullable=False),
    Column("csrf_token", Text, nullable=False),
    timestamptz("created_at"),
    timestamptz("last_seen_at"),
    timestamptz("revoked_at", nullable=True),
    CheckConstraint("role IN ('owner', 'manager', 'staff')", name="console_sessions_role_check"),
    CheckConstraint("(user_id IS NULL) <> (api_key_id IS NULL)", name="console_sessions_check"),
)
Index("console_sessions_user_idx", console_sessions.c.user_id)
