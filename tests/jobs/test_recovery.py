"""A job whose worker died is picked up again by another worker once its heartbeat stops."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import URL

from eal import jobs
from eal.db.engine import Database
from eal.runtime import Runtime
from tests.factories import Factory
from tests.jobs.support import (
    defer_for,
    job_row,
    job_worker,
    task_def,
    unique_name,
    wait_for_status,
)

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_SECONDS = 1.0


async def test_a_killed_workers_job_runs_again_elsewhere(
    runtime: Runtime, factory: Factory, db: Database, database_url: URL
) -> None:
    tenant = await factory.tenant("Jobs Recovery Co")
    name = unique_name("recover")
    job_id = await defer_for(db, tenant.id, name)
    assert job_id is not None

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.jobs.worker_process",
        database_url.render_as_string(hide_password=False),
        name,
        str(HEARTBEAT_SECONDS),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line.decode().split() == ["started", str(job_id)], line
        assert (await job_row(db, job_id)).status == "picked"
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGKILL)  # no goodbye: the job stays "picked"
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    assert (await job_row(db, job_id)).status == "picked"

    finished = asyncio.Event()

    async def complete(_ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        finished.set()

    heartbeat = timedelta(seconds=HEARTBEAT_SECONDS)
    async with job_worker(runtime, [task_def(name, complete)], heartbeat=heartbeat):
        history = await wait_for_status(db, job_id, "successful", within=30)
    assert finished.is_set()
    # Picked by the dead worker, then by the living one, which finished it.
    assert history == ["queued", "picked", "picked", "successful"]
