"""Reading the audit log: the filters, keyset pages and single entries (CSV: `export`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from eal.audit.models import platform_events
from eal.audit.schemas import AuditEntryOut
from eal.db.tx import Tx
from eal.errors import NotFound, field_error
from eal.kit.identity import Source
from eal.kit.paging import Page, PageQuery, paginate

_COLUMNS = (
    platform_events.c.id,
    platform_events.c.organization_id,
    platform_events.c.action,
    platform_events.c.source,
    platform_events.c.correlation_id,
    platform_events.c.payload,
    platform_events.c.created_at,
)


@dataclass(frozen=True)
class AuditFilters:
    """Filters shared by the list and export endpoints."""

    action: str | None = None
    source: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None

    def validate(self) -> AuditFilters:
        """Reject values that can never match instead of returning nothing."""
        if self.source is not None and self.source not in Source._value2member_map_:
            raise field_error("source", f"must be one of {', '.join(s.value for s in Source)}")
        for name in ("start_at", "end_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise field_error(name, "must include a timezone (e.g. 2026-04-27T00:00:00Z)")
        if self.start_at and self.end_at and self.start_at > self.end_at:
            raise field_error("start_at", "must not be after end_at")
        return self


def filtered_entries(organization_id: uuid.UUID, filters: AuditFilters) -> Select[Any]:
    """The tenant's entries that match `filters`, unordered (the list and the export)."""
    query = select(*_COLUMNS).where(platform_events.c.organization_id == organization_id)
    if filters.action:
        query = query.where(platform_events.c.action == filters.action)
    if filters.source:
        query = query.where(platform_events.c.source == filters.source)
    if filters.start_at:
        query = query.where(platform_events.c.created_at >= filters.start_at)
    if filters.end_at:
        query = query.where(platform_events.c.created_at <= filters.end_at)
    return query


def entry_of(row: Any) -> AuditEntryOut:
    """A platform_events row as the API returns it."""
    return AuditEntryOut(
        id=row.id,
        organization_id=row.organization_id,
        action=row.action,
        source=row.source,
        correlation_id=row.correlation_id,
        payload=row.payload,
        created_at=row.created_at,
    )


async def list_entries(tx: Tx, filters: AuditFilters, page: PageQuery) -> Page[AuditEntryOut]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = page.apply(
        filtered_entries(tx.actor.organization_id, filters),
        platform_events.c.created_at,
        platform_events.c.id,
    )
    rows = (await tx.conn.execute(query)).all()
    return paginate(rows, page, entry_of)


async def get_entry(tx: Tx, entry_id: uuid.UUID) -> AuditEntryOut:
    """One entry of the tenant's log."""
    row = (
        await tx.conn.execute(
            select(*_COLUMNS).where(
                platform_events.c.organization_id == tx.actor.organization_id,
                platform_events.c.id == entry_id,
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"Audit entry {entry_id} not found.")
    return entry_of(row)
