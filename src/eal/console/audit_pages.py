"""The audit log in the console: filters, and the same CSV export as the API's."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from eal.api.deps import runtime_of
from eal.api.paging import page_query
from eal.api.routing import api_router
from eal.audit import service as audit
from eal.audit.endpoints import SOURCES, AuditExportResponse
from eal.audit.service import AuditFilters
from eal.console.web import day_range, filter_query, page, signed_in

router = api_router(include_in_schema=False)


def _filters(
    action: str | None, source: str | None, start: str | None, end: str | None
) -> AuditFilters:
    start_at, end_at = day_range(start, end)
    return AuditFilters(
        (action or "").strip()[:100] or None,
        source if source in SOURCES else None,
        start_at,
        end_at,
    ).validate()


@router.get("/console/audit-log")
async def audit_page(
    request: Request,
    action: str | None = None,
    source: str | None = None,
    start: str | None = None,
    end: str | None = None,
    cursor: str | None = None,
) -> Response:
    """Audit entries, newest first, by action, source and date."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    filters = _filters(action, source, start, end)
    listed = await audit.list_entries(
        request.state.tx, filters, await page_query(cursor=cursor or None)
    )
    chosen = {
        "action": filters.action,
        "source": filters.source,
        "start": start or None,
        "end": end or None,
    }
    query = filter_query(chosen)
    return page(
        request,
        "audit.html",
        session=session,
        title="Audit log",
        entries=listed.data,
        next_cursor=listed.next_cursor,
        chosen=chosen,
        query=query,
        sources=SOURCES,
    )


@router.get("/console/audit-log/export.csv")
async def audit_export(
    request: Request,
    action: str | None = None,
    source: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """Every matching entry as CSV (the API's export, oldest first)."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    filters = _filters(action, source, start, end)
    return AuditExportResponse(runtime_of(request).db, session.organization_id, filters)
