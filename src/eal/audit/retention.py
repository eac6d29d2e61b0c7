"""Audit retention: entries older than 7 years are purged, nothing younger.

A purged entry leaves its link (seq, prev_hash, hash; no content) in
`audit_chain_purged`, so its chain still verifies across the gap. Once every
entry before such links is gone too, they are folded into the chain's anchor
(the link just before its oldest retained entry) and removed: what remains of
an old chain costs one row.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

RETENTION = "7 years"
BATCH = 5000

_PURGE_BATCH = text(
    "WITH doomed AS (SELECT id FROM platform_events "
    f"WHERE created_at < now() - interval '{RETENTION}' ORDER BY created_at LIMIT :batch), "
    "gone AS (DELETE FROM platform_events e USING doomed d WHERE e.id = d.id "
    "RETURNING e.organization_id, e.seq, e.prev_hash, e.hash) "
    "INSERT INTO audit_chain_purged (organization_id, seq, prev_hash, hash) "
    "SELECT organization_id, seq, prev_hash, hash FROM gone"
)
_ORGS_WITH_LINKS = text(
    "SELECT DISTINCT organization_id FROM audit_chain_purged ORDER BY organization_id"
)
_ANCHOR = text(
    "SELECT anchor_seq, anchor_hash FROM audit_chain_heads WHERE organization_id = :org FOR UPDATE"
)
_FIRST_HELD = text("SELECT min(seq) FROM platform_events WHERE organization_id = :org")
_LINKS = text(
    "SELECT seq, prev_hash, hash FROM audit_chain_purged "
    "WHERE organization_id = :org AND seq > :after AND (CAST(:before AS bigint) IS NULL "
    "OR seq < :before) ORDER BY seq"
)
_FOLD = text(
    "WITH folded AS (DELETE FROM audit_chain_purged WHERE organization_id = :org AND seq <= :seq) "
    "UPDATE audit_chain_heads SET anchor_seq = :seq, anchor_hash = :hash "
    "WHERE organization_id = :org"
)


async def purge_expired_entries(conn: AsyncConnection, *, batch: int = BATCH) -> int:
    """Delete entries past retention in batches (system connection); returns how many."""
    total = 0
    while True:
        result = await conn.execute(_PURGE_BATCH, {"batch": batch})
        deleted = int(result.rowcount or 0)
        total += deleted
        if deleted < batch:
            break
    # Last, so the chain heads it locks are held only until the caller commits.
    await fold_purged_links(conn)
    return total


async def fold_purged_links(conn: AsyncConnection) -> None:
    """Move each chain's anchor past the purged links that now begin the chain.

    Only links that continue the anchor (next seq, matching prev_hash) are
    folded, so a link that does not fit stays visible to verification.
    """
    orgs = [r[0] for r in (await conn.execute(_ORGS_WITH_LINKS)).all()]
    for org in orgs:
        await _fold_one(conn, org)


async def _fold_one(conn: AsyncConnection, organization_id: uuid.UUID) -> None:
    anchor = (await conn.execute(_ANCHOR, {"org": organization_id})).first()
    if anchor is None:
        return
    first_held = await conn.scalar(_FIRST_HELD, {"org": organization_id})
    seq, hash_ = int(anchor.anchor_seq), bytes(anchor.anchor_hash)
    links = await conn.stream(
        _LINKS.execution_options(yield_per=2000),
        {"org": organization_id, "after": seq, "before": first_held},
    )
    try:
        async for link in links:
            if link.seq != seq + 1 or bytes(link.prev_hash) != hash_:
                break
            seq, hash_ = int(link.seq), bytes(link.hash)
    finally:
        await links.close()
    if seq != anchor.anchor_seq:
        await conn.execute(_FOLD, {"org": organization_id, "seq": seq, "hash": hash_})
