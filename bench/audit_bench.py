"""Audit log at scale: page depth cost and CSV export throughput/memory.

Seeds N audit entries (default 1,000,000) for one organization in a scratch
database on the local PostgreSQL server, runs a real `eal serve` process and
prints:
- latency of page 1 vs page 5,000 of GET /audit-log (limit 200) and their
  ratio (target: under 1.5; keyset paging makes depth free);
- CSV export rows/s and the server's peak RSS during the export (target:
  under 200 MB; the export streams through a server-side cursor).

    python bench/audit_bench.py [--entries 1000000] [--server postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, cli_json, eal_server, percentile, scratch_database

PAGE = 200
TARGET_PAGE = 5000
SAMPLES = 30


async def seed(database_url: str, org_id: str, entries: int) -> None:
    """Insert `entries` rows through the real chain trigger, in batches."""
    conn = await asyncpg.connect(database_url)
    try:
        batch = 200  # one transaction per batch, as a busy organization would write
        done = 0
        while done < entries:
            n = min(batch, entries - done)
            await conn.execute(
                """
                INSERT INTO platform_events (organization_id, action, source, correlation_id,
                                             payload, created_at, seq, prev_hash, hash)
                SELECT $1::uuid, CASE WHEN g % 3 = 0 THEN 'lead.updated' ELSE 'lead.created' END,
                       'api', 'bench_' || g,
                       jsonb_build_object('lead_id', gen_random_uuid(), 'diff',
                         jsonb_build_object('lead_score', jsonb_build_object('from', g % 100, 'to', (g + 7) % 100))),
                       now() - make_interval(secs => ($2 + g) / 1000.0), 0, ''::bytea, ''::bytea
                FROM generate_series(1, $3) AS g
                """,
                org_id,
                done,
                n,
            )
            done += n
            if done % 50_000 == 0 or done == entries:
                print(f"  seeded {done:,} entries", file=sys.stderr)
    finally:
        await conn.close()


async def cursor_for_page(database_url: str, org_id: str, page: int) -> str:
    """The cursor a client would hold after walking page-1 pages (computed directly)."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT created_at, id FROM platform_events WHERE organization_id = $1 "
            "ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            org_id,
            (page - 1) * PAGE - 1,
        )
    finally:
        await conn.close()
    raw = json.dumps({"created_at": row["created_at"].isoformat(), "id": str(row["id"])})
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def time_page(client: httpx.Client, cursor: str | None) -> list[float]:
    params: dict[str, str | int] = {"limit": PAGE}
    if cursor:
        params["cursor"] = cursor
    timings = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        r = client.get("/api/v1/audit-log", params=params)
        timings.append((time.perf_counter() - start) * 1000)
        r.raise_for_status()
        assert len(r.json()["data"]) == PAGE
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    args = parser.parse_args()
    target_page = min(TARGET_PAGE, args.entries // PAGE)

    with scratch_database(args.server) as url:
        org = cli_json(url, "orgs", "create", "--name", "Bench Audit Org")
        key = cli_json(url, "keys", "create", "--org", str(org["id"]), "--scopes", "read")
        print(f"seeding {args.entries:,} audit entries...", file=sys.stderr)
        t0 = time.perf_counter()
        asyncio.run(seed(url, str(org["id"]), args.entries))
        seed_s = time.perf_counter() - t0
        deep_cursor = asyncio.run(cursor_for_page(url, str(org["id"]), target_page))

        with eal_server(url) as (base, pid):
            headers = {"Authorization": f"Bearer {key['key']}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                time_page(client, None)  # warm-up
                first = time_page(client, None)
                deep = time_page(client, deep_cursor)

                proc = psutil.Process(pid)
                peak = proc.memory_info().rss
                stop = threading.Event()

                def sample() -> None:
                    nonlocal peak
                    while not stop.is_set():
                        peak = max(peak, proc.memory_info().rss)
                        time.sleep(0.05)

                sampler = threading.Thread(target=sample, daemon=True)
                rss_before = proc.memory_info().rss
                sampler.start()
                rows = 0
                t0 = time.perf_counter()
                with client.stream("GET", "/api/v1/audit-log/export.csv") as r:
                    r.raise_for_status()
                    for line in r.iter_lines():
                        if line:
                            rows += 1
                export_s = time.perf_counter() - t0
                stop.set()
                sampler.join()

    rows -= 1  # header
    p1, pd = percentile(first, 50), percentile(deep, 50)
    ratio = pd / p1
    print(f"entries seeded:           {args.entries:,} in {seed_s:.1f} s")
    print(f"page 1 latency (p50/p99): {p1:.1f} / {percentile(first, 99):.1f} ms (limit {PAGE})")
    print(f"page {target_page:,} latency (p50/p99): {pd:.1f} / {percentile(deep, 99):.1f} ms")
    print(
        f"depth ratio page {target_page:,}/page 1: {ratio:.2f}  (target < 1.5: {'PASS' if ratio < 1.5 else 'FAIL'})"
    )
    print(f"CSV export: {rows:,} rows in {export_s:.1f} s = {rows / export_s:,.0f} rows/s")
    print(
        f"server RSS: before {rss_before / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB "
        f"(target < 200 MB: {'PASS' if peak < 200 * 2**20 else 'FAIL'})"
    )


if __name__ == "__main__":
    main()
