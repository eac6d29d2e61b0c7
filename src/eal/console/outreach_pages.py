"""Outreach in the console: sequences with their stats and enrollments, the
suppression list (add, remove) and recent messages with their status.

Adding to the suppression list needs a manager; removing an address from it
needs an owner (the API's admin scope), since it lets messages go out again.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from eal.api.paging import page_query
from eal.api.routing import api_router
from eal.auth.scopes import Scope
from eal.console.web import form_post, page, redirect, signed_in
from eal.errors import AppError
from eal.kit.paging import PageQuery
from eal.outreach import sequences
from eal.outreach import service as outreach
from eal.outreach.schemas import SuppressionCreate

router = api_router(accepts_form=True, include_in_schema=False)
#: Rows of each list on the outreach page.
ROWS = 25


async def _outreach_page(request: Request, *, status: int = 200, **context: Any) -> Response:
    tx = request.state.tx
    listed = await sequences.list_sequences(tx, PageQuery(ROWS))
    suppressed = await outreach.list_suppressions(tx, PageQuery(ROWS), channel=None, reason=None)
    messages = await outreach.list_messages(
        tx,
        PageQuery(ROWS),
        channel=None,
        status=None,
        direction=None,
        lead_id=None,
        start_at=None,
        end_at=None,
    )
    return page(
        request,
        "outreach.html",
        status=status,
        session=request.state.console_session,
        title="Outreach",
        sequences=listed.data,
        more_sequences=listed.next_cursor is not None,
        suppressions=suppressed.data,
        more_suppressions=suppressed.next_cursor is not None,
        messages=messages.data,
        **context,
    )


@router.get("/console/outreach")
async def outreach_page(request: Request) -> Response:
    """Sequences, the suppression list and recent messages."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    return await _outreach_page(request, notice=request.query_params.get("done") or None)


@router.get("/console/outreach/sequences/{sequence_id}")
async def sequence_page(request: Request, sequence_id: str, cursor: str | None = None) -> Response:
    """One sequence: its steps, stats and enrollments."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    tx = request.state.tx
    sequence = await sequences.get_sequence(tx, sequence_id)
    enrollments = await sequences.list_enrollments(
        tx, sequence_id, await page_query(cursor=cursor or None), status=None
    )
    return page(
        request,
        "sequence.html",
        session=session,
        title=sequence.name,
        sequence=sequence,
        enrollments=enrollments.data,
        next_cursor=enrollments.next_cursor,
    )


@router.post("/console/outreach/suppressions")
async def add_suppression(request: Request) -> Response:
    """Block every outbound message to an address or number (managers and owners)."""
    posted = await form_post(request, Scope.WRITE)
    if isinstance(posted, Response):
        return posted
    _session, fields = posted
    values = {"channel": fields.get("channel"), "address": fields.get("address", "").strip()}
    try:
        body = SuppressionCreate.model_validate({**values, "reason": "manual"})
        await outreach.add_suppression(request.state.tx, body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "address"
        return await _outreach_page(
            request, status=422, form_error=f"{where}: {first['msg']}", typed=values
        )
    except AppError as exc:
        return await _outreach_page(
            request, status=exc.status_code, form_error=exc.message, typed=values
        )
    return redirect("/console/outreach?done=suppressed#suppressions")


@router.post("/console/outreach/suppressions/{suppression_id}/remove")
async def remove_suppression(request: Request, suppression_id: str) -> Response:
    """Let messages go to an address again (owners only; audited)."""
    posted = await form_post(request, Scope.ADMIN)
    if isinstance(posted, Response):
        return posted
    _session, _fields = posted
    await outreach.remove_suppression(request.state.tx, suppression_id)
    return redirect("/console/outreach?done=removed#suppressions")
