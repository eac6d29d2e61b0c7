"""Leads endpoints: thin wrappers around the service and the CRM push."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query
from starlette.responses import Response

from eal.api.deps import RuntimeDep, TxDep
from eal.api.openapi import UPSTREAM_ERROR
from eal.api.paging import PageParams
from eal.api.responses import model_response
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import GrantScope, Scope
from eal.errors import field_error
from eal.kit.paging import Page
from eal.kit.schemas import TimestampIn
from eal.leads import crm_sync, service
from eal.leads.schemas import (
    CrmPushOut,
    LeadCreate,
    LeadListItem,
    LeadOut,
    LeadPage,
    LeadScored,
    LeadUpdate,
    PipelineStage,
)
from eal.leads.scoring import normalize_source

LeadsRead = Annotated[AuthContext, Depends(require(Scope.READ, GrantScope.LEADS_READ))]
LeadsWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]

router = api_router(tags=["leads"])


@router.get("/leads", response_model=LeadPage)
async def list_leads(
    auth: LeadsRead,
    tx: TxDep,
    page: PageParams,
    pipeline_stage: PipelineStage | None = None,
    source: Annotated[
        str | None,
        Query(
            max_length=64,
            # Compared in its key form (letters and digits, lower case): a value with
            # neither names no source (a 422, checked below).
            json_schema_extra={"pattern": "[A-Za-z0-9]"},
            description="e.g. google_ads (any spelling: 'Google Ads' is the same source)",
        ),
    ] = None,
    start_at: Annotated[TimestampIn | None, Query(description="ISO 8601, inclusive")] = None,
    end_at: Annotated[TimestampIn | None, Query(description="ISO 8601, inclusive")] = None,
) -> Page[LeadListItem]:
    """Leads, newest first; filter by pipeline_stage, source and created_at range."""
    if start_at and end_at and start_at > end_at:
        raise field_error("start_at", "must not be after end_at")
    source_key = None
    if source is not None:
        # Stored sources are normalised ("Google Ads" -> "google_ads"); so is the filter.
        source_key = normalize_source(source)
        if source_key is None:
            raise field_error("source", "is not a source name")
    return await service.list_leads(
        tx,
        page,
        pipeline_stage=pipeline_stage.value if pipeline_stage else None,
        source=source_key,
        start_at=start_at,
        end_at=end_at,
    )


@router.post("/leads", status_code=201, response_model=LeadOut)
async def create_lead(body: LeadCreate, auth: LeadsWrite, tx: TxDep) -> Response:
    """Create a lead; it is scored on the way in."""
    return model_response(await service.create_lead(tx, body), status_code=201)


@router.get("/leads/{lead_id}", response_model=LeadOut)
async def get_lead(lead_id: uuid.UUID, auth: LeadsRead, tx: TxDep) -> Response:
    """One lead with its AI-qualification fields and CRM sync state."""
    return model_response(await service.get_lead(tx, lead_id))


@router.patch("/leads/{lead_id}", response_model=LeadOut)
async def update_lead(
    lead_id: uuid.UUID, body: LeadUpdate, auth: LeadsWrite, tx: TxDep
) -> Response:
    """Change whitelisted fields; every real change is audited as lead.updated."""
    return model_response(await service.update_lead(tx, lead_id, body))


@router.post("/leads/{lead_id}/score", response_model=LeadScored)
async def score_lead(lead_id: uuid.UUID, auth: LeadsWrite, tx: TxDep) -> LeadScored:
    """Re-score the lead now from its fields, the settings and the weather."""
    return await service.rescore_lead(tx, lead_id)


@router.post("/leads/{lead_id}/push-to-crm", response_model=CrmPushOut, responses=UPSTREAM_ERROR)
async def push_to_crm(
    lead_id: uuid.UUID, auth: LeadsWrite, tx: TxDep, runtime: RuntimeDep
) -> CrmPushOut:
    """Push the lead to the organization's CRM; a second push returns the same record."""
    env = crm_sync.PushEnvironment(db=runtime.db, secret_box=runtime.secret_box, http=runtime.http)
    return CrmPushOut(id=lead_id, crm_sync=await crm_sync.push_lead(tx, env, lead_id))
