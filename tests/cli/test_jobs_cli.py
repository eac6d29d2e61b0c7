"""`eal jobs list` and `eal jobs retry`: seeing failed jobs and sending them back to the queue."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from eal import jobs
from eal.db.engine import Database
from eal.jobs.registry import RetryPolicy
from eal.runtime import Runtime
from tests.cli.servers import cli_env, run_eal, run_eal_json
from tests.factories import Factory
from tests.jobs.support import (
    defer_for,
    job_row,
    job_worker,
    task_def,
    unique_name,
    wait_for_status,
)

ONCE = RetryPolicy(max_attempts=1)


async def test_a_failed_job_is_listed_and_retried(
    runtime: Runtime, factory: Factory, db: Database, database_url: URL, tmp_path: Path
) -> None:
    tenant = await factory.tenant("Jobs CLI Co")
    name = unique_name("cli")
    outcome = {"fail": True}

    async def vendor_call(_ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
        if outcome["fail"]:
            raise ConnectionError("the vendor answered 503")

    job_id = await defer_for(db, tenant.id, name)
    assert job_id is not None
    async with job_worker(runtime, [task_def(name, vendor_call, retry=ONCE)]):
        await wait_for_status(db, job_id, "failed")
    env = cli_env(tmp_path, database_url)

    listed = run_eal_json(["jobs", "list", "--failed", "--task", name], env, tmp_path)
    assert listed["count"] == 1
    [shown] = listed["jobs"]
    assert (shown["id"], shown["task"], shown["status"]) == (job_id, name, "failed")
    assert shown["last_error"] == "ConnectionError: the vendor answered 503"
    everything = run_eal_json(["jobs", "list", "--task", name], env, tmp_path)
    assert [j["id"] for j in everything["jobs"]] == [job_id]

    assert run_eal_json(["jobs", "retry", str(job_id)], env, tmp_path) == {
        "id": job_id,
        "status": "queued",
    }
    assert (await job_row(db, job_id)).status == "queued"
    again = run_eal(["jobs", "retry", str(job_id)], env, tmp_path)
    assert again.returncode == 2
    assert "is queued, not failed" in again.stderr

    outcome["fail"] = False
    async with job_worker(runtime, [task_def(name, vendor_call, retry=ONCE)]):
        history = await wait_for_status(db, job_id, "successful")
    assert history[-3:] == ["queued", "picked", "successful"]
    assert await job_row(db, job_id) is None


def test_bad_options_name_what_is_wrong(database_url: URL, tmp_path: Path) -> None:
    env = cli_env(tmp_path, database_url)
    missing = run_eal(["jobs", "retry", "987654321"], env, tmp_path)
    assert missing.returncode == 2 and "no job 987654321" in missing.stderr
    status = run_eal(["jobs", "list", "--status", "running"], env, tmp_path)
    assert status.returncode == 2
    assert "unknown status 'running'; valid: queued, picked, failed" in status.stderr
