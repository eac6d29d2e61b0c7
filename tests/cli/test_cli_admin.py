"""`eal orgs create`, `eal keys create|revoke`, `eal migrate` as real subprocesses."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from eal.db.engine import Database
from eal.db.migrate import head_revisions
from tests.cli.servers import cli_env, run_eal, run_eal_json


@pytest.fixture
def env(database_url: URL, tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, database_url)


async def _count_named(db: Database, name: str) -> int:
    async with db.system_transaction() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM organizations WHERE name = :n"), {"n": name}
        )
    return int(count or 0)


async def test_orgs_create_prints_the_organization(
    env: dict[str, str], tmp_path: Path, db: Database
) -> None:
    org = run_eal_json(
        ["orgs", "create", "--name", "Flood Pros", "--timezone", "America/Chicago"], env, tmp_path
    )
    assert org["name"] == "Flood Pros"
    assert org["parent_organization_id"] is None
    assert org["industry"] == "restoration"
    assert org["settings"]["timezone"] == "America/Chicago"

    async with db.system_transaction() as conn:
        row = (
            await conn.execute(
                text("SELECT name, settings FROM organizations WHERE id = :id"), {"id": org["id"]}
            )
        ).one()
        actions = await conn.scalar(
            text("SELECT array_agg(action) FROM platform_events WHERE organization_id = :id"),
            {"id": org["id"]},
        )
    assert row.name == "Flood Pros"
    assert row.settings["timezone"] == "America/Chicago"
    assert actions == ["organization.created"]


async def test_orgs_create_with_a_parent(
    env: dict[str, str], tmp_path: Path, client: httpx.AsyncClient
) -> None:
    parent = run_eal_json(["orgs", "create", "--name", "Network HQ"], env, tmp_path)
    child = run_eal_json(
        ["orgs", "create", "--name", "Network East", "--parent", parent["id"]], env, tmp_path
    )
    assert child["parent_organization_id"] == parent["id"]

    key = run_eal_json(
        ["keys", "create", "--org", parent["id"], "--scopes", "admin"], env, tmp_path
    )
    listed = await client.get(
        "/api/v1/organizations", headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["data"]] == [child["id"]]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--timezone", "Mars/Olympus_Mons"], "time zone"),
        (["--timezone", "EST5EDT-ish"], "time zone"),
        (["--parent", str(uuid.uuid4())], "does not exist"),
        (["--parent", "not-a-uuid"], "UUID"),
        (["--industry", "bakery"], "--industry"),
    ],
)
async def test_orgs_create_refuses_bad_input_and_creates_nothing(
    env: dict[str, str], tmp_path: Path, db: Database, extra: list[str], message: str
) -> None:
    name = f"Rejected {uuid.uuid4().hex[:8]}"
    result = run_eal(["orgs", "create", "--name", name, *extra], env, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert await _count_named(db, name) == 0


async def test_keys_create_issues_a_working_key(
    env: dict[str, str], tmp_path: Path, client: httpx.AsyncClient
) -> None:
    org = run_eal_json(["orgs", "create", "--name", "Keyed Co"], env, tmp_path)
    key = run_eal_json(
        ["keys", "create", "--org", org["id"], "--scopes", "read,write", "--name", "CI"],
        env,
        tmp_path,
    )
    assert key["scopes"] == ["read", "write"]
    assert key["environment"] == "live"
    assert key["name"] == "CI"
    assert key["key"].startswith("eal_live_")
    uuid.UUID(key["id"])

    headers = {"Authorization": f"Bearer {key['key']}"}
    me = await client.get("/api/v1/organizations/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["id"] == org["id"]
    health = (await client.get("/api/v1/health", headers=headers)).json()
    assert (health["tenant_id"], health["scopes"]) == (org["id"], ["read", "write"])

    test_key = run_eal_json(
        ["keys", "create", "--org", org["id"], "--scopes", "read", "--environment", "test"],
        env,
        tmp_path,
    )
    assert test_key["environment"] == "test"
    assert test_key["key"].startswith("eal_test_")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "read,superuser"], "superuser"),
        (["--scopes", ","], "--scopes"),
        (["--environment", "staging"], "staging"),
    ],
)
async def test_keys_create_refuses_bad_options(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    org = run_eal_json(["orgs", "create", "--name", "Bad Key Co"], env, tmp_path)
    result = run_eal(["keys", "create", "--org", org["id"], *args], env, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""
    unknown = run_eal(["keys", "create", "--org", str(uuid.uuid4())], env, tmp_path)
    assert unknown.returncode != 0
    assert "does not exist" in unknown.stderr


async def test_keys_revoke_stops_the_key(
    env: dict[str, str], tmp_path: Path, client: httpx.AsyncClient
) -> None:
    org = run_eal_json(["orgs", "create", "--name", "Revoked Co"], env, tmp_path)
    key = run_eal_json(["keys", "create", "--org", org["id"], "--scopes", "read"], env, tmp_path)
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert (await client.get("/api/v1/organizations/me", headers=headers)).status_code == 200

    revoked = run_eal_json(["keys", "revoke", key["id"]], env, tmp_path)
    assert revoked["id"] == key["id"]
    assert revoked["revoked_at"]
    response = await client.get("/api/v1/organizations/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"

    again = run_eal(["keys", "revoke", key["id"]], env, tmp_path)
    assert again.returncode != 0
    assert "already revoked" in again.stderr
    missing = run_eal(["keys", "revoke", str(uuid.uuid4())], env, tmp_path)
    assert missing.returncode != 0
    assert "no API key" in missing.stderr


def test_migrate_prints_json(env: dict[str, str], tmp_path: Path, database_url: URL) -> None:
    out = run_eal_json(["migrate"], env, tmp_path)
    assert out == {"status": "ok", "revisions": head_revisions(database_url)}
