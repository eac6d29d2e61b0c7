"""Each step of each enrollment goes out at most once: two worker processes, one killed mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy.engine import URL

from eal.db.engine import Database
from eal.outreach.runs import RECORD_EVERY, RUN_CONCURRENCY, SEND_CONCURRENCY
from tests.factories import Factory
from tests.outreach.support import (
    OUTREACH,
    create_lead,
    message_rows,
    outreach_tenant,
    smtp_sink,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 150
HEARTBEAT_SECONDS = 1.0
CONCURRENCY = 10  # jobs one worker runs at once (its floor is 2 batches of 5)


async def start_worker(database_url: URL) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.outreach.worker_process",
        database_url.render_as_string(hide_password=False),
        str(HEARTBEAT_SECONDS),
        str(CONCURRENCY),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "EAL_LOG_LEVEL": "WARNING"},
    )
    assert process.stdout is not None
    while (line := await asyncio.wait_for(process.stdout.readline(), 60)).strip() != b"ready":
        assert line, "the worker exited before it was ready"
    # Keep reading what it prints, so a full pipe never blocks it.
    _drains.add(asyncio.create_task(_drain(process.stdout)))
    return process


_drains: set[asyncio.Task[None]] = set()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def test_two_workers_and_a_killed_one_never_send_a_step_twice(
    client: httpx.AsyncClient, factory: Factory, db: Database, database_url: URL
) -> None:
    async with smtp_sink() as smtp:
        smtp.delay = 0.02  # the provider call takes a while: a kill lands inside some
        tenant = await outreach_tenant(client, factory, "Exactly Once Co", smtp=smtp)
        leads = [
            (await create_lead(client, tenant, email=f"person{n}@example.com"))["id"]
            for n in range(PEOPLE)
        ]
        r = await client.post(
            f"{OUTREACH}/sequences",
            json={
                "name": "Once",
                "channel": "email",
                "steps": [{"delay": "0m", "subject": "Hello", "body": "Hi there"}],
                "sending_window": {
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "start": "00:00",
                    "end": "24:00",
                },
            },
            headers=tenant.headers,
        )
        sequence_id = r.json()["id"]
        r = await client.post(
            f"{OUTREACH}/sequences/{sequence_id}/enrollments",
            json={"lead_ids": leads},
            headers=tenant.headers,
        )
        assert r.json()["enrolled"] == PEOPLE

        workers = [await start_worker(database_url), await start_worker(database_url)]
        try:
            await wait_until(lambda: _at_least(smtp.received, PEOPLE // 4), within=60, what="sends")
            os.kill(workers[0].pid, signal.SIGKILL)  # mid-run, jobs in hand
            await workers[0].wait()

            async def settled() -> bool:
                rows = await message_rows(db, tenant.id)
                return len(rows) == PEOPLE and all(m["status"] in ("sent", "failed") for m in rows)

            await wait_until(settled, within=90, what="every step to settle")
        finally:
            for process in workers:
                if process.returncode is None:
                    process.terminate()
                    await process.wait()

    rows = await message_rows(db, tenant.id)
    assert Counter(m["enrollment_id"] for m in rows).most_common(1)[0][1] == 1
    received = Counter(rcpt for r in smtp.received for rcpt in r.rcpt_tos)
    assert received, "nothing was sent"
    assert received.most_common(1)[0][1] == 1, "someone got the step twice"
    for row in rows:
        if row["status"] == "sent":
            assert received[row["to_address"]] == 1
        else:
            # Interrupted mid-call by the kill: never sent again, whether or not it went.
            assert row["error_code"] == "interrupted", row
    # Only what the killed worker had in hand can be interrupted: the calls in
    # flight and the outcomes not yet recorded, of each run it was doing.
    interrupted = [m for m in rows if m["status"] == "failed"]
    assert len(interrupted) <= RUN_CONCURRENCY * (SEND_CONCURRENCY + RECORD_EVERY)


async def _at_least(items: list[object], count: int) -> bool:
    return len(items) >= count
