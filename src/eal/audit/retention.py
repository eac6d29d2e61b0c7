"""Audit retention: entries older than 7 years are purged, nothing younger."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

RETENTION = "7 years"
BATCH = 5000

_PURGE_BATCH = text(
    "DELETE FROM platform_events WHERE id IN (SELECT id FROM platform_events "
    f"WHERE created_at < now() - interval '{RETENTION}' ORDER BY created_at LIMIT :batch)"
)


async def purge_expired_entries(conn: AsyncConnection, *, batch: int = BATCH) -> int:
    """Delete entries past retention in batches (system connection); returns how many."""
    total = 0
    while True:
        result = await conn.execute(_PURGE_BATCH, {"batch": batch})
        deleted = int(result.rowcount or 0)
        total += deleted
        if deleted < batch:
            return total
