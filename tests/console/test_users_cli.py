"""`eal users create|link` as real subprocesses: the printed link signs the person in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from tests.cli.servers import cli_env, run_eal, run_eal_json
from tests.console.support import browser, sign_in


@pytest.fixture
def env(database_url: URL, tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, database_url)


async def test_users_create_prints_a_link_that_signs_in(
    env: dict[str, str], tmp_path: Path, app: Any
) -> None:
    org = run_eal_json(["orgs", "create", "--name", "CLI Console Co"], env, tmp_path)
    user = run_eal_json(
        ["users", "create", "--org", org["id"], "--email", "PM@Example.com", "--role", "manager"],
        env,
        tmp_path,
    )
    assert (user["email"], user["role"]) == ("pm@example.com", "manager")
    assert user["sign_in_expires_in_hours"] == 24
    base = env.get("EAL_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    assert user["sign_in_url"].startswith(f"{base}/console/sign-in/csl_")
    async with browser(app) as client:
        await sign_in(client, user["sign_in_url"].removeprefix(base))
        today = await client.get("/console")
        assert "pm@example.com" in today.text and "(manager)" in today.text

    again = run_eal(
        ["users", "create", "--org", org["id"], "--email", "pm@example.com"], env, tmp_path
    )
    assert again.returncode == 1 and "already a console user" in again.stderr
    fresh = run_eal_json(
        ["users", "link", "--org", org["id"], "--email", "pm@example.com"], env, tmp_path
    )
    assert fresh["sign_in_url"] != user["sign_in_url"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "a@example.com", "--role", "admin"], "--role"),
        (["--email", "not-an-address"], "--email"),
    ],
)
async def test_users_create_refuses_bad_options(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    org = run_eal_json(["orgs", "create", "--name", "CLI Bad Users Co"], env, tmp_path)
    result = run_eal(["users", "create", "--org", org["id"], *args], env, tmp_path)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""
