"""`eal --version`, help without a command, and errors that say which option is wrong and why."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

import eal
from tests.cli.servers import EAL, cli_env, run_eal

GROUPS = {
    "orgs": ("create", "list"),
    "keys": ("create", "list", "revoke"),
    "audit": ("verify", "purge"),
    "secrets": ("rotate", "add-key"),
    "jobs": ("list", "retry"),
}


@pytest.fixture
def env(database_url: URL, tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, database_url)


def _assert_refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    # The error ends stderr, after anything logged before it.
    assert result.stderr.splitlines()[-1] == f"error: {message}", result.stderr
    assert "Traceback" not in result.stderr


def test_version(env: dict[str, str], tmp_path: Path) -> None:
    result = run_eal(["--version"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"eal {eal.__version__}\n"
    assert result.stderr == ""


def test_eal_alone_prints_its_help_and_exits_0(env: dict[str, str], tmp_path: Path) -> None:
    result = run_eal([], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Usage: eal [OPTIONS] COMMAND" in result.stdout
    for command in ("serve", "worker", "migrate", "--version", *GROUPS):
        assert command in result.stdout


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_a_group_alone_prints_its_help_and_exits_0(
    env: dict[str, str], tmp_path: Path, group: str
) -> None:
    result = run_eal([group], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"Usage: eal {group} [OPTIONS] COMMAND" in result.stdout
    for command in GROUPS[group]:
        assert command in result.stdout


ORG = str(uuid.uuid4())  # well formed; the checks below refuse before any lookup


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["keys", "create", "--org", ORG, "--scopes", "read,wrte"],
            "--scopes: unknown scope 'wrte'; valid: read, write, admin",
        ),
        (
            ["keys", "create", "--org", ORG, "--scopes", " , "],
            "--scopes: name at least one scope; valid: read, write, admin",
        ),
        (
            ["keys", "create", "--org", ORG, "--environment", "staging"],
            "--environment: unknown environment 'staging'; valid: live, test",
        ),
        (
            ["keys", "create", "--org", "west-cobb"],
            "--org: 'west-cobb' is not an organization id (a UUID)",
        ),
        (["keys", "create", "--org", ORG, "--name", " "], "--name: must be 1 to 200 characters"),
        (["keys", "list", "--org", ""], "--org: '' is not an organization id (a UUID)"),
        (
            ["keys", "list", "--org", ORG, "--limit", "0"],
            "--limit: must be between 1 and 1000 (got 0)",
        ),
        (
            ["keys", "list", "--org", ORG, "--after", "last"],
            "--after: 'last' is not a key id (a UUID)",
        ),
        (["keys", "revoke", "k_123"], "KEY_ID: 'k_123' is not a key id (a UUID)"),
        (
            ["orgs", "create", "--name", "X", "--industry", "bakery"],
            "--industry: unknown industry 'bakery'; valid: restoration, water_damage, "
            "fire_damage, mold, biohazard, general_contractor",
        ),
        (
            ["orgs", "create", "--name", "X", "--timezone", "Eastern"],
            "--timezone: 'Eastern' is not an IANA time zone (e.g. America/New_York)",
        ),
        (
            ["orgs", "create", "--name", "X", "--parent", ""],
            "--parent: '' is not an organization id (a UUID)",
        ),
        (["orgs", "create", "--name", "x" * 201], "--name: must be 1 to 200 characters"),
        (["orgs", "list", "--limit", "1001"], "--limit: must be between 1 and 1000 (got 1001)"),
        (["orgs", "list", "--after", "1"], "--after: '1' is not an organization id (a UUID)"),
        (["audit", "verify", "--org", ""], "--org: '' is not an organization id (a UUID)"),
        (
            ["jobs", "list", "--status", "running"],
            "--status: unknown status 'running'; valid: queued, picked, failed",
        ),
        (
            ["jobs", "list", "--failed", "--status", "queued"],
            "--failed and --status 'queued' disagree (--failed is --status failed)",
        ),
        (
            ["jobs", "list", "--task", "Webhooks Deliver"],
            "--task: task name 'Webhooks Deliver' must look like 'domain.task' (lower case, dots)",
        ),
        (["jobs", "list", "--limit", "0"], "--limit: must be between 1 and 1000 (got 0)"),
    ],
)
def test_a_bad_option_is_named_with_what_would_be_valid(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    _assert_refused(run_eal(args, env, tmp_path), message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["orgs", "create", "--name", b"Caf\xe9"], r"--name: 'Caf\udce9' is not UTF-8 text"),
        (["orgs", "create", b"--name=\xff"], r"--name: '\udcff' is not UTF-8 text"),
        (["keys", "revoke", b"\xff"], r"argument 3: '\udcff' is not UTF-8 text"),
    ],
)
def test_bytes_that_are_not_utf8_are_refused_before_the_database(
    env: dict[str, str], tmp_path: Path, args: list[str | bytes], message: str
) -> None:
    # A Latin-1 terminal sends "Café" as these bytes; PostgreSQL text could not store them.
    result = subprocess.run(
        [EAL, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    _assert_refused(result, message)
