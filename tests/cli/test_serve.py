"""`eal serve` end to end: against the test database, and on a fresh embedded PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import URL

from tests.cli.servers import Child, cli_env, eal_serve, run_eal_json


def _first_json_line(child: Child, timeout: float = 10) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in child.stdout().splitlines():
            if line.strip():
                obj = json.loads(line)
                assert isinstance(obj, dict)
                return obj
        time.sleep(0.1)
    return None


def test_serve_against_the_configured_database(database_url: URL, tmp_path: Path) -> None:
    env = cli_env(tmp_path, database_url)
    run_eal_json(["orgs", "create", "--name", "Already There Co"], env, tmp_path)
    with eal_serve(env, tmp_path) as (base, child):
        # The CLI works while the server runs on the same database.
        org = run_eal_json(["orgs", "create", "--name", "Served Co"], env, tmp_path)
        key = run_eal_json(
            ["keys", "create", "--org", org["id"], "--scopes", "read"], env, tmp_path
        )
        headers = {"Authorization": f"Bearer {key['key']}"}

        me = httpx.get(f"{base}/api/v1/organizations/me", headers=headers, timeout=10)
        assert me.status_code == 200
        assert me.json()["id"] == org["id"]
        health = httpx.get(f"{base}/api/v1/health", headers=headers, timeout=10).json()
        assert health["status"] == "ok"
        assert health["tenant_id"] == org["id"]

        run_eal_json(["keys", "revoke", key["id"]], env, tmp_path)
        again = httpx.get(f"{base}/api/v1/organizations/me", headers=headers, timeout=10)
        assert again.status_code == 401
        assert child.popen.poll() is None
    # Organizations already exist: no first-start key is printed.
    assert child.stdout() == ""
    # SIGTERM is a graceful, successful shutdown.
    assert child.popen.returncode == 0
    assert "Traceback" not in child.stderr()


def test_serve_starts_an_embedded_database_and_bootstraps_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(data_dir, None)

    with eal_serve(env, tmp_path, timeout=90) as (base, first):
        created = _first_json_line(first)
        assert created is not None, first.stderr()
        key = created["api_key"]["key"]
        assert key.startswith("eal_live_")
        assert created["api_key"]["scopes"] == ["admin"]
        me = httpx.get(
            f"{base}/api/v1/organizations/me",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert me.status_code == 200
        assert me.json()["id"] == created["organization"]["id"]

        # A CLI command attaches to the running embedded server and leaves it running.
        org = run_eal_json(["orgs", "create", "--name", "Embedded Branch"], env, tmp_path)
        branch_key = run_eal_json(["keys", "create", "--org", org["id"]], env, tmp_path)["key"]
        branch = httpx.get(
            f"{base}/api/v1/organizations/me",
            headers={"Authorization": f"Bearer {branch_key}"},
            timeout=10,
        )
        assert branch.status_code == 200
        assert branch.json()["name"] == "Embedded Branch"
    assert len(first.stdout().splitlines()) == 1, "exactly one JSON object on stdout"
    assert (data_dir / "pgdata" / "PG_VERSION").exists()
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "PostgreSQL left running"

    with eal_serve(env, tmp_path, timeout=90) as (base, second):
        me = httpx.get(
            f"{base}/api/v1/organizations/me",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert me.status_code == 200, "the data survived the restart"
    assert second.stdout() == "", "the admin key is printed on the first start only"
    assert second.popen.returncode == 0
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "PostgreSQL left running"
