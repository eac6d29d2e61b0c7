"""`eal orgs list` and `eal keys list` as real subprocesses."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from eal.db.engine import Database
from tests.cli.servers import cli_env, run_eal, run_eal_json

ORG_FIELDS = {"id", "name", "parent_organization_id", "created_at"}
KEY_FIELDS = {
    "id",
    "name",
    "prefix",
    "scopes",
    "environment",
    "created_at",
    "last_used_at",
    "revoked_at",
}


@pytest.fixture
def env(database_url: URL, tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, database_url)


def _last_line(stderr: str) -> str:
    """The error line a failed command ends with (after whatever it logged before)."""
    return stderr.rstrip("\n").rsplit("\n", 1)[-1]


def _ids(listed: dict[str, Any], field: str) -> list[str]:
    return [item["id"] for item in listed[field]]


async def test_orgs_list_pages_through_every_organization_in_creation_order(
    env: dict[str, str], tmp_path: Path, db: Database
) -> None:
    hq = run_eal_json(["orgs", "create", "--name", "Listed HQ"], env, tmp_path)
    made = [
        run_eal_json(
            ["orgs", "create", "--name", f"Listed {n}", "--parent", hq["id"]], env, tmp_path
        )
        for n in range(3)
    ]

    first = run_eal_json(["orgs", "list", "--after", hq["id"], "--limit", "2"], env, tmp_path)
    assert _ids(first, "organizations") == [made[0]["id"], made[1]["id"]]
    assert first["count"] == 2
    assert first["next_after"] == made[1]["id"]
    assert {
        "id": made[0]["id"],
        "name": "Listed 0",
        "parent_organization_id": hq["id"],
        "created_at": made[0]["created_at"],
    } == first["organizations"][0]
    last = run_eal_json(["orgs", "list", "--after", first["next_after"]], env, tmp_path)
    assert _ids(last, "organizations") == [made[2]["id"]]
    assert (last["count"], last["next_after"]) == (1, None)

    # Without --after the list starts at the oldest organization of all.
    async with db.system_transaction() as conn:
        oldest = await conn.scalar(
            text("SELECT id::text FROM organizations ORDER BY created_at, id LIMIT 1")
        )
        total = await conn.scalar(text("SELECT count(*) FROM organizations"))
    opening = run_eal_json(["orgs", "list", "--limit", "3"], env, tmp_path)
    assert opening["organizations"][0]["id"] == oldest
    assert all(set(org) == ORG_FIELDS for org in opening["organizations"])
    assert opening["next_after"] == (opening["organizations"][-1]["id"] if total > 3 else None)


def test_orgs_list_refuses_an_unknown_position(env: dict[str, str], tmp_path: Path) -> None:
    missing = str(uuid.uuid4())
    result = run_eal(["orgs", "list", "--after", missing], env, tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert _last_line(result.stderr) == f"error: --after: organization {missing} does not exist"


async def test_keys_list_shows_every_key_of_the_org_and_no_secret(
    env: dict[str, str], tmp_path: Path, db: Database, client: httpx.AsyncClient
) -> None:
    org = run_eal_json(["orgs", "create", "--name", "Key Ring Co"], env, tmp_path)
    other = run_eal_json(["orgs", "create", "--name", "Other Ring Co"], env, tmp_path)
    issued = [
        run_eal_json(
            ["keys", "create", "--org", org["id"], "--scopes", "read,write", "--name", "CRM"],
            env,
            tmp_path,
        ),
        run_eal_json(
            ["keys", "create", "--org", org["id"], "--environment", "test"], env, tmp_path
        ),
        run_eal_json(["keys", "create", "--org", org["id"], "--scopes", "admin"], env, tmp_path),
    ]
    run_eal_json(["keys", "create", "--org", other["id"]], env, tmp_path)
    used = await client.get(
        "/api/v1/health", headers={"Authorization": f"Bearer {issued[0]['key']}"}
    )
    assert used.status_code == 200
    revoked = run_eal_json(["keys", "revoke", issued[2]["id"]], env, tmp_path)

    result = run_eal(["keys", "list", "--org", org["id"]], env, tmp_path)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert listed["organization_id"] == org["id"]
    assert (listed["count"], listed["next_after"]) == (3, None)
    assert _ids(listed, "keys") == [key["id"] for key in issued]
    assert all(set(key) == KEY_FIELDS for key in listed["keys"])
    crm, test_key, admin = listed["keys"]
    assert crm == {
        "id": issued[0]["id"],
        "name": "CRM",
        "prefix": issued[0]["prefix"],
        "scopes": ["read", "write"],
        "environment": "live",
        "created_at": issued[0]["created_at"],
        "last_used_at": crm["last_used_at"],
        "revoked_at": None,
    }
    assert crm["last_used_at"] is not None
    assert (test_key["environment"], test_key["name"], test_key["last_used_at"]) == (
        "test",
        None,
        None,
    )
    assert admin["revoked_at"] == revoked["revoked_at"]
    for key in issued:
        assert key["key"] not in result.stdout
    async with db.system_transaction() as conn:
        stored = await conn.scalar(
            text("SELECT encode(key_hash, 'hex') FROM api_keys WHERE id = :id"),
            {"id": issued[0]["id"]},
        )
    assert stored not in result.stdout

    page = run_eal_json(["keys", "list", "--org", org["id"], "--limit", "2"], env, tmp_path)
    assert _ids(page, "keys") == [issued[0]["id"], issued[1]["id"]]
    assert page["next_after"] == issued[1]["id"]
    rest = run_eal_json(
        ["keys", "list", "--org", org["id"], "--after", page["next_after"]], env, tmp_path
    )
    assert (_ids(rest, "keys"), rest["next_after"]) == ([issued[2]["id"]], None)


def test_keys_list_refuses_an_unknown_org_or_a_foreign_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    missing = str(uuid.uuid4())
    unknown = run_eal(["keys", "list", "--org", missing], env, tmp_path)
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert _last_line(unknown.stderr) == f"error: --org: organization {missing} does not exist"

    org = run_eal_json(["orgs", "create", "--name", "Cursor Co"], env, tmp_path)
    other = run_eal_json(["orgs", "create", "--name", "Foreign Cursor Co"], env, tmp_path)
    foreign = run_eal_json(["keys", "create", "--org", other["id"]], env, tmp_path)
    result = run_eal(["keys", "list", "--org", org["id"], "--after", foreign["id"]], env, tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert _last_line(result.stderr) == (
        f"error: --after: organization {org['id']} has no API key {foreign['id']}"
    )
