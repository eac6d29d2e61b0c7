"""Leads endpoints: thin wrappers around the service and the CRM push."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Response

from eal.api.deps import DbConn, State
from eal.api.responses import FastJSONResponse
from eal.api.routing import api_router
from eal.auth.deps import LeadsRead, WriteAuth
from eal.errors import field_error
from eal.kit.cursor import DEFAULT_LIMIT, check_limit, decode_cursor
from eal.leads import crm_sync, service
from eal.leads.schemas import (
    CrmPushOut,
    LeadCreate,
    LeadOut,
    LeadPage,
    LeadScored,
    LeadUpdate,
    PipelineStage,
)
from eal.leads.scoring import normalize_source

router = api_router(tags=["leads"])


@router.get("/leads", response_model=LeadPage)
async def list_leads(
    auth: LeadsRead,
    conn: DbConn,
    pipeline_stage: PipelineStage | None = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    start_at: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    end_at: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(description="Page size, 1-200.")] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Leads, newest first; filter by pipeline_stage, source and created_at range."""
    for name, value in (("start_at", start_at), ("end_at", end_at)):
        if value is not None and value.tzinfo is None:
            raise field_error(name, "must include a timezone (e.g. 2026-04-27T00:00:00Z)")
    if start_at and end_at and start_at > end_at:
        raise field_error("start_at", "must not be after end_at")
    source_key = None
    if source is not None:
        # Stored sources are normalised ("Google Ads" -> "google_ads"); so is the filter.
        source_key = normalize_source(source)
        if source_key is None:
            raise field_error("source", "is not a source name")
    data, next_cursor = await service.list_leads(
        conn,
        auth.organization_id,
        decode_cursor(cursor),
        check_limit(limit),
        pipeline_stage=pipeline_stage.value if pipeline_stage else None,
        source=source_key,
        start_at=start_at,
        end_at=end_at,
    )
    return {"data": data, "next_cursor": next_cursor}


@router.post("/leads", status_code=201, response_model=LeadOut)
async def create_lead(body: LeadCreate, auth: WriteAuth, conn: DbConn) -> Response:
    """Create a lead; it is scored on the way in."""
    lead = await service.create_lead(conn, auth.actor, body)
    # The service already rendered the lead through LeadOut (for the webhook
    # event); returning a response skips validating and rendering it again.
    return FastJSONResponse(lead, status_code=201)


@router.get("/leads/{lead_id}", response_model=LeadOut)
async def get_lead(lead_id: uuid.UUID, auth: LeadsRead, conn: DbConn) -> dict[str, Any]:
    """One lead with its AI-qualification fields and CRM sync state."""
    return await service.get_lead(conn, auth.organization_id, lead_id)


@router.patch("/leads/{lead_id}", response_model=LeadOut)
async def update_lead(
    lead_id: uuid.UUID, body: LeadUpdate, auth: WriteAuth, conn: DbConn
) -> dict[str, Any]:
    """Change whitelisted fields; every real change is audited as lead.updated."""
    return await service.update_lead(conn, auth.actor, lead_id, body)


@router.post("/leads/{lead_id}/score", response_model=LeadScored)
async def score_lead(lead_id: uuid.UUID, auth: WriteAuth, conn: DbConn) -> dict[str, Any]:
    """Re-score the lead now from its fields, the settings and the weather."""
    lead, result = await service.rescore_lead(conn, auth.actor, lead_id)
    return {
        "id": lead["id"],
        "lead_score": lead["lead_score"],
        "ai_reasoning": lead["ai_reasoning"],
        "scored_at": lead["scored_at"],
        "contributions": service.contributions_out(result),
    }


@router.post("/leads/{lead_id}/push-to-crm", response_model=CrmPushOut)
async def push_to_crm(
    lead_id: uuid.UUID, auth: WriteAuth, conn: DbConn, state: State
) -> dict[str, Any]:
    """Push the lead to the organization's CRM; a second push returns the same record."""
    env = crm_sync.PushEnvironment(
        db=state.db,
        secret_box=state.secret_box,
        http=state.http,
        allow_private_urls=state.settings.allow_private_webhook_urls,
    )
    sync = await crm_sync.push_lead(conn, env, auth.actor, lead_id, is_test=auth.is_test)
    return {"id": lead_id, "crm_sync": sync}
