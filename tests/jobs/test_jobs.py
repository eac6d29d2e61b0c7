"""The job system end to end: defer in the caller's transaction, run as the tenant, retry, fail."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy import text

from eal import events, jobs
from eal.api.deps import TxDep
from eal.api.routing import api_router
from eal.app import create_app
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.db.engine import Database
from eal.errors import Conflict
from eal.events import Action
from eal.jobs.queue import decode, namespaced_dedupe_key
from eal.jobs.registry import RetryPolicy
from eal.runtime import Runtime
from tests.factories import Factory
from tests.jobs.support import (
    defer_for,
    job_history,
    job_row,
    job_worker,
    task_def,
    unique_name,
    wait_for_status,
)
from tests.support import audit_entries


class Note(BaseModel):
    text: str


WriteAuth = Annotated[AuthContext, Depends(require(Scope.WRITE))]
PROBE_TASK = unique_name("probe")


@pytest.fixture(scope="module")
async def probe_client(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A route that defers a job and then succeeds or fails."""
    app = create_app(settings)
    router = api_router(tags=["probe"])

    @router.post("/probe/defer/{outcome}")
    async def defer_then(outcome: str, auth: WriteAuth, tx: TxDep) -> dict[str, Any]:
        job_id = await jobs.defer(tx, PROBE_TASK, Note(text=outcome))
        if outcome == "conflict":
            raise Conflict("refused after deferring")
        return {"job_id": job_id}

    app.include_router(router, prefix="/api/v1")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _jobs_of(db: Database, task: str) -> list[Any]:
    async with db.system_transaction() as conn:
        rows = await conn.execute(
            text("SELECT * FROM pgqueuer WHERE entrypoint = :t ORDER BY id"), {"t": task}
        )
        return list(rows)


async def test_a_job_deferred_by_a_request_runs_as_its_tenant(
    probe_client: httpx.AsyncClient, runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Request Co", scopes="write")
    other = await factory.tenant("Jobs Other Co")
    seen: dict[str, Any] = {}

    async def note(ctx: jobs.JobContext, payload: Note) -> None:
        async with ctx.transaction() as tx:
            visible = await tx.conn.scalars(text("SELECT id FROM organizations"))
            seen["organizations"] = set(visible)
            seen["role"] = await tx.conn.scalar(text("SELECT current_user"))
            await events.record(tx, Action.LEAD_SCORED, {"note": payload.text})
        seen["attempt"] = ctx.attempt

    response = await probe_client.post(
        "/api/v1/probe/defer/ok", headers={**tenant.headers, "X-Request-ID": "corr_jobs_1"}
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["job_id"]
    envelope = decode((await job_row(db, job_id)).payload)
    assert envelope.organization_id == tenant.id and envelope.payload == {"text": "ok"}

    async with job_worker(runtime, [task_def(PROBE_TASK, note, payload=Note)]):
        history = await wait_for_status(db, job_id, "successful")

    assert history == ["queued", "picked", "successful"]
    assert seen["attempt"] == 1
    # Row-level security applies: the job sees its tenant, not the other one.
    assert seen["organizations"] == {tenant.id} and other.id not in seen["organizations"]
    assert seen["role"] == "eal_app"
    [entry] = await audit_entries(db, tenant.id, "lead.scored")
    assert entry["source"] == "worker"
    assert entry["correlation_id"] == "corr_jobs_1"  # the request that asked for it
    assert entry["payload"] == {"note": "ok", "key_id": str(tenant.key_id)}
    assert await job_row(db, job_id) is None  # done jobs leave the queue table


async def test_a_rolled_back_request_queues_nothing(
    probe_client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Rollback Co", scopes="write")
    before = len(await _jobs_of(db, PROBE_TASK))
    refused = await probe_client.post("/api/v1/probe/defer/conflict", headers=tenant.headers)
    assert refused.status_code == 409
    assert len(await _jobs_of(db, PROBE_TASK)) == before
    kept = await probe_client.post("/api/v1/probe/defer/kept", headers=tenant.headers)
    assert kept.status_code == 200
    assert len(await _jobs_of(db, PROBE_TASK)) == before + 1


async def test_a_dedupe_key_keeps_one_job_waiting_or_running(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Dedupe Co")
    name = unique_name("dedupe")
    release = asyncio.Event()
    two_running = asyncio.Event()
    runs: list[str] = []

    async def slow(ctx: jobs.JobContext, payload: Note) -> None:
        runs.append(payload.text)
        if len(runs) == 2:
            two_running.set()
        await release.wait()

    first = await defer_for(db, tenant.id, name, Note(text="a"), dedupe_key="call_1")
    assert first is not None
    assert await defer_for(db, tenant.id, name, Note(text="b"), dedupe_key="call_1") is None
    other = await defer_for(db, tenant.id, name, Note(text="c"), dedupe_key="call_2")
    assert other is not None
    async with job_worker(runtime, [task_def(name, slow, payload=Note)]):
        await asyncio.wait_for(two_running.wait(), 20)
        # Running counts as taken too: a third try while it runs adds nothing.
        assert await defer_for(db, tenant.id, name, Note(text="d"), dedupe_key="call_1") is None
        release.set()
        await wait_for_status(db, first, "successful")
        # Once done, the key is free again.
        again = await defer_for(db, tenant.id, name, Note(text="e"), dedupe_key="call_1")
        assert again is not None
        await wait_for_status(db, again, "successful")
    assert sorted(runs) == ["a", "c", "e"]


async def test_a_failing_job_is_retried_until_it_succeeds(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Retry Co")
    name = unique_name("flaky")
    attempts: list[int] = []

    async def flaky(ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("the vendor is down")

    job_id = await defer_for(db, tenant.id, name)
    assert job_id is not None
    async with job_worker(runtime, [task_def(name, flaky)], retry_scale=0):
        history = await wait_for_status(db, job_id, "successful")
    assert attempts == [1, 2, 3]
    assert history == ["queued", "picked", "queued", "picked", "queued", "picked", "successful"]


async def test_the_retry_waits_for_its_backoff(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Backoff Co")
    name = unique_name("backoff")

    async def down(_ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        raise ConnectionError("still down")

    policy = RetryPolicy(max_attempts=5, base=timedelta(hours=1), cap=timedelta(hours=2))
    job_id = await defer_for(db, tenant.id, name)
    assert job_id is not None
    async with job_worker(runtime, [task_def(name, down, retry=policy)], retry_scale=1.0):
        await wait_for_status(db, job_id, "picked")
        # The failed attempt re-queued it (the second "queued" of its history).
        for _ in range(400):
            if (await job_history(db, job_id)).count("queued") == 2:
                break
            await asyncio.sleep(0.05)
    row = await job_row(db, job_id)
    assert row.status == "queued" and row.attempts == 1
    async with db.system_transaction() as conn:
        wait = await conn.scalar(
            text("SELECT execute_after - now() FROM pgqueuer WHERE id = :id"), {"id": job_id}
        )
    # The first retry waits half to all of the base (one hour), never less.
    assert timedelta(minutes=29) < wait <= timedelta(hours=1)


def test_backoff_doubles_with_jitter_and_stops_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base=timedelta(seconds=10), cap=timedelta(minutes=5))
    lowest = [policy.delay(n, rng=lambda: 0.0) for n in range(1, 8)]
    highest = [policy.delay(n, rng=lambda: 0.999999) for n in range(1, 8)]
    assert [d.total_seconds() for d in lowest] == [5, 10, 20, 40, 80, 150, 150]
    assert [round(d.total_seconds()) for d in highest] == [10, 20, 40, 80, 160, 300, 300]
    rng = random.Random(7)
    spread = {policy.delay(3, rng=rng.random) for _ in range(50)}
    assert len(spread) > 40  # jittered, not one fixed delay
    assert all(timedelta(seconds=20) <= d < timedelta(seconds=40) for d in spread)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


async def test_the_last_failure_is_held_as_failed(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Failed Co")
    name = unique_name("doomed")

    async def doomed(_ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        raise RuntimeError("cannot be done")

    job_id = await defer_for(db, tenant.id, name)
    assert job_id is not None
    policy = RetryPolicy(max_attempts=2, base=timedelta(0), cap=timedelta(0))
    async with job_worker(runtime, [task_def(name, doomed, retry=policy)]):
        history = await wait_for_status(db, job_id, "failed")
    assert history == ["queued", "picked", "queued", "picked", "failed"]
    row = await job_row(db, job_id)
    assert row.status == "failed" and row.attempts == 1


async def test_a_permanent_error_and_a_bad_payload_fail_at_once(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Permanent Co")
    refused, typed = unique_name("refused"), unique_name("typed")
    runs: list[str] = []

    async def refuse(_ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        runs.append("refuse")
        raise jobs.PermanentJobError("the call does not exist")

    async def note(_ctx: jobs.JobContext, _payload: Note) -> None:
        runs.append("note")

    first = await defer_for(db, tenant.id, refused)
    second = await defer_for(db, tenant.id, typed, {"text": 5})  # not a string
    assert first is not None and second is not None
    tasks = [task_def(refused, refuse), task_def(typed, note, payload=Note)]
    async with job_worker(runtime, tasks):
        assert await wait_for_status(db, first, "failed") == ["queued", "picked", "failed"]
        assert await wait_for_status(db, second, "failed") == ["queued", "picked", "failed"]
    assert runs == ["refuse"]


async def test_a_concurrency_limit_holds_across_workers(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Concurrency Co")
    name = unique_name("serial")
    running = 0
    peak = 0

    async def serial(_ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1

    ids = [await defer_for(db, tenant.id, name) for _ in range(6)]
    definition = task_def(name, serial, concurrency=1)
    async with job_worker(runtime, [definition]), job_worker(runtime, [definition]):
        for job_id in ids:
            assert job_id is not None
            await wait_for_status(db, job_id, "successful")
    assert peak == 1


async def test_execute_after_holds_a_job_back(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Jobs Later Co")
    name = unique_name("later")
    ran = asyncio.Event()

    async def later(_ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        ran.set()

    job_id = await defer_for(db, tenant.id, name, execute_after=timedelta(hours=1))
    assert job_id is not None
    async with job_worker(runtime, [task_def(name, later)]):
        await asyncio.sleep(0.3)
        assert not ran.is_set()  # held back until its time
        async with db.system_transaction() as conn:
            await conn.execute(
                text("UPDATE pgqueuer SET execute_after = now() WHERE id = :id"), {"id": job_id}
            )
        await wait_for_status(db, job_id, "successful")
    assert ran.is_set()


def test_task_names_and_dedupe_keys_are_checked() -> None:
    with pytest.raises(ValueError, match=r"domain\.task"):
        jobs.task("NoDots", payload=jobs.NoPayload)
    with pytest.raises(ValueError, match="dedupe key"):
        namespaced_dedupe_key("calls.classify", "x" * 201)
    assert namespaced_dedupe_key("calls.classify", "c1") == "calls.classify:c1"
