"""The `platform_events` table (the audit log)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Table, Text
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

from eal.db.base import metadata, timestamptz, uuid_pk

platform_events = Table(
    "platform_events",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("action", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("correlation_id", Text),
    Column("payload", JSONB, nullable=False),
    timestamptz("created_at"),
    Column("prev_hash", BYTEA, nullable=False),
    Column("hash", BYTEA, nullable=False),
)
