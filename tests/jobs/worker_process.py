"""A job worker in its own process, whose one task starts and then never finishes.

Usage: python -m tests.jobs.worker_process DATABASE_URL TASK_NAME HEARTBEAT_SECONDS

Prints "started <job id>" when its task begins; the test then kills it, as
a machine dying mid-job would.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from eal import jobs
from eal.config import Settings
from eal.jobs.registry import TaskDef, TaskScope
from eal.jobs.worker import JobWorker
from eal.runtime import Runtime


async def main(database_url: str, task: str, heartbeat: float) -> None:
    async def hang(ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        sys.stdout.write(f"started {ctx.job_id}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()

    with tempfile.TemporaryDirectory(prefix="eal-jobs-") as tmp:
        settings = Settings(
            redis_url=None, database_url=database_url, data_dir=Path(tmp), secret_key="k"
        )
        runtime = Runtime.build(settings)
        definition = TaskDef(
            name=task, fn=hang, payload=jobs.NoPayload, scope=TaskScope.TENANT, concurrency=0
        )
        worker = JobWorker(
            runtime,
            tasks=[definition],
            schedules=[],
            heartbeat=timedelta(seconds=heartbeat),
            dequeue_timeout=timedelta(seconds=1),
        )
        await worker.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
