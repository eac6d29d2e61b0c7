"""Working the job queue: PgQueuer's queue manager and scheduler, run with eal's rules.

Every registered task becomes a PgQueuer entrypoint with its concurrency
limit (enforced in SQL across all workers). A run decodes the job's
envelope, validates its payload, and calls the task with a `JobContext`.
A failure is retried with the task's backoff (PgQueuer re-queues the row
with `execute_after` moved); the last failure, or a `PermanentJobError`,
leaves the job held with status `failed`. A job whose worker died keeps
status `picked` with a heartbeat that stops moving; after the heartbeat
timeout any worker picks it again.

Schedules run on PgQueuer's scheduler, which lets one worker at a time fire
each cron entry; firing defers a job (deduplicated per task), so periodic
work is retried and visible like any other job.

The worker's own connections (one for the queue, one for the scheduler) are
plain asyncpg connections as the schema owner: dequeuing spans tenants. If
the database goes away, both are reopened with backoff, and the outage is
logged once when it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from typing import Any

import asyncpg
import structlog
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.core.qm import QueueManager
from pgqueuer.core.sm import SchedulerManager
from pgqueuer.domain.errors import RetryRequested
from pgqueuer.domain.models import Job, Schedule
from pydantic import ValidationError
from structlog.contextvars import bound_contextvars

from eal.jobs.context import JobContext
from eal.jobs.queue import Envelope, decode, enqueue
from eal.jobs.registry import (
    SCHEDULES,
    TASKS,
    PermanentJobError,
    ScheduleDef,
    TaskDef,
    TaskScope,
)
from eal.metrics import observe_job
from eal.runtime import Runtime

log = structlog.get_logger(__name__)

BATCH_SIZE = 5
#: Seconds between reconnection attempts grow to this while the database is away.
MAX_RECONNECT_SECONDS = 10.0


class JobWorker:
    """Runs registered tasks (and fires schedules) until stopped."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        tasks: Iterable[TaskDef[Any]] | None = None,
        schedules: Iterable[ScheduleDef] | None = None,
        concurrency: int | None = None,
        heartbeat: timedelta | None = None,
        retry_scale: float = 1.0,
        dequeue_timeout: timedelta = timedelta(seconds=30),
    ) -> None:
        """Prepare a worker for `tasks` (default: every registered task) and `schedules`.

        `concurrency` caps this worker's running jobs (default
        EAL_JOB_CONCURRENCY); `heartbeat` is how long a silent running job
        stays its worker's (default EAL_JOB_HEARTBEAT_SECONDS); `retry_scale`
        multiplies every retry delay (tests use 0 to retry at once).
        """
        settings = runtime.settings
        self.runtime = runtime
        self.tasks = {t.name: t for t in (TASKS.values() if tasks is None else tasks)}
        self.schedules = list(SCHEDULES.values() if schedules is None else schedules)
        for entry in self.schedules:
            if entry.task not in self.tasks:
                raise ValueError(f"schedule of {entry.task!r}: the task is not registered")
        self.concurrency = max(2 * BATCH_SIZE, concurrency or settings.job_concurrency)
        self.heartbeat = heartbeat or timedelta(seconds=settings.job_heartbeat_seconds)
        self.retry_scale = retry_scale
        self.dequeue_timeout = dequeue_timeout
        self.ready = asyncio.Event()
        """Set while the queue manager is listening (tests wait for it)."""
        self.completed = 0
        """Jobs this worker finished successfully (benchmarks, tests)."""

    # -- running one job -------------------------------------------------------

    async def _run(self, definition: TaskDef[Any], job: Job) -> None:
        started = time.perf_counter()
        outcome = "failed"
        try:
            envelope: Envelope | ValueError = decode(job.payload)
        except ValueError as exc:
            envelope = exc
        # Every line logged while the job runs names the job, its task and its tenant, and
        # the request that queued it (`request_id`: its correlation id) when there was one.
        context: dict[str, Any] = {"job_id": int(job.id), "task": definition.name}
        if isinstance(envelope, Envelope):
            organization = envelope.organization_id
            context["organization_id"] = None if organization is None else str(organization)
            if envelope.correlation_id is not None:
                context["request_id"] = envelope.correlation_id
        with bound_contextvars(**context):
            try:
                await self._run_logged(definition, job, envelope)
                outcome = "done"
            except RetryRequested:
                outcome = "retry"
                raise
            finally:
                observe_job(definition.name, outcome, time.perf_counter() - started)

    async def _run_logged(
        self, definition: TaskDef[Any], job: Job, envelope: Envelope | ValueError
    ) -> None:
        attempt = job.attempts + 1
        try:
            if isinstance(envelope, ValueError):
                raise envelope
            payload = definition.payload.model_validate(envelope.payload)
            actor = envelope.actor() if definition.scope is TaskScope.TENANT else None
        except (ValueError, ValidationError) as exc:
            log.error("job_payload_invalid", task=definition.name, job_id=job.id, error=str(exc))
            raise PermanentJobError(f"the job's payload is not valid: {exc}") from exc
        context = JobContext(
            runtime=self.runtime,
            job_id=int(job.id),
            task=definition.name,
            attempt=attempt,
            actor=actor,
            correlation_id=envelope.correlation_id,
        )
        started = time.perf_counter()
        try:
            await definition.fn(context, payload)
        except PermanentJobError as exc:
            log.error(
                "job_failed", task=definition.name, job_id=job.id, attempt=attempt, error=str(exc)
            )
            raise
        except Exception as exc:
            if attempt < definition.retry.max_attempts:
                delay = definition.retry.delay(attempt) * self.retry_scale
                log.warning(
                    "job_retry",
                    task=definition.name,
                    job_id=job.id,
                    attempt=attempt,
                    retry_in_seconds=round(delay.total_seconds(), 3),
                    error=f"{type(exc).__name__}: {exc}",
                )
                raise RetryRequested(delay=delay, reason=f"{type(exc).__name__}: {exc}") from exc
            log.error(
                "job_failed",
                task=definition.name,
                job_id=job.id,
                attempt=attempt,
                error=f"{type(exc).__name__}: {exc}",
            )
            raise
        self.completed += 1
        log.debug(
            "job_done",
            task=definition.name,
            job_id=job.id,
            attempt=attempt,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def _on_tick(self, entry: ScheduleDef, queries: Queries, _schedule: Schedule) -> None:
        await self.fire_schedule(entry, queries)

    async def fire_schedule(self, entry: ScheduleDef, queries: Queries) -> int | None:
        """Defer the job a schedule stands for; its id, or None while one is still waiting."""
        # One job per task at a time: a tick while the last run still waits adds nothing.
        return await enqueue(queries, entry.task, Envelope(), dedupe_key="schedule")

    # -- the loops -------------------------------------------------------------

    def _queue_manager(self, connection: asyncpg.Connection) -> QueueManager:
        manager = QueueManager(Queries(AsyncpgDriver(connection)))
        for definition in self.tasks.values():
            manager.entrypoint(
                definition.name,
                concurrency_limit=definition.concurrency,
                accepts_context=False,
                on_failure="hold",
            )(partial(self._run, definition))
        return manager

    def _scheduler(self, connection: asyncpg.Connection) -> SchedulerManager:
        queries = Queries(AsyncpgDriver(connection))
        manager = SchedulerManager(queries)
        for entry in self.schedules:
            manager.schedule(entry.task, entry.cron, accepts_context=False)(
                partial(self._on_tick, entry, queries)
            )
        return manager

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self.runtime.db.driver_dsn(), server_settings={"application_name": "eal-jobs"}
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Work jobs until `stop` is set, reconnecting with backoff when the database goes away."""
        backoff = 0.5
        down_since: float | None = None
        while not stop.is_set():
            connections: list[asyncpg.Connection] = []
            try:
                connections.append(await self._connect())
                if self.schedules:
                    connections.append(await self._connect())
                if down_since is not None:
                    log.info(
                        "jobs_database_back", down_seconds=round(time.monotonic() - down_since, 1)
                    )
                    down_since = None
                backoff = 0.5
                await self._serve(stop, connections)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("jobs_database_unavailable", error=f"{type(exc).__name__}: {exc}")
            except Exception as exc:
                if not any(c.is_closed() for c in connections):
                    log.exception("jobs_worker_crashed")
                elif down_since is None:
                    # pgqueuer's own errors when the server dies under it
                    # ("cannot switch to state ...") mean the database went away.
                    down_since = time.monotonic()
                    log.warning("jobs_database_unavailable", error=f"{type(exc).__name__}: {exc}")
            finally:
                self.ready.clear()
                for connection in connections:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(connection.close(timeout=2))
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, MAX_RECONNECT_SECONDS)

    async def _serve(self, stop: asyncio.Event, connections: list[asyncpg.Connection]) -> None:
        queue = self._queue_manager(connections[0])
        runs = [
            asyncio.create_task(
                queue.run(
                    dequeue_timeout=self.dequeue_timeout,
                    batch_size=BATCH_SIZE,
                    max_concurrent_tasks=self.concurrency,
                    heartbeat_timeout=self.heartbeat,
                    shutdown_on_listener_failure=True,
                ),
                name="eal-jobs-queue",
            )
        ]
        scheduler = self._scheduler(connections[1]) if self.schedules else None
        if scheduler is not None:
            runs.append(asyncio.create_task(scheduler.run(), name="eal-jobs-scheduler"))
        stopping = asyncio.create_task(stop.wait())
        ready = asyncio.create_task(self._mark_ready(queue))
        try:
            await asyncio.wait([*runs, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            queue.shutdown.set()
            if scheduler is not None:
                scheduler.shutdown.set()
            stopping.cancel()
            results = await asyncio.gather(*runs, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
        if not stop.is_set():
            raise ConnectionError("the job queue stopped without being asked to")

    async def _mark_ready(self, queue: QueueManager) -> None:
        # The manager listens once it runs; a health-check round trip proves it.
        while True:
            try:
                await queue.listener_healthy(timeout=timedelta(seconds=1))
            except Exception:
                # A dead connection fails at once: pause so the loop yields.
                await asyncio.sleep(0.1)
                continue
            self.ready.set()
            return


def task_names(tasks: Iterable[TaskDef[Any]]) -> list[str]:
    """The names of `tasks`, sorted (logs, CLI)."""
    return sorted(t.name for t in tasks)
