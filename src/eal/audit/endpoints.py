"""Audit-log endpoints: list, fetch, CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import orjson
from fastapi import Depends, Query, Request
from starlette.responses import StreamingResponse

from eal.api.deps import RuntimeDep, TxDep
from eal.api.paging import PageParams
from eal.api.routing import api_router
from eal.audit import service
from eal.audit.schemas import AuditEntryOut, AuditPage
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import GrantScope, Scope
from eal.kit.clock import isoformat
from eal.kit.paging import Page

AuditRead = Annotated[AuthContext, Depends(require(Scope.READ, GrantScope.AUDIT_LOG_READ))]

router = api_router(tags=["audit-log"])
CSV_COLUMNS = (
    "id",
    "organization_id",
    "created_at",
    "action",
    "source",
    "correlation_id",
    "payload",
)
_FLUSH_BYTES = 64 * 1024


async def _filters(
    action: Annotated[str | None, Query(max_length=100, description="e.g. lead.updated")] = None,
    source: Annotated[str | None, Query(description="api | cron | n8n | worker | system")] = None,
    start_at: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    end_at: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
) -> service.AuditFilters:
    return service.AuditFilters(action, source, start_at, end_at).validate()


Filters = Annotated[service.AuditFilters, Depends(_filters)]


@router.get("/audit-log", response_model=AuditPage)
async def list_audit_log(
    auth: AuditRead, tx: TxDep, filters: Filters, page: PageParams
) -> Page[AuditEntryOut]:
    """Audit entries, newest first."""
    return await service.list_entries(tx, filters, page)


@router.get(
    "/audit-log/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, oldest entry first."}},
)
async def export_audit_log(
    request: Request, auth: AuditRead, filters: Filters, runtime: RuntimeDep
) -> StreamingResponse:
    """Every matching entry as CSV, streamed (memory does not grow with the row count)."""
    organization_id = auth.organization_id
    db = runtime.db

    async def rows() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        async with db.tenant_transaction(organization_id) as conn:
            async for row in service.stream_entries(conn, organization_id, filters):
                writer.writerow(
                    (
                        row.id,
                        row.organization_id,
                        isoformat(row.created_at),
                        row.action,
                        row.source,
                        row.correlation_id or "",
                        orjson.dumps(row.payload).decode(),
                    )
                )
                if buffer.tell() >= _FLUSH_BYTES:
                    yield buffer.getvalue().encode("utf-8")
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


@router.get("/audit-log/{entry_id}", response_model=AuditEntryOut)
async def get_audit_entry(entry_id: uuid.UUID, auth: AuditRead, tx: TxDep) -> AuditEntryOut:
    """One audit entry with its full payload."""
    return await service.get_entry(tx, entry_id)
