"""Background jobs on PgQueuer: `defer` in the caller's transaction, `@task` per domain, schedules.

    from eal import jobs

    @jobs.task("calls.classify", payload=ClassifyCall, concurrency=4)
    async def classify(ctx: jobs.JobContext, payload: ClassifyCall) -> None:
        async with ctx.transaction() as tx:
            ...

    await jobs.defer(tx, "calls.classify", ClassifyCall(call_id=...), dedupe_key=str(call_id))

Tasks live in each domain's `tasks.py`; `eal worker` (and `eal serve`
unless `--no-worker`) runs every registered task.
"""

from eal.jobs.context import JobContext
from eal.jobs.queue import defer, defer_many
from eal.jobs.registry import (
    NoPayload,
    PermanentJobError,
    RetryPolicy,
    TaskScope,
    schedule,
    task,
)

__all__ = [
    "JobContext",
    "NoPayload",
    "PermanentJobError",
    "RetryPolicy",
    "TaskScope",
    "defer",
    "defer_many",
    "schedule",
    "task",
]
