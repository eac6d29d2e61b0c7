"""Webhooks endpoints: thin wrappers around the service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query

from eal.api.deps import DbConn, State
from eal.api.routing import api_router
from eal.auth.deps import AdminAuth, ReadAuth, WriteAuth
from eal.kit.cursor import DEFAULT_LIMIT, check_limit, decode_cursor
from eal.webhooks import service
from eal.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookOut,
    WebhookPage,
    WebhookUpdate,
)

router = api_router(tags=["webhooks"])
Limit = Annotated[int, Query(description="Page size, 1-200.")]


@router.get("/webhooks", response_model=WebhookPage)
async def list_webhooks(
    auth: ReadAuth, conn: DbConn, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> dict[str, Any]:
    """The organization's webhook endpoints, newest first."""
    data, next_cursor = await service.list_webhooks(
        conn, auth.organization_id, decode_cursor(cursor), check_limit(limit)
    )
    return {"data": data, "next_cursor": next_cursor}


@router.post(
    "/webhooks", status_code=201, response_model=WebhookCreated, response_model_by_alias=True
)
async def create_webhook(
    body: WebhookCreate, auth: AdminAuth, conn: DbConn, state: State
) -> dict[str, Any]:
    """Register an HTTPS endpoint; the signing secret is returned only in this response."""
    return await service.create_webhook(
        conn,
        auth.actor,
        body,
        box=state.secret_box,
        allow_private=state.settings.allow_private_webhook_urls,
    )


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: uuid.UUID, auth: ReadAuth, conn: DbConn) -> dict[str, Any]:
    """One webhook endpoint (its secret is never shown, only its prefix)."""
    return await service.get_webhook(conn, auth.organization_id, webhook_id)


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
async def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, auth: AdminAuth, conn: DbConn
) -> dict[str, Any]:
    """Change the events, description or enabled flag of an endpoint."""
    return await service.update_webhook(conn, auth.actor, webhook_id, body)


@router.delete("/webhooks/{webhook_id}", response_model=WebhookDeleted)
async def delete_webhook(webhook_id: uuid.UUID, auth: AdminAuth, conn: DbConn) -> dict[str, Any]:
    """Delete an endpoint: deliveries stop at once and queued ones are cancelled."""
    return await service.delete_webhook(conn, auth.actor, webhook_id)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=SecretRotated,
    response_model_by_alias=True,
)
async def rotate_secret(
    webhook_id: uuid.UUID, auth: AdminAuth, conn: DbConn, state: State
) -> dict[str, Any]:
    """Issue a new signing secret; the previous one stays valid for 24 hours."""
    return await service.rotate_secret(conn, auth.actor, webhook_id, box=state.secret_box)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    webhook_id: uuid.UUID,
    auth: ReadAuth,
    conn: DbConn,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """The newest delivery attempts (at most 100 in all), newest first."""
    data, next_cursor = await service.list_deliveries(
        conn, auth.organization_id, webhook_id, decode_cursor(cursor), check_limit(limit)
    )
    return {"data": data, "next_cursor": next_cursor}


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
)
async def redeliver(
    webhook_id: uuid.UUID, delivery_id: str, auth: WriteAuth, conn: DbConn
) -> dict[str, Any]:
    """Send a delivery again (same id and body) with a fresh retry schedule."""
    return await service.redeliver(conn, auth.actor, webhook_id, delivery_id)
