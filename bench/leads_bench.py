"""Leads at scale: create cost against a raw-asyncpg floor, and list page depth.

Seeds N leads (default 1,000,000) across 10 organizations in a scratch
database on the local PostgreSQL server. One organization holds most of them
(55% by default) so that page 10,000 of its list exists (50 leads a page).
Then it runs two real server processes, `eal serve` and a minimal ASGI app
whose POST /leads is one raw asyncpg INSERT (the floor), and drives each with
16 concurrent httpx clients. It prints:

- POST /leads p50/p99 and throughput, ours (validation, scoring, audit entry,
  RLS, auth) vs the floor's bare insert; target: ours >= half the floor's
  throughput;
- GET /leads page 1 vs page 10,000 p50/p99 and their ratio; target < 1.5;
- CPU per request of the server process, of this (client) process and of
  the local PostgreSQL processes. The client's share matters: httpx costs a few ms of CPU per request, so on a
  small machine the floor's throughput is capped by the client, and the
  server CPU column is the steadier measure of what each side costs.

    python bench/leads_bench.py [--leads 1000000] [--requests 4000] [--clients 16]

Use a small --leads (e.g. 20000) for a quick smoke run; the deep page is then
the deepest full page that exists.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, eal_server, free_port, percentile, scratch_database

ORGS = 10
PAGE = 50
TARGET_PAGE = 10_000
SOURCES = ("website", "google_ads", "referral", "google_lsa", "facebook_ads", "purchased_list")
STAGES = ("new", "contacted", "qualified", "proposal", "won", "lost")
POSTAL_CODES = ("30075", "30009", "30004", "30022", "30076", "78756")


# --- The floor: one raw asyncpg INSERT behind a bare ASGI app ---------------

_FLOOR_INSERT = (
    "INSERT INTO leads (organization_id, name, email, phone, source, postal_code, message, "
    "form_started_at, form_submitted_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::timestamptz, $9::text::timestamptz) RETURNING *"
)
_floor_pool: asyncpg.Pool | None = None


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """POST /leads -> one INSERT ... RETURNING *, answered as JSON (no auth, no checks)."""
    global _floor_pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _floor_pool = await asyncpg.create_pool(
                    os.environ["FLOOR_DATABASE_URL"], min_size=20, max_size=20
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _floor_pool is not None:
                    await _floor_pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] != "POST":
        payload, status = b'{"status":"ok"}', 200
    else:
        data = orjson.loads(body)
        org = dict(scope["headers"])[b"x-org"].decode()
        assert _floor_pool is not None
        row = await _floor_pool.fetchrow(
            _FLOOR_INSERT,
            uuid.UUID(org),
            data.get("name"),
            data.get("email"),
            data.get("phone"),
            data.get("source"),
            data.get("postal_code"),
            data.get("message"),
            data.get("form_started_at"),
            data.get("form_submitted_at"),
        )
        payload, status = orjson.dumps(dict(row), default=str), 201
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


@contextmanager
def floor_server(database_url: str) -> Iterator[tuple[str, int]]:
    """Run the floor app under uvicorn (same loop and HTTP parser as eal serve)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "leads_bench:floor_app",
            "--app-dir",
            str(Path(__file__).resolve().parent),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**os.environ, "FLOOR_DATABASE_URL": database_url},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the floor server did not start") from None
                time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# --- Seeding ------------------------------------------------------------------


async def create_tenants(database_url: str) -> list[dict[str, str]]:
    """Ten organizations (service area, source weights, a recent storm) with write keys."""
    from eal.apikeys.service import create_api_key
    from eal.auth.scopes import Scope
    from eal.db.engine import Database
    from eal.db.tx import Tx
    from eal.db.url import async_url
    from eal.kit.identity import Actor, Source
    from eal.organizations.service import insert_organization

    db = Database.connect(async_url(database_url))
    tenants = []
    try:
        for n in range(ORGS):
            async with db.system_transaction() as conn:
                tx = Tx(conn, actor=Actor(organization_id=uuid.uuid4(), source=Source.SYSTEM))
                org = await insert_organization(
                    tx,
                    name=f"Bench Restoration {n}",
                    settings={
                        "service_area": {"center_postal_code": "30075", "radius_miles": 30},
                        "lead_scoring": {"source_weights": {"referral": 0.15}},
                    },
                )
                tx.bind(Actor(organization_id=org.id, source=Source.SYSTEM), config_revision=None)
                await tx.set_tenant(org.id)
                key = await create_api_key(tx, organization_id=org.id, scopes=[Scope.WRITE])
            tenants.append({"id": str(org.id), "key": key.key})
    finally:
        await db.dispose()
    return tenants


def split_leads(total: int) -> list[int]:
    """How many leads each organization gets: one big, the rest equal."""
    big = total * 55 // 100
    rest, extra = divmod(total - big, ORGS - 1)
    return [big] + [rest + (1 if i < extra else 0) for i in range(ORGS - 1)]


_SEED = """
INSERT INTO leads (organization_id, name, company, email, phone, source, lead_score,
                   pipeline_stage, industry, postal_code, message, pain_points, timeline,
                   ai_reasoning, qualification_completed_at, scored_at, created_at, updated_at)
SELECT $1::uuid, 'Seed Lead ' || g, CASE WHEN g % 5 = 0 THEN 'Company ' || g END,
       'seed' || g || '@example.com', '+1404555' || lpad((g % 10000)::text, 4, '0'),
       ($4::text[])[1 + g % 6], g % 101, ($5::text[])[1 + g % 6], 'residential',
       ($6::text[])[1 + g % 6], 'Water in the basement after the storm', 'Water damage',
       'this_week', 'Customer describes water damage (+0.16); phone validated (+0.10)',
       ts, ts, ts, ts
FROM (SELECT g, now() - make_interval(secs => (g + $2) * 15.0) AS ts
      FROM generate_series(1, $3) AS g) AS s
"""


async def seed(database_url: str, tenants: list[dict[str, str]], total: int) -> None:
    """Insert the leads directly (as the schema owner), in batches, then analyze."""
    conn = await asyncpg.connect(database_url)
    try:
        for tenant, count in zip(tenants, split_leads(total), strict=True):
            done = 0
            while done < count:
                n = min(100_000, count - done)
                await conn.execute(
                    _SEED, tenant["id"], done, n, list(SOURCES), list(STAGES), list(POSTAL_CODES)
                )
                done += n
            print(f"  seeded {count:,} leads for {tenant['id']}", file=sys.stderr)
        await conn.execute(
            "INSERT INTO weather_events (organization_id, event_type, postal_codes, occurred_at) "
            "SELECT o.id, 'storm', ARRAY['30075', '30009'], now() - interval '2 days' "
            "FROM organizations o"
        )
        await conn.execute("VACUUM ANALYZE leads")
    finally:
        await conn.close()


async def deep_cursor(database_url: str, org_id: str, page: int) -> str:
    """The cursor a client holds after walking page-1 pages (computed directly)."""
    from eal.kit.cursor import encode_cursor

    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT created_at, id FROM leads WHERE organization_id = $1 "
            "ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            uuid.UUID(org_id),
            (page - 1) * PAGE - 1,
        )
    finally:
        await conn.close()
    return encode_cursor(row["created_at"], row["id"])


# --- Load -------------------------------------------------------------------------


@dataclass
class Run:
    """Latencies (ms), throughput and server CPU of one measured phase."""

    name: str
    latencies: list[float]
    seconds: float
    cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    db_cpu_seconds: float = 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def per_request(self, seconds: float) -> float:
        return 1000 * seconds / len(self.latencies)

    def line(self) -> str:
        return (
            f"{self.name:<34} p50 {self.p50:7.2f} ms  p99 {self.p99:7.2f} ms  "
            f"{self.rate:5.0f} req/s  CPU ms/req: server {self.per_request(self.cpu_seconds):4.2f}"
            f" client {self.per_request(self.client_cpu_seconds):4.2f}"
            f" db {self.per_request(self.db_cpu_seconds):4.2f}"
        )


Call = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def db_cpu_seconds() -> float:
    """CPU time used so far by the PostgreSQL processes on this machine (backends,
    WAL writer, ...): the database's share of a request when the server is local."""
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] and proc.info["name"].startswith("postgres"):
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total


async def drive(
    name: str, server: tuple[str, int], call: Call, total: int, clients: int, status: int
) -> Run:
    """`total` requests from `clients` concurrent keep-alive clients to (base URL, pid)."""
    base, pid = server
    counter = itertools.count()
    latencies: list[float] = []

    async def client_loop(client: httpx.AsyncClient) -> None:
        while (i := next(counter)) < total:
            start = time.perf_counter()
            response = await call(client, i)
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code != status:
                raise RuntimeError(f"{name}: HTTP {response.status_code}: {response.text}")

    # The clients exist before the clock starts: building one (its TLS context)
    # takes ~20 ms of this process's loop, so 16 built inside the measurement
    # held most clients back for the first ~0.3 s of every round.
    http_clients = [httpx.AsyncClient(base_url=base, timeout=120) for _ in range(clients)]
    try:
        me = os.getpid()
        server_before, client_before = cpu_seconds(pid), cpu_seconds(me)
        db_before = db_cpu_seconds()
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for client in http_clients))
        elapsed = time.perf_counter() - start
        server, client = cpu_seconds(pid) - server_before, cpu_seconds(me) - client_before
        db = db_cpu_seconds() - db_before
    finally:
        for http_client in http_clients:
            await http_client.aclose()
    return Run(name, latencies, elapsed, server, client, db)


def lead_body(i: int) -> dict[str, Any]:
    """A realistic web-form lead."""
    started = time.time() - 90
    return {
        "name": f"Bench Caller {i}",
        "email": f"caller{i}@example.com",
        "phone": f"(404) 555-{i % 10000:04d}",
        "source": SOURCES[i % len(SOURCES)],
        "postal_code": POSTAL_CODES[i % len(POSTAL_CODES)],
        "message": "Pipe burst upstairs, water coming through the kitchen ceiling. Please come today.",
        "form_started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "form_submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started + 75)),
    }


async def measure(
    ours: tuple[str, int],
    floor: tuple[str, int],
    tenants: list[dict[str, str]],
    cursor: str,
    args: argparse.Namespace,
) -> dict[str, Run]:
    auth = [{"Authorization": f"Bearer {t['key']}"} for t in tenants]
    org_header = [{"X-Org": t["id"]} for t in tenants]

    async def post_ours(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post("/api/v1/leads", json=lead_body(i), headers=auth[i % ORGS])

    async def post_floor(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post("/leads", json=lead_body(i), headers=org_header[i % ORGS])

    def list_page(page_cursor: str | None) -> Call:
        params = {"cursor": page_cursor} if page_cursor else {}

        async def get(client: httpx.AsyncClient, i: int) -> httpx.Response:
            return await client.get("/api/v1/leads", params=params, headers=auth[0])

        return get

    n, c = args.requests, args.clients
    # Warm-up: connection pools, the postal code index, plan caches.
    await drive("warm-up", ours, post_ours, 200, c, 201)
    await drive("warm-up", floor, post_floor, 200, c, 201)
    await drive("warm-up", ours, list_page(None), 100, c, 200)
    await drive("warm-up", ours, list_page(cursor), 100, c, 200)
    # This process's own full garbage collections walked everything it had
    # imported and built (httpx, eal's modules for the seeding), stalling all
    # clients at once for ~100 ms a few times per phase; frozen, they are skipped.
    gc.collect()
    gc.freeze()
    # Phases alternate over several rounds so a burst of background load on
    # the machine hits both sides of each ratio alike.
    phases: list[tuple[str, str, tuple[str, int], Call, int]] = [
        ("floor", "POST floor (raw asyncpg)", floor, post_floor, 201),
        ("ours", "POST /api/v1/leads", ours, post_ours, 201),
        ("page1", "GET /api/v1/leads page 1", ours, list_page(None), 200),
        ("deep", f"GET /api/v1/leads page {args.page:,}", ours, list_page(cursor), 200),
    ]
    runs: dict[str, Run] = {}
    per_round = max(1, n // args.rounds)
    for _ in range(args.rounds):
        for key, name, server, call, status in phases:
            run = await drive(name, server, call, per_round, c, status)
            if key in runs:
                total = runs[key]
                total.latencies += run.latencies
                total.seconds += run.seconds
                total.cpu_seconds += run.cpu_seconds
                total.client_cpu_seconds += run.client_cpu_seconds
                total.db_cpu_seconds += run.db_cpu_seconds
            else:
                runs[key] = run
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads to seed")
    parser.add_argument("--requests", type=int, default=4000, help="requests per measured phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per phase")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    args = parser.parse_args()
    biggest = split_leads(args.leads)[0]
    args.page = min(TARGET_PAGE, biggest // PAGE)
    if args.page < 2:
        parser.error("--leads is too small for a second page")

    with scratch_database(args.server) as url:
        tenants = asyncio.run(create_tenants(url))
        print(f"seeding {args.leads:,} leads across {ORGS} organizations...", file=sys.stderr)
        t0 = time.perf_counter()
        asyncio.run(seed(url, tenants, args.leads))
        seed_s = time.perf_counter() - t0
        cursor = asyncio.run(deep_cursor(url, tenants[0]["id"], args.page))
        with eal_server(url) as ours, floor_server(url) as floor:
            runs = asyncio.run(measure(ours, floor, tenants, cursor, args))

    floor_run, ours_run, page1, deep = runs["floor"], runs["ours"], runs["page1"], runs["deep"]
    create_ratio = ours_run.rate / floor_run.rate
    depth_p50, depth_p99 = deep.p50 / page1.p50, deep.p99 / page1.p99
    print(
        f"leads seeded: {args.leads:,} in {seed_s:.1f} s ({biggest:,} in the listed organization)"
    )
    print(
        f"{args.clients} concurrent clients, {args.requests:,} requests per phase "
        f"in {args.rounds} alternating rounds, one server process each"
    )
    for run in (floor_run, ours_run, page1, deep):
        print(run.line())
    print(
        f"create throughput ours/floor: {create_ratio:.2f}  "
        f"(target >= 0.5: {'PASS' if create_ratio >= 0.5 else 'FAIL'}); "
        f"p50 latency ours/floor: {ours_run.p50 / floor_run.p50:.2f}; "
        f"server CPU per create ours/floor: {ours_run.cpu_seconds / floor_run.cpu_seconds:.1f}"
    )
    print(
        f"list depth ratio page {args.page:,}/page 1: p50 {depth_p50:.2f}, p99 {depth_p99:.2f}  "
        f"(target < 1.5: {'PASS' if depth_p50 < 1.5 else 'FAIL'})"
    )
    print(
        json.dumps({"create_ratio": round(create_ratio, 3), "depth_ratio_p50": round(depth_p50, 3)})
    )


if __name__ == "__main__":
    main()
