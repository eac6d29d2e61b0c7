"""Periodic work: every domain's schedules, and a tick that defers one job at a time."""

from __future__ import annotations

import pytest
from croniter import croniter
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries

from eal import jobs
from eal.db.engine import Database, driver_connection
from eal.jobs.registry import SCHEDULES, TASKS, ScheduleDef, TaskScope
from eal.jobs.worker import JobWorker
from eal.runtime import Runtime
from eal.worker.runner import import_task_modules
from tests.jobs.support import job_worker, task_def, unique_name, wait_for_status


def test_the_maintenance_jobs_are_schedules_of_their_domains() -> None:
    modules = import_task_modules()
    assert {"eal.audit.tasks", "eal.api.tasks", "eal.webhooks.tasks"} <= set(modules)
    assert import_task_modules() == modules  # importing twice registers nothing twice
    assert set(SCHEDULES) >= {
        "audit.purge_expired",
        "api.purge_idempotency_keys",
        "webhooks.purge_finished",
    }
    for entry in SCHEDULES.values():
        task = TASKS[entry.task]
        assert croniter.is_valid(entry.cron)
        assert task.scope is TaskScope.SYSTEM
        assert task.concurrency == 1, f"{task.name} must not run twice at once"


async def test_a_tick_defers_one_job_until_that_one_ran(runtime: Runtime, db: Database) -> None:
    name = unique_name("tick")
    runs = []

    async def tick(_ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        runs.append(1)

    definition = task_def(name, tick, scope=TaskScope.SYSTEM, concurrency=1)
    entry = ScheduleDef(task=name, cron="0 3 * * *")
    scheduler = JobWorker(runtime, tasks=[definition], schedules=[entry])
    async with db.system_transaction() as conn:
        queries = Queries(AsyncpgDriver(await driver_connection(conn)))
        first = await scheduler.fire_schedule(entry, queries)
        assert first is not None
        # A tick while the last job still waits (a slow or stopped worker) piles nothing up.
        assert await scheduler.fire_schedule(entry, queries) is None
    async with job_worker(runtime, [definition]):
        await wait_for_status(db, first, "successful")
    async with db.system_transaction() as conn:
        queries = Queries(AsyncpgDriver(await driver_connection(conn)))
        assert await scheduler.fire_schedule(entry, queries) is not None
    assert runs == [1]


def test_a_schedule_needs_its_task(runtime: Runtime) -> None:
    entry = ScheduleDef(task="tests.nowhere", cron="0 3 * * *")
    with pytest.raises(ValueError, match="not registered"):
        JobWorker(runtime, tasks=[], schedules=[entry])
    with pytest.raises(ValueError, match="invalid cron"):
        jobs.schedule("tests.nowhere", cron="every hour")
