"""Calls: the embedded classifier's speed and held-out accuracy, and a call's trip from
ingestion to dispatched with a worker running.

1. Classify 1,000 transcripts of the corpus (cycling through it) with the embedded models, as
   the worker does: p50/p99 ms per call (target p50 < 50 ms on a 2-core CPU; the spec's
   median classification is 11 s).
2. Held-out accuracy per field on the corpus's fixed split (targets: intent >= 92%,
   urgency >= 85%, qualified >= 92%).
3. End to end, in a scratch database on the local PostgreSQL server: `eal serve --no-worker`
   and one `eal worker`, an organization with auto-dispatch on, its SMS pointed at a local
   stand-in of Twilio's Messages API and its CRM at a local stand-in of JobNimbus (both in a
   separate process). Calls are POSTed one at a time; for each, the time from the ingesting
   request's commit to `classified` and to `dispatched` (SMS sent, JobNimbus contact and job
   created) is read from the audit log. Target: dispatched p50 < 1 s.

    python bench/calls_bench.py [--transcripts 1000] [--calls 60]
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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, free_port, percentile, scratch_database

SECRET_KEY = "bench-secret-key"
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "bench-auth-token-1111"
JOBNIMBUS_KEY = "bench-jobnimbus-key"
CORPUS = ROOT / "src" / "eal" / "ai" / "corpora" / "calls.jsonl"
TRANSCRIPT = (
    "Caller: Hi, I have water coming through my basement ceiling, I think a pipe burst "
    "upstairs. It's my house, can you send someone right now? Zip code 30064."
)


# --- 1 and 2: the classifier ---------------------------------------------------------


def classifier_figures(count: int) -> dict[str, Any]:
    """Speed over `count` transcripts and held-out accuracy per field."""
    from eal.ai.calls import call_models, classify_transcript
    from eal.ai.corpus import read_corpus, split

    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]
    started = time.perf_counter()
    call_models()
    load_ms = (time.perf_counter() - started) * 1000
    texts = [str(r["text"]) for r in rows]
    times = []
    for i in range(count):
        start = time.perf_counter()
        classify_transcript(texts[i % len(texts)])
        times.append((time.perf_counter() - start) * 1000)
    truth = {str(r["text"]): r for r in rows}
    _, heldout = split(read_corpus(CORPUS, "intent"))
    right = {"intent": 0, "urgency": 0, "qualified": 0}
    for example in heldout:
        answer = classify_transcript(example.text)
        row = truth[example.text]
        right["intent"] += answer.intent == row["intent"]
        right["urgency"] += answer.urgency == row["urgency"]
        right["qualified"] += answer.qualified == row["qualified"]
    return {
        "model_load_ms": round(load_ms, 1),
        "classified": count,
        "p50_ms": round(percentile(times, 50), 2),
        "p99_ms": round(percentile(times, 99), 2),
        "target_p50_ms": 50,
        "heldout_calls": len(heldout),
        "heldout_accuracy": {k: round(v / len(heldout), 4) for k, v in right.items()},
        "targets": {"intent": 0.92, "urgency": 0.85, "qualified": 0.92},
    }


# --- 3: end to end -----------------------------------------------------------------------


def _serve_stand_ins(
    twilio_port: int,
    jobnimbus_port: int,
    ready: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
) -> None:
    """Twilio's message create and JobNimbus's contacts/jobs, minimal, until `stop`."""

    async def serve(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: Any
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode()
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                status, body = answer(request_line)
                data = json.dumps(body).encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n".encode()
                    + f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def twilio(_line: str) -> tuple[str, Any]:
        return "201 Created", {"sid": "SM" + secrets.token_hex(16), "status": "queued"}

    def jobnimbus(line: str) -> tuple[str, Any]:
        if line.startswith("GET"):
            return "200 OK", {"count": 0, "results": []}
        return "200 OK", {"jnid": secrets.token_hex(8)}

    async def main() -> None:
        one = await asyncio.start_server(lambda r, w: serve(r, w, twilio), "127.0.0.1", twilio_port)
        two = await asyncio.start_server(
            lambda r, w: serve(r, w, jobnimbus), "127.0.0.1", jobnimbus_port
        )
        ready.set()
        await asyncio.to_thread(stop.wait)
        one.close()
        two.close()

    asyncio.run(main())


async def _setup(url: str, twilio_port: int, jobnimbus_port: int) -> tuple[uuid.UUID, str]:
    """An organization set to dispatch, with its providers; (its id, a write key)."""
    from eal.apikeys.service import create_api_key
    from eal.auth.scopes import Scope
    from eal.db.engine import Database
    from eal.db.tx import Tx
    from eal.db.url import async_url
    from eal.kit.identity import Actor, Source
    from eal.kit.secretbox import SecretBox
    from eal.organizations.schemas import SettingsIn
    from eal.organizations.service import insert_organization, update_organization

    always = [["00:00", "12:00"], ["12:00", "00:00"]]
    db = Database.connect(async_url(url))
    try:
        async with db.system_transaction() as conn:
            tx = Tx(conn, actor=Actor(organization_id=uuid.uuid4(), source=Source.SYSTEM))
            org = await insert_organization(tx, name="Bench Calls")
            tx.bind(Actor(organization_id=org.id, source=Source.SYSTEM), config_revision=None)
            await tx.set_tenant(org.id)
            settings = SettingsIn.model_validate(
                {
                    "service_area": {"center_postal_code": "30075", "radius_miles": 30},
                    "business_hours": {
                        d: always for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                    },
                    "dispatch": {"auto_dispatch": True},
                    "integrations": {
                        "sms": {
                            "vendor": "twilio",
                            "account_sid": ACCOUNT_SID,
                            "auth_token": AUTH_TOKEN,
                            "from_number": "+14045550100",
                            "base_url": f"http://127.0.0.1:{twilio_port}",
                        },
                        "crm": {
                            "vendor": "jobnimbus",
                            "api_key": JOBNIMBUS_KEY,
                            "base_url": f"http://127.0.0.1:{jobnimbus_port}",
                        },
                    },
                }
            )
            await update_organization(
                tx, org.id, name=None, settings=settings, box=SecretBox(SECRET_KEY)
            )
            key = await create_api_key(tx, organization_id=org.id, scopes=[Scope.WRITE])
            return org.id, key.key
    finally:
        await db.dispose()


@contextmanager
def _processes(url: str) -> Iterator[str]:
    """`eal serve --no-worker` and one `eal worker`; the server's base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="eal-bench-") as data_dir:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "EAL_DATA_DIR": data_dir,
            "EAL_SECRET_KEY": SECRET_KEY,
            "EAL_ALLOW_PRIVATE_WEBHOOK_URLS": "1",
            "EAL_LOG_LEVEL": "WARNING",
            "EAL_RATE_LIMIT_PER_MINUTE": "100000",
            "EAL_RATE_LIMIT_BURST": "100000",
        }
        serve = subprocess.Popen(
            [sys.executable, "-m", "eal.cli", "serve", "--port", str(port), "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        worker = subprocess.Popen([sys.executable, "-m", "eal.cli", "worker"], env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            yield base
        finally:
            for proc in (serve, worker):
                proc.send_signal(signal.SIGTERM)
            for proc in (serve, worker):
                proc.wait(timeout=60)


async def _wait_dispatched(conn: asyncpg.Connection, ids: list[uuid.UUID], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done = await conn.fetchval(
            "SELECT count(*) FROM calls WHERE id = ANY($1) "
            "AND status IN ('dispatched', 'dispatch_failed')",
            ids,
        )
        if done == len(ids):
            return
        await asyncio.sleep(0.05)
    rows = await conn.fetch(
        "SELECT status, decision->>'reason' AS reason, decision->>'error' AS error "
        "FROM calls WHERE id = ANY($1)",
        ids,
    )
    raise RuntimeError(f"calls were not dispatched in time: {[dict(r) for r in rows]}")


async def end_to_end(url: str, base: str, key: str, calls: int) -> dict[str, Any]:
    """POST calls one at a time; seconds from ingestion to classified and to dispatched."""
    conn = await asyncpg.connect(url)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            warm = []
            for n in range(3):  # the worker loads its models on its first call
                warm.append(await _post(client, n))
            await _wait_dispatched(conn, warm, 60)
            ids = []
            for n in range(calls):
                ids.append(await _post(client, 100 + n))
                await _wait_dispatched(conn, ids[-1:], 30)
        rows = await conn.fetch(
            """
            SELECT c.id, c.status,
              extract(epoch FROM (SELECT min(created_at) FROM platform_events e
                WHERE e.action = 'call.classified' AND e.payload->>'call_id' = 'call_' || replace(c.id::text, '-', ''))
                - r.created_at) AS classified,
              extract(epoch FROM (SELECT min(created_at) FROM platform_events e
                WHERE e.action = 'call.dispatched' AND e.payload->>'call_id' = 'call_' || replace(c.id::text, '-', ''))
                - r.created_at) AS dispatched
            FROM calls c JOIN platform_events r
              ON r.action = 'call.received' AND r.payload->>'call_id' = 'call_' || replace(c.id::text, '-', '')
            WHERE c.id = ANY($1)
            """,
            ids,
        )
    finally:
        await conn.close()
    failed = sum(r["status"] != "dispatched" for r in rows)
    classified = [float(r["classified"]) for r in rows if r["classified"] is not None]
    dispatched = [float(r["dispatched"]) for r in rows if r["dispatched"] is not None]
    return {
        "calls": len(rows),
        "dispatch_failed": failed,
        "to_classified_p50_s": round(statistics.median(classified), 3),
        "to_dispatched_p50_s": round(statistics.median(dispatched), 3),
        "to_dispatched_p99_s": round(percentile(dispatched, 99), 3),
        "target_dispatched_p50_s": 1.0,
    }


async def _post(client: httpx.AsyncClient, n: int) -> uuid.UUID:
    response = await client.post(
        "/api/v1/calls",
        json={
            "tracking_number": "+17705550199",
            "caller_number": f"+1404555{n % 10000:04d}",
            "duration_seconds": 95,
            "received_at": datetime.now(UTC).isoformat(),
            "transcript": TRANSCRIPT,
            "caller_name": f"Bench Caller {n}",
        },
    )
    if response.status_code != 201:
        raise RuntimeError(f"POST /calls: {response.status_code} {response.text}")
    return uuid.UUID(hex=response.json()["id"].removeprefix("call_"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transcripts", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()

    report: dict[str, Any] = {"classifier": classifier_figures(args.transcripts)}
    print(json.dumps(report["classifier"]), flush=True)
    twilio_port, jobnimbus_port = free_port(), free_port()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    stand_ins = multiprocessing.Process(
        target=_serve_stand_ins, args=(twilio_port, jobnimbus_port, ready, stop)
    )
    stand_ins.start()
    try:
        ready.wait(30)
        with scratch_database() as url:
            print(f"using database {url}", file=sys.stderr)
            _, key = asyncio.run(_setup(url, twilio_port, jobnimbus_port))
            with _processes(url) as base:
                report["end_to_end"] = asyncio.run(end_to_end(url, base, key, args.calls))
    finally:
        stop.set()
        stand_ins.join(10)
    print(json.dumps(report["end_to_end"]))
    classifier, e2e = report["classifier"], report["end_to_end"]
    verdict = (
        classifier["p50_ms"] < 50
        and e2e["to_dispatched_p50_s"] < 1.0
        and all(classifier["heldout_accuracy"][k] >= v for k, v in classifier["targets"].items())
    )
    print(
        f"classify p50 {classifier['p50_ms']} ms (p99 {classifier['p99_ms']} ms); "
        f"ingest -> dispatched p50 {e2e['to_dispatched_p50_s']} s; "
        f"held-out {classifier['heldout_accuracy']}: {'PASS' if verdict else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
