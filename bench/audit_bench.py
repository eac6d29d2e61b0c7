"""Audit log at scale: page depth cost and CSV export throughput/memory.

Seeds N audit entries (default 1,000,000) for one organization in a scratch
database on the local PostgreSQL server, runs a real `eal serve` process and
prints:
- latency of page 1 vs page 5,000 of GET /audit-log (limit 200) and their
  ratio (target: under 1.5; keyset paging makes depth free);
- CSV export rows/s (target: at least 200,000) and the server's peak RSS
  during the export (target: under 200 MB), for each of --exports runs, then
  their spread. PostgreSQL's COPY writes the CSV; the server only relays
  bounded chunks, so RSS should stay where it was before the export.

The client counts rows as line breaks in the raw body (no seeded cell holds
one) and checks the header row and the final line break, so its own CPU
stays small next to the server's on a 2-core machine.

    python bench/audit_bench.py [--entries 1000000] [--exports 3] [--server postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, cli_json, eal_server, percentile, scratch_database

PAGE = 200
TARGET_PAGE = 5000
SAMPLES = 30
TARGET_ROWS_PER_S = 200_000
TARGET_RSS = 200 * 2**20
HEADER = b"id,organization_id,created_at,action,source,correlation_id,payload\n"


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


@dataclass
class Export:
    """One timed export: rows, seconds, and the server's RSS before and at its peak."""

    rows: int
    seconds: float
    rss_before: int
    rss_peak: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def time_export(client: httpx.Client, pid: int) -> Export:
    """Download the whole CSV once while sampling the server's RSS every 50 ms."""
    proc = psutil.Process(pid)
    rss_before = proc.memory_info().rss
    peak = rss_before
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = 0
    head = b""
    last = b""
    t0 = time.perf_counter()
    try:
        with client.stream("GET", "/api/v1/audit-log/export.csv") as r:
            r.raise_for_status()
            for chunk in r.iter_raw():
                if len(head) < len(HEADER):
                    head += chunk[: len(HEADER) - len(head)]
                lines += chunk.count(b"\n")
                last = chunk[-1:] or last
    finally:
        seconds = time.perf_counter() - t0
        stop.set()
        sampler.join()
    assert head == HEADER, f"unexpected header row: {head!r}"
    assert last == b"\n", "the export does not end with a line break"
    return Export(lines - 1, seconds, rss_before, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--exports", type=int, default=3, help="timed CSV exports (spread)")
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
                exports = []
                for n in range(1, args.exports + 1):
                    exports.append(time_export(client, pid))
                    e = exports[-1]
                    print(
                        f"  export {n}: {e.rows:,} rows in {e.seconds:.2f} s = {e.rate:,.0f} rows/s, "
                        f"RSS {e.rss_before / 2**20:.0f} -> {e.rss_peak / 2**20:.0f} MB",
                        file=sys.stderr,
                    )

    expected_rows = args.entries + 2  # the seeded entries, organization + key creation
    assert all(e.rows == expected_rows for e in exports), [e.rows for e in exports]
    p1, pd = percentile(first, 50), percentile(deep, 50)
    ratio = pd / p1
    ranked = sorted(exports, key=lambda e: e.rate)
    median = ranked[len(ranked) // 2]
    peak = max(e.rss_peak for e in exports)
    growth = max(e.rss_peak - e.rss_before for e in exports)
    print(f"entries seeded:           {args.entries:,} in {seed_s:.1f} s")
    print(f"page 1 latency (p50/p99): {p1:.1f} / {percentile(first, 99):.1f} ms (limit {PAGE})")
    print(f"page {target_page:,} latency (p50/p99): {pd:.1f} / {percentile(deep, 99):.1f} ms")
    print(
        f"depth ratio page {target_page:,}/page 1: {ratio:.2f}  (target < 1.5: {'PASS' if ratio < 1.5 else 'FAIL'})"
    )
    print(
        f"CSV export (median of {len(ranked)}): {median.rows:,} rows in {median.seconds:.2f} s "
        f"= {median.rate:,.0f} rows/s (target >= {TARGET_ROWS_PER_S:,}: "
        f"{'PASS' if median.rate >= TARGET_ROWS_PER_S else 'FAIL'})"
    )
    print(f"CSV export spread: min {ranked[0].rate:,.0f} / max {ranked[-1].rate:,.0f} rows/s")
    print(
        f"server RSS: before {exports[0].rss_before / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB, "
        f"export growth {growth / 2**20:.1f} MB "
        f"(target < 200 MB: {'PASS' if peak < TARGET_RSS else 'FAIL'})"
    )


if __name__ == "__main__":
    main()
