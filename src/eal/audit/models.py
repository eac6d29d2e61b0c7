"""Tables of the audit log (migration 0001_core): the entries and their chain's bookkeeping.

Rows of all three are written by triggers and the retention job; the chain
functions in the migration are the authority on how they relate.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import BYTEA, JSONB

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

# Append-only, hash-chained per organization: seq, prev_hash and hash are set
# by the BEFORE INSERT trigger, whatever the INSERT says.
platform_events = Table(
    "platform_events",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("seq", BigInteger, nullable=False),
    Column("action", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("correlation_id", Text),
    Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    timestamptz("created_at", default_now=True),
    Column("prev_hash", BYTEA, nullable=False),
    Column("hash", BYTEA, nullable=False),
    UniqueConstraint("organization_id", "seq"),
    CheckConstraint(
        "source IN ('api', 'cron', 'n8n', 'worker', 'system')", name="platform_events_source_check"
    ),
)
Index(
    "platform_events_page_idx",
    platform_events.c.organization_id,
    platform_events.c.created_at.desc(),
    platform_events.c.id.desc(),
)
Index(
    "platform_events_action_idx",
    platform_events.c.organization_id,
    platform_events.c.action,
    platform_events.c.created_at.desc(),
    platform_events.c.id.desc(),
)
Index("platform_events_created_idx", platform_events.c.created_at)

# One row per organization: the last link of its chain (last_seq, last_hash)
# and the anchor, the link just before its oldest retained entry.
audit_chain_heads = Table(
    "audit_chain_heads",
    metadata,
    organization_id(primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", BYTEA, nullable=False),
    Column("anchor_seq", BigInteger, nullable=False, server_default=text("0")),
    Column(
        "anchor_hash",
        BYTEA,
        nullable=False,
        server_default=text("decode(repeat('00', 32), 'hex')"),
    ),
)

# The links (no content) of entries retention removed while an older entry of
# their chain is still held, so the chain verifies across the gap.
audit_chain_purged = Table(
    "audit_chain_purged",
    metadata,
    organization_id(primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("prev_hash", BYTEA, nullable=False),
    Column("hash", BYTEA, nullable=False),
)
