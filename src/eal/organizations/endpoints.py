"""Organizations endpoints: thin wrappers around the service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from eal.api.deps import RuntimeDep, TxDep
from eal.api.paging import PageParams
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import limit_anonymous, require
from eal.auth.scopes import Scope
from eal.errors import Forbidden
from eal.kit.paging import Page
from eal.organizations import service
from eal.organizations.schemas import (
    ChildOrganizationOut,
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

OrganizationsRead = Annotated[AuthContext, Depends(require(Scope.READ))]
OrganizationsAdmin = Annotated[AuthContext, Depends(require(Scope.ADMIN))]

router = api_router(tags=["organizations"])


@router.get("/organizations/me", response_model=OrganizationOut)
async def get_me(auth: OrganizationsRead, tx: TxDep) -> OrganizationOut:
    """The organization tied to the calling API key."""
    return await service.get_organization(tx, auth.key_organization_id)


@router.get("/organizations", response_model=ChildOrganizationPage)
async def list_children(
    auth: OrganizationsAdmin, tx: TxDep, page: PageParams
) -> Page[ChildOrganizationOut]:
    """Child organizations of the caller, with the read grants each gave it."""
    return await service.list_children(tx, page)


@router.post("/organizations", status_code=201, response_model=OrganizationCreated)
async def create_child(
    body: OrganizationCreate, auth: OrganizationsAdmin, tx: TxDep, runtime: RuntimeDep
) -> OrganizationCreated:
    """Create a child organization and a 7-day admin invite for it."""
    await service.check_outbound_urls(body.settings, runtime.outbound)
    return await service.create_child(
        tx, body, runtime.secret_box, public_url=runtime.settings.public_url
    )


@router.patch("/organizations/{organization_id}", response_model=OrganizationUpdated)
async def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationUpdate,
    auth: OrganizationsAdmin,
    tx: TxDep,
    runtime: RuntimeDep,
) -> OrganizationOut:
    """Update the name and settings of the caller's organization."""
    await service.check_outbound_urls(body.settings, runtime.outbound)
    return await service.update_organization(
        tx, organization_id, name=body.name, settings=body.settings, box=runtime.secret_box
    )


@router.post("/organizations/{organization_id}/grants", status_code=201, response_model=GrantOut)
async def create_grant(
    organization_id: uuid.UUID, body: GrantCreate, auth: OrganizationsAdmin, tx: TxDep
) -> GrantOut:
    """Grant the parent organization read access for roll-up reporting."""
    if auth.organization_id != auth.key_organization_id:
        raise Forbidden("Grants cannot be created on behalf of another organization.")
    return await service.create_grant(tx, organization_id, body)


@router.post(
    "/invites/{token}/accept",
    status_code=201,
    response_model=InviteAccepted,
    response_model_by_alias=True,
)
async def accept_invite(token: str, request: Request, tx: TxDep) -> InviteAccepted:
    """Redeem a child organization's invite (no API key): returns its first admin key once."""
    await limit_anonymous(request)
    return await service.accept_invite(tx, token, correlation_id=request.state.request_id)
