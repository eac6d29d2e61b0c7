"""The CLI fails with one readable line (no traceback, no secrets) when it cannot work."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from tests.cli.servers import cli_env, free_port, run_eal


def _assert_clean_failure(
    result: subprocess.CompletedProcess[str], code: int, *needles: str
) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_an_unreachable_database_is_reported_without_the_password(tmp_path: Path) -> None:
    dead = make_url(f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/eal")
    result = run_eal(["orgs", "create", "--name", "Nowhere"], cli_env(tmp_path, dead), tmp_path)
    _assert_clean_failure(result, 1, "cannot use the database", f":{dead.port}/eal")
    assert "s3cret-pw" not in result.stderr


def test_an_unknown_database_is_reported(database_url: URL, tmp_path: Path) -> None:
    missing = database_url.set(database="eal_no_such_database")
    result = run_eal(["migrate"], cli_env(tmp_path, missing), tmp_path)
    _assert_clean_failure(result, 1, "eal_no_such_database", "does not exist")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("EAL_RATE_LIMIT_BURST", "0"), ("EAL_LOG_LEVEL", "chatty"), ("EAL_LOG_FORMAT", "xml")],
)
def test_invalid_settings_are_named(
    database_url: URL, tmp_path: Path, variable: str, value: str
) -> None:
    env = cli_env(tmp_path, database_url, **{variable: value})
    result = run_eal(["migrate"], env, tmp_path)
    _assert_clean_failure(result, 2, "invalid configuration", variable)
