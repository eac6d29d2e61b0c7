"""Console pages: server time per page with 100,000 leads and 100,000 calls in one organization.

In a scratch database on the local PostgreSQL server, one organization gets
100,000 leads (spread over the pipeline stages), 100,000 calls (classified
and not, every dispatch action), audit entries, claims and a webhook
endpoint. Each console page is then requested in-process (the app through
its ASGI interface, so the time is the server's: routing, the session, the
queries and the template) as a signed-in owner; printed per page: median and
95th percentile over the runs, and the ratio to the target (200 ms).

    python bench/console_bench.py [--leads 100000] [--calls 100000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, scratch_database

TARGET_MS = 200.0

_SEED = [
    """INSERT INTO leads (organization_id, name, company, email, source, lead_score,
         pipeline_stage, ai_reasoning, message, created_at, updated_at)
       SELECT :org, 'Lead ' || g, 'Company ' || (g % 5000), 'lead' || g || '@example.com',
         'website', g % 101,
         (ARRAY['new','contacted','qualified','proposal','won','lost'])[1 + g % 6],
         'Water loss, high urgency.', 'Water in the basement after the storm',
         now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
       FROM generate_series(1, :leads) AS g""",
    """INSERT INTO calls (organization_id, source, external_id, tracking_number, caller_number,
         caller_number_valid, caller_name, duration_seconds, received_at, transcript, status,
         intent, urgency, qualified, confidence, dispatch_action, created_at, updated_at)
       SELECT :org, 'api', 'bench-' || g, '+17705550199', '+1404555' || lpad((g % 10000)::text, 4, '0'),
         true, 'Caller ' || g, 30 + g % 600, now() - (g * 7 || ' seconds')::interval,
         'My basement is flooding, can someone come today?',
         CASE WHEN g % 10 = 0 THEN 'received' ELSE 'classified' END,
         CASE WHEN g % 10 = 0 THEN NULL
              ELSE (ARRAY['water','fire','mold','biohazard','sales_pitch','wrong_number','other'])[1 + g % 7] END,
         CASE WHEN g % 10 = 0 THEN NULL ELSE (ARRAY['high','medium','low'])[1 + g % 3] END,
         CASE WHEN g % 10 = 0 THEN NULL ELSE g % 2 = 0 END,
         CASE WHEN g % 10 = 0 THEN NULL ELSE 0.9 END,
         CASE WHEN g % 10 = 0 THEN NULL
              ELSE (ARRAY['auto_dispatch','owner_review','callback_queue','ignore'])[1 + g % 4] END,
         now(), now()
       FROM generate_series(1, :calls) AS g""",
]


async def _seed(runtime: Any, org: Any, leads: int, calls: int) -> None:
    from sqlalchemy import text

    async with runtime.db.system_transaction() as conn:
        await conn.execute(
            text("SELECT set_config('app.organization_id', :o, true)"), {"o": str(org)}
        )
        for statement in _SEED:
            await conn.execute(text(statement), {"org": org, "leads": leads, "calls": calls})
        await conn.execute(text("ANALYZE leads"))
        await conn.execute(text("ANALYZE calls"))


async def run(database_url: str, leads: int, calls: int, runs: int) -> dict[str, Any]:
    import httpx
    from tests.console.support import add_user, sign_in
    from tests.factories import Factory

    from eal.app import create_app
    from eal.config import Settings

    settings = Settings(
        database_url=database_url,
        data_dir=Path(tempfile.mkdtemp(prefix="eal-console-bench-")),
        secret_key="bench-secret-key",
        public_url="http://testserver",
        rate_limit_per_minute=1_000_000,
        rate_limit_burst=1_000_000,
        allow_private_webhook_urls=True,
        access_log=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        factory = Factory(runtime.db)
        tenant = await factory.tenant("Console Bench Co")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=tenant.headers
        ) as api:
            for n in range(20):
                await api.post(
                    "/api/v1/claims", json={"loss_type": "water", "job_external_ref": f"jn_{n}"}
                )
            hook = await api.post(
                "/api/v1/webhooks",
                json={"url": "https://127.0.0.1:9/eal", "events": ["lead.created"]},
            )
            for n in range(200):
                await api.post("/api/v1/leads", json={"email": f"audit{n}@example.com"})
            await _seed(runtime, tenant.id, leads, calls)
            call_id = (await api.get("/api/v1/calls", params={"limit": 1})).json()["data"][0]["id"]
            lead_id = (await api.get("/api/v1/leads", params={"limit": 1})).json()["data"][0]["id"]
            claim_id = (await api.get("/api/v1/claims", params={"limit": 1})).json()["data"][0][
                "id"
            ]
        link = await add_user(runtime.db, tenant.id, "owner@bench.example", "owner")
        pages = {
            "today": "/console",
            "leads board": "/console/leads",
            "leads stage": "/console/leads?stage=qualified",
            "leads search": "/console/leads?q=company%2042",
            "lead": f"/console/leads/{lead_id}",
            "calls": "/console/calls",
            "calls filtered": "/console/calls?classification=water&urgency=high&dispatch_action=auto_dispatch",
            "call": f"/console/calls/{call_id}",
            "claims": "/console/claims",
            "claim": f"/console/claims/{claim_id}",
            "content": "/console/content",
            "outreach": "/console/outreach",
            "settings": "/console/settings",
            "webhook": f"/console/settings/webhooks/{hook.json()['id']}",
            "audit log": "/console/audit-log",
        }
        figures: dict[str, Any] = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
            await sign_in(browser, link)
            # A deep page of the calls list: its cursor from following "Older calls" once.
            first = await browser.get("/console/calls")
            older = re.search(r'href="(/console/calls\?cursor=[^"]+)"', first.text)
            if older:
                pages["calls page 2"] = older.group(1).replace("&amp;", "&")
            for name, path in pages.items():
                timings = []
                for _ in range(runs):
                    started = time.perf_counter()
                    response = await browser.get(path)
                    timings.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (name, response.status_code)
                timings.sort()
                median = statistics.median(timings)
                p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
                figures[name] = {
                    "median_ms": round(median, 1),
                    "p95_ms": round(p95, 1),
                    "ratio": round(TARGET_MS / p95, 1),
                }
        return {
            "leads": leads,
            "calls": calls,
            "runs": runs,
            "target_ms": TARGET_MS,
            "pages": figures,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with scratch_database(args.server) as url:
        figures = asyncio.run(run(url, args.leads, args.calls, args.runs))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
