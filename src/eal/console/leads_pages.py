"""Leads in the console: a board by pipeline stage, and a lead's page.

Moving a card is `PATCH /leads/{id}` with a new `pipeline_stage` through the
leads service (audited as `lead.updated`; won and lost stop the lead's
sequences); pushing to the CRM is the API's push. Both need a manager.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from starlette.responses import Response

from eal.api.deps import runtime_of
from eal.api.paging import page_query
from eal.api.routing import api_router
from eal.auth.scopes import Scope
from eal.console.web import form_post, page, redirect, signed_in, uuid_or_404
from eal.errors import AppError, BadGateway, NotFound
from eal.kit.paging import PageQuery
from eal.leads import crm_sync
from eal.leads import service as leads
from eal.leads.schemas import LeadUpdate, PipelineStage

router = api_router(accepts_form=True, include_in_schema=False)

STAGE_LABELS = {
    PipelineStage.NEW: "New",
    PipelineStage.CONTACTED: "Contacted",
    PipelineStage.QUALIFIED: "Qualified",
    PipelineStage.PROPOSAL: "Proposal",
    PipelineStage.WON: "Won",
    PipelineStage.LOST: "Lost",
}
#: Cards shown per column; the column's own page lists the rest.
CARDS_PER_STAGE = 20
#: Search results shown (the newest matches).
SEARCH_LIMIT = 50


def _lead_id(text: str) -> uuid.UUID:
    return uuid_or_404(text, f"Lead {text} not found.")


@router.get("/console/leads")
async def board_page(
    request: Request, stage: str | None = None, cursor: str | None = None, q: str | None = None
) -> Response:
    """The pipeline: a column per stage (newest leads first), one stage's pages, or a search."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    tx = request.state.tx
    text = (q or "").strip()[:100]
    if text:
        return page(
            request,
            "leads_search.html",
            session=session,
            title="Leads",
            q=text,
            found=await leads.search_leads(tx, text, limit=SEARCH_LIMIT),
            limit=SEARCH_LIMIT,
            stages=STAGE_LABELS,
        )
    one = PipelineStage(stage) if stage and stage in PipelineStage._value2member_map_ else None
    if one is not None:
        listed = await leads.list_leads(
            tx, await page_query(cursor=cursor or None), pipeline_stage=one.value
        )
        columns = [(one, listed.data, listed.next_cursor)]
    else:
        columns = []
        for value in PipelineStage:
            listed = await leads.list_leads(tx, PageQuery(CARDS_PER_STAGE), pipeline_stage=value)
            columns.append((value, listed.data, listed.next_cursor))
    return page(
        request,
        "leads.html",
        session=session,
        title="Leads",
        columns=columns,
        one_stage=one is not None,
        stages=STAGE_LABELS,
    )


@router.post("/console/leads/{lead_id}/stage")
async def move_lead(request: Request, lead_id: str) -> Response:
    """Move a lead to another stage (managers and owners)."""
    posted = await form_post(request, Scope.WRITE)
    if isinstance(posted, Response):
        return posted
    _session, fields = posted
    stage = fields.get("stage", "")
    if stage not in PipelineStage._value2member_map_:
        raise NotFound(f"No pipeline stage {stage!r}.")
    await leads.update_lead(
        request.state.tx, _lead_id(lead_id), LeadUpdate(pipeline_stage=PipelineStage(stage))
    )
    back = fields.get("back", "")
    return redirect(back if back.startswith("/console/leads") else f"/console/leads#lead-{lead_id}")


async def _lead_page(
    request: Request, lead_id: uuid.UUID, *, status: int = 200, **context: Any
) -> Response:
    session = request.state.console_session
    lead = await leads.get_lead(request.state.tx, lead_id)
    return page(
        request,
        "lead.html",
        status=status,
        session=session,
        title=lead.name or lead.company or lead.email or "Lead",
        lead=lead,
        stages=STAGE_LABELS,
        **context,
    )


@router.get("/console/leads/{lead_id}")
async def lead_page(request: Request, lead_id: str) -> Response:
    """One lead: contact, score with its reasons, CRM sync state."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    return await _lead_page(request, _lead_id(lead_id))


@router.post("/console/leads/{lead_id}/push")
async def push_lead(request: Request, lead_id: str) -> Response:
    """Push the lead to the organization's CRM (managers and owners)."""
    posted = await form_post(request, Scope.WRITE)
    if isinstance(posted, Response):
        return posted
    _session, _ = posted
    uid = _lead_id(lead_id)
    runtime = runtime_of(request)
    env = crm_sync.PushEnvironment(db=runtime.db, secret_box=runtime.secret_box, http=runtime.http)
    try:
        await crm_sync.push_lead(request.state.tx, env, uid)
    except (BadGateway, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        return await _lead_page(request, uid, status=exc.status_code, push_error=exc.message)
    return redirect(f"/console/leads/{lead_id}?pushed=1")
