"""Putting jobs on the queue: `defer`, inside the caller's transaction.

A job is a row of PgQueuer's `pgqueuer` table, inserted on the caller's own
connection, so it commits with the change that asked for it and a
rolled-back request queues nothing. The insert's trigger NOTIFYs the workers
when the transaction commits.

The payload is an envelope: who asked (organization, environment, key,
correlation id), so the job acts as that tenant and its audit entries carry
the request's correlation id, and the task's own payload.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from pydantic import BaseModel, ConfigDict, Field

from eal.db.tx import Tx
from eal.jobs.registry import check_task_name
from eal.kit.identity import Actor, Environment, Source

MAX_DEDUPE_KEY = 200


class Envelope(BaseModel):
    """What a job row's payload holds."""

    model_config = ConfigDict(extra="ignore")

    organization_id: uuid.UUID | None = None
    environment: Environment = Environment.LIVE
    key_id: uuid.UUID | None = None
    correlation_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    def actor(self) -> Actor:
        """The identity the job acts as: the tenant that asked, through the worker."""
        if self.organization_id is None:
            raise ValueError("a system job has no tenant actor")
        return Actor(
            organization_id=self.organization_id,
            source=Source.WORKER,
            correlation_id=self.correlation_id,
            key_id=self.key_id,
            environment=self.environment,
        )


def encode(envelope: Envelope) -> bytes:
    """The bytes stored as the job's payload."""
    return orjson.dumps(envelope.model_dump(mode="json"))


def decode(raw: bytes | None) -> Envelope:
    """The envelope of a job row (ValueError when it is not one)."""
    return Envelope.model_validate(orjson.loads(raw or b"{}"))


def _payload_dict(payload: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    if payload is None:
        return {}
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json")
    # Round-trip through JSON: what the task will read is what is stored.
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(dict(payload)))
    return loaded


def _delay(tx: Tx, execute_after: timedelta | datetime | None) -> timedelta | None:
    if execute_after is None:
        return None
    if isinstance(execute_after, datetime):
        execute_after = execute_after - tx.clock.now()
    return max(execute_after, timedelta(0))


def namespaced_dedupe_key(task: str, dedupe_key: str | None) -> str | None:
    """PgQueuer's dedupe keys are global: ours are prefixed with the task name."""
    if dedupe_key is None:
        return None
    if not dedupe_key or len(dedupe_key) > MAX_DEDUPE_KEY:
        raise ValueError(f"a dedupe key has 1 to {MAX_DEDUPE_KEY} characters")
    return f"{task}:{dedupe_key}"


async def enqueue(
    queries: Queries,
    task: str,
    envelope: Envelope,
    *,
    dedupe_key: str | None = None,
    delay: timedelta | None = None,
    priority: int = 0,
) -> int | None:
    """Insert one job through `queries`; its id, or None when deduplicated."""
    check_task_name(task)
    (job_id,) = await queries.enqueue(
        task,
        encode(envelope),
        priority,
        delay,
        namespaced_dedupe_key(task, dedupe_key),
        on_conflict="skip",
    )
    return None if job_id is None else int(job_id)


async def defer(
    tx: Tx,
    task: str,
    payload: BaseModel | Mapping[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    execute_after: timedelta | datetime | None = None,
    priority: int = 0,
) -> int | None:
    """Queue `task` for the transaction's tenant, in the transaction; commits or rolls back with it.

    `dedupe_key` keeps one job of this task per key queued or running at a
    time: deferring again while one is waiting or running adds nothing and
    returns None (e.g. one classification per call). `execute_after` (a delay
    or a moment) holds the job back until then. Returns the job id.
    """
    actor = tx.actor
    envelope = Envelope(
        organization_id=tx.tenant or actor.organization_id,
        environment=actor.environment,
        key_id=actor.key_id,
        correlation_id=actor.correlation_id,
        payload=_payload_dict(payload),
    )
    return await enqueue(
        Queries(AsyncpgDriver(await tx.driver())),
        task,
        envelope,
        dedupe_key=dedupe_key,
        delay=_delay(tx, execute_after),
        priority=priority,
    )


async def defer_many(
    tx: Tx,
    task: str,
    items: Sequence[
        tuple[BaseModel | Mapping[str, Any] | None, str | None, timedelta | datetime | None]
    ],
    *,
    priority: int = 0,
) -> list[int | None]:
    """`defer` for many jobs of one task in one statement: (payload, dedupe_key, execute_after).

    One round trip instead of one per job (enrolling 1,000 people queues
    1,000 first steps). Returns each job's id, None where deduplicated.
    """
    if not items:
        return []
    check_task_name(task)
    actor = tx.actor
    base = Envelope(
        organization_id=tx.tenant or actor.organization_id,
        environment=actor.environment,
        key_id=actor.key_id,
        correlation_id=actor.correlation_id,
    )
    queries = Queries(AsyncpgDriver(await tx.driver()))
    ids = await queries.enqueue(
        [task] * len(items),
        [encode(base.model_copy(update={"payload": _payload_dict(p)})) for p, _, _ in items],
        [priority] * len(items),
        [_delay(tx, after) for _, _, after in items],
        [namespaced_dedupe_key(task, key) for _, key, _ in items],
        on_conflict="skip",
    )
    return [None if job_id is None else int(job_id) for job_id in ids]
