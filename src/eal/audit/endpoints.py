"""Audit-log endpoints: list, fetch, CSV export."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import Depends, Query
from starlette.responses import StreamingResponse
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from eal.api.deps import RuntimeDep, TxDep
from eal.api.paging import PageParams
from eal.api.routing import api_router
from eal.audit import service
from eal.audit.export import CSV_COLUMNS, AuditExport, ExportFailed
from eal.audit.schemas import AuditEntryOut, AuditPage
from eal.audit.service import AuditFilters
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import GrantScope, Scope
from eal.db.engine import Database
from eal.kit.identity import Source
from eal.kit.paging import Page
from eal.kit.schemas import TimestampIn

log = structlog.get_logger(__name__)

AuditRead = Annotated[AuthContext, Depends(require(Scope.READ, GrantScope.AUDIT_LOG_READ))]

router = api_router(tags=["audit-log"])
SOURCES = tuple(source.value for source in Source)


async def _filters(
    action: Annotated[str | None, Query(max_length=100, description="e.g. lead.updated")] = None,
    source: Annotated[
        str | None,
        Query(
            description=" | ".join(SOURCES),
            # Checked by the filters, whose 422 names the valid sources.
            json_schema_extra={"enum": list(SOURCES)},
        ),
    ] = None,
    start_at: Annotated[TimestampIn | None, Query(description="ISO 8601, inclusive")] = None,
    end_at: Annotated[TimestampIn | None, Query(description="ISO 8601, inclusive")] = None,
) -> service.AuditFilters:
    return service.AuditFilters(action, source, start_at, end_at).validate()


Filters = Annotated[service.AuditFilters, Depends(_filters)]


@router.get("/audit-log", response_model=AuditPage)
async def list_audit_log(
    auth: AuditRead, tx: TxDep, filters: Filters, page: PageParams
) -> Page[AuditEntryOut]:
    """Audit entries, newest first."""
    return await service.list_entries(tx, filters, page)


_EXPORT_DESCRIPTION = (
    "Every matching entry as CSV (RFC 4180 quoting, UTF-8, `\\n` line breaks), oldest first, "
    "after a header row: " + ", ".join(CSV_COLUMNS) + ". Same filters as the list. "
    "`created_at` is rendered as in the API (`2026-04-27T18:55:42.001Z`), `payload` as "
    "PostgreSQL's JSON text of it, `correlation_id` empty when there is none. A cell that "
    "starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'` so that "
    "spreadsheets do not run it as a formula.\n\n"
    "The body is streamed (chunked). **A complete export ends with its last row followed by a "
    "line break.** Filters, key and scope are checked before the first byte (an error is a "
    "JSON envelope, never a 200); if the export fails after that, the connection is closed "
    "without the chunked body's terminating chunk, so the client sees a broken transfer, "
    "never a clean end of a shorter file."
)


class AuditExportResponse(StreamingResponse):
    """Starts an `AuditExport` when sent; a failure after the headers aborts the connection.

    Starting it here, not in the endpoint, means nothing is held open before
    the response is sent: if the route fails after the endpoint returned, no
    export was begun. A failure while starting is raised before the response
    starts, so it becomes the usual error envelope.
    """

    def __init__(self, db: Database, organization_id: uuid.UUID, filters: AuditFilters) -> None:
        super().__init__(
            self._chunks(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )
        self._db = db
        self._organization_id = organization_id
        self._filters = filters
        self._export: AuditExport | None = None

    async def _chunks(self) -> AsyncIterator[bytes]:
        assert self._export is not None, "the export starts when the response is sent"
        async for chunk in self._export.chunks():
            yield chunk

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        export = self._export = await AuditExport.start(
            self._db, self._organization_id, self._filters
        )
        try:
            await super().__call__(scope, receive, send)
        except ExportFailed as failure:
            log.error(
                "audit_export_failed",
                request_id=scope.get("state", {}).get("request_id"),
                organization_id=str(self._organization_id),
                bytes_sent=export.bytes_sent,
                error=str(failure),
            )
            # Returning without the body's last message leaves the response
            # incomplete, and uvicorn then closes the connection: the client
            # sees a broken chunked transfer, not the clean end of a shorter
            # CSV. (Raising would do the same, adding two log entries, each
            # with a traceback.)
        finally:
            await export.aclose()


@router.get(
    "/audit-log/export.csv",
    response_class=StreamingResponse,
    description=_EXPORT_DESCRIPTION,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "CSV, oldest entry first.",
            "headers": {
                "Content-Disposition": {
                    "description": "A download named audit-log.csv.",
                    "required": True,
                    "schema": {"type": "string", "enum": ['attachment; filename="audit-log.csv"']},
                }
            },
        }
    },
)
async def export_audit_log(
    auth: AuditRead, filters: Filters, runtime: RuntimeDep
) -> StreamingResponse:
    """Every matching entry as CSV, streamed by PostgreSQL's COPY in constant memory.

    A complete export ends with its last row followed by a line break; a
    failure after the first byte closes the connection mid-body instead.
    """
    return AuditExportResponse(runtime.db, auth.organization_id, filters)


@router.get("/audit-log/{entry_id}", response_model=AuditEntryOut)
async def get_audit_entry(entry_id: uuid.UUID, auth: AuditRead, tx: TxDep) -> AuditEntryOut:
    """One audit entry with its full payload."""
    return await service.get_entry(tx, entry_id)
