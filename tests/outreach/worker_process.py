"""An outreach job worker in its own process, for tests that kill one mid-work.

Usage: python -m tests.outreach.worker_process DATABASE_URL HEARTBEAT_SECONDS CONCURRENCY

Prints "ready" once it listens for jobs. Its settings match the test app's
(secret key, public URL, private targets allowed), so it decrypts the
tenants' credentials and builds the same links.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import eal.outreach.tasks  # noqa: F401  (registers the outreach tasks)
from eal.config import Settings
from eal.jobs.registry import TASKS
from eal.jobs.worker import JobWorker
from eal.outreach.runs import RUN_TASK
from eal.outreach.service import DELIVER_TASK
from eal.runtime import Runtime


async def main(database_url: str, heartbeat: float, concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix="eal-outreach-") as tmp:
        settings = Settings(
            redis_url=None,
            database_url=database_url,
            data_dir=Path(tmp),
            secret_key="test-secret-key",
            allow_private_webhook_urls=True,
            public_url="http://testserver",
        )
        runtime = Runtime.build(settings)
        worker = JobWorker(
            runtime,
            tasks=[TASKS[DELIVER_TASK], TASKS[RUN_TASK]],
            schedules=[],
            heartbeat=timedelta(seconds=heartbeat),
            retry_scale=0.0,
            concurrency=concurrency,
            dequeue_timeout=timedelta(seconds=1),
        )
        running = asyncio.create_task(worker.run(asyncio.Event()))
        await worker.ready.wait()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await running


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
