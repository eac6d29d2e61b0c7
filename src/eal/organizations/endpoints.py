"""Organizations endpoints: thin wrappers around the service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Request

from eal.api.deps import DbConn, State
from eal.api.routing import api_router
from eal.auth.deps import AdminAuth, ReadAuth, limit_anonymous
from eal.errors import Forbidden
from eal.kit.cursor import DEFAULT_LIMIT, check_limit, decode_cursor
from eal.organizations import service
from eal.organizations.schemas import (
    ChildOrganizationPage,
    GrantCreate,
    GrantOut,
    InviteAccepted,
    OrganizationCreate,
    OrganizationCreated,
    OrganizationOut,
    OrganizationUpdate,
    OrganizationUpdated,
)

router = api_router(tags=["organizations"])
Limit = Annotated[int, Query(description="Page size, 1-200.")]


@router.get("/organizations/me", response_model=OrganizationOut)
async def get_me(auth: ReadAuth, conn: DbConn) -> dict[str, Any]:
    """The organization tied to the calling API key."""
    return await service.get_organization(conn, auth.key_organization_id)


@router.get("/organizations", response_model=ChildOrganizationPage)
async def list_children(
    auth: AdminAuth,
    conn: DbConn,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Child organizations of the caller, with the read grants each gave it."""
    data, next_cursor = await service.list_children(
        conn, auth.organization_id, decode_cursor(cursor), check_limit(limit)
    )
    return {"data": data, "next_cursor": next_cursor}


@router.post("/organizations", status_code=201, response_model=OrganizationCreated)
async def create_child(
    body: OrganizationCreate, auth: AdminAuth, conn: DbConn, state: State
) -> dict[str, Any]:
    """Create a child organization and a 7-day admin invite for it."""
    await service.check_outbound_urls(
        body.settings, allow_private=state.settings.allow_private_webhook_urls
    )
    return await service.create_child(
        conn, auth.actor, body, state.secret_box, public_url=state.settings.public_url
    )


@router.patch("/organizations/{organization_id}", response_model=OrganizationUpdated)
async def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationUpdate,
    auth: AdminAuth,
    conn: DbConn,
    state: State,
) -> dict[str, Any]:
    """Update the name and settings of the caller's organization."""
    await service.check_outbound_urls(
        body.settings, allow_private=state.settings.allow_private_webhook_urls
    )
    return await service.update_organization(
        conn,
        auth.actor,
        organization_id,
        name=body.name,
        settings=body.settings,
        box=state.secret_box,
    )


@router.post("/organizations/{organization_id}/grants", status_code=201, response_model=GrantOut)
async def create_grant(
    organization_id: uuid.UUID, body: GrantCreate, auth: AdminAuth, conn: DbConn
) -> dict[str, Any]:
    """Grant the parent organization read access for roll-up reporting."""
    if auth.organization_id != auth.key_organization_id:
        raise Forbidden("Grants cannot be created on behalf of another organization.")
    return await service.create_grant(conn, auth.actor, organization_id, body)


@router.post(
    "/invites/{token}/accept",
    status_code=201,
    response_model=InviteAccepted,
    response_model_by_alias=True,
)
async def accept_invite(token: str, request: Request, conn: DbConn) -> dict[str, Any]:
    """Redeem a child organization's invite (no API key): returns its first admin key once."""
    await limit_anonymous(request)
    return await service.accept_invite(conn, token, correlation_id=request.state.request_id)
