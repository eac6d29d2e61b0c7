"""The `idempotency_keys` table: the Idempotency-Key replay store (migration 0001_core)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, Table, Text, text
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

from eal.db.base import metadata, organization_id, timestamptz

# One row per (API key, Idempotency-Key): the stored response of the first request.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", UUID(as_uuid=True), ForeignKey("api_keys.id"), primary_key=True),
    Column("idempotency_key", Text, primary_key=True),
    organization_id(),
    Column("request_hash", BYTEA, nullable=False),
    Column("response_status", Integer, nullable=False),
    Column("response_body", BYTEA, nullable=False),
    Column("response_headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    timestamptz("created_at", default_now=True),
)
Index("idempotency_keys_created_idx", idempotency_keys.c.created_at)
