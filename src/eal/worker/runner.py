"""The worker loop: periodic jobs now, queue consumers registered by domains.

`eal worker` runs it as its own process; `eal serve` runs one in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

from eal.api.state import AppState
from eal.webhooks.worker import deliver_webhooks
from eal.worker.periodic import PERIODIC_JOBS, run_job

log = structlog.get_logger(__name__)

Consumer = Callable[[AppState, asyncio.Event], Coroutine[Any, Any, None]]
"""A long-running queue consumer; it returns when the stop event is set."""

CONSUMERS: list[Consumer] = [deliver_webhooks]


async def run_periodic(state: AppState, stop: asyncio.Event, tick: float = 30.0) -> None:
    """Run each periodic job when due until `stop` is set."""
    last_run: dict[str, float] = {}
    while not stop.is_set():
        now = time.monotonic()
        for job in PERIODIC_JOBS:
            if now - last_run.get(job.name, -job.every_seconds) >= job.every_seconds:
                try:
                    async with state.db.system_transaction() as conn:
                        await run_job(conn, job)
                    last_run[job.name] = now
                except Exception:
                    log.exception("periodic_job_failed", job=job.name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)


@dataclass
class RunningWorker:
    """Handle on a worker running as tasks in this process."""

    stop_event: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        """Ask every loop to finish and wait for them."""
        self.stop_event.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def start_in_process(state: AppState) -> RunningWorker:
    """Start the periodic loop and every registered consumer as tasks."""
    stop = asyncio.Event()
    worker = RunningWorker(stop)
    worker.tasks.append(asyncio.create_task(run_periodic(state, stop), name="eal-periodic"))
    for consumer in CONSUMERS:
        worker.tasks.append(
            asyncio.create_task(consumer(state, stop), name=f"eal-{consumer.__name__}")
        )
    return worker
