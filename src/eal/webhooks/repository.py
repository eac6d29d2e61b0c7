"""Statements of the webhooks domain: endpoints, queued deliveries, the delivery log; row mapping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.events import OUTBOX_CHANNEL
from eal.kit.paging import PageQuery
from eal.webhooks.models import webhook_deliveries, webhook_endpoints
from eal.webhooks.schemas import (
    OPEN_STATUSES,
    DeliveryOut,
    DeliveryStatus,
    WebhookOut,
    public_delivery_id,
)

DELIVERY_LOG_SIZE = 100
"""GET /webhooks/{id}/deliveries shows at most this many of the newest attempts."""

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def webhook_of(row: Any) -> WebhookOut:
    """A webhook_endpoints row as the API shows it (never the secret)."""
    return WebhookOut(
        id=row.id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        signing_secret_prefix=row.secret_prefix,
        enabled=row.enabled,
        created_at=row.created_at,
        last_delivery_at=row.last_delivery_at,
        last_delivery_status=row.last_delivery_status,
    )


def _active(organization_id: uuid.UUID) -> tuple[Any, ...]:
    return (
        webhook_endpoints.c.organization_id == organization_id,
        webhook_endpoints.c.deleted_at.is_(None),
    )


async def load(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    webhook_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Row[Any] | None:
    """One endpoint that is not deleted, optionally locked for a change."""
    query = select(webhook_endpoints).where(
        *_active(organization_id), webhook_endpoints.c.id == webhook_id
    )
    if for_update:
        # NO KEY UPDATE: a concurrent fan-out's foreign-key check (KEY SHARE) on
        # this row must not wait, or it could deadlock on the audit chain head.
        query = query.with_for_update(key_share=True)
    return (await conn.execute(query)).first()


async def count_active(conn: AsyncConnection, organization_id: uuid.UUID) -> int:
    """How many endpoints the organization has (deleted ones excluded)."""
    count = await conn.scalar(
        select(func.count()).select_from(webhook_endpoints).where(*_active(organization_id))
    )
    return int(count or 0)


async def insert(conn: AsyncConnection, **values: Any) -> Row[Any]:
    """Store a new endpoint; returns its row."""
    return (
        await conn.execute(
            sa.insert(webhook_endpoints).values(**values).returning(*webhook_endpoints.c)
        )
    ).one()


async def update(
    conn: AsyncConnection, organization_id: uuid.UUID, webhook_id: uuid.UUID, **values: Any
) -> Row[Any]:
    """Change an endpoint's columns; returns its row."""
    return (
        await conn.execute(
            sa.update(webhook_endpoints)
            .where(
                webhook_endpoints.c.id == webhook_id,
                webhook_endpoints.c.organization_id == organization_id,
            )
            .values(**values)
            .returning(*webhook_endpoints.c)
        )
    ).one()


async def page(
    conn: AsyncConnection, organization_id: uuid.UUID, page: PageQuery
) -> list[Row[Any]]:
    """The organization's endpoints, newest first (one row over the page)."""
    query = page.apply(
        select(webhook_endpoints).where(*_active(organization_id)),
        webhook_endpoints.c.created_at,
        webhook_endpoints.c.id,
    )
    return list((await conn.execute(query)).all())


async def notify_due(conn: AsyncConnection) -> None:
    """Wake the senders when this transaction commits (deliveries are due)."""
    await conn.execute(_NOTIFY, {"channel": OUTBOX_CHANNEL, "payload": ""})


async def cancel_open_deliveries(conn: AsyncConnection, endpoint_ids: list[uuid.UUID]) -> int:
    """Cancel every queued delivery of these endpoints and tell senders to drop in-flight sends.

    Returns how many deliveries were cancelled. The NOTIFY reaches senders on commit.
    """
    if not endpoint_ids:
        return 0
    # Rows are locked in id order, as the sender's result writes lock them.
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
        sa.update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id.in_(open_rows.scalar_subquery()),
            webhook_deliveries.c.status.in_(OPEN_STATUSES),
        )
        .values(
            status=DeliveryStatus.CANCELLED.value,
            next_attempt_at=None,
            leased_until=None,
            leased_by=None,
            updated_at=func.now(),
        )
    )
    for endpoint_id in endpoint_ids:
        await conn.execute(_NOTIFY, {"channel": OUTBOX_CHANNEL, "payload": f"cancel:{endpoint_id}"})
    return int(result.rowcount or 0)


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


def log_item_of(row: Any) -> DeliveryOut:
    """A row of the delivery log (an attempt, or a delivery not attempted yet)."""
    return DeliveryOut(
        id=public_delivery_id(row.delivery_id),
        event=row.event_type,
        status=row.status,
        response_status=row.response_status,
        latency_ms=row.latency_ms,
        attempt=row.attempt,
        delivered_at=row.delivered_at,
        next_attempt_at=row.next_attempt_at,
        error=row.error,
        created_at=row.sort_at,
    )


def log_position(row: Any) -> tuple[datetime, uuid.UUID]:
    """Where a delivery-log row sits in the log's order (the key its cursor continues after)."""
    return row.sort_at, row.row_id


async def delivery_log(
    conn: AsyncConnection, organization_id: uuid.UUID, webhook_id: uuid.UUID, page: PageQuery
) -> list[Row[Any]]:
    """The endpoint's newest attempts and queued deliveries (one row over the page)."""
    cursor = page.cursor
    return list(
        (
            await conn.execute(
                _DELIVERY_LOG,
                {
                    "endpoint": webhook_id,
                    "org": organization_id,
                    "cursor_at": cursor.created_at if cursor else None,
                    "cursor_id": cursor.id if cursor else None,
                    "limit": page.limit + 1,
                },
            )
        ).all()
    )


async def lock_delivery(
    conn: AsyncConnection, organization_id: uuid.UUID, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> Row[Any] | None:
    """A delivery of the endpoint, locked, with whether a sender holds it right now."""
    return (
        await conn.execute(
            select(
                webhook_deliveries,
                (webhook_deliveries.c.leased_until > func.now()).label("in_flight"),
            )
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.endpoint_id == webhook_id,
                webhook_deliveries.c.organization_id == organization_id,
            )
            .with_for_update(key_share=True)
        )
    ).first()


async def requeue_delivery(conn: AsyncConnection, delivery_id: uuid.UUID) -> Row[Any]:
    """Queue a delivery again now, with a fresh retry schedule; returns its row."""
    return (
        await conn.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(
                status=DeliveryStatus.PENDING.value,
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


def queued_delivery_of(row: Any) -> DeliveryOut:
    """A delivery row as the log shows one that waits for its attempt."""
    return DeliveryOut(
        id=public_delivery_id(row.id),
        event=row.event_type,
        status=row.status,
        response_status=row.response_status,
        latency_ms=row.latency_ms,
        attempt=row.attempt,
        delivered_at=row.delivered_at,
        next_attempt_at=row.next_attempt_at,
        error=row.error,
        created_at=row.queued_at,
    )
