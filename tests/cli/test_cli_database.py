"""The CLI says which database it uses, and never silently makes a new, empty one.

Only `eal serve` and `eal migrate` create a database. Every other command
(`eal worker` included) refuses a data directory that holds none, or a
DATABASE_URL whose database eal never set up, and says how to point it at the
right one; every command names the database it used on stderr.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from tests.cli.servers import EAL, cli_env, free_port, run_eal, run_eal_json

ORG = "00000000-0000-4000-8000-000000000001"
#: A command of every group that works on the database (they all go through one check).
DATABASE_COMMANDS = [
    ["orgs", "create", "--name", "Wrong Place Co"],
    ["keys", "revoke", ORG],
    ["audit", "verify"],
    ["jobs", "list"],
    ["secrets", "rotate"],
    ["worker"],
]


def _using_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("using database ")]


def _admin(url: URL, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(
            user=url.username or "postgres",
            password=url.password,
            host=url.query.get("host") or url.host,
            port=url.port or 5432,
            database=url.database or "postgres",
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture
def empty_database(database_url: URL) -> Iterator[URL]:
    """A database on the test server that eal never migrated."""
    name = f"eal_empty_{os.getpid()}_{secrets.token_hex(4)}"
    _admin(database_url, f"CREATE DATABASE {name}")
    try:
        yield database_url.set(database=name)
    finally:
        _admin(database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_command_refuses_a_data_dir_without_a_database(tmp_path: Path, args: list[str]) -> None:
    data_dir = tmp_path / "not-the-server-data"
    result = run_eal(args, cli_env(data_dir, None), tmp_path, timeout=30)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("error: no eal database in "), result.stderr
    assert str(data_dir.absolute()) in result.stderr
    assert "EAL_DATA_DIR=/path/to/data" in result.stderr
    assert "DATABASE_URL=" in result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists(), "a refusing command created the data directory"


def test_a_refused_command_creates_nothing_in_an_existing_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    result = run_eal(["audit", "verify"], cli_env(data_dir, None), tmp_path)
    assert result.returncode == 2, result.stderr
    assert list(data_dir.iterdir()) == []


def test_migrate_creates_the_embedded_database_and_commands_then_use_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(data_dir, None)
    migrate = run_eal(["migrate"], env, tmp_path, timeout=90)
    assert migrate.returncode == 0, migrate.stderr
    assert _using_lines(migrate.stderr) == [f"using database {data_dir.absolute()} (embedded)"]

    created = run_eal(["orgs", "create", "--name", "Right Place Co"], env, tmp_path)
    assert created.returncode == 0, created.stderr
    assert _using_lines(created.stderr) == [f"using database {data_dir.absolute()} (embedded)"]
    listed = run_eal_json(["orgs", "list"], env, tmp_path)
    assert "Right Place Co" in str(listed)
    # Each command started the server for itself and, last out, stopped it.
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


def test_a_configured_database_is_named_without_its_password(
    database_url: URL, tmp_path: Path
) -> None:
    # The test server trusts local connections, so any password works, and must not show.
    with_password = database_url.set(password="s3cret-pw")
    result = run_eal(["jobs", "list"], cli_env(tmp_path, with_password), tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = _using_lines(result.stderr)
    assert "s3cret-pw" not in result.stderr
    shown = make_url(line.removeprefix("using database "))
    assert shown.password == "***"
    assert (shown.database, shown.username) == (database_url.database, database_url.username)


def test_a_command_refuses_a_database_eal_never_set_up(empty_database: URL, tmp_path: Path) -> None:
    env = cli_env(tmp_path, empty_database)
    refused = run_eal(["orgs", "create", "--name", "Wrong Place Co"], env, tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("error: the database "), refused.stderr
    assert empty_database.database in refused.stderr
    assert "eal migrate" in refused.stderr and "DATABASE_URL" in refused.stderr
    assert refused.stdout == ""

    assert run_eal_json(["migrate"], env, tmp_path)["status"] == "ok"
    run_eal_json(["orgs", "create", "--name", "Right Place Co"], env, tmp_path)


def test_serve_reports_an_unreachable_database_cleanly(tmp_path: Path) -> None:
    # serve runs its migrations in a child process: its error still reads as one line.
    dead = make_url(f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/eal")
    result = subprocess.run(
        [EAL, "serve", "--port", str(free_port())],
        env=cli_env(tmp_path, dead),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: cannot use the database "), result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert result.stdout == ""
