"""`eal jobs ...`: the background job queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from eal.cli.common import emit, fail, run_with_runtime

if TYPE_CHECKING:
    from eal.jobs.admin import JobRow
    from eal.runtime import Runtime

app = typer.Typer(help="Background jobs (PgQueuer).")


@app.command("list")
def list_jobs(
    failed: Annotated[bool, typer.Option("--failed", help="Only jobs held as failed.")] = False,
    status: Annotated[str | None, typer.Option(help="queued, picked (running) or failed.")] = None,
    task: Annotated[str | None, typer.Option(help="Only jobs of this task.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 50,
) -> None:
    """List jobs in the queue, newest first, with the last error of each."""
    from eal.jobs.admin import QUEUE_STATUSES
    from eal.jobs.registry import check_task_name

    if failed:
        if status not in (None, "failed"):
            fail(f"--failed and --status {status!r} disagree (--failed is --status failed)", 2)
        status = "failed"
    if status is not None and status not in QUEUE_STATUSES:
        fail(f"--status: unknown status {status!r}; valid: {', '.join(QUEUE_STATUSES)}", 2)
    if task is not None:
        try:
            check_task_name(task)
        except ValueError as exc:
            fail(f"--task: {exc}", 2)
    if not 1 <= limit <= 1000:
        fail(f"--limit: must be between 1 and 1000 (got {limit})", 2)

    async def work(runtime: Runtime) -> list[JobRow]:
        from eal.jobs.admin import list_jobs as list_queue

        async with runtime.db.system_transaction() as conn:
            return await list_queue(conn, status=status, task=task, limit=limit)

    rows = run_with_runtime(work)
    emit({"jobs": [row.model_dump() for row in rows], "count": len(rows)})


@app.command("retry")
def retry(job_id: Annotated[int, typer.Argument(help="The failed job's id.")]) -> None:
    """Put a failed job back in the queue; its attempts start again."""

    async def work(runtime: Runtime) -> str | None:
        from eal.jobs.admin import retry_job

        async with runtime.db.system_transaction() as conn:
            return await retry_job(conn, job_id)

    status = run_with_runtime(work)
    if status == "missing":
        fail(f"no job {job_id}", 2)
    if status is not None:
        fail(f"job {job_id} is {status}, not failed: only failed jobs are retried", 2)
    emit({"id": job_id, "status": "queued"})
