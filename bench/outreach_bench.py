"""Outreach sending: 10,000 enrollments with a due step, sent by one worker.

In a scratch database on the local PostgreSQL server, one organization gets
its email pointed at a local SMTP server (aiosmtpd) and its SMS at a local
stand-in of Twilio's Messages API, both in a separate process. Its leads
are enrolled in a one-step sequence ("0m", any time of day) while `eal
worker` processes run; the figure is the time from the first enrollment's
commit to the last message's arrival, and messages/s per worker (target
>= 200 emails/s and >= 200 SMS/s per worker on a 2-core machine). SMS steps
are marketing, so the run uses a number whose time zone is in daytime: the
quiet hours are set to a single minute on the other side of the clock.

Also printed: the database rows written (inserted, updated) per message,
by table.

    python bench/outreach_bench.py [--people 10000] [--workers 1] [--channels email,sms]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.synchronize
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, free_port, scratch_database

SECRET_KEY = "bench-secret-key"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-auth-token-0000"
ENROLL_BATCH = 1000


# --- stand-ins (their own process) -----------------------------------------------------


def _serve_stand_ins(
    smtp_port: int,
    twilio_port: int,
    ready: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
    results: Any,
) -> None:
    """Run the SMTP server and the Twilio stand-in until `stop`; then send arrival times."""
    from aiosmtpd.smtp import SMTP, Envelope, Session

    arrivals: dict[str, list[float]] = {"email": [], "sms": []}

    class Sink:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            arrivals["email"].append(time.time())
            return "250 2.0.0 Ok: queued"

    async def twilio(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                arrivals["sms"].append(time.time())
                body = json.dumps(
                    {"sid": "SM" + secrets.token_hex(16), "status": "queued"}
                ).encode()
                writer.write(
                    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        smtp = await loop.create_server(
            lambda: SMTP(Sink(), hostname="mx.bench", require_starttls=False),
            "127.0.0.1",
            smtp_port,
        )
        api = await asyncio.start_server(twilio, "127.0.0.1", twilio_port)
        ready.set()
        await asyncio.to_thread(stop.wait)
        smtp.close()
        api.close()

    asyncio.run(main())
    results.send(arrivals)


# --- setup ---------------------------------------------------------------------------


async def _setup(url: str, smtp_port: int, twilio_port: int, people: int) -> uuid.UUID:
    """An organization with both providers and `people` leads (each an email and a number)."""
    from eal.db.engine import Database
    from eal.db.tx import Tx
    from eal.db.url import async_url
    from eal.kit.identity import Actor, Source
    from eal.kit.secretbox import SecretBox
    from eal.organizations.schemas import SettingsIn
    from eal.organizations.service import insert_organization, update_organization

    db = Database.connect(async_url(url))
    try:
        async with db.system_transaction() as conn:
            tx = Tx(conn, actor=Actor(organization_id=uuid.uuid4(), source=Source.SYSTEM))
            org = await insert_organization(tx, name="Bench Outreach")
            org_id: uuid.UUID = org.id
            tx.bind(Actor(organization_id=org_id, source=Source.SYSTEM), config_revision=None)
            await tx.set_tenant(org_id)
            settings = SettingsIn.model_validate(
                {
                    "integrations": {
                        "email": {
                            "vendor": "smtp",
                            "host": "127.0.0.1",
                            "port": smtp_port,
                            "security": "none",
                            "from_address": "crew@bench.example",
                            "from_name": "Bench Restoration",
                        },
                        "sms": {
                            "vendor": "twilio",
                            "account_sid": ACCOUNT_SID,
                            "auth_token": AUTH_TOKEN,
                            "from_number": "+14045550100",
                            "base_url": f"http://127.0.0.1:{twilio_port}",
                        },
                    },
                    "outreach": {
                        "daily_limits": {"sms": people * 2, "email": people * 2},
                        "sms_quiet_hours": _quiet_minute_far_from_now(),
                    },
                }
            )
            await update_organization(
                tx, org_id, name=None, settings=settings, box=SecretBox(SECRET_KEY)
            )
    finally:
        await db.dispose()
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "leads",
            records=[
                (
                    uuid.uuid4(),
                    org_id,
                    f"Person {n} Example",
                    "Example Properties",
                    f"person{n}@bench.example",
                    f"+1470{200 + n // 10_000}{n % 10_000:04d}",  # Atlanta numbers
                )
                for n in range(people)
            ],
            columns=["id", "organization_id", "name", "company", "email", "phone"],
        )
    finally:
        await conn.close()
    return org_id


def _quiet_minute_far_from_now() -> dict[str, str]:
    """Quiet hours of one minute twelve hours away (the federal window still applies)."""
    from zoneinfo import ZoneInfo

    local = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
    start = (local + timedelta(hours=12)).strftime("%H:%M")
    end = (local + timedelta(hours=12, minutes=1)).strftime("%H:%M")
    return {"start": start, "end": end}


async def _enroll(url: str, org_id: uuid.UUID, channel: str) -> tuple[float, int]:
    """A one-step sequence on `channel` and every lead enrolled; (first commit time, enrolled)."""
    from eal.db.engine import Database
    from eal.db.tx import Tx
    from eal.db.url import async_url
    from eal.kit.identity import Actor, Source
    from eal.outreach.schemas import EnrollRequest, SequenceCreate
    from eal.outreach.sequences import create_sequence, enroll

    db = Database.connect(async_url(url), pool_size=2, max_overflow=0)
    actor = Actor(organization_id=org_id, source=Source.SYSTEM)
    try:
        async with db.tenant_transaction(org_id) as conn:
            tx = Tx(conn, actor=actor)
            step: dict[str, Any] = {
                "delay": "0m",
                "body": "Hi {{ first_name }}, storm season is here.",
            }
            if channel == "email":
                step["subject"] = "Storm season, {{ first_name }}"
            sequence = await create_sequence(
                tx,
                SequenceCreate.model_validate(
                    {
                        "name": f"Bench {channel}",
                        "channel": channel,
                        "steps": [step],
                        "sending_window": {
                            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                            "start": "00:00",
                            "end": "24:00",
                        },
                    }
                ),
            )
        conn2 = await asyncpg.connect(url)
        try:
            lead_ids = [r["id"] for r in await conn2.fetch("SELECT id FROM leads ORDER BY id")]
        finally:
            await conn2.close()
        first: float | None = None
        enrolled = 0
        for i in range(0, len(lead_ids), ENROLL_BATCH):
            async with db.tenant_transaction(org_id) as conn:
                tx = Tx(conn, actor=actor)
                result = await enroll(
                    tx,
                    sequence.id,
                    EnrollRequest(lead_ids=lead_ids[i : i + ENROLL_BATCH], force=True),
                )
                enrolled += result.enrolled
            first = first or time.time()
        assert first is not None
        return first, enrolled
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


async def _wait_for_workers(url: str, count: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            n = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'LISTEN%'"
            )
            if n >= count:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the workers did not start listening")
    finally:
        await conn.close()


async def _sent(url: str, channel: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM outreach_messages WHERE channel = $1 AND status = 'sent'",
                channel,
            )
        )
    finally:
        await conn.close()


async def _wait_for_sent(url: str, channel: str, expected: int, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await _sent(url, channel) >= expected:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(
        f"only {await _sent(url, channel)} of {expected} {channel} sent in {within}s"
    )


async def _writes(url: str) -> dict[str, tuple[int, int]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables ORDER BY relname"
        )
        return {r["relname"]: (r["n_tup_ins"], r["n_tup_upd"]) for r in rows}
    finally:
        await conn.close()


def _per_message(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], messages: int
) -> dict[str, Any]:
    tables = {}
    for name, (ins, upd) in after.items():
        b_ins, b_upd = before.get(name, (0, 0))
        if ins - b_ins or upd - b_upd:
            tables[name] = {
                "inserted": round((ins - b_ins) / messages, 2),
                "updated": round((upd - b_upd) / messages, 2),
            }
    return {
        "inserted": round(sum(t["inserted"] for t in tables.values()), 2),
        "updated": round(sum(t["updated"] for t in tables.values()), 2),
        "by_table": tables,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server", default=os.environ.get("EAL_BENCH_DATABASE_URL", DEFAULT_SERVER)
    )
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--channels", default="email,sms")
    args = parser.parse_args()
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]

    ctx = multiprocessing.get_context("spawn")
    smtp_port, twilio_port = free_port(), free_port()
    ready, stop = ctx.Event(), ctx.Event()
    parent_end, child_end = ctx.Pipe()
    stand_ins = ctx.Process(
        target=_serve_stand_ins, args=(smtp_port, twilio_port, ready, stop, child_end)
    )
    stand_ins.start()
    ready.wait(30)

    report: dict[str, Any] = {
        "people": args.people,
        "workers": args.workers,
        "cpus": os.cpu_count(),
    }
    started: dict[str, float] = {}
    writes: dict[str, Any] = {}
    try:
        with scratch_database(args.server) as url:
            org_id = asyncio.run(_setup(url, smtp_port, twilio_port, args.people))
            with _workers(url, args.workers):
                asyncio.run(_wait_for_workers(url, args.workers))
                for channel in channels:
                    before = asyncio.run(_writes(url))
                    first, enrolled = asyncio.run(_enroll(url, org_id, channel))
                    started[channel] = first
                    asyncio.run(_wait_for_sent(url, channel, enrolled, 900))
                    time.sleep(1.5)  # statistics reach pg_stat_user_tables within a second
                    writes[channel] = _per_message(before, asyncio.run(_writes(url)), enrolled)
    finally:
        stop.set()
        arrivals = parent_end.recv() if parent_end.poll(60) else {}
        stand_ins.join(30)

    for channel in channels:
        times = arrivals.get(channel, [])
        elapsed = max(times) - started[channel]
        report[channel] = {
            "messages": len(times),
            "seconds": round(elapsed, 2),
            "messages_per_s": round(len(times) / elapsed, 1),
            "per_worker_per_s": round(len(times) / elapsed / args.workers, 1),
            "target_per_worker_per_s": 200,
            "ratio_to_target": round(len(times) / elapsed / args.workers / 200, 2),
            "rows_per_message": writes[channel],
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
