"""Scale check: 2 API processes and 2 workers on one PostgreSQL and one Redis.

Against the local PostgreSQL server (a scratch database, created and dropped)
and the local Redis, it starts real `eal serve --no-worker` processes on two
ports and real `eal worker` processes, plus, in this process, a webhook
receiver (two endpoints) and a deliberately slow stand-in for an
OpenAI-compatible LLM server (so that classification jobs are still running
when a worker is killed). Only 127.0.0.1 traffic.

1. Shared rate limit: one API key, a small EAL_RATE_LIMIT_PER_MINUTE and
   EAL_RATE_LIMIT_BURST, requests sent alternately to both API processes; the
   total admitted must be one budget (the burst plus what refilled meanwhile),
   not one per process.
2. Nothing duplicated, nothing lost: leads are created through both API
   processes (each fires lead.created to both endpoints) and calls are posted
   (each queues a `calls.classify` job) while both workers run; one worker is
   SIGKILLed mid-run. Then every (endpoint, event) must have been received and
   recorded as delivered exactly once in the database, a receipt seen twice
   must carry the same event and delivery id and belong to a delivery the
   killed worker had in flight (at-least-once: the receiver dedupes by id);
   every job must have completed exactly once (PgQueuer's log: one
   `successful` per job, none failed or left in the queue) and every call be
   classified once.

It prints the figures and exits 1 when a check fails.

    python bench/scale_check.py [--leads 300] [--calls 60] [--llm-delay 1.5]
        [--server postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, cli_json, eal_server, scratch_database

SECRET_KEY = "scale-check-secret-key"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
RATE_PER_MINUTE = 6
RATE_BURST = 20
RATE_REQUESTS = 60
ENDPOINTS = 2
WEBHOOK_DELAY_SECONDS = 0.05
HEARTBEAT_SECONDS = 3
CALL_MARK = re.compile(r"ref (SCALE-\d+)")


# --- local receivers (threads of this process) ---------------------------------


@dataclass
class Received:
    """What the local servers saw."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    webhooks: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(endpoint port, event id, delivery id, event type) per request received."""
    llm: Counter[str] = field(default_factory=Counter)
    """Classification requests per call mark (one per job attempt that reached the LLM)."""


def _webhook_handler(port: int, seen: Received) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                event = json.loads(body)
                event_id, event_type = str(event["id"]), str(event.get("type"))
            except (ValueError, KeyError, TypeError):
                event_id, event_type = "?", "?"
            delivery = self.headers.get("X-EAL-Delivery") or "?"
            with seen.lock:
                seen.webhooks.append((port, event_id, delivery, event_type))
            time.sleep(WEBHOOK_DELAY_SECONDS)  # a receiver that takes a moment
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _llm_handler(seen: Received, delay: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """A slow OpenAI-compatible server that refuses: the embedded model then answers."""

        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            mark = CALL_MARK.search(body.decode("utf-8", "replace"))
            with seen.lock:
                seen.llm[mark.group(1) if mark else "?"] += 1
            time.sleep(delay)
            answer = json.dumps(
                {"error": {"message": "no model here", "type": "invalid_request_error"}}
            ).encode()
            try:
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the worker that asked was killed

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server that takes a client hanging up (a killed worker) in its stride."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def local_servers(seen: Received, llm_delay: float) -> Iterator[tuple[list[int], int]]:
    """Start the webhook endpoints and the LLM stand-in; yields (endpoint ports, LLM port)."""
    servers = [_QuietServer(("127.0.0.1", 0), _webhook_handler(0, seen)) for _ in range(ENDPOINTS)]
    ports = []
    for server in servers:
        port = server.server_address[1]
        server.RequestHandlerClass = _webhook_handler(port, seen)
        ports.append(port)
    llm = _QuietServer(("127.0.0.1", 0), _llm_handler(seen, llm_delay))
    every = [*servers, llm]
    for server in every:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield ports, llm.server_address[1]
    finally:
        for server in every:
            server.shutdown()
            server.server_close()


# --- processes ---------------------------------------------------------------


def _check_redis(url: str) -> None:
    from redis import Redis

    client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@contextmanager
def eal_workers(
    env: dict[str, str], count: int, logs: list[Path]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run `count` `eal worker` processes, each logging to a file of `logs`;
    SIGTERM (and wait for) the live ones afterwards."""
    procs = []
    for i in range(count):
        with open(logs[i], "wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "eal.cli", "worker"],
                    env={**os.environ, **env},
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of one query, as the schema owner."""
    return asyncio.run(_fetch(url, sql, *args))


def wait_until(
    what: str, check: Any, within: float, every: float = 0.25, state: Any = None
) -> None:
    """Poll `check()` until true; after `within` seconds fail, saying `state()` if given."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    where = f" ({state()})" if state is not None else ""
    raise RuntimeError(f"timed out after {within:.0f}s waiting for {what}{where}")


def wait_for_workers(url: str, pids: list[int], count: int) -> None:
    """Until `count` workers listen for webhooks and have their job queue connections up."""

    def ready() -> bool:
        rows = fetch(
            url,
            "SELECT application_name, count(*) AS n FROM pg_stat_activity "
            "WHERE datname = current_database() "
            "AND application_name IN ('eal-webhooks-listen', 'eal-jobs') "
            "GROUP BY application_name",
        )
        n: dict[str, int] = {r["application_name"]: int(r["n"]) for r in rows}
        return n.get("eal-webhooks-listen", 0) >= count and n.get("eal-jobs", 0) >= count

    wait_until(f"{count} workers (pids {pids})", ready, 90)


# --- phase 1: the shared rate limit ----------------------------------------------


def check_rate_limit(url: str, key: str, base_env: dict[str, str]) -> dict[str, Any]:
    env = {
        **base_env,
        "EAL_RATE_LIMIT_PER_MINUTE": str(RATE_PER_MINUTE),
        "EAL_RATE_LIMIT_BURST": str(RATE_BURST),
    }
    statuses: dict[int, Counter[int]] = {}
    with ExitStack() as stack:
        bases = [stack.enter_context(eal_server(url, **env))[0] for _ in range(2)]
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(timeout=10) as client:
            started = time.monotonic()
            for i in range(RATE_REQUESTS):
                index = i % 2
                r = client.get(f"{bases[index]}/api/v1/organizations/me", headers=headers)
                statuses.setdefault(index, Counter())[r.status_code] += 1
            elapsed = time.monotonic() - started
    admitted = sum(c[200] for c in statuses.values())
    refused = sum(c[429] for c in statuses.values())
    other = RATE_REQUESTS - admitted - refused
    # One bucket: the burst, plus the tokens that refilled while the requests were sent.
    most = RATE_BURST + int(elapsed * RATE_PER_MINUTE / 60) + 1
    return {
        "requests": RATE_REQUESTS,
        "per_process_admitted": [statuses.get(i, Counter())[200] for i in range(2)],
        "admitted": admitted,
        "refused_429": refused,
        "other_statuses": other,
        "seconds": round(elapsed, 2),
        "one_budget": f"{RATE_BURST}..{most}",
        "ok": RATE_BURST <= admitted <= most and other == 0,
    }


# --- phase 2: webhooks and jobs while a worker dies --------------------------------


def _lead(i: int) -> dict[str, Any]:
    return {
        "name": f"Scale Lead {i}",
        "email": f"scale.lead.{i}@example.com",
        "phone": "+15125550143",
        "source": "website",
        "postal_code": "78756",
        "message": "Basement flooding after the storm; about three inches of standing water.",
    }


def _call(i: int) -> dict[str, Any]:
    return {
        "tracking_number": "+17705550199",
        "caller_number": "+14045550173",
        "duration_seconds": 95,
        "received_at": "2026-04-27T17:42:11.214Z",
        "transcript": (
            f"Caller: Hi, ref SCALE-{i:04d}. Water is coming through the ceiling of the "
            "upstairs bathroom and dripping into the kitchen. Can someone come today?"
        ),
        "source": "api",
        "external_id": f"SCALE-{i:04d}",
    }


def _post_all(
    bases: list[str], key: str, items: list[tuple[str, dict[str, Any]]]
) -> Counter[tuple[str, int]]:
    """POST every (path, body), alternating between the API processes, 8 at a time;
    counts (path, status)."""
    headers = {"Authorization": f"Bearer {key}"}
    statuses: Counter[tuple[str, int]] = Counter()
    with httpx.Client(timeout=30) as client:

        def post(job: tuple[int, tuple[str, dict[str, Any]]]) -> tuple[str, int]:
            i, (path, body) = job
            r = client.post(f"{bases[i % 2]}{path}", json=body, headers=headers)
            return path, r.status_code

        with ThreadPoolExecutor(8) as pool:
            for result in pool.map(post, enumerate(items)):
                statuses[result] += 1
    return statuses


def check_no_loss(
    url: str,
    key: str,
    org_id: str,
    base_env: dict[str, str],
    *,
    leads: int,
    calls: int,
    llm_delay: float,
) -> dict[str, Any]:
    seen = Received()
    with ExitStack() as stack:
        ports, llm_port = stack.enter_context(local_servers(seen, llm_delay))
        worker_env = {
            **base_env,
            "EAL_LLM_BASE_URL": f"http://127.0.0.1:{llm_port}",
            "EAL_LLM_TIMEOUT_SECONDS": "30",
            "EAL_JOB_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "EAL_WEBHOOK_TIMEOUT": "5",
            "EAL_WEBHOOK_RETRY_SCHEDULE": "1,2,5,10",
        }
        logs = [Path(base_env["EAL_DATA_DIR"]) / f"worker-{i}.log" for i in range(2)]
        workers = stack.enter_context(eal_workers(worker_env, 2, logs))
        bases = [stack.enter_context(eal_server(url, **base_env))[0] for _ in range(2)]
        wait_for_workers(url, [w.pid for w in workers], 2)

        headers = {"Authorization": f"Bearer {key}"}
        for port in ports:
            r = httpx.post(
                f"{bases[0]}/api/v1/webhooks",
                json={"url": f"http://127.0.0.1:{port}/hook", "events": ["lead.created"]},
                headers=headers,
                timeout=10,
            )
            r.raise_for_status()

        # Calls spread among the leads, so that both kinds of work are under way at the kill.
        items: list[tuple[str, dict[str, Any]]] = []
        every = max(1, leads // max(1, calls))
        for i in range(max(leads, calls * every)):
            if i < leads:
                items.append(("/api/v1/leads", _lead(i)))
            if i % every == 0 and i // every < calls:
                items.append(("/api/v1/calls", _call(i // every)))
        started = time.monotonic()
        posted: dict[str, Counter[tuple[str, int]]] = {}
        poster = threading.Thread(
            target=lambda: posted.update(api=_post_all(bases, key, items)), daemon=True
        )
        poster.start()

        # Kill one worker mid-run: once both kinds of work are well started.
        victim = workers[1]

        def under_way() -> bool:
            with seen.lock:
                hooks, asked = len(seen.webhooks), sum(seen.llm.values())
            return hooks >= leads * ENDPOINTS // 4 and asked >= calls // 4

        def progress() -> str:
            with seen.lock:
                hooks, asked = len(seen.webhooks), sum(seen.llm.values())
            jobs = fetch(
                url,
                "SELECT entrypoint, status::text AS s, count(*) AS n FROM pgqueuer GROUP BY 1, 2",
            )
            hook_rows = fetch(
                url, "SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY 1"
            )
            return (
                f"webhooks received {hooks}, LLM requests {asked}, "
                f"posted {dict(posted.get('api', {}))}, "
                f"queue {[tuple(r) for r in jobs]}, deliveries {[tuple(r) for r in hook_rows]}"
            )

        wait_until("work to be under way", under_way, 120, every=0.02, state=progress)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic() - started
        # What the killed worker held: leased deliveries it never recorded, picked jobs.
        in_flight = {
            "whd_" + r["id"].hex
            for r in fetch(
                url,
                "SELECT id FROM webhook_deliveries WHERE leased_by LIKE $1 "
                "AND status IN ('pending', 'retrying') AND leased_until > now()",
                f"%:{victim.pid}:%",
            )
        }
        picked_at_kill = fetch(url, "SELECT count(*) AS n FROM pgqueuer WHERE status = 'picked'")[
            0
        ]["n"]
        with seen.lock:
            received_at_kill = len(seen.webhooks)
            llm_at_kill = sum(seen.llm.values())

        poster.join(300)
        expected = leads * ENDPOINTS

        def settled() -> bool:
            open_deliveries = fetch(
                url,
                "SELECT count(*) AS n FROM webhook_deliveries "
                "WHERE status IN ('pending', 'retrying')",
            )[0]["n"]
            unclassified = fetch(
                url, "SELECT count(*) AS n FROM calls WHERE classified_at IS NULL"
            )[0]["n"]
            waiting = fetch(
                url,
                "SELECT count(*) AS n FROM pgqueuer WHERE status IN ('queued', 'picked') "
                "AND entrypoint LIKE 'calls.%'",
            )[0]["n"]
            return bool(open_deliveries == 0 and unclassified == 0 and waiting == 0)

        # A delivery leased by the killed worker is due again when its lease ends (60 s).
        wait_until("deliveries and jobs to settle", settled, 240, every=1.0)
        settled_at = time.monotonic() - started
        cutoff = fetch(url, "SELECT now() AS t")[0]["t"]
        # Let jobs queued before the cutoff (the schedules' too) finish.
        wait_until(
            "jobs queued before the end to finish",
            lambda: (
                not fetch(
                    url,
                    "SELECT 1 FROM pgqueuer WHERE status IN ('queued', 'picked') AND created <= $1",
                    cutoff,
                )
            ),
            60,
        )
        survivor_alive = workers[0].poll() is None
    # Logged errors of the workers (the killed one's last lines included).
    worker_errors = [
        line
        for log in logs
        for line in log.read_text(errors="replace").splitlines()
        if '"level": "error"' in line or "Traceback" in line
    ]

    # -- webhooks ------------------------------------------------------------------
    api = posted.get("api", Counter())
    with seen.lock:
        received = list(seen.webhooks)
        llm = Counter(seen.llm)
    lead_hooks = [r for r in received if r[3] == "lead.created"]
    pairs: dict[tuple[int, str], list[str]] = defaultdict(list)
    for port, event_id, delivery, _type in lead_hooks:
        pairs[(port, event_id)].append(delivery)
    events_db = fetch(
        url,
        "SELECT d.id, d.event_id, d.endpoint_id, d.status, d.attempt, "
        "(SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempts "
        "FROM webhook_deliveries d",
    )
    delivered_db = sum(1 for r in events_db if r["status"] == "delivered")
    attempts_db = sum(r["attempts"] for r in events_db)
    per_event_endpoint = Counter((r["event_id"], r["endpoint_id"]) for r in events_db)
    repeated = {k: v for k, v in pairs.items() if len(v) > 1}
    other_ids = [k for k, v in repeated.items() if len(set(v)) != 1]
    unexplained = [k for k, v in repeated.items() if v[0] not in in_flight]
    duplicates = sum(len(v) - 1 for v in pairs.values())
    webhooks = {
        "leads_created": api[("/api/v1/leads", 201)],
        "expected_deliveries": expected,
        "attempts_received": len(lead_hooks),
        "unique_events_received": len(pairs),
        "duplicates_received": duplicates,
        "duplicates_from_killed_worker_in_flight": duplicates - len(unexplained),
        "duplicates_unexplained": len(unexplained),
        "duplicates_with_another_id": len(other_ids),
        "killed_worker_in_flight_deliveries": len(in_flight),
        "missing": max(0, expected - len(pairs)),
        "db_delivery_rows": len(events_db),
        "db_delivered": delivered_db,
        "db_attempt_rows": attempts_db,
        # Sends counted by each row's attempt counter, the killed worker's unrecorded ones too.
        "db_attempt_counter_total": sum(r["attempt"] for r in events_db),
        "db_rows_per_event_and_endpoint_max": max(per_event_endpoint.values(), default=0),
    }
    webhooks["ok"] = (
        len(pairs) == expected
        and delivered_db == expected
        and len(events_db) == expected
        and webhooks["db_rows_per_event_and_endpoint_max"] == 1
        and not unexplained
        and not other_ids
    )

    # -- jobs ----------------------------------------------------------------------
    log_rows = fetch(
        url,
        "SELECT job_id, entrypoint, status::text AS status, count(*) AS n FROM pgqueuer_log "
        "WHERE job_id IN (SELECT job_id FROM pgqueuer_log WHERE status = 'queued' "
        "AND created <= $1) GROUP BY job_id, entrypoint, status",
        cutoff,
    )
    per_job: dict[int, Counter[str]] = defaultdict(Counter)
    task_of: dict[int, str] = {}
    for r in log_rows:
        per_job[r["job_id"]][r["status"]] += r["n"]
        task_of[r["job_id"]] = r["entrypoint"]
    left = fetch(url, "SELECT id, status::text AS status FROM pgqueuer WHERE created <= $1", cutoff)
    done_once = sum(1 for c in per_job.values() if c["successful"] == 1)
    done_twice = sum(1 for c in per_job.values() if c["successful"] > 1)
    failed = sum(1 for c in per_job.values() if c["failed"] or c["exception"])
    lost = sum(1 for c in per_job.values() if c["successful"] == 0)
    picked_again = sum(1 for c in per_job.values() if c["picked"] > 1)
    classify_jobs = [j for j, t in task_of.items() if t == "calls.classify"]
    classified = fetch(url, "SELECT classified_at IS NOT NULL AS classified FROM calls")
    audit_rows = fetch(
        url,
        "SELECT payload->>'call_id' AS call_id, count(*) AS n FROM platform_events "
        "WHERE action = 'call.classified' GROUP BY 1",
    )
    audited = Counter(r["n"] for r in audit_rows)
    jobs = {
        "calls_posted": len(classified),
        "jobs_queued": len(per_job),
        "jobs_by_task": dict(Counter(task_of.values())),
        "classify_jobs": len(classify_jobs),
        "completed_once": done_once,
        "completed_more_than_once": done_twice,
        "failed": failed,
        "lost": lost,
        "left_in_queue": len(left),
        "picked_at_kill": picked_at_kill,
        "picked_again_after_a_dead_worker": picked_again,
        "llm_requests": sum(llm.values()),
        "calls_asked_llm_twice": sum(1 for n in llm.values() if n > 1),
        "calls_classified": sum(1 for r in classified if r["classified"]),
        "call_classified_audit_entries_per_call": {str(k): v for k, v in sorted(audited.items())},
    }
    jobs["ok"] = (
        lost == 0
        and done_twice == 0
        and failed == 0
        and not left
        and len(classify_jobs) == calls
        and jobs["calls_classified"] == calls
        and set(audited) == {1}
        and len(audit_rows) == calls
    )
    return {
        "api_statuses": {f"POST {p} {s}": n for (p, s), n in sorted(api.items())},
        "killed_worker_pid": victim.pid,
        "killed_at_s": round(killed_at, 2),
        "received_at_kill": received_at_kill,
        "llm_requests_at_kill": llm_at_kill,
        "settled_at_s": round(settled_at, 2),
        "surviving_worker_alive": survivor_alive,
        "worker_log_errors": len(worker_errors),
        "worker_log_error_samples": worker_errors[:5],
        "webhooks": webhooks,
        "jobs": jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--server", default=os.environ.get("EAL_BENCH_DATABASE_URL", DEFAULT_SERVER)
    )
    parser.add_argument("--redis", default=os.environ.get("EAL_BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument(
        "--llm-delay", type=float, default=1.5, help="seconds the LLM stand-in takes"
    )
    args = parser.parse_args()
    _check_redis(args.redis)

    with (
        tempfile.TemporaryDirectory(prefix="eal-scale-") as data_dir,
        scratch_database(args.server) as url,
    ):
        base_env = {
            "DATABASE_URL": url,
            "REDIS_URL": args.redis,
            "EAL_DATA_DIR": data_dir,
            "EAL_SECRET_KEY": SECRET_KEY,
            "EAL_ALLOW_PRIVATE_WEBHOOK_URLS": "1",
            "EAL_LOG_LEVEL": "WARNING",
            "EAL_ACCESS_LOG": "0",
        }
        org = cli_json(url, "orgs", "create", "--name", "Scale Check Restoration")
        org_id = str(org["id"])
        limited = cli_json(url, "keys", "create", "--org", org_id, "--scopes", "admin")
        working = cli_json(url, "keys", "create", "--org", org_id, "--scopes", "admin")

        rate = check_rate_limit(url, str(limited["key"]), base_env)
        no_loss = check_no_loss(
            url,
            str(working["key"]),
            org_id,
            base_env,
            leads=args.leads,
            calls=args.calls,
            llm_delay=args.llm_delay,
        )

    report = {
        "api_processes": 2,
        "workers": 2,
        "cpus": os.cpu_count(),
        "rate_limit": rate,
        **no_loss,
    }
    print(json.dumps(report, indent=2))
    hooks, jobs = no_loss["webhooks"], no_loss["jobs"]
    print(
        f"\nrate limit: {rate['requests']} requests, {rate['admitted']} admitted "
        f"({'+'.join(map(str, rate['per_process_admitted']))} per process; one budget is "
        f"{rate['one_budget']}) -> {'ok' if rate['ok'] else 'FAIL'}"
    )
    print(
        f"webhooks: {hooks['expected_deliveries']} deliveries expected, "
        f"{hooks['attempts_received']} attempts received, "
        f"{hooks['unique_events_received']} unique (endpoint, event), "
        f"{hooks['duplicates_received']} duplicates "
        f"({hooks['duplicates_unexplained']} not from the killed worker's "
        f"{hooks['killed_worker_in_flight_deliveries']} in flight), "
        f"{hooks['missing']} missing -> {'ok' if hooks['ok'] else 'FAIL'}"
    )
    print(
        f"jobs: {jobs['jobs_queued']} queued, {jobs['completed_once']} completed once, "
        f"{jobs['completed_more_than_once']} more than once, {jobs['failed']} failed, "
        f"{jobs['lost']} lost, {jobs['picked_again_after_a_dead_worker']} picked again after "
        f"the kill -> {'ok' if jobs['ok'] else 'FAIL'}"
    )
    if not (rate["ok"] and hooks["ok"] and jobs["ok"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
