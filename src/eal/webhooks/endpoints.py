"""Webhooks endpoints: thin wrappers around the service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from eal.api.deps import RuntimeDep, TxDep
from eal.api.paging import PageParams
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.kit.paging import Page
from eal.webhooks import service
from eal.webhooks.schemas import (
    DELIVERY_ID_PATTERN,
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

WebhooksRead = Annotated[AuthContext, Depends(require(Scope.READ))]
WebhooksWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]
WebhooksAdmin = Annotated[AuthContext, Depends(require(Scope.ADMIN))]

router = api_router(tags=["webhooks"])


@router.get("/webhooks", response_model=WebhookPage)
async def list_webhooks(auth: WebhooksRead, tx: TxDep, page: PageParams) -> Page[WebhookOut]:
    """The organization's webhook endpoints, newest first."""
    return await service.list_webhooks(tx, page)


@router.post(
    "/webhooks", status_code=201, response_model=WebhookCreated, response_model_by_alias=True
)
async def create_webhook(
    body: WebhookCreate, auth: WebhooksAdmin, tx: TxDep, runtime: RuntimeDep
) -> WebhookCreated:
    """Register an HTTPS endpoint; the signing secret is returned only in this response."""
    return await service.create_webhook(tx, body, box=runtime.secret_box, policy=runtime.outbound)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: uuid.UUID, auth: WebhooksRead, tx: TxDep) -> WebhookOut:
    """One webhook endpoint (its secret is never shown, only its prefix)."""
    return await service.get_webhook(tx, webhook_id)


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
async def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, auth: WebhooksAdmin, tx: TxDep
) -> WebhookOut:
    """Change the events, description or enabled flag of an endpoint."""
    return await service.update_webhook(tx, webhook_id, body)


@router.delete("/webhooks/{webhook_id}", response_model=WebhookDeleted)
async def delete_webhook(webhook_id: uuid.UUID, auth: WebhooksAdmin, tx: TxDep) -> WebhookDeleted:
    """Delete an endpoint: deliveries stop at once and queued ones are cancelled."""
    return await service.delete_webhook(tx, webhook_id)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=SecretRotated,
    response_model_by_alias=True,
)
async def rotate_secret(
    webhook_id: uuid.UUID, auth: WebhooksAdmin, tx: TxDep, runtime: RuntimeDep
) -> SecretRotated:
    """Issue a new signing secret; the previous one stays valid for 24 hours."""
    return await service.rotate_secret(tx, webhook_id, box=runtime.secret_box)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    webhook_id: uuid.UUID, auth: WebhooksRead, tx: TxDep, page: PageParams
) -> Page[DeliveryOut]:
    """The newest delivery attempts (at most 100 in all), newest first."""
    return await service.list_deliveries(tx, webhook_id, page)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
)
async def redeliver(
    webhook_id: uuid.UUID,
    # Any other id is simply not found (a 404).
    delivery_id: Annotated[
        str,
        Path(
            description="whd_ + 32 hex digits", json_schema_extra={"pattern": DELIVERY_ID_PATTERN}
        ),
    ],
    auth: WebhooksWrite,
    tx: TxDep,
) -> DeliveryOut:
    """Send a delivery again (same id and body) with a fresh retry schedule."""
    return await service.redeliver(tx, webhook_id, delivery_id)
