"""Looking at and repairing the job queue (the `eal jobs` commands).

Reads PgQueuer's tables as the schema owner: jobs waiting, running, or held
as failed after their last attempt, with the error of their last run.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.kit.schemas import Timestamp

#: Statuses a job row can have while it is in the queue table.
QUEUE_STATUSES = ("queued", "picked", "failed")

_LIST = text(
    """
SELECT j.id, j.entrypoint, j.status::text AS status, j.attempts, j.created, j.updated,
       j.execute_after, j.dedupe_key,
       (SELECT l.traceback FROM pgqueuer_log l
         WHERE l.job_id = j.id AND l.traceback IS NOT NULL
         ORDER BY l.created DESC, l.id DESC LIMIT 1) AS last_traceback
  FROM pgqueuer j
 WHERE (CAST(:status AS text) IS NULL OR j.status::text = :status)
   AND (CAST(:task AS text) IS NULL OR j.entrypoint = :task)
 ORDER BY j.id DESC
 LIMIT :limit
"""
)
_REQUEUE = text(
    """
WITH requeued AS (
  UPDATE pgqueuer SET status = 'queued', execute_after = now(), updated = now(),
                      attempts = 0, queue_manager_id = NULL
   WHERE id = :id AND status = 'failed'
  RETURNING id, entrypoint, priority
)
INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
SELECT id, 'queued', entrypoint, priority FROM requeued
RETURNING job_id
"""
)
_STATUS = text("SELECT status::text FROM pgqueuer WHERE id = :id")


class JobRow(BaseModel):
    """A job as `eal jobs list` shows it."""

    id: int
    task: str
    status: str
    attempts: int
    """Retries so far (0 while the first attempt is pending or running)."""
    created_at: Timestamp
    updated_at: Timestamp
    execute_after: Timestamp
    dedupe_key: str | None
    last_error: str | None


def _last_error(traceback: Any) -> str | None:
    if not isinstance(traceback, dict):
        return None
    kind = traceback.get("exception_type")
    message = traceback.get("exception_message")
    context = traceback.get("additional_context") or {}
    reason = context.get("reason") if isinstance(context, dict) else None
    if kind == "RetryRequested" and reason:
        return str(reason)  # the task's own error, as the retry recorded it
    if kind and message:
        return f"{kind}: {message}"
    return str(reason or kind or message) if (reason or kind or message) else None


async def list_jobs(
    conn: AsyncConnection, *, status: str | None = None, task: str | None = None, limit: int = 50
) -> list[JobRow]:
    """The newest jobs in the queue table, optionally of one status or task."""
    if status is not None and status not in QUEUE_STATUSES:
        raise ValueError(f"unknown status {status!r}; valid: {', '.join(QUEUE_STATUSES)}")
    rows = await conn.execute(_LIST, {"status": status, "task": task, "limit": limit})
    return [
        JobRow(
            id=r.id,
            task=r.entrypoint,
            status=r.status,
            attempts=r.attempts,
            created_at=r.created,
            updated_at=r.updated,
            execute_after=r.execute_after,
            dedupe_key=r.dedupe_key,
            last_error=_last_error(r.last_traceback),
        )
        for r in rows
    ]


async def retry_job(conn: AsyncConnection, job_id: int) -> str | None:
    """Put a failed job back in the queue (attempts start again).

    Returns None when it was re-queued, otherwise its current status
    ("missing" when there is no such job): only failed jobs are retried.
    """
    requeued = (await conn.execute(_REQUEUE, {"id": job_id})).first()
    if requeued is not None:
        return None
    status = await conn.scalar(_STATUS, {"id": job_id})
    return str(status) if status is not None else "missing"
