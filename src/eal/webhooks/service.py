"""Webhook endpoints, secret rotation and the delivery log (no HTTP)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.auth.context import Actor
from eal.errors import Conflict, NotFound, field_error
from eal.kit.clock import utcnow
from eal.kit.cursor import Cursor, encode_cursor, older_than, page_of
from eal.kit.secretbox import SecretBox
from eal.webhooks.events import NOTIFY_CHANNEL, parse_delivery_id, public_delivery_id
from eal.webhooks.models import webhook_deliveries, webhook_endpoints
from eal.webhooks.schemas import WebhookCreate, WebhookUpdate
from eal.webhooks.signing import generate_secret, secret_prefix
from eal.webhooks.url_safety import UnsafeWebhookUrl, check_webhook_url

ROTATION_OVERLAP = timedelta(hours=24)
"""How long the previous secret keeps signing deliveries after a rotation."""
MAX_ENDPOINTS_PER_ORGANIZATION = 50
"""Bounds the fan-out of one event (and the unpaginated spirit of the list)."""
DELIVERY_LOG_SIZE = 100
"""GET /webhooks/{id}/deliveries shows at most this many of the newest attempts."""
OPEN_STATUSES = ("pending", "retrying")


def endpoint_out(row: Any) -> dict[str, Any]:
    """A webhook_endpoints row as the API returns it."""
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "signing_secret_prefix": row.secret_prefix,
        "enabled": row.enabled,
        "created_at": row.created_at,
        "last_delivery_at": row.last_delivery_at,
        "last_delivery_status": row.last_delivery_status,
    }


def _audit_view(row: Any) -> dict[str, Any]:
    return {
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "enabled": row.enabled,
    }


async def _load(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    webhook_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Any:
    query = select(webhook_endpoints).where(
        webhook_endpoints.c.organization_id == organization_id,
        webhook_endpoints.c.id == webhook_id,
        webhook_endpoints.c.deleted_at.is_(None),
    )
    if for_update:
        # NO KEY UPDATE: a concurrent fan-out's foreign-key check (KEY SHARE) on
        # this row must not wait, or it could deadlock on the audit chain head.
        query = query.with_for_update(key_share=True)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"Webhook {webhook_id} not found.")
    return row


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a target URL that is not https or reaches a non-public address (422 on `url`)."""
    try:
        await check_webhook_url(url, allow_private=allow_private)
    except UnsafeWebhookUrl as exc:
        raise field_error("url", exc.reason) from exc


async def create_webhook(
    conn: AsyncConnection,
    actor: Actor,
    body: WebhookCreate,
    *,
    box: SecretBox,
    allow_private: bool,
) -> dict[str, Any]:
    """Register an endpoint; the returned dict carries the new secret (shown only now)."""
    await check_url(body.url, allow_private=allow_private)
    org = actor.organization_id
    count = await conn.scalar(
        select(func.count())
        .select_from(webhook_endpoints)
        .where(
            webhook_endpoints.c.organization_id == org,
            webhook_endpoints.c.deleted_at.is_(None),
        )
    )
    if (count or 0) >= MAX_ENDPOINTS_PER_ORGANIZATION:
        raise Conflict(
            f"An organization may register at most {MAX_ENDPOINTS_PER_ORGANIZATION} webhooks; "
            "delete one first.",
            details={"limit": MAX_ENDPOINTS_PER_ORGANIZATION},
        )
    secret = generate_secret()
    now = utcnow()
    row = (
        await conn.execute(
            insert(webhook_endpoints)
            .values(
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
            .returning(*webhook_endpoints.c)
        )
    ).one()
    events.config_changed(conn)
    out = endpoint_out(row)
    await events.record(
        conn,
        actor,
        "webhook.created",
        {
            "webhook_id": str(row.id),
            "diff": {k: {"from": None, "to": v} for k, v in _audit_view(row).items()},
        },
        data=out,
    )
    return {**out, "signing_secret": secret}


async def list_webhooks(
    conn: AsyncConnection, organization_id: uuid.UUID, cursor: Cursor | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The organization's endpoints, newest first."""
    query = select(webhook_endpoints).where(
        webhook_endpoints.c.organization_id == organization_id,
        webhook_endpoints.c.deleted_at.is_(None),
    )
    if cursor is not None:
        query = query.where(
            older_than(cursor, webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        )
    query = query.order_by(
        webhook_endpoints.c.created_at.desc(), webhook_endpoints.c.id.desc()
    ).limit(limit + 1)
    rows = (await conn.execute(query)).all()
    page, next_cursor = page_of(rows, limit)
    return [endpoint_out(r) for r in page], next_cursor


async def get_webhook(
    conn: AsyncConnection, organization_id: uuid.UUID, webhook_id: uuid.UUID
) -> dict[str, Any]:
    """One endpoint of the organization (404 for another tenant's or a deleted one)."""
    return endpoint_out(await _load(conn, organization_id, webhook_id))


async def cancel_open_deliveries(conn: AsyncConnection, endpoint_ids: list[uuid.UUID]) -> int:
    """Cancel every queued delivery of these endpoints and tell workers to drop in-flight sends.

    Returns how many deliveries were cancelled. The NOTIFY reaches workers on commit.
    """
    if not endpoint_ids:
        return 0
    # Rows are locked in id order, as the worker's result writes lock them.
    open_rows = (
        select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.endpoint_id.in_(endpoint_ids),
            webhook_deliveries.c.status.in_(OPEN_STATUSES),
        )
        .order_by(webhook_deliveries.c.id)
        .with_for_update()
    )
    result = await conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id.in_(open_rows.scalar_subquery()),
            webhook_deliveries.c.status.in_(OPEN_STATUSES),
        )
        .values(
            status="cancelled",
            next_attempt_at=None,
            leased_until=None,
            leased_by=None,
            updated_at=func.now(),
        )
    )
    for endpoint_id in endpoint_ids:
        await conn.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": NOTIFY_CHANNEL, "payload": f"cancel:{endpoint_id}"},
        )
    return int(result.rowcount or 0)


async def update_webhook(
    conn: AsyncConnection, actor: Actor, webhook_id: uuid.UUID, body: WebhookUpdate
) -> dict[str, Any]:
    """Change events, description or enabled; disabling cancels queued deliveries."""
    org = actor.organization_id
    before = await _load(conn, org, webhook_id, for_update=True)
    values: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("events", "description", "enabled")
        if name in body.model_fields_set
    }
    changes = events.diff(_audit_view(before), {**_audit_view(before), **values})
    if not changes:
        return endpoint_out(before)
    if values.get("enabled") is True and not before.enabled:
        values.update(disabled_reason=None, failing_since=None)
    elif values.get("enabled") is False and before.enabled:
        values["disabled_reason"] = "disabled through the API"
    after = (
        await conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == webhook_id, webhook_endpoints.c.organization_id == org)
            .values(**values, updated_at=utcnow())
            .returning(*webhook_endpoints.c)
        )
    ).one()
    events.config_changed(conn)
    payload: dict[str, Any] = {"webhook_id": str(webhook_id), "diff": changes}
    if "enabled" in changes and not after.enabled:
        payload["cancelled_deliveries"] = await cancel_open_deliveries(conn, [webhook_id])
    out = endpoint_out(after)
    await events.record(conn, actor, "webhook.updated", payload, data=out)
    return out


async def delete_webhook(
    conn: AsyncConnection, actor: Actor, webhook_id: uuid.UUID
) -> dict[str, Any]:
    """Delete an endpoint: nothing more is sent to it and its queued deliveries are cancelled."""
    org = actor.organization_id
    row = await _load(conn, org, webhook_id, for_update=True)
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == webhook_id, webhook_endpoints.c.organization_id == org)
        .values(enabled=False, deleted_at=utcnow(), updated_at=utcnow())
    )
    events.config_changed(conn)
    cancelled = await cancel_open_deliveries(conn, [webhook_id])
    await events.record(
        conn,
        actor,
        "webhook.deleted",
        {"webhook_id": str(webhook_id), "url": row.url, "cancelled_deliveries": cancelled},
    )
    return {"id": webhook_id, "deleted": True}


async def rotate_secret(
    conn: AsyncConnection, actor: Actor, webhook_id: uuid.UUID, *, box: SecretBox
) -> dict[str, Any]:
    """Issue a new secret; the one it replaces keeps signing for ROTATION_OVERLAP."""
    org = actor.organization_id
    row = await _load(conn, org, webhook_id, for_update=True)
    secret = generate_secret()
    expires_at = utcnow() + ROTATION_OVERLAP
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == webhook_id, webhook_endpoints.c.organization_id == org)
        .values(
            secret_encrypted=box.encrypt(secret),
            secret_prefix=secret_prefix(secret),
            # A second rotation inside the window retires the oldest secret now.
            previous_secret_encrypted=row.secret_encrypted,
            previous_secret_expires_at=expires_at,
            updated_at=utcnow(),
        )
    )
    await events.record(
        conn,
        actor,
        "webhook.secret_rotated",
        {
            "webhook_id": str(webhook_id),
            "signing_secret_prefix": secret_prefix(secret),
            "previous_secret_prefix": row.secret_prefix,
            "previous_secret_expires_at": expires_at.isoformat(),
        },
    )
    return {
        "id": webhook_id,
        "url": row.url,
        "signing_secret_prefix": secret_prefix(secret),
        "signing_secret": secret,
        "previous_secret_expires_at": expires_at,
    }


# Attempts and still-unattempted (or cancelled) deliveries, newest first, capped
# at the newest DELIVERY_LOG_SIZE rows before the cursor applies.
_DELIVERY_LOG = text(
    f"""
WITH recent AS (
  (SELECT a.id AS row_id, a.created_at AS sort_at, a.delivery_id, d.event_type, a.status,
          a.response_status, a.latency_ms, a.attempt, a.delivered_at, a.next_attempt_at, a.error
     FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
    WHERE a.endpoint_id = :endpoint AND a.organization_id = :org
    ORDER BY a.created_at DESC, a.id DESC LIMIT {DELIVERY_LOG_SIZE})
  UNION ALL
  (SELECT d.id, d.queued_at, d.id, d.event_type, d.status,
          NULL::int, NULL::int, d.attempt, NULL::timestamptz, d.next_attempt_at, NULL::text
     FROM webhook_deliveries d
    WHERE d.endpoint_id = :endpoint AND d.organization_id = :org
      AND d.status IN ('pending', 'cancelled')
    ORDER BY d.queued_at DESC, d.id DESC LIMIT {DELIVERY_LOG_SIZE})
), newest AS (
  SELECT * FROM recent ORDER BY sort_at DESC, row_id DESC LIMIT {DELIVERY_LOG_SIZE}
)
SELECT * FROM newest
 WHERE CAST(:cursor_at AS timestamptz) IS NULL
    OR (sort_at, row_id) < (CAST(:cursor_at AS timestamptz), CAST(:cursor_id AS uuid))
 ORDER BY sort_at DESC, row_id DESC
 LIMIT :limit
"""
)


def _delivery_item(row: Any) -> dict[str, Any]:
    return {
        "id": public_delivery_id(row.delivery_id),
        "event": row.event_type,
        "status": row.status,
        "response_status": row.response_status,
        "latency_ms": row.latency_ms,
        "attempt": row.attempt,
        "delivered_at": row.delivered_at,
        "next_attempt_at": row.next_attempt_at,
        "error": row.error,
        "created_at": row.sort_at,
    }


async def list_deliveries(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    webhook_id: uuid.UUID,
    cursor: Cursor | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """The endpoint's newest attempts (and queued deliveries), newest first."""
    await _load(conn, organization_id, webhook_id)
    rows = (
        await conn.execute(
            _DELIVERY_LOG,
            {
                "endpoint": webhook_id,
                "org": organization_id,
                "cursor_at": cursor.created_at if cursor else None,
                "cursor_id": cursor.id if cursor else None,
                "limit": limit + 1,
            },
        )
    ).all()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].sort_at, page[-1].row_id) if len(rows) > limit else None
    return [_delivery_item(r) for r in page], next_cursor


async def redeliver(
    conn: AsyncConnection, actor: Actor, webhook_id: uuid.UUID, delivery_id: str
) -> dict[str, Any]:
    """Queue a delivery again now, with its original body and id and a fresh retry schedule."""
    org = actor.organization_id
    endpoint = await _load(conn, org, webhook_id)
    parsed = parse_delivery_id(delivery_id)
    row = None
    if parsed is not None:
        row = (
            await conn.execute(
                select(
                    webhook_deliveries,
                    (webhook_deliveries.c.leased_until > func.now()).label("in_flight"),
                )
                .where(
                    webhook_deliveries.c.id == parsed,
                    webhook_deliveries.c.endpoint_id == webhook_id,
                    webhook_deliveries.c.organization_id == org,
                )
                .with_for_update(key_share=True)
            )
        ).first()
    if row is None:
        raise NotFound(f"Delivery {delivery_id} of webhook {webhook_id} not found.")
    if not endpoint.enabled:
        raise Conflict(
            "This webhook is disabled; enable it (PATCH enabled=true) before redelivering.",
            details={"disabled_reason": endpoint.disabled_reason},
        )
    if row.status in OPEN_STATUSES and row.in_flight:
        raise Conflict("This delivery is being sent right now; check its log in a moment.")
    after = (
        await conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == row.id)
            .values(
                status="pending",
                retry_step=0,
                next_attempt_at=func.now(),
                queued_at=func.now(),
                delivered_at=None,
                leased_until=None,
                leased_by=None,
                updated_at=func.now(),
            )
            .returning(*webhook_deliveries.c)
        )
    ).one()
    await conn.execute(
        text("SELECT pg_notify(:channel, '')"),
        {"channel": NOTIFY_CHANNEL},
    )
    await events.record(
        conn,
        actor,
        "webhook.redelivered",
        {
            "webhook_id": str(webhook_id),
            "delivery_id": public_delivery_id(row.id),
            "previous_status": row.status,
        },
    )
    return {
        "id": public_delivery_id(after.id),
        "event": after.event_type,
        "status": after.status,
        "response_status": after.response_status,
        "latency_ms": after.latency_ms,
        "attempt": after.attempt,
        "delivered_at": after.delivered_at,
        "next_attempt_at": after.next_attempt_at,
        "error": after.error,
        "created_at": after.queued_at,
    }
