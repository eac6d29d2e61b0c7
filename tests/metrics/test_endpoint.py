"""GET /metrics: off by default, the usual 404; on, counts by route template and the state gauges."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from sqlalchemy.engine import URL

from eal.config import Settings
from eal.db.engine import Database
from eal.metrics import UNMATCHED_ROUTE, scrape
from eal.metrics.collectors import CONTENT_TYPE, STATE
from tests.cli.servers import free_port
from tests.factories import Factory
from tests.jobs.support import defer_for, unique_name
from tests.metrics.support import metrics_client, sample, value

LEAD_ROUTE = "/api/v1/leads/{lead_id}"


async def test_metrics_are_off_by_default_and_answer_the_apis_404(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.metrics is False and settings.metrics_port is None
    r = await client.get("/metrics")
    unknown = await client.get("/no-such-page")
    assert r.status_code == 404
    assert r.headers["content-type"] == unknown.headers["content-type"]
    assert r.json()["error"]["code"] == unknown.json()["error"]["code"]


async def test_with_a_port_of_their_own_the_api_does_not_answer_them(settings: Settings) -> None:
    port = free_port()
    async with metrics_client(settings, metrics_port=port) as c:
        assert (await c.get("/metrics")).status_code == 404
        # The listener of their own answers instead.
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"http://127.0.0.1:{port}/metrics")
            assert r.status_code == 200
            assert "eal_http_requests_total" in r.text
            assert (await http.get(f"http://127.0.0.1:{port}/other")).status_code == 404


async def test_requests_are_counted_by_route_template_and_status(
    settings: Settings, factory: Factory
) -> None:
    tenant = await factory.tenant("Metrics Routes Co")
    async with metrics_client(settings) as c:
        lead = await c.post(
            "/api/v1/leads", json={"email": "m@example.com"}, headers=tenant.headers
        )
        assert lead.status_code == 201, lead.text
        lead_id = lead.json()["id"]
        labels = {"method": "GET", "route": LEAD_ROUTE, "status": "200"}
        before = value("eal_http_requests_total", **labels)
        timed = value("eal_http_request_duration_seconds_count", **labels)
        missing = value(
            "eal_http_requests_total", method="GET", route=UNMATCHED_ROUTE, status="404"
        )
        for _ in range(3):
            r = await c.get(f"/api/v1/leads/{lead_id}", headers=tenant.headers)
            assert r.status_code == 200
        await c.get("/api/v1/no/such/path/abc123")
        await c.request("BREW", "/api/v1/leads")

        r = await c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == CONTENT_TYPE
    text = r.text
    assert value("eal_http_requests_total", **labels) == before + 3
    assert value("eal_http_request_duration_seconds_count", **labels) == timed + 3
    assert sample(text, "eal_http_requests_total", **labels) == before + 3
    assert (
        value("eal_http_requests_total", method="GET", route=UNMATCHED_ROUTE, status="404")
        == missing + 1
    )
    # Templates and one label for the unmatched: never a raw path, id or made-up method.
    assert lead_id not in text and "abc123" not in text and "BREW" not in text
    assert 'route="/api/v1/leads",status="201"' in text
    assert 'method="other"' in text


async def test_the_queue_and_pool_gauges_are_read_at_scrape_time(
    settings: Settings, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Metrics Queue Co")
    task = unique_name("metrics_depth")
    async with metrics_client(settings) as c:
        for _ in range(2):
            await defer_for(db, tenant.id, task)
        text = (await c.get("/metrics")).text
        assert sample(text, "eal_job_queue_depth", task=task, status="queued") == 2
        assert sample(text, "eal_job_queue_depth", task=task, status="failed") == 0
        age = sample(text, "eal_job_queue_age_seconds", task=task)
        assert age is not None and age >= 0
        assert sample(text, "eal_db_pool_size", engine="app") is not None
        checked_out = sample(text, "eal_db_pool_checked_out", engine="system")
        assert checked_out is not None and checked_out >= 0

        # Emptied, the task still reads 0 rather than disappearing.
        async with db.system_transaction() as conn:
            from sqlalchemy import text as sql

            await conn.execute(sql("DELETE FROM pgqueuer WHERE entrypoint = :t"), {"t": task})
        text = (await c.get("/metrics")).text
        assert sample(text, "eal_job_queue_depth", task=task, status="queued") == 0


async def test_a_database_that_cannot_answer_never_fails_the_scrape(database_url: URL) -> None:
    # No query either: an embedded server's URL names its socket directory there.
    nowhere = database_url.set(host="127.0.0.1", port=free_port(), query={})
    unreachable = Database.connect(nowhere)
    errors = value("eal_metrics_collect_errors_total", source="job_queue")
    STATE.attach(unreachable)
    try:
        text = (await scrape()).decode()
    finally:
        STATE.detach(unreachable)
        await unreachable.dispose()
    assert "eal_http_requests_total" in text
    assert "eal_job_queue_depth" not in text  # left out, not made up
    assert value("eal_metrics_collect_errors_total", source="job_queue") == errors + 1


def test_the_metrics_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EAL_METRICS", "EAL_METRICS_PORT", "EAL_METRICS_HOST"):
        monkeypatch.delenv(name, raising=False)
    plain = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (plain.metrics_enabled, plain.metrics_on_api) == (False, False)
    monkeypatch.setenv("EAL_METRICS", "1")
    on = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (on.metrics_enabled, on.metrics_on_api, on.metrics_host) == (True, True, "127.0.0.1")
    monkeypatch.setenv("EAL_METRICS_PORT", "9464")
    port = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (port.metrics_enabled, port.metrics_on_api, port.metrics_port) == (True, False, 9464)
    monkeypatch.setenv("EAL_METRICS_PORT", "")
    assert Settings(_env_file=None).metrics_port is None  # type: ignore[call-arg]
    monkeypatch.setenv("EAL_METRICS_PORT", "70000")
    with pytest.raises(ValueError, match="EAL_METRICS_PORT"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_with_metrics_off_a_process_counts_nothing_and_never_loads_prometheus() -> None:
    # A fresh interpreter: in this one the fixtures have turned counting on.
    script = """
import sys
from eal import metrics
from eal.app import create_app
from eal.config import Settings
import eal.worker.main

create_app(Settings(database_url="postgresql://u@127.0.0.1:1/x"), run_worker=True)
metrics.count_send("sms", "sent")
metrics.observe_job("calls.classify", "done", 0.01)
assert not metrics.enabled()
assert "prometheus_client" not in sys.modules, "prometheus_client was imported"
metrics.enable()
assert metrics.enabled() and "prometheus_client" in sys.modules
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
