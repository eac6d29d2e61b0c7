"""Workers: several at once, a killed one, a slow one, a full one, and how workers are started."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import URL

from eal import events
from eal.config import Settings
from eal.db.engine import Database
from eal.events import Action
from eal.webhooks.recording import purge_finished
from eal.webhooks.worker import DeliveryWorker
from tests.factories import Factory
from tests.support import tenant_tx
from tests.webhooks.support import (
    Received,
    Receiver,
    attempts_of,
    create_webhook,
    deliveries_of,
    running_worker,
    wait_for_rows,
)

ROOT = Path(__file__).resolve().parents[2]


async def _record_many(db: Database, organization_id: uuid.UUID, count: int) -> None:
    async with tenant_tx(db, organization_id) as tx:
        for n in range(count):
            await events.record(tx, Action.LEAD_CREATED, {}, data={"n": n})


async def test_two_workers_never_send_the_same_attempt_twice(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    settings: Settings,
    database_url: URL,
) -> None:
    tenant = await factory.tenant("Workers Two")

    async def respond(_request: Received, _index: int) -> int:
        await asyncio.sleep(0.003)
        return 200

    second_db = Database.connect(database_url)
    try:
        async with Receiver(respond) as rx_a, Receiver(respond) as rx_b:
            hook_a = await create_webhook(client, tenant, rx_a.url)
            hook_b = await create_webhook(client, tenant, rx_b.url)
            await _record_many(db, tenant.id, 150)
            async with running_worker(settings, db), running_worker(settings, second_db):
                await rx_a.wait_for(150, within=30)
                await rx_b.wait_for(150, within=30)
                await asyncio.sleep(0.5)
    finally:
        await second_db.dispose()

    for receiver, hook in ((rx_a, hook_a), (rx_b, hook_b)):
        counts = collections.Counter(r.delivery_id for r in receiver.received)
        assert len(counts) == 150
        assert set(counts.values()) == {1}
        attempts = await attempts_of(db, hook["id"])
        assert len(attempts) == 150
        assert {a.attempt for a in attempts} == {1}
        assert {d.status for d in await deliveries_of(db, hook["id"])} == {"delivered"}
    workers = {a.worker_id for h in (hook_a, hook_b) for a in await attempts_of(db, h["id"])}
    assert len(workers) == 2, workers


async def test_a_killed_worker_leaves_its_delivery_to_be_retried_after_the_lease(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    settings: Settings,
    database_url: URL,
) -> None:
    tenant = await factory.tenant("Workers Killed")
    hang = asyncio.Event()

    async def respond(_request: Received, index: int) -> int:
        if index == 0:
            await hang.wait()  # the first attempt never gets an answer
        return 200

    lease = 3.0
    async with Receiver(respond) as receiver:
        hook = await create_webhook(client, tenant, receiver.url)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.webhooks.worker_process",
            database_url.render_as_string(hide_password=False),
            str(settings.secret_key),
            str(lease),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line.startswith(b"ready "), line
            child_worker = line.decode().split(" ", 1)[1].strip()
            await _record_many(db, tenant.id, 1)
            (first,) = await receiver.wait_for(1)
            (leased,) = await deliveries_of(db, hook["id"])
            assert leased.leased_by == child_worker
            assert leased.status == "pending" and leased.attempt == 1
        finally:
            if process.returncode is None:
                os.kill(process.pid, signal.SIGKILL)
            await process.wait()
            if process.stdout is not None:
                await process.stdout.read()
        assert process.returncode == -signal.SIGKILL

        async with running_worker(settings, db):
            second = (await receiver.wait_for(2, within=lease + 10))[1]
            (delivery,) = await wait_for_rows(
                db,
                "SELECT * FROM webhook_deliveries WHERE endpoint_id = :e",
                {"e": uuid.UUID(hook["id"])},
                lambda rows: rows[0].status == "delivered",
            )
        hang.set()

    assert second.delivery_id == first.delivery_id
    assert second.body == first.body
    assert second.at - first.at >= lease - 0.5
    assert delivery.attempt == 2
    (attempt,) = await attempts_of(db, hook["id"])
    assert (attempt.attempt, attempt.status) == (2, "delivered")
    assert attempt.worker_id != child_worker


async def test_a_slow_receiver_does_not_stall_others(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Workers Slow")
    release = asyncio.Event()
    concurrent = 0
    peak = 0

    async def slow(_request: Received, _index: int) -> int:
        nonlocal concurrent, peak
        concurrent += 1
        peak = max(peak, concurrent)
        try:
            await release.wait()
        finally:
            concurrent -= 1
        return 200

    async with Receiver(slow) as slow_rx, Receiver() as fast_rx:
        await create_webhook(client, tenant, slow_rx.url)
        await create_webhook(client, tenant, fast_rx.url)
        async with running_worker(settings, db, per_endpoint_concurrency=4):
            await _record_many(db, tenant.id, 20)
            await fast_rx.wait_for(20, within=3)
            assert len(slow_rx.received) == 4
            release.set()
            await slow_rx.wait_for(20, within=10)
    assert peak == 4


class _CountingWorker(DeliveryWorker):
    """A worker that counts its passes (waits for work) after each notification."""

    #: Passes that mean the loop spins: it is stopped from inside, as it yields to nothing else.
    SPIN = 1000

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.notified = asyncio.Event()
        self.passes_since_notify = 0
        self.released = asyncio.Event()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        super()._on_notify(conn, pid, channel, payload)
        if not payload.startswith("cancel:"):
            self.passes_since_notify = 0
            self.notified.set()

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        self.passes_since_notify += 1
        if self.passes_since_notify > self.SPIN:
            self.released.set()
            stop.set()
        await super()._wait_for_work(stop)


async def test_a_notification_at_capacity_waits_for_a_free_slot_without_spinning(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Workers Capacity")

    async def held(_request: Received, _index: int) -> int:
        await worker.released.wait()
        return 200

    async with (
        Receiver(held) as receiver,
        running_worker(
            settings, db, kind=_CountingWorker, max_in_flight=1, poll_interval=60
        ) as running,
    ):
        assert isinstance(running, _CountingWorker)
        worker = running
        hook = await create_webhook(client, tenant, receiver.url)
        await _record_many(db, tenant.id, 1)
        await receiver.wait_for(1)
        assert worker.in_flight == 1  # every send slot taken

        # A due delivery the worker cannot claim, and the NOTIFY of its commit.
        worker.notified.clear()
        await _record_many(db, tenant.id, 1)
        await asyncio.wait_for(worker.notified.wait(), 10)
        for _ in range(20):
            await asyncio.sleep(0)
        passes = worker.passes_since_notify
        waiting = [d for d in await deliveries_of(db, hook["id"]) if d.leased_by is None]
        worker.released.set()
        # One pass takes in the wake-up, finds no free slot and waits (it used to loop
        # without ever yielding, holding up the send it waited for).
        assert passes <= 2, f"{passes} passes after one notification"
        assert len(waiting) == 1 and waiting[0].attempt == 0  # not claimed while at capacity

        # The freed slot wakes the worker (no poll would for a minute) and it sends the second.
        await receiver.wait_for(2)
    assert len({r.delivery_id for r in receiver.received}) == 2


async def test_eal_worker_command_delivers_and_stops_cleanly(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    settings: Settings,
    database_url: URL,
    tmp_path: Path,
) -> None:
    tenant = await factory.tenant("Workers CLI")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EAL_", "DATABASE_"))}
    env.update(
        DATABASE_URL=database_url.set(drivername="postgresql").render_as_string(
            hide_password=False
        ),
        EAL_DATA_DIR=str(tmp_path),
        EAL_SECRET_KEY=str(settings.secret_key),
        EAL_ALLOW_PRIVATE_WEBHOOK_URLS="1",
        EAL_LOG_LEVEL="WARNING",
    )
    async with Receiver() as receiver:
        await create_webhook(client, tenant, receiver.url)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from eal.cli import main; main()",
            "worker",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            # The worker finds deliveries committed before it started, too.
            await _record_many(db, tenant.id, 3)
            await receiver.wait_for(3, within=30)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
    assert len({r.delivery_id for r in receiver.received}) == 3


async def test_finished_deliveries_are_purged_after_30_days(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Workers Purge")
    hook = await create_webhook(client, tenant, "http://127.0.0.1:9/")
    await _record_many(db, tenant.id, 4)
    old_done, old_open, new_done, _new_open = await deliveries_of(db, hook["id"])
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'delivered', next_attempt_at = NULL, "
                "updated_at = now() - interval '31 days' WHERE id = :a;"
            ),
            {"a": old_done.id},
        )
        await conn.execute(
            text(
                "INSERT INTO webhook_attempts (organization_id, delivery_id, endpoint_id, "
                "attempt, status) VALUES (:o, :d, :e, 1, 'delivered')"
            ),
            {"o": tenant.id, "d": old_done.id, "e": old_done.endpoint_id},
        )
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET updated_at = now() - interval '31 days' WHERE id = :b"
            ),
            {"b": old_open.id},
        )
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL "
                "WHERE id = :c"
            ),
            {"c": new_done.id},
        )
        removed = await purge_finished(conn, now=datetime.now(UTC))
    assert removed >= 1
    remaining = {d.id for d in await deliveries_of(db, hook["id"])}
    assert old_done.id not in remaining  # finished and old: gone, with its attempts
    assert {old_open.id, new_done.id} <= remaining  # still open, or finished recently
    assert await attempts_of(db, hook["id"]) == []
