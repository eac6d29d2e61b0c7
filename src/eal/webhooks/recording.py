"""Writing delivery results: attempts, delivery state, endpoint health, auto-disable.

These run on the system engine because one batch spans tenants; every
statement is keyed by ids the worker itself leased, and every delivery update
is guarded by that lease.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.db.engine import Database
from eal.db.tx import Tx
from eal.events import Action
from eal.kit.clock import Clock, isoformat
from eal.kit.identity import Actor, Source
from eal.webhooks.repository import cancel_open_deliveries, webhook_of
from eal.webhooks.schemas import DeliveryStatus

FAILING_DISABLE_AFTER = timedelta(days=5)
"""An endpoint whose every attempt failed for this long is disabled."""
FINISHED_RETENTION = timedelta(days=30)
"""Finished deliveries (and their attempts) are purged after this long."""
PURGE_BATCH = 10_000
GONE_REASON = "the receiver answered 410 Gone"
FAILING_REASON = "every delivery attempt failed for 5 days"


@dataclass(frozen=True)
class Outcome:
    """The result of one claimed delivery, as it will be recorded."""

    delivery_id: uuid.UUID
    organization_id: uuid.UUID
    endpoint_id: uuid.UUID
    lease_token: datetime
    status: DeliveryStatus
    """Delivered, retrying, failed, or cancelled (endpoint gone before sending)."""
    response_status: int | None
    latency_ms: int | None
    error: str | None
    started_at: datetime
    finished_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    retry_step: int
    gone: bool
    sent: bool
    lag_seconds: float | None = None
    """How long after it fell due the attempt was sent (metrics); None when it was not sent."""

    @classmethod
    def cancelled(
        cls,
        delivery_id: uuid.UUID,
        organization_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        lease_token: datetime,
        at: datetime,
    ) -> Outcome:
        """A delivery whose endpoint was disabled or deleted: closed without sending."""
        return cls(
            delivery_id=delivery_id,
            organization_id=organization_id,
            endpoint_id=endpoint_id,
            lease_token=lease_token,
            status=DeliveryStatus.CANCELLED,
            response_status=None,
            latency_ms=None,
            error=None,
            started_at=at,
            finished_at=at,
            next_attempt_at=None,
            delivered_at=None,
            retry_step=0,
            gone=False,
            sent=False,
        )


_WRITE_DELIVERIES = text(
    """
WITH r AS (
  SELECT * FROM unnest(
    CAST(:ids AS uuid[]), CAST(:tokens AS timestamptz[]), CAST(:statuses AS text[]),
    CAST(:codes AS int[]), CAST(:latencies AS int[]), CAST(:errors AS text[]),
    CAST(:next_at AS timestamptz[]), CAST(:delivered_at AS timestamptz[]),
    CAST(:steps AS int[]), CAST(:started_at AS timestamptz[])
  ) AS r(id, token, status, code, latency, error, next_at, delivered_at, step, started_at)
), locked AS (
  -- Locked in id order, as cancellations lock them, so the two cannot deadlock.
  SELECT d.id FROM webhook_deliveries d WHERE d.id IN (SELECT id FROM r)
   ORDER BY d.id FOR UPDATE
), done AS (
  UPDATE webhook_deliveries d
     SET status = r.status, response_status = COALESCE(r.code, d.response_status),
         latency_ms = COALESCE(r.latency, d.latency_ms), error = r.error,
         next_attempt_at = r.next_at, delivered_at = COALESCE(r.delivered_at, d.delivered_at),
         retry_step = r.step, leased_until = NULL, leased_by = NULL, updated_at = now()
    FROM r, locked
   WHERE d.id = r.id AND locked.id = r.id AND d.leased_by = :worker AND d.leased_until = r.token
     AND d.status IN ('pending', 'retrying')
  RETURNING d.id, d.organization_id, d.endpoint_id, d.attempt
)
INSERT INTO webhook_attempts (organization_id, delivery_id, endpoint_id, attempt, status,
                              response_status, latency_ms, error, worker_id, next_attempt_at,
                              delivered_at, created_at)
SELECT done.organization_id, done.id, done.endpoint_id, done.attempt, r.status, r.code,
       r.latency, r.error, :worker, r.next_at, r.delivered_at, r.started_at
  FROM done JOIN r ON r.id = done.id
 WHERE r.status <> 'cancelled'
"""
)

# Endpoint rows are locked in id order first so concurrent workers cannot deadlock.
_WRITE_ENDPOINTS = text(
    """
WITH u AS (
  SELECT * FROM unnest(
    CAST(:ids AS uuid[]), CAST(:last_at AS timestamptz[]), CAST(:last_status AS int[]),
    CAST(:had_ok AS boolean[]), CAST(:fail_since AS timestamptz[])
  ) AS u(id, last_at, last_status, had_ok, fail_since)
), locked AS (
  SELECT e.id FROM webhook_endpoints e WHERE e.id IN (SELECT id FROM u)
   ORDER BY e.id FOR NO KEY UPDATE
)
UPDATE webhook_endpoints e
   SET last_delivery_at = u.last_at,
       last_delivery_status = u.last_status,
       failing_since = CASE
         WHEN u.fail_since IS NULL THEN NULL
         WHEN u.had_ok THEN u.fail_since
         ELSE COALESCE(e.failing_since, u.fail_since) END
  FROM u, locked
 WHERE e.id = u.id AND locked.id = u.id
   AND (e.last_delivery_at IS NULL OR e.last_delivery_at <= u.last_at)
RETURNING e.id, e.failing_since, e.enabled, e.deleted_at
"""
)


async def write_outcomes(
    db: Database, batch: list[Outcome], *, worker_id: str, clock: Clock
) -> dict[uuid.UUID, str]:
    """Record a batch of results; returns the endpoints to disable, with the reason."""
    async with db.system_transaction() as conn:
        await conn.execute(
            _WRITE_DELIVERIES,
            {
                "ids": [o.delivery_id for o in batch],
                "tokens": [o.lease_token for o in batch],
                "statuses": [o.status for o in batch],
                "codes": [o.response_status for o in batch],
                "latencies": [o.latency_ms for o in batch],
                "errors": [o.error for o in batch],
                "next_at": [o.next_attempt_at for o in batch],
                "delivered_at": [o.delivered_at for o in batch],
                "steps": [o.retry_step for o in batch],
                "started_at": [o.started_at for o in batch],
                "worker": worker_id,
            },
        )
    sent = sorted((o for o in batch if o.sent), key=lambda o: o.finished_at)
    if not sent:
        return {}
    health: dict[uuid.UUID, dict[str, object]] = {}
    gone: set[uuid.UUID] = set()
    for o in sent:
        h = health.setdefault(o.endpoint_id, {"had_ok": False, "fail_since": None})
        h["last_at"] = o.finished_at
        h["last_status"] = o.response_status
        if o.status == DeliveryStatus.DELIVERED:
            h["had_ok"] = True
            h["fail_since"] = None
        elif h["fail_since"] is None:
            h["fail_since"] = o.finished_at
        if o.gone:
            gone.add(o.endpoint_id)
    ids = sorted(health)
    async with db.system_transaction() as conn:
        rows = (
            await conn.execute(
                _WRITE_ENDPOINTS,
                {
                    "ids": ids,
                    "last_at": [health[i]["last_at"] for i in ids],
                    "last_status": [health[i]["last_status"] for i in ids],
                    "had_ok": [health[i]["had_ok"] for i in ids],
                    "fail_since": [health[i]["fail_since"] for i in ids],
                },
            )
        ).all()
    disable = dict.fromkeys(gone, GONE_REASON)
    limit = clock.now() - FAILING_DISABLE_AFTER
    for row in rows:
        if (
            row.id not in disable
            and row.enabled
            and row.deleted_at is None
            and row.failing_since is not None
            and row.failing_since <= limit
        ):
            disable[row.id] = FAILING_REASON
    return disable


async def disable_endpoints(db: Database, reasons: dict[uuid.UUID, str], *, clock: Clock) -> None:
    """Disable endpoints, cancel their queued deliveries, and audit `webhook.disabled`."""
    async with db.system_transaction() as conn:
        for endpoint_id in sorted(reasons):
            await _disable(Tx(conn, clock=clock), endpoint_id, reasons[endpoint_id])


async def _disable(tx: Tx, endpoint_id: uuid.UUID, reason: str) -> None:
    conn = tx.conn
    row = (
        await conn.execute(
            text(
                "UPDATE webhook_endpoints SET enabled = false, disabled_reason = :reason, "
                "updated_at = now() WHERE id = :id AND enabled AND deleted_at IS NULL "
                "RETURNING *"
            ),
            {"id": endpoint_id, "reason": reason},
        )
    ).first()
    if row is None:
        return  # already disabled or deleted meanwhile
    cancelled = await cancel_open_deliveries(conn, [endpoint_id])
    tx.bind(Actor(organization_id=row.organization_id, source=Source.WORKER), config_revision=None)
    await tx.set_tenant(row.organization_id)
    await events.record(
        tx,
        Action.WEBHOOK_DISABLED,
        {
            "webhook_id": str(endpoint_id),
            "reason": reason,
            "failing_since": isoformat(row.failing_since),
            "last_delivery_status": row.last_delivery_status,
            "cancelled_deliveries": cancelled,
        },
        data=webhook_of(row).model_dump(mode="json"),
    )


async def purge_finished(conn: AsyncConnection, *, now: datetime) -> int:
    """Delete up to PURGE_BATCH finished deliveries older than FINISHED_RETENTION; how many."""
    result = await conn.execute(
        text(
            "DELETE FROM webhook_deliveries WHERE id IN ("
            "SELECT id FROM webhook_deliveries "
            "WHERE status IN ('delivered', 'failed', 'cancelled') AND updated_at < :before "
            "LIMIT :batch)"
        ),
        {"before": now - FINISHED_RETENTION, "batch": PURGE_BATCH},
    )
    return int(result.rowcount or 0)
