"""The worker: the webhook sender and the job worker, side by side.

`eal worker` runs it as its own process; `eal serve` runs one in-process
unless `--no-worker`. Every domain's `tasks.py` is imported here, so its
tasks and schedules are registered before the job worker starts.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from dataclasses import dataclass, field

import structlog

import eal
from eal.jobs.worker import JobWorker
from eal.runtime import Runtime
from eal.webhooks.worker import deliver_webhooks

log = structlog.get_logger(__name__)


def import_task_modules() -> list[str]:
    """Import every `eal.<package>.tasks` module (registering its tasks); their names."""
    names = []
    for module in pkgutil.iter_modules(eal.__path__):
        if not module.ispkg:
            continue
        name = f"eal.{module.name}.tasks"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        names.append(name)
    return names


@dataclass
class RunningWorker:
    """Handle on a worker running as tasks in this process."""

    stop_event: asyncio.Event
    jobs: JobWorker
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        """Ask every loop to finish (in-flight work completes) and wait for them."""
        self.stop_event.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def start_in_process(runtime: Runtime) -> RunningWorker:
    """Start the webhook sender and the job worker as tasks of the running loop."""
    import_task_modules()
    stop = asyncio.Event()
    jobs = JobWorker(runtime)
    worker = RunningWorker(stop, jobs)
    worker.tasks.append(asyncio.create_task(deliver_webhooks(runtime, stop), name="eal-webhooks"))
    worker.tasks.append(asyncio.create_task(jobs.run(stop), name="eal-jobs"))
    log.info("worker_started", tasks=sorted(jobs.tasks), schedules=len(jobs.schedules))
    return worker
