"""Webhook endpoints, secret rotation and the delivery log (no HTTP)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from eal import events
from eal.db.tx import Tx
from eal.errors import Conflict, NotFound, field_error
from eal.events import Action
from eal.kit.outbound import OutboundPolicy, UnsafeUrl
from eal.kit.paging import Page, PageQuery, paginate
from eal.kit.secretbox import SecretBox
from eal.webhooks import repository
from eal.webhooks.schemas import (
    OPEN_STATUSES,
    DeliveryOut,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookOut,
    WebhookUpdate,
    parse_delivery_id,
    public_delivery_id,
)
from eal.webhooks.signing import generate_secret, secret_prefix

ROTATION_OVERLAP = timedelta(hours=24)
"""How long the previous secret keeps signing deliveries after a rotation."""
MAX_ENDPOINTS_PER_ORGANIZATION = 50
"""Bounds the fan-out of one event (and the unpaginated spirit of the list)."""
DISABLED_BY_API = "disabled through the API"


def _audit_view(row: Any) -> dict[str, Any]:
    return {
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "enabled": row.enabled,
    }


async def _load(tx: Tx, webhook_id: uuid.UUID, *, for_update: bool = False) -> Any:
    row = await repository.load(
        tx.conn, tx.actor.organization_id, webhook_id, for_update=for_update
    )
    if row is None:
        raise NotFound(f"Webhook {webhook_id} not found.")
    return row


async def check_url(url: str, policy: OutboundPolicy) -> None:
    """Refuse a target URL that is not https or reaches a non-public address (422 on `url`)."""
    try:
        await policy.check_url(url)
    except UnsafeUrl as exc:
        raise field_error("url", exc.reason) from exc


async def create_webhook(
    tx: Tx, body: WebhookCreate, *, box: SecretBox, policy: OutboundPolicy
) -> WebhookCreated:
    """Register an endpoint; the result carries the new secret (shown only now)."""
    await check_url(body.url, policy)
    org = tx.actor.organization_id
    if await repository.count_active(tx.conn, org) >= MAX_ENDPOINTS_PER_ORGANIZATION:
        raise Conflict(
            f"An organization may register at most {MAX_ENDPOINTS_PER_ORGANIZATION} webhooks; "
            "delete one first.",
            details={"limit": MAX_ENDPOINTS_PER_ORGANIZATION},
        )
    secret = generate_secret()
    now = tx.clock.now()
    row = await repository.insert(
        tx.conn,
        id=uuid.uuid4(),
        organization_id=org,
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=True,
        secret_encrypted=box.encrypt(secret),
        secret_prefix=secret_prefix(secret),
        created_at=now,
        updated_at=now,
    )
    webhook = repository.webhook_of(row)
    await events.record(
        tx,
        Action.WEBHOOK_CREATED,
        {
            "webhook_id": str(row.id),
            "diff": {k: {"from": None, "to": v} for k, v in _audit_view(row).items()},
        },
        data=webhook.model_dump(mode="json"),
    )
    return WebhookCreated(**webhook.model_dump(), signing_secret=secret)


async def list_webhooks(tx: Tx, page: PageQuery) -> Page[WebhookOut]:
    """The organization's endpoints, newest first."""
    rows = await repository.page(tx.conn, tx.actor.organization_id, page)
    return paginate(rows, page, repository.webhook_of)


async def get_webhook(tx: Tx, webhook_id: uuid.UUID) -> WebhookOut:
    """One endpoint of the organization (404 for another tenant's or a deleted one)."""
    return repository.webhook_of(await _load(tx, webhook_id))


async def update_webhook(tx: Tx, webhook_id: uuid.UUID, body: WebhookUpdate) -> WebhookOut:
    """Change events, description or enabled; disabling cancels queued deliveries."""
    before = await _load(tx, webhook_id, for_update=True)
    values: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("events", "description", "enabled")
        if name in body.model_fields_set
    }
    changes = events.diff(_audit_view(before), {**_audit_view(before), **values})
    if not changes:
        return repository.webhook_of(before)
    if values.get("enabled") is True and not before.enabled:
        values.update(disabled_reason=None, failing_since=None)
    elif values.get("enabled") is False and before.enabled:
        values["disabled_reason"] = DISABLED_BY_API
    after = await repository.update(
        tx.conn, tx.actor.organization_id, webhook_id, **values, updated_at=tx.clock.now()
    )
    payload: dict[str, Any] = {"webhook_id": str(webhook_id), "diff": changes}
    if "enabled" in changes and not after.enabled:
        payload["cancelled_deliveries"] = await repository.cancel_open_deliveries(
            tx.conn, [webhook_id]
        )
    webhook = repository.webhook_of(after)
    await events.record(tx, Action.WEBHOOK_UPDATED, payload, data=webhook.model_dump(mode="json"))
    return webhook


async def delete_webhook(tx: Tx, webhook_id: uuid.UUID) -> WebhookDeleted:
    """Delete an endpoint: nothing more is sent to it and its queued deliveries are cancelled."""
    row = await _load(tx, webhook_id, for_update=True)
    now = tx.clock.now()
    await repository.update(
        tx.conn,
        tx.actor.organization_id,
        webhook_id,
        enabled=False,
        deleted_at=now,
        updated_at=now,
    )
    cancelled = await repository.cancel_open_deliveries(tx.conn, [webhook_id])
    await events.record(
        tx,
        Action.WEBHOOK_DELETED,
        {"webhook_id": str(webhook_id), "url": row.url, "cancelled_deliveries": cancelled},
    )
    return WebhookDeleted(id=webhook_id, deleted=True)


async def rotate_secret(tx: Tx, webhook_id: uuid.UUID, *, box: SecretBox) -> SecretRotated:
    """Issue a new secret; the one it replaces keeps signing for ROTATION_OVERLAP."""
    row = await _load(tx, webhook_id, for_update=True)
    secret = generate_secret()
    now = tx.clock.now()
    expires_at = now + ROTATION_OVERLAP
    await repository.update(
        tx.conn,
        tx.actor.organization_id,
        webhook_id,
        secret_encrypted=box.encrypt(secret),
        secret_prefix=secret_prefix(secret),
        # A second rotation inside the window retires the oldest secret now.
        previous_secret_encrypted=row.secret_encrypted,
        previous_secret_expires_at=expires_at,
        updated_at=now,
    )
    await events.record(
        tx,
        Action.WEBHOOK_SECRET_ROTATED,
        {
            "webhook_id": str(webhook_id),
            "signing_secret_prefix": secret_prefix(secret),
            "previous_secret_prefix": row.secret_prefix,
            "previous_secret_expires_at": expires_at.isoformat(),
        },
    )
    return SecretRotated(
        id=webhook_id,
        url=row.url,
        signing_secret_prefix=secret_prefix(secret),
        signing_secret=secret,
        previous_secret_expires_at=expires_at,
    )


async def list_deliveries(tx: Tx, webhook_id: uuid.UUID, page: PageQuery) -> Page[DeliveryOut]:
    """The endpoint's newest attempts (and queued deliveries), newest first."""
    await _load(tx, webhook_id)
    rows = await repository.delivery_log(tx.conn, tx.actor.organization_id, webhook_id, page)
    return paginate(rows, page, repository.log_item_of, position=repository.log_position)


async def redeliver(tx: Tx, webhook_id: uuid.UUID, delivery_id: str) -> DeliveryOut:
    """Queue a delivery again now, with its original body and id and a fresh retry schedule."""
    endpoint = await _load(tx, webhook_id)
    parsed = parse_delivery_id(delivery_id)
    row = None
    if parsed is not None:
        row = await repository.lock_delivery(tx.conn, tx.actor.organization_id, webhook_id, parsed)
    if row is None:
        raise NotFound(f"Delivery {delivery_id} of webhook {webhook_id} not found.")
    if not endpoint.enabled:
        raise Conflict(
            "This webhook is disabled; enable it (PATCH enabled=true) before redelivering.",
            details={"disabled_reason": endpoint.disabled_reason},
        )
    if row.status in OPEN_STATUSES and row.in_flight:
        raise Conflict("This delivery is being sent right now; check its log in a moment.")
    after = await repository.requeue_delivery(tx.conn, row.id)
    await repository.notify_due(tx.conn)
    await events.record(
        tx,
        Action.WEBHOOK_REDELIVERED,
        {
            "webhook_id": str(webhook_id),
            "delivery_id": public_delivery_id(row.id),
            "previous_status": row.status,
        },
    )
    return repository.queued_delivery_of(after)
