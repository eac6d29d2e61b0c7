"""Webhook delivery: fan-out, throughput per worker, commit-to-receipt latency.

In a scratch database on the local PostgreSQL server, one organization gets
three endpoints (each subscribed to lead.created) served by three real local
HTTP receivers in a separate process, and N `eal worker` processes deliver.

1. Latency, not saturated: events are recorded one per transaction at a
   steady rate well below capacity; each delivery's time from the commit to
   its arrival at the receiver gives p50/p99 (target p50 < 100 ms).
2. Throughput: 10,000 events (30,000 deliveries) are recorded as fast as
   possible in transactions of 50 while the workers deliver; deliveries/s is
   the count over the time from the first commit to the last arrival
   (target >= 500/s with one worker on a 2-core machine).

    python bench/webhooks_bench.py [--events 10000] [--workers 1]
        [--latency-events 300] [--latency-rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, percentile, scratch_database

RECEIVERS = 3
SECRET_KEY = "bench-secret-key"
BATCH = 50
LEAD = {
    "full_name": "Dana Whitfield",
    "email": "dana.whitfield@example.com",
    "phone": "+15125550143",
    "source": "website",
    "postal_code": "78756",
    "pipeline_stage": "new",
    "lead_score": 87,
    "message": "Basement flooding after the storm; about three inches of standing water.",
    "created_at": "2026-04-27T17:42:18.001Z",
}


# --- receivers (their own process) -------------------------------------------


def _serve_receivers(
    ports: list[int],
    ready: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
    results: Any,
) -> None:
    """Run the receivers until `stop`; then send [(event_id, delivery_id, t), ...]."""
    received: list[tuple[str, str, float]] = []
    ok = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                delivery = ""
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    lowered = name.lower()
                    if lowered == b"content-length":
                        length = int(value)
                    elif lowered == b"x-eal-delivery":
                        delivery = value.strip().decode()
                body = await reader.readexactly(length)
                # The body starts with {"id":"evt_<32 hex>" (fixed key order).
                received.append((body[7:43].decode(), delivery, time.time()))
                writer.write(ok)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, "127.0.0.1", port) for port in ports]
        ready.set()
        # `stop` is a process-shared event: wait for it in a thread, not the loop.
        await asyncio.to_thread(stop.wait)
        for server in servers:
            server.close()

    asyncio.run(main())
    results.send(received)


# --- setup -------------------------------------------------------------------


async def _setup(url: str, ports: list[int]) -> uuid.UUID:
    from eal.db.engine import Database
    from eal.db.tx import Tx
    from eal.db.url import async_url
    from eal.kit.identity import Actor, Source
    from eal.kit.outbound import OutboundPolicy
    from eal.kit.secretbox import SecretBox
    from eal.organizations.service import insert_organization
    from eal.webhooks.schemas import WebhookCreate
    from eal.webhooks.service import create_webhook

    db = Database.connect(async_url(url))
    try:
        async with db.system_transaction() as conn:
            tx = Tx(conn, actor=Actor(organization_id=uuid.uuid4(), source=Source.SYSTEM))
            org = await insert_organization(tx, name="Bench Hooks")
            org_id: uuid.UUID = org.id
            tx.bind(Actor(organization_id=org_id, source=Source.SYSTEM), config_revision=None)
            await tx.set_tenant(org_id)
            for port in ports:
                await create_webhook(
                    tx,
                    WebhookCreate(url=f"http://127.0.0.1:{port}/hook", events=["lead.created"]),
                    box=SecretBox(SECRET_KEY),
                    policy=OutboundPolicy(allow_private=True),
                )
        return org_id
    finally:
        await db.dispose()


@contextmanager
def _workers(url: str, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    with tempfile.TemporaryDirectory(prefix="eal-bench-") as data_dir:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "EAL_DATA_DIR": data_dir,
            "EAL_SECRET_KEY": SECRET_KEY,
            "EAL_ALLOW_PRIVATE_WEBHOOK_URLS": "1",
            "EAL_LOG_LEVEL": "WARNING",
        }
        procs = [
            subprocess.Popen([sys.executable, "-m", "eal.cli", "worker"], env=env)
            for _ in range(count)
        ]
        try:
            yield procs
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)


async def _wait_for_listeners(url: str, count: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            n = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'eal-webhooks-listen'"
            )
            if n >= count:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the workers did not start listening")
    finally:
        await conn.close()


# --- producing events ----------------------------------------------------------


async def _produce(
    url: str, org_id: uuid.UUID, *, events: int, per_tx: int, rate: float | None
) -> dict[str, float]:
    """Record `events` lead.created entries; returns {event_id: commit time}."""
    from eal import events as audit
    from eal.db.engine import Database
    from eal.db.tx import Tx
    from eal.db.url import async_url
    from eal.events import Action, public_event_id
    from eal.kit.identity import Actor, Source

    db = Database.connect(async_url(url), pool_size=2, max_overflow=0)
    actor = Actor(organization_id=org_id, source=Source.SYSTEM)
    committed: dict[str, float] = {}
    start = time.perf_counter()
    try:
        done = 0
        while done < events:
            ids = []
            async with db.tenant_transaction(org_id) as conn:
                tx = Tx(conn, actor=actor)
                for _ in range(min(per_tx, events - done)):
                    entry = await audit.record(
                        tx,
                        Action.LEAD_CREATED,
                        {"lead_id": str(uuid.uuid4())},
                        data={"id": str(uuid.uuid4()), **LEAD},
                    )
                    ids.append(public_event_id(entry.id))
            now = time.time()
            for event_id in ids:
                committed[event_id] = now
            done += len(ids)
            if rate:
                # Keep a steady rate (not a burst after a slow commit).
                delay = start + done / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
    finally:
        await db.dispose()
    return committed


async def _wait_for_deliveries(url: str, expected: int, within: float) -> None:
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            n = await conn.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'"
            )
            if n >= expected:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"only {n} of {expected} deliveries arrived in {within}s")
    finally:
        await conn.close()


async def _per_worker(url: str, since: float) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT worker_id, count(*) AS n FROM webhook_attempts "
            "WHERE created_at >= to_timestamp($1) GROUP BY worker_id ORDER BY worker_id",
            since,
        )
        return {r["worker_id"]: r["n"] for r in rows}
    finally:
        await conn.close()


def _latencies(committed: dict[str, float], received: list[tuple[str, str, float]]) -> list[float]:
    return [(t - committed[e]) * 1000 for e, _d, t in received if e in committed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server", default=os.environ.get("EAL_BENCH_DATABASE_URL", DEFAULT_SERVER)
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--latency-events", type=int, default=300)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="events/s in phase 1")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    ports = []
    for _ in range(RECEIVERS):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    ready, stop = ctx.Event(), ctx.Event()
    parent_end, child_end = ctx.Pipe()
    receiver = ctx.Process(target=_serve_receivers, args=(ports, ready, stop, child_end))
    receiver.start()
    ready.wait(30)

    report: dict[str, Any] = {
        "workers": args.workers,
        "receivers": RECEIVERS,
        "cpus": os.cpu_count(),
    }
    try:
        with scratch_database(args.server) as url:
            org_id = asyncio.run(_setup(url, ports))
            with _workers(url, args.workers):
                asyncio.run(_wait_for_listeners(url, args.workers))

                # Phase 1: latency when not saturated.
                slow = asyncio.run(
                    _produce(
                        url, org_id, events=args.latency_events, per_tx=1, rate=args.latency_rate
                    )
                )
                asyncio.run(_wait_for_deliveries(url, len(slow) * RECEIVERS, 120))

                # Phase 2: throughput.
                started = time.time()
                fast = asyncio.run(
                    _produce(url, org_id, events=args.events, per_tx=BATCH, rate=None)
                )
                produced = time.time()
                expected = (len(slow) + len(fast)) * RECEIVERS
                asyncio.run(_wait_for_deliveries(url, expected, 900))
                per_worker = asyncio.run(_per_worker(url, started))
    finally:
        stop.set()
        received = parent_end.recv() if parent_end.poll(60) else []
        receiver.join(30)

    phase2 = [r for r in received if r[0] in fast]
    last = max(t for _e, _d, t in phase2)
    elapsed = last - started
    total = len(phase2)
    slow_lat = _latencies(slow, received)
    fast_lat = _latencies(fast, received)
    duplicates = len(received) - len({d for _e, d, _t in received})
    report.update(
        {
            "latency_phase": {
                "events": len(slow),
                "deliveries": len(slow_lat),
                "rate_events_per_s": args.latency_rate,
                "p50_ms": round(percentile(slow_lat, 50), 1),
                "p99_ms": round(percentile(slow_lat, 99), 1),
                "max_ms": round(max(slow_lat), 1),
            },
            "throughput_phase": {
                "events": len(fast),
                "deliveries": total,
                "recording_s": round(produced - started, 2),
                "elapsed_s": round(elapsed, 2),
                "deliveries_per_s": round(total / elapsed, 1),
                "deliveries_per_s_per_worker": {
                    w: round(n / elapsed, 1) for w, n in per_worker.items()
                },
                "p50_ms_saturated": round(percentile(fast_lat, 50), 1),
                "p99_ms_saturated": round(percentile(fast_lat, 99), 1),
            },
            "duplicate_receipts": duplicates,
        }
    )
    print(json.dumps(report, indent=2))
    p50 = report["latency_phase"]["p50_ms"]
    rate = report["throughput_phase"]["deliveries_per_s"] / args.workers
    print(
        f"\n{args.workers} worker(s): {rate:.0f} deliveries/s per worker "
        f"(target >= 500 with one worker); unsaturated p50 {p50} ms "
        f"(target < 100), p99 {report['latency_phase']['p99_ms']} ms"
    )


if __name__ == "__main__":
    main()
