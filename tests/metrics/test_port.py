"""EAL_METRICS_PORT: a real `eal serve` and a real `eal worker` each serve their metrics on a
port of their own; the API's port answers 404; their logs hold no key."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import URL

from tests.cli.servers import EAL, cli_env, eal_serve, free_port, process, run_eal_json
from tests.metrics.support import sample


def _scrape(port: int, within: float = 30) -> str:
    deadline = time.monotonic() + within
    while True:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            assert r.status_code == 200
            return r.text
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"nothing answers on port {port}"
            time.sleep(0.1)


def test_serve_exports_on_its_own_port_and_logs_no_key(database_url: URL, tmp_path: Path) -> None:
    port = free_port()
    env = cli_env(tmp_path, database_url, EAL_METRICS_PORT=str(port), EAL_LOG_LEVEL="DEBUG")
    org = run_eal_json(["orgs", "create", "--name", "Metrics Port Co"], env, tmp_path)
    key = run_eal_json(["keys", "create", "--org", org["id"], "--scopes", "write"], env, tmp_path)[
        "key"
    ]
    with eal_serve(env, tmp_path) as (base, child):
        headers = {"Authorization": f"Bearer {key}"}
        lead = httpx.post(
            f"{base}/api/v1/leads", json={"email": "port@example.com"}, headers=headers, timeout=10
        )
        assert lead.status_code == 201, lead.text
        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 404
        text = _scrape(port)
        labels = {"method": "POST", "route": "/api/v1/leads", "status": "201"}
        assert sample(text, "eal_http_requests_total", **labels) == 1
        assert sample(text, "eal_db_pool_size", engine="app") is not None
    stderr = child.stderr()
    assert key not in stderr and key.removeprefix("eal_live_") not in stderr
    requests = [
        json.loads(line)
        for line in stderr.splitlines()
        if line.startswith("{") and '"event":"request"' in line
    ]
    assert requests
    for line in requests:
        assert line["request_id"] and "organization_id" in line
    assert {line["organization_id"] for line in requests if line["route"] == "/api/v1/leads"} == {
        org["id"]
    }


def test_the_worker_exports_on_its_own_port(database_url: URL, tmp_path: Path) -> None:
    port = free_port()
    env = cli_env(tmp_path, database_url, EAL_METRICS_PORT=str(port))
    with process([EAL, "worker"], env, tmp_path) as worker:
        text = _scrape(port)
        assert worker.popen.poll() is None, worker.stderr()
        assert sample(text, "eal_db_pool_size", engine="system") is not None
        assert "eal_jobs_total" in text
        missing = httpx.get(f"http://127.0.0.1:{port}/elsewhere", timeout=5)
        assert missing.status_code == 404
        assert worker.stop() == 0
    assert "Traceback" not in worker.stderr()
